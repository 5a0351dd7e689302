//! What changed between two versions of a contract, field by field, each change marked
//! breaking or not by the same rules as [`crate::check_compatible`].

use serde::Serialize;

use crate::contract::{Contract, FieldSpec};
use crate::types::is_widening;

/// One change from one version of a contract to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The field changed, or none for the dataset's own attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `field_added`, `field_removed`, `type`, `nullable`, `classification`, `description`,
    /// `rounding`, `title`, `owner`, `primary_key` or `subject_key`.
    pub kind: &'static str,
    /// The value before, as text; none for an added field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The value after; none for a removed field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Whether readers of the earlier version break: a removed field, a type that is not a
    /// widening, a column that became not nullable, a new field that is not nullable, a new
    /// primary key.
    pub breaking: bool,
}

impl Change {
    fn of(
        field: Option<&str>,
        kind: &'static str,
        from: Option<String>,
        to: Option<String>,
        breaking: bool,
    ) -> Self {
        Self {
            field: field.map(str::to_owned),
            kind,
            from,
            to,
            breaking,
        }
    }
}

/// Every change from `from` to `to`, in field order: the dataset's attributes first, then
/// the fields of `from` as they changed or went, then the fields `to` adds.
pub fn contract_changes(from: &Contract, to: &Contract) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut attribute = |kind, before: String, after: String, breaking| {
        if before != after {
            changes.push(Change::of(None, kind, Some(before), Some(after), breaking));
        }
    };
    attribute("title", from.title.clone(), to.title.clone(), false);
    attribute(
        "description",
        from.description.clone(),
        to.description.clone(),
        false,
    );
    attribute(
        "owner",
        format!("{} <{}>", from.owner.name, from.owner.email),
        format!("{} <{}>", to.owner.name, to.owner.email),
        false,
    );
    attribute(
        "primary_key",
        format!("[{}]", from.primary_key.join(", ")),
        format!("[{}]", to.primary_key.join(", ")),
        true,
    );
    // Not breaking for readers; what verify-only grants and distinct-person quotas count
    // by changes, and grants that no longer name the subject key stop answering.
    attribute(
        "subject_key",
        format!("[{}]", from.subject_key.join(", ")),
        format!("[{}]", to.subject_key.join(", ")),
        false,
    );
    for old in &from.fields {
        match to.field(&old.name) {
            None => changes.push(Change::of(
                Some(&old.name),
                "field_removed",
                Some(describe(old)),
                None,
                true,
            )),
            Some(new) => field_changes(old, new, &mut changes),
        }
    }
    for new in &to.fields {
        if from.field(&new.name).is_none() {
            changes.push(Change::of(
                Some(&new.name),
                "field_added",
                None,
                Some(describe(new)),
                !new.nullable,
            ));
        }
    }
    changes
}

fn field_changes(old: &FieldSpec, new: &FieldSpec, changes: &mut Vec<Change>) {
    let name = Some(old.name.as_str());
    let mut push = |kind, from: String, to: String, breaking| {
        if from != to {
            changes.push(Change::of(name, kind, Some(from), Some(to), breaking));
        }
    };
    push(
        "type",
        old.data_type.to_string(),
        new.data_type.to_string(),
        !is_widening(&old.data_type, &new.data_type),
    );
    push(
        "nullable",
        old.nullable.to_string(),
        new.nullable.to_string(),
        old.nullable && !new.nullable,
    );
    push(
        "classification",
        old.classification.to_string(),
        new.classification.to_string(),
        false,
    );
    push(
        "description",
        old.description.clone(),
        new.description.clone(),
        false,
    );
    push(
        "rounding",
        rounding(old).to_owned(),
        rounding(new).to_owned(),
        false,
    );
}

fn rounding(field: &FieldSpec) -> &'static str {
    match field.rounding {
        Some(crate::contract::Rounding::HalfEven) => "half_even",
        None => "none",
    }
}

/// A field as one line: `name type [not null] [classification]`.
fn describe(field: &FieldSpec) -> String {
    let mut text = format!("{} {}", field.name, field.data_type);
    if !field.nullable {
        text.push_str(" not null");
    }
    text.push_str(&format!(" [{}]", field.classification));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(fields: &str, key: &str) -> Contract {
        Contract::from_yaml(&format!(
            "department: land_registry\nname: parcels\ntitle: Land parcels\n\
             owner: {{ name: Registry desk, email: desk@land.example.gov }}\n\
             primary_key: [{key}]\nfields:\n{fields}"
        ))
        .unwrap()
    }

    #[test]
    fn every_change_is_listed_and_the_breaking_ones_marked() {
        let v1 = contract(
            "  - { name: parcel_id, type: string, nullable: false }\n\
             \x20 - { name: area_m2, type: Int32 }\n\
             \x20 - { name: town, type: string }\n",
            "parcel_id",
        );
        let v2 = contract(
            "  - { name: parcel_id, type: string, nullable: false }\n\
             \x20 - { name: area_m2, type: Int64, classification: public }\n\
             \x20 - { name: zoning, type: string }\n",
            "parcel_id",
        );
        let changes = contract_changes(&v1, &v2);
        let summary: Vec<(Option<&str>, &str, bool)> = changes
            .iter()
            .map(|change| (change.field.as_deref(), change.kind, change.breaking))
            .collect();
        assert_eq!(
            summary,
            vec![
                (Some("area_m2"), "type", false),
                (Some("area_m2"), "classification", false),
                (Some("town"), "field_removed", true),
                (Some("zoning"), "field_added", false),
            ]
        );
        // The same rules as the compatibility check: one breaking change, one problem.
        assert_eq!(crate::check_compatible(&v1, &v2).len(), 1);
        assert!(contract_changes(&v1, &v1).is_empty());
    }
}
