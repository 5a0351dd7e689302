//! The contract document and its own consistency rules.

use std::collections::HashSet;
use std::fmt;

use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::types::parse_type;

/// What a department promises about one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// The owning department; also the SQL schema the dataset appears in.
    pub department: String,
    /// The dataset's name; the SQL table name.
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub owner: Owner,
    pub fields: Vec<FieldSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// The fields that together name the person or firm a row is about (`[id_number]` for
    /// residents, `[owner_id_number]` for land parcels): not always the primary key, since
    /// one person may own many parcels. Verify-only grants count guesses per subject by it,
    /// and distinct-person quotas count the subjects whose rows a caller receives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_key: Vec<String>,
}

/// Who answers questions about the dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    pub name: String,
    pub email: String,
}

/// One column of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    #[serde(
        rename = "type",
        serialize_with = "serialize_type",
        deserialize_with = "deserialize_type"
    )]
    pub data_type: DataType,
    #[serde(default = "nullable_by_default")]
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub classification: Classification,
    /// How a decimal field reads a source value with more fraction digits than its scale:
    /// absent, such a value fails the query (nothing is rounded unasked); `half_even`
    /// rounds it to the scale, ties to the even digit (IEEE 754's roundTiesToEven, the
    /// rounding of SQL's and Java's `HALF_EVEN`). Only decimal fields take it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounding: Option<Rounding>,
}

/// A declared conversion of values with more fraction digits than a decimal's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Round to the nearest value of the scale, ties to the even last digit (`17.685` to
    /// `17.68`, `17.675` to `17.68`).
    HalfEven,
}

fn nullable_by_default() -> bool {
    true
}

fn serialize_type<S: Serializer>(data_type: &DataType, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(data_type)
}

fn deserialize_type<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DataType, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_type(&text).map_err(serde::de::Error::custom)
}

/// A classification tag: dot-separated lower-case words such as `pii.national_id` or
/// `public`. Fields without one are `internal`: neither public nor personal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Classification(String);

impl Classification {
    pub const PUBLIC: &'static str = "public";
    pub const INTERNAL: &'static str = "internal";

    pub fn new(tag: &str) -> Result<Self, ContractError> {
        let valid = !tag.is_empty()
            && tag.split('.').all(|word| {
                !word.is_empty()
                    && word
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        if valid {
            Ok(Self(tag.to_owned()))
        } else {
            Err(ContractError::InvalidClassification(tag.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Personal information: the tag is `pii` or starts with `pii.`.
    pub fn is_personal(&self) -> bool {
        self.matches("pii.*")
    }

    /// Whether the tag is `pattern`, or falls under it when it ends in `.*` (`pii.*` covers
    /// `pii` and `pii.name`).
    pub fn matches(&self, pattern: &str) -> bool {
        match pattern.strip_suffix(".*") {
            Some(prefix) => {
                self.0 == prefix
                    || self
                        .0
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('.'))
            }
            None => self.0 == pattern,
        }
    }
}

impl Default for Classification {
    fn default() -> Self {
        Self(Self::INTERNAL.to_owned())
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Classification {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Classification {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let tag = String::deserialize(deserializer)?;
        Self::new(&tag).map_err(serde::de::Error::custom)
    }
}

/// Why a contract document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("the contract is not valid {format}: {message}")]
    Syntax { format: &'static str, message: String },
    #[error(
        "invalid {what} '{value}': use lower-case letters, digits and underscores, starting with a letter (at most 63 characters)"
    )]
    InvalidIdentifier { what: &'static str, value: String },
    #[error(
        "'{0}' is a schema of the hub's own (audit, information_schema, public); choose another department name"
    )]
    ReservedDepartment(String),
    #[error(
        "invalid field name '{0}': use letters, digits and underscores, starting with a letter or underscore"
    )]
    InvalidFieldName(String),
    #[error(
        "invalid classification tag '{0}': use dot-separated lower-case words, e.g. pii.national_id or public"
    )]
    InvalidClassification(String),
    #[error("the contract has no fields")]
    NoFields,
    #[error("field '{0}' appears more than once")]
    DuplicateField(String),
    #[error("primary key field '{0}' is not a field of the contract")]
    UnknownKeyField(String),
    #[error("primary key field '{0}' must not be nullable")]
    NullableKeyField(String),
    #[error("subject key field '{0}' is not a field of the contract")]
    UnknownSubjectField(String),
    #[error("subject key field '{0}' is named more than once")]
    DuplicateSubjectField(String),
    #[error("subject key field '{0}' must not be nullable: every row is about someone")]
    NullableSubjectField(String),
    #[error(
        "subject key field '{0}' is of a type that cannot identify anyone (a float, a list or a structure): use text, an integer or a decimal"
    )]
    SubjectFieldType(String),
    #[error("field '{0}' has a rounding, but only decimal fields take one")]
    RoundingNotDecimal(String),
    #[error("the contract's {what} must not be empty")]
    Empty { what: &'static str },
}

impl Contract {
    /// Reads a contract from YAML (JSON is YAML too, but its errors read better as JSON).
    pub fn from_yaml(text: &str) -> Result<Self, ContractError> {
        let contract: Self = serde_norway::from_str(text).map_err(|error| ContractError::Syntax {
            format: "YAML",
            message: error.to_string(),
        })?;
        contract.validate()?;
        Ok(contract)
    }

    pub fn from_json(text: &str) -> Result<Self, ContractError> {
        let contract: Self = serde_json::from_str(text).map_err(|error| ContractError::Syntax {
            format: "JSON",
            message: error.to_string(),
        })?;
        contract.validate()?;
        Ok(contract)
    }

    /// Checks the rules a contract must follow on its own, whatever its source.
    pub fn validate(&self) -> Result<(), ContractError> {
        check_identifier("department", &self.department)?;
        if RESERVED_SCHEMAS.contains(&self.department.as_str()) {
            return Err(ContractError::ReservedDepartment(self.department.clone()));
        }
        check_identifier("dataset name", &self.name)?;
        if self.title.trim().is_empty() {
            return Err(ContractError::Empty { what: "title" });
        }
        if self.owner.name.trim().is_empty() || self.owner.email.trim().is_empty() {
            return Err(ContractError::Empty {
                what: "owner name and email",
            });
        }
        if self.fields.is_empty() {
            return Err(ContractError::NoFields);
        }
        let mut seen = HashSet::new();
        for field in &self.fields {
            if !is_field_name(&field.name) {
                return Err(ContractError::InvalidFieldName(field.name.clone()));
            }
            if !seen.insert(field.name.to_ascii_lowercase()) {
                return Err(ContractError::DuplicateField(field.name.clone()));
            }
            if field.rounding.is_some()
                && !matches!(
                    field.data_type,
                    DataType::Decimal128(..) | DataType::Decimal256(..)
                )
            {
                return Err(ContractError::RoundingNotDecimal(field.name.clone()));
            }
        }
        for key in &self.primary_key {
            let field = self
                .field(key)
                .ok_or_else(|| ContractError::UnknownKeyField(key.clone()))?;
            if field.nullable {
                return Err(ContractError::NullableKeyField(key.clone()));
            }
        }
        let mut named = HashSet::new();
        for key in &self.subject_key {
            let field = self
                .field(key)
                .ok_or_else(|| ContractError::UnknownSubjectField(key.clone()))?;
            if !named.insert(key) {
                return Err(ContractError::DuplicateSubjectField(key.clone()));
            }
            // A row without its subject would be nobody, or everybody without one at once.
            if field.nullable {
                return Err(ContractError::NullableSubjectField(key.clone()));
            }
            // Subjects are compared by value: a float's NaN and -0 and a nested value's
            // order would make one person two, or two people one.
            if field.data_type.is_floating() || field.data_type.is_nested() {
                return Err(ContractError::SubjectFieldType(key.clone()));
            }
        }
        Ok(())
    }

    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// The Arrow schema the contract promises, with each field's classification kept in its
    /// metadata under `causeway.classification`.
    pub fn arrow_schema(&self) -> Schema {
        Schema::new(
            self.fields
                .iter()
                .map(|field| {
                    Field::new(&field.name, field.data_type.clone(), field.nullable).with_metadata(
                        [(
                            "causeway.classification".to_owned(),
                            field.classification.to_string(),
                        )]
                        .into(),
                    )
                })
                .collect::<Vec<_>>(),
        )
    }
}

/// SQL schemas of the hub's own: no department may take their names.
pub const RESERVED_SCHEMAS: [&str; 3] = ["audit", "information_schema", "public"];

/// Departments and datasets become SQL schema and table names, so they are kept to the
/// identifiers that need no quoting in any SQL dialect.
fn check_identifier(what: &'static str, value: &str) -> Result<(), ContractError> {
    let mut chars = value.chars();
    let valid = value.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ContractError::InvalidIdentifier {
            what,
            value: value.to_owned(),
        })
    }
}

fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const RESIDENTS: &str = r#"
department: civil_affairs
name: residents
title: Resident register
owner: { name: Civil Affairs data desk, email: data@civil.example.gov }
fields:
  - { name: id_number, type: string, nullable: false, classification: pii.national_id }
  - { name: name, type: string, classification: pii.name }
  - { name: birth_date, type: date }
  - { name: town, type: string, classification: public }
primary_key: [id_number]
"#;

    #[test]
    fn a_yaml_contract_reads_with_defaults() {
        let contract = Contract::from_yaml(RESIDENTS).unwrap();
        assert_eq!(contract.fields.len(), 4);
        let birth_date = contract.field("birth_date").unwrap();
        assert!(birth_date.nullable);
        assert_eq!(birth_date.data_type, DataType::Date32);
        assert_eq!(birth_date.classification.as_str(), "internal");
        assert!(contract.field("id_number").unwrap().classification.is_personal());
    }

    #[test]
    fn json_round_trip_keeps_the_contract() {
        let contract = Contract::from_yaml(&format!("{RESIDENTS}subject_key: [id_number]\n")).unwrap();
        assert_eq!(contract.subject_key, ["id_number"]);
        let json = serde_json::to_string(&contract).unwrap();
        assert!(json.contains(r#""type":"Date32""#), "{json}");
        assert_eq!(Contract::from_json(&json).unwrap(), contract);
    }

    #[test]
    fn broken_contracts_say_what_is_wrong() {
        let cases = [
            (
                RESIDENTS.replace("civil_affairs", "Civil Affairs"),
                "invalid department",
            ),
            (
                RESIDENTS.replace("department: civil_affairs", "department: audit"),
                "a schema of the hub's own",
            ),
            (
                RESIDENTS.replace("type: date", "type: datum"),
                "unknown type 'datum'",
            ),
            (
                RESIDENTS.replace("classification: public", "classification: PII"),
                "invalid classification",
            ),
            (
                RESIDENTS.replace("type: date", "type: date, rounding: half_even"),
                "only decimal fields take one",
            ),
            (
                RESIDENTS.replace("type: date", "type: \"decimal(10,2)\", rounding: up"),
                "unknown variant",
            ),
            (RESIDENTS.replace("[id_number]", "[name]"), "must not be nullable"),
            (
                format!("{RESIDENTS}subject_key: [idnumber]\n"),
                "subject key field 'idnumber' is not a field",
            ),
            (
                format!("{RESIDENTS}subject_key: [id_number, id_number]\n"),
                "named more than once",
            ),
            (
                format!("{RESIDENTS}subject_key: [name]\n"),
                "subject key field 'name' must not be nullable",
            ),
            (
                RESIDENTS.replace(
                    "name: birth_date, type: date",
                    "name: birth_date, type: double, nullable: false",
                ) + "subject_key: [birth_date]\n",
                "cannot identify anyone",
            ),
            (
                RESIDENTS.replace("[id_number]", "[nope]"),
                "'nope' is not a field",
            ),
            (
                RESIDENTS.replace("name: town", "name: birth_date"),
                "appears more than once",
            ),
            (
                RESIDENTS.replace("title: Resident register", "title: x\ncolour: red"),
                "unknown field `colour`",
            ),
        ];
        for (text, expected) in cases {
            let message = Contract::from_yaml(&text).unwrap_err().to_string();
            assert!(message.contains(expected), "expected '{expected}' in: {message}");
        }
    }

    #[test]
    fn the_arrow_schema_carries_classifications() {
        let schema = Contract::from_yaml(RESIDENTS).unwrap().arrow_schema();
        let id = schema.field_with_name("id_number").unwrap();
        assert!(!id.is_nullable());
        assert_eq!(id.metadata()["causeway.classification"], "pii.national_id");
    }
}
