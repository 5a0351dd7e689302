//! The policy model: grants, deny rules and the conditions under which a dataset's access
//! requests are approved at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use causeway_schemas::Classification;

use crate::principal::{Principal, Role};

/// A dataset: `department.name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatasetId {
    pub department: String,
    pub name: String,
}

impl DatasetId {
    pub fn new(department: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            department: department.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.department, self.name)
    }
}

impl FromStr for DatasetId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('.') {
            Some((department, name)) if !department.is_empty() && !name.is_empty() && !name.contains('.') => {
                Ok(Self::new(department, name))
            }
            _ => Err(format!("'{text}' is not a dataset: write department.name")),
        }
    }
}

impl Serialize for DatasetId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DatasetId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Who a grant or deny rule is for: one client, a department, or a role within a
/// department.
///
/// Read strictly: `{client}`, `{department, role}` or `{department}` and nothing else, so
/// that a misspelt role or a stray key is an error, never a wider subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[serde(try_from = "SubjectFields")]
pub enum Subject {
    Client { client: String },
    Role { department: String, role: Role },
    Department { department: String },
}

/// A subject as written, before it is told which of the three it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectFields {
    client: Option<String>,
    department: Option<String>,
    role: Option<Role>,
}

impl TryFrom<SubjectFields> for Subject {
    type Error = String;

    fn try_from(fields: SubjectFields) -> Result<Self, Self::Error> {
        match (fields.client, fields.department, fields.role) {
            (Some(client), None, None) => Ok(Self::Client { client }),
            (None, Some(department), Some(role)) => Ok(Self::Role { department, role }),
            (None, Some(department), None) => Ok(Self::Department { department }),
            _ => Err("a subject is {client}, {department, role} or {department}".into()),
        }
    }
}

impl Subject {
    pub fn matches(&self, principal: &Principal) -> bool {
        match self {
            Self::Client { client } => principal.id == *client,
            Self::Role { department, role } => {
                principal.department == *department && principal.has_role(*role)
            }
            Self::Department { department } => principal.department == *department,
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client { client } => write!(f, "client {client}"),
            Self::Role { department, role } => write!(f, "{role}s of {department}"),
            Self::Department { department } => write!(f, "department {department}"),
        }
    }
}

/// How a column is shown when its raw value is not granted. Every mask keeps the column's
/// name; `hash` and `partial` make it text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Mask {
    /// Always NULL.
    Null,
    /// Keep the first `first` and the last `last` characters; four stars stand for the rest,
    /// whatever its length, so the length is not revealed.
    Partial {
        #[serde(default)]
        first: usize,
        #[serde(default)]
        last: usize,
    },
    /// A keyed pseudonym (HMAC-SHA256 with the hub's secret): the same value gives the same
    /// pseudonym in every dataset, so datasets still join on it.
    Hash,
    /// Dates and timestamps cut to the first day of their year.
    YearOnly,
    /// Numbers replaced by the lower bound of their band of `width`.
    Bucket { width: f64 },
    /// Text cut before the first `before` (an address down to its town); NULL when the
    /// text has no `before`.
    Prefix { before: String },
    /// A SQL expression over the column, and no other: another column read would be shown
    /// through it, whatever the grant or a deny rule says of that one.
    Sql { expression: String },
}

impl fmt::Display for Mask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Partial { first, last } => write!(f, "partial (first {first}, last {last})"),
            Self::Hash => f.write_str("keyed hash"),
            Self::YearOnly => f.write_str("year only"),
            Self::Bucket { width } => write!(f, "bands of {width}"),
            Self::Prefix { before } => write!(f, "text before '{before}'"),
            Self::Sql { expression } => write!(f, "{expression}"),
        }
    }
}

/// What a grant lets its subject do with the dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// Read the granted columns of the rows it lets through, masked as it says, through
    /// any front door.
    #[default]
    Read,
    /// Ask whether records match rows on the granted columns (`POST /v1/verify`), and
    /// nothing else: no value, no row, no count comes back, and no query reads the dataset
    /// under it.
    Verify,
}

impl GrantKind {
    pub fn is_read(&self) -> bool {
        *self == Self::Read
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Verify => "verify",
        }
    }
}

/// How a verify-only grant answers and how much it may be asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyTerms {
    /// Answer, per record, which of the given columns match the row of the record's subject,
    /// besides whether all do. Off by default: "the ID number is known but the name is not"
    /// is itself a disclosure.
    #[serde(default)]
    pub column_matches: bool,
    /// How many records about one subject (by the dataset's subject key) a caller may ask
    /// about a day (UTC): guessing a name for a known ID number runs out after this many.
    #[serde(default = "default_attempts_per_subject")]
    pub max_attempts_per_subject: u32,
    /// How many records a caller may ask about a day (UTC), whoever they are about:
    /// guessing ID numbers for a known name runs out here.
    #[serde(default = "default_records_per_day")]
    pub max_records_per_day: u64,
}

impl Default for VerifyTerms {
    fn default() -> Self {
        Self {
            column_matches: false,
            max_attempts_per_subject: default_attempts_per_subject(),
            max_records_per_day: default_records_per_day(),
        }
    }
}

impl VerifyTerms {
    /// Whether these terms allow no more than `other`: no per-column answer where `other`
    /// gives none, no more attempts a subject, no more records a day. How a reviewer's or a
    /// permit's terms are held against those asked for.
    pub fn within(&self, other: &VerifyTerms) -> bool {
        self.beyond(other).is_empty()
    }

    /// The terms of these that allow more than `other`'s, in words.
    pub fn beyond(&self, other: &VerifyTerms) -> Vec<String> {
        let mut wider = Vec::new();
        if self.column_matches && !other.column_matches {
            wider.push("per-column answers (which columns match)".to_owned());
        }
        if self.max_attempts_per_subject > other.max_attempts_per_subject {
            wider.push(format!(
                "{} attempts per person (not more than {})",
                self.max_attempts_per_subject, other.max_attempts_per_subject
            ));
        }
        if self.max_records_per_day > other.max_records_per_day {
            wider.push(format!(
                "{} records a day (not more than {})",
                self.max_records_per_day, other.max_records_per_day
            ));
        }
        wider
    }

    /// The terms that allow the least of both, field by field: where two reviewers each
    /// narrowed what was asked, the grant keeps both narrowings.
    pub fn stricter(&self, other: &VerifyTerms) -> VerifyTerms {
        VerifyTerms {
            column_matches: self.column_matches && other.column_matches,
            max_attempts_per_subject: self.max_attempts_per_subject.min(other.max_attempts_per_subject),
            max_records_per_day: self.max_records_per_day.min(other.max_records_per_day),
        }
    }
}

impl fmt::Display for VerifyTerms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "answers {}; at most {} attempt{} per person and {} record{} a day",
            if self.column_matches {
                "which columns match"
            } else {
                "only whether all columns match"
            },
            self.max_attempts_per_subject,
            if self.max_attempts_per_subject == 1 {
                ""
            } else {
                "s"
            },
            self.max_records_per_day,
            if self.max_records_per_day == 1 { "" } else { "s" },
        )
    }
}

fn default_attempts_per_subject() -> u32 {
    3
}

fn default_records_per_day() -> u64 {
    10_000
}

/// Access to one dataset for a subject: which columns, how masked, which rows, for which
/// purposes, for how long, and how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub id: String,
    pub subject: Subject,
    pub dataset: DatasetId,
    /// `read` (the default) or `verify`; always written out, for readers of a grant's JSON.
    #[serde(default)]
    pub kind: GrantKind,
    /// The columns it may read, or for a verify grant match on; `*` (the default) for all.
    #[serde(default = "all_columns")]
    pub columns: Vec<String>,
    /// How a verify grant answers and how much it may be asked; only verify grants take it
    /// (their defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyTerms>,
    /// Masks for named columns, over the columns' default masks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub masks: BTreeMap<String, Mask>,
    /// Columns shown raw although their classification masks them by default.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unmasked: BTreeSet<String>,
    /// A SQL condition over the dataset's columns and `principal.<attribute>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_filter: Option<String>,
    pub purposes: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the grant lapses unless the owning department confirms it first (access
    /// recertification); each confirmation moves it one recertification interval on.
    /// Absent for grants written in policy files, which are reviewed where they are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recertify_by: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows_per_query: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows_per_day: Option<u64>,
    /// At most this many distinct subjects (by the dataset's subject key) whose rows the
    /// subject of the grant reads a day (UTC), across queries and front doors: a grid
    /// worker's households, not a harvest of them. Only read grants take it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_subjects_per_day: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved_by: Vec<String>,
}

pub(crate) fn all_columns() -> Vec<String> {
    vec!["*".to_owned()]
}

impl Grant {
    /// A read grant of every column of `dataset` to `subject`, for no purpose yet, with
    /// nothing else said: what the other fields narrow or lift.
    pub fn new(id: impl Into<String>, subject: Subject, dataset: DatasetId) -> Self {
        Self {
            id: id.into(),
            subject,
            dataset,
            kind: GrantKind::Read,
            columns: all_columns(),
            verify: None,
            masks: BTreeMap::new(),
            unmasked: BTreeSet::new(),
            row_filter: None,
            purposes: BTreeSet::new(),
            valid_from: None,
            expires_at: None,
            recertify_by: None,
            max_rows_per_query: None,
            max_rows_per_day: None,
            max_subjects_per_day: None,
            requested_by: None,
            approved_by: Vec::new(),
        }
    }

    /// What a verify grant answers and allows: its own terms, else the defaults.
    pub fn verify_terms(&self) -> VerifyTerms {
        self.verify.clone().unwrap_or_default()
    }

    pub fn covers_column(&self, column: &str) -> bool {
        self.columns.iter().any(|name| name == "*" || name == column)
    }

    /// Whether it is in force at `now`: begun, not expired, and confirmed in time.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|from| from <= now)
            && self.expires_at.is_none_or(|until| now < until)
            && self.recertify_by.is_none_or(|by| now < by)
    }

    /// When and why it stops being in force by itself: its expiry or its recertification
    /// deadline, whichever comes first.
    pub fn lapse(&self) -> Option<(DateTime<Utc>, Lapse)> {
        match (self.expires_at, self.recertify_by) {
            (Some(expires), Some(recertify)) if recertify < expires => {
                Some((recertify, Lapse::NotRecertified))
            }
            (Some(expires), _) => Some((expires, Lapse::Expired)),
            (None, Some(recertify)) => Some((recertify, Lapse::NotRecertified)),
            (None, None) => None,
        }
    }
}

/// Why a grant stopped being in force by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lapse {
    /// Its `expires_at` passed.
    Expired,
    /// Its owner did not confirm it by `recertify_by`.
    NotRecertified,
}

/// The negative list: a dataset, some of its columns, or the columns of some
/// classifications that are never shown to the subject, whatever any grant says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyRule {
    pub id: String,
    /// Who it applies to; everyone when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    /// `department.name`, `department.*` or `*`.
    pub datasets: String,
    /// Columns never shown; with `classifications` empty as well, the whole dataset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Classification tags never shown: a tag, or a prefix such as `pii.*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classifications: Vec<String>,
    pub reason: String,
}

impl DenyRule {
    pub fn applies_to(&self, principal: &Principal, dataset: &DatasetId) -> bool {
        let datasets = match self.datasets.as_str() {
            "*" => true,
            pattern => match pattern.strip_suffix(".*") {
                Some(department) => department == dataset.department,
                None => pattern == dataset.to_string(),
            },
        };
        datasets
            && self
                .subject
                .as_ref()
                .is_none_or(|subject| subject.matches(principal))
    }

    pub fn covers_dataset(&self) -> bool {
        self.columns.is_empty() && self.classifications.is_empty()
    }

    pub fn covers_column(&self, column: &str, classification: &Classification) -> bool {
        self.columns.iter().any(|name| name == column)
            || self
                .classifications
                .iter()
                .any(|pattern| classification.matches(pattern))
    }
}

/// Every grant and deny rule in force.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub grants: Vec<Grant>,
    pub denies: Vec<DenyRule>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_read_from_yaml_by_their_fields() {
        let client: Subject = serde_norway::from_str("{client: grid-worker-7}").unwrap();
        assert_eq!(
            client,
            Subject::Client {
                client: "grid-worker-7".into()
            }
        );
        let role: Subject = serde_norway::from_str("{department: civil_affairs, role: analyst}").unwrap();
        assert_eq!(
            role,
            Subject::Role {
                department: "civil_affairs".into(),
                role: Role::Analyst
            }
        );
        let analyst = Principal::new("a", "civil_affairs").with_role(Role::Analyst);
        assert!(role.matches(&analyst));
        assert!(!role.matches(&Principal::new("a", "civil_affairs")));
        assert!(
            Subject::Department {
                department: "civil_affairs".into()
            }
            .matches(&analyst)
        );
    }

    #[test]
    fn a_misspelt_role_or_a_stray_key_is_an_error_never_a_wider_subject() {
        for text in [
            "{department: it, role: Auditor}",
            "{department: it, role: superuser}",
            "{client: x32, department: it}",
            "{department: it, rol: analyst}",
            "{role: analyst}",
            "{}",
        ] {
            assert!(serde_norway::from_str::<Subject>(text).is_err(), "{text}");
            assert!(
                serde_json::from_str::<Subject>(
                    &serde_norway::from_str::<serde_json::Value>(text)
                        .unwrap()
                        .to_string()
                )
                .is_err(),
                "{text}"
            );
        }
        let subject: Subject = serde_json::from_str(r#"{"department": "it", "role": "auditor"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&subject).unwrap(),
            r#"{"department":"it","role":"auditor"}"#
        );
    }

    #[test]
    fn grants_read_with_defaults_and_know_their_validity() {
        let grant: Grant = serde_norway::from_str(
            r#"
id: g1
subject: { department: land_registry }
dataset: civil_affairs.residents
masks: { id_number: { kind: hash }, phone: { kind: partial, last: 4 } }
purposes: [housing-subsidy-review]
expires_at: 2030-01-01T00:00:00Z
"#,
        )
        .unwrap();
        assert!(grant.covers_column("anything"));
        assert_eq!(grant.masks["phone"], Mask::Partial { first: 0, last: 4 });
        let before = "2029-12-31T23:59:59Z".parse().unwrap();
        let after = "2030-01-01T00:00:00Z".parse().unwrap();
        assert!(grant.is_valid_at(before));
        assert!(!grant.is_valid_at(after));
        assert!(
            serde_norway::from_str::<Grant>("id: x\nsubject: {client: c}\ndataset: nodot\npurposes: []")
                .is_err()
        );
    }

    #[test]
    fn a_grant_lapses_at_the_earlier_of_its_expiry_and_its_recertification() {
        let grant = |extra: &str| -> Grant {
            serde_norway::from_str(&format!(
                "id: g\nsubject: {{client: c}}\ndataset: a.b\npurposes: [p]\n{extra}"
            ))
            .unwrap()
        };
        let at = |text: &str| -> DateTime<Utc> { text.parse().unwrap() };
        let both = grant("expires_at: 2030-01-01T00:00:00Z\nrecertify_by: 2029-06-01T00:00:00Z");
        assert_eq!(
            both.lapse(),
            Some((at("2029-06-01T00:00:00Z"), Lapse::NotRecertified))
        );
        assert!(both.is_valid_at(at("2029-05-31T23:59:59Z")));
        assert!(!both.is_valid_at(at("2029-06-01T00:00:00Z")));
        let expiring = grant("expires_at: 2029-01-01T00:00:00Z\nrecertify_by: 2029-06-01T00:00:00Z");
        assert_eq!(
            expiring.lapse(),
            Some((at("2029-01-01T00:00:00Z"), Lapse::Expired))
        );
        let reviewed = grant("recertify_by: 2029-06-01T00:00:00Z");
        assert_eq!(
            reviewed.lapse(),
            Some((at("2029-06-01T00:00:00Z"), Lapse::NotRecertified))
        );
        assert_eq!(grant("").lapse(), None);
    }

    #[test]
    fn deny_rules_cover_datasets_columns_and_classifications() {
        let rule: DenyRule = serde_norway::from_str(
            "id: d1\ndatasets: civil_affairs.*\nclassifications: [pii.*]\nreason: personal data stays home",
        )
        .unwrap();
        let anyone = Principal::new("x", "tax");
        assert!(rule.applies_to(&anyone, &DatasetId::new("civil_affairs", "residents")));
        assert!(!rule.applies_to(&anyone, &DatasetId::new("tax", "payers")));
        let tag = |tag: &str| Classification::new(tag).unwrap();
        assert!(rule.covers_column("phone", &tag("pii.phone")));
        assert!(!rule.covers_column("town", &tag("public")));
        assert!(!rule.covers_column("town", &tag("piix.phone")));
        assert!(!rule.covers_dataset());
    }
}
