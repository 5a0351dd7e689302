//! Whether a new contract version may replace the current one without breaking readers.
//!
//! Backward compatible changes: new nullable fields, widened types (see
//! [`crate::types::is_widening`]), relaxed nullability, and any change to titles,
//! descriptions, owner or classifications. Everything else is refused unless an admin
//! forces the new version.

use std::fmt;

use arrow_schema::DataType;

use crate::contract::Contract;
use crate::types::is_widening;

/// One reason a new version would break readers of the current one.
#[derive(Debug, Clone, PartialEq)]
pub enum Incompatibility {
    FieldRemoved {
        field: String,
    },
    TypeNotWidened {
        field: String,
        current: DataType,
        proposed: DataType,
    },
    NullabilityTightened {
        field: String,
    },
    NewFieldNotNullable {
        field: String,
    },
    PrimaryKeyChanged {
        current: Vec<String>,
        proposed: Vec<String>,
    },
    IdentityChanged {
        current: String,
        proposed: String,
    },
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FieldRemoved { field } => write!(f, "field '{field}' was removed"),
            Self::TypeNotWidened {
                field,
                current,
                proposed,
            } => write!(
                f,
                "field '{field}' changes type from {current} to {proposed}, which is not a widening"
            ),
            Self::NullabilityTightened { field } => {
                write!(f, "field '{field}' changes from nullable to not nullable")
            }
            Self::NewFieldNotNullable { field } => {
                write!(f, "new field '{field}' must be nullable")
            }
            Self::PrimaryKeyChanged { current, proposed } => write!(
                f,
                "the primary key changes from [{}] to [{}]",
                current.join(", "),
                proposed.join(", ")
            ),
            Self::IdentityChanged { current, proposed } => {
                write!(f, "the contract is for {proposed}, not {current}")
            }
        }
    }
}

/// Lists every way `proposed` breaks readers of `current`; empty when compatible.
pub fn check_compatible(current: &Contract, proposed: &Contract) -> Vec<Incompatibility> {
    let mut problems = Vec::new();
    let (current_id, proposed_id) = (
        format!("{}.{}", current.department, current.name),
        format!("{}.{}", proposed.department, proposed.name),
    );
    if current_id != proposed_id {
        problems.push(Incompatibility::IdentityChanged {
            current: current_id,
            proposed: proposed_id,
        });
    }
    for old in &current.fields {
        let Some(new) = proposed.field(&old.name) else {
            problems.push(Incompatibility::FieldRemoved {
                field: old.name.clone(),
            });
            continue;
        };
        if !is_widening(&old.data_type, &new.data_type) {
            problems.push(Incompatibility::TypeNotWidened {
                field: old.name.clone(),
                current: old.data_type.clone(),
                proposed: new.data_type.clone(),
            });
        }
        if old.nullable && !new.nullable {
            problems.push(Incompatibility::NullabilityTightened {
                field: old.name.clone(),
            });
        }
    }
    for new in &proposed.fields {
        if current.field(&new.name).is_none() && !new.nullable {
            problems.push(Incompatibility::NewFieldNotNullable {
                field: new.name.clone(),
            });
        }
    }
    if current.primary_key != proposed.primary_key {
        problems.push(Incompatibility::PrimaryKeyChanged {
            current: current.primary_key.clone(),
            proposed: proposed.primary_key.clone(),
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"
department: land_registry
name: parcels
title: Land parcels
owner: { name: Registry desk, email: desk@land.example.gov }
fields:
  - { name: parcel_id, type: string, nullable: false }
  - { name: area_m2, type: "decimal(10,2)", nullable: false }
  - { name: floors, type: int }
primary_key: [parcel_id]
"#;

    fn v1() -> Contract {
        Contract::from_yaml(V1).unwrap()
    }

    fn v2(edit: impl Fn(&str) -> String) -> Contract {
        Contract::from_yaml(&edit(V1)).unwrap()
    }

    #[test]
    fn additive_and_widening_changes_are_compatible() {
        let proposed = v2(|text| {
            text.replace("type: int }", "type: bigint }")
                .replace(
                    "decimal(10,2)\", nullable: false",
                    "decimal(14,3)\", nullable: true",
                )
                .replace("primary_key", "  - { name: note, type: string }\nprimary_key")
                .replace("Land parcels", "Land parcels (all towns)")
        });
        assert_eq!(check_compatible(&v1(), &proposed), vec![]);
    }

    #[test]
    fn breaking_changes_are_each_named() {
        let proposed = v2(|text| {
            text.replace("  - { name: floors, type: int }\n", "")
                .replace("decimal(10,2)", "decimal(8,2)")
                .replace(
                    "primary_key",
                    "  - { name: zone, type: string, nullable: false }\nprimary_key",
                )
        });
        let messages: Vec<String> = check_compatible(&v1(), &proposed)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            [
                "field 'area_m2' changes type from Decimal128(10, 2) to Decimal128(8, 2), which is not a widening",
                "field 'floors' was removed",
                "new field 'zone' must be nullable",
            ]
        );
    }

    #[test]
    fn tightening_nullability_and_changing_the_key_are_breaking() {
        let proposed = v2(|text| {
            text.replace("type: int }", "type: int, nullable: false }")
                .replace("[parcel_id]", "[parcel_id, floors]")
        });
        let problems = check_compatible(&v1(), &proposed);
        assert!(problems.contains(&Incompatibility::NullabilityTightened {
            field: "floors".into()
        }));
        assert!(matches!(
            problems.last(),
            Some(Incompatibility::PrimaryKeyChanged { .. })
        ));
    }
}
