//! Verify-only access: whether records match rows, and nothing else. A caller holding a
//! verify grant on a dataset names some of its columns and values, record by record, and
//! learns per record whether a row of the record's subject has all of those values (and,
//! when the grant allows, which of them), never a value, a row or a count.
//!
//! Which columns a record may give, which rows it is matched against and how much may be
//! asked is decided here, from the grants; the matching and the counting of attempts is the
//! hub's.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decision::{DatasetInfo, in_grants_for};
use crate::model::{DatasetId, GrantKind, PolicySet, VerifyTerms};
use crate::principal::{Principal, Role};

/// What a caller may verify against a dataset for a purpose: its verify grants in force.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyDecision {
    pub dataset: DatasetId,
    pub purpose: String,
    /// The columns every record gives, so that attempts are counted per subject.
    pub subject_key: Vec<String>,
    pub grants: Vec<VerifyGrant>,
}

/// One verify grant as it applies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyGrant {
    pub id: String,
    /// The columns records may be matched on under it, those a deny rule keeps back left
    /// out.
    pub columns: BTreeSet<String>,
    /// The rows it matches against, as written in the grant.
    pub row_filter: Option<String>,
    pub terms: VerifyTerms,
    /// Whether the grant, as written, names no column but the subject key: it approves
    /// asking whether someone is in the dataset at all.
    pub key_only: bool,
}

/// How one call's records are matched: under one grant of those that cover every column the
/// records give, its rows and its terms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyPlan {
    /// The grant the call is answered under (one; a list for the audit record's shape).
    pub grants: Vec<String>,
    /// The rows matched against: those meeting the grant's filter (`None`: every row).
    pub row_filters: Option<Vec<String>>,
    /// Whether the answer says which columns match, as the grant says.
    pub column_matches: bool,
    /// The grant's limits.
    pub max_attempts_per_subject: u32,
    pub max_records_per_day: u64,
}

/// Why records cannot be verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyRefused {
    #[error("no verify grant lets you match records against {dataset} for the purpose '{purpose}'")]
    NoGrant { dataset: DatasetId, purpose: String },
    #[error("{dataset} is never shown to you: {reason} (deny rule {rule})")]
    DatasetDenied {
        dataset: DatasetId,
        rule: String,
        reason: String,
    },
    #[error(
        "{dataset} is not shown to you: an account with the {role} role reads no data (separation of duties)"
    )]
    Administrative { dataset: DatasetId, role: Role },
    #[error(
        "{dataset} names no subject key in its contract, so records about it cannot be counted per person and are not verified"
    )]
    NoSubjectKey { dataset: DatasetId },
    #[error("each record must give {dataset}'s subject key ({key}); a record leaves out '{column}'")]
    SubjectKeyMissing {
        dataset: DatasetId,
        key: String,
        column: String,
    },
    #[error("no verify grant of yours lets you match on {columns} of {dataset} together")]
    ColumnsNotMatchable { dataset: DatasetId, columns: String },
    #[error(
        "records give only {dataset}'s subject key ({key}), which would tell whether someone is in it at all; give another column as well, or ask its owner for a grant of the subject key alone"
    )]
    SubjectKeyOnly { dataset: DatasetId, key: String },
}

/// Decides what `principal` may verify against `dataset` for `purpose` at `now`: the verify
/// grants in force for them, with the columns deny rules keep back taken out. Administrative
/// accounts verify nothing; a deny rule on the whole dataset closes it as it does to reads.
pub fn authorize_verify(
    principal: &Principal,
    purpose: &str,
    dataset: &DatasetInfo,
    policies: &PolicySet,
    now: DateTime<Utc>,
) -> Result<VerifyDecision, VerifyRefused> {
    if let Some(role) = principal.administrative_role() {
        return Err(VerifyRefused::Administrative {
            dataset: dataset.id.clone(),
            role,
        });
    }
    let denies: Vec<_> = policies
        .denies
        .iter()
        .filter(|rule| rule.applies_to(principal, &dataset.id))
        .collect();
    if let Some(rule) = denies.iter().find(|rule| rule.covers_dataset()) {
        return Err(VerifyRefused::DatasetDenied {
            dataset: dataset.id.clone(),
            rule: rule.id.clone(),
            reason: rule.reason.clone(),
        });
    }
    let grants: Vec<VerifyGrant> = in_grants_for(policies, principal, &dataset.id, now, GrantKind::Verify)
        .filter(|grant| grant.purposes.contains(purpose))
        .map(|grant| VerifyGrant {
            id: grant.id.clone(),
            columns: dataset
                .columns
                .iter()
                .filter(|column| grant.covers_column(&column.name))
                .filter(|column| {
                    !denies
                        .iter()
                        .any(|rule| rule.covers_column(&column.name, &column.classification))
                })
                .map(|column| column.name.clone())
                .collect(),
            row_filter: grant.row_filter.clone(),
            terms: grant.verify_terms(),
            key_only: dataset.only_subject_key(
                dataset
                    .columns
                    .iter()
                    .filter(|column| grant.covers_column(&column.name))
                    .map(|column| &column.name),
            ),
        })
        .collect();
    if grants.is_empty() {
        return Err(VerifyRefused::NoGrant {
            dataset: dataset.id.clone(),
            purpose: purpose.to_owned(),
        });
    }
    if dataset.subject_key.is_empty() {
        return Err(VerifyRefused::NoSubjectKey {
            dataset: dataset.id.clone(),
        });
    }
    Ok(VerifyDecision {
        dataset: dataset.id.clone(),
        purpose: purpose.to_owned(),
        subject_key: dataset.subject_key.clone(),
        grants,
    })
}

impl VerifyDecision {
    /// How records giving the columns `given` are matched: under the grants that cover all
    /// of them (the subject key among them), or why they cannot be.
    pub fn plan(&self, given: &BTreeSet<String>) -> Result<VerifyPlan, VerifyRefused> {
        if let Some(column) = self.subject_key.iter().find(|column| !given.contains(*column)) {
            return Err(VerifyRefused::SubjectKeyMissing {
                dataset: self.dataset.clone(),
                key: self.subject_key.join(", "),
                column: column.clone(),
            });
        }
        // A record of the subject key alone answers whether someone is in the dataset: only
        // a grant written for exactly that answers it, not one for matching a name.
        let key_only = given.iter().all(|column| self.subject_key.contains(column));
        let covering: Vec<&VerifyGrant> = self
            .grants
            .iter()
            .filter(|grant| given.iter().all(|column| grant.columns.contains(column)))
            .filter(|grant| !key_only || grant.key_only)
            .collect();
        if key_only && covering.is_empty() && !self.grants.is_empty() {
            return Err(VerifyRefused::SubjectKeyOnly {
                dataset: self.dataset.clone(),
                key: self.subject_key.join(", "),
            });
        }
        if covering.is_empty() {
            return Err(VerifyRefused::ColumnsNotMatchable {
                dataset: self.dataset.clone(),
                columns: given.iter().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        // One grant answers the whole call, its rows and its terms together: two grants'
        // terms never mix (one's per-column answers at the other's attempts would be more
        // than either approved). The one that lets the most through: every row before a row
        // filter, then the most records a day, attempts a subject, per-column answers; the
        // first written of equals.
        let generosity = |grant: &VerifyGrant| {
            (
                grant.row_filter.is_none(),
                grant.terms.max_records_per_day,
                grant.terms.max_attempts_per_subject,
                grant.terms.column_matches,
            )
        };
        let chosen = covering
            .iter()
            .copied()
            .reduce(|best, next| {
                if generosity(next) > generosity(best) {
                    next
                } else {
                    best
                }
            })
            .ok_or_else(|| VerifyRefused::ColumnsNotMatchable {
                dataset: self.dataset.clone(),
                columns: given.iter().cloned().collect::<Vec<_>>().join(", "),
            })?;
        Ok(VerifyPlan {
            grants: vec![chosen.id.clone()],
            row_filters: chosen.row_filter.clone().map(|filter| vec![filter]),
            column_matches: chosen.terms.column_matches,
            max_attempts_per_subject: chosen.terms.max_attempts_per_subject,
            max_records_per_day: chosen.terms.max_records_per_day,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::tests::residents;
    use crate::decision::{AccessDenied, authorize, may_read_all_rows};
    use crate::model::{DenyRule, Grant};

    fn grant(id: &str, yaml: &str) -> Grant {
        serde_norway::from_str(&format!(
            "id: {id}\nsubject: {{department: benefits}}\ndataset: civil_affairs.residents\npurposes: [eligibility]\n{yaml}"
        ))
        .unwrap()
    }

    fn clerk() -> Principal {
        Principal::new("clerk", "benefits").with_role(Role::Analyst)
    }

    fn now() -> DateTime<Utc> {
        "2026-06-01T00:00:00Z".parse().unwrap()
    }

    fn given(columns: &[&str]) -> BTreeSet<String> {
        columns.iter().map(|column| (*column).to_owned()).collect()
    }

    #[test]
    fn a_verify_grant_reads_nothing_and_counts_for_no_statistics() {
        let policies = PolicySet {
            grants: vec![grant("v1", "kind: verify\ncolumns: [id_number, name]")],
            denies: vec![],
        };
        let refused = authorize(&clerk(), "eligibility", &residents(), &policies, now()).unwrap_err();
        assert!(matches!(refused, AccessDenied::VerifyOnly { .. }), "{refused}");
        assert!(refused.to_string().contains("POST /v1/verify"), "{refused}");
        assert!(matches!(
            authorize(&clerk(), "curiosity", &residents(), &policies, now()),
            Err(AccessDenied::NoGrant { .. })
        ));
        assert!(!may_read_all_rows(&clerk(), &residents().id, &policies, now()));
        let decision = authorize_verify(&clerk(), "eligibility", &residents(), &policies, now()).unwrap();
        let plan = decision.plan(&given(&["id_number", "name"])).unwrap();
        assert_eq!(plan.grants, ["v1"]);
        assert_eq!(plan.row_filters, None, "v1 has no row filter");
        assert!(!plan.column_matches);
        assert_eq!(plan.max_attempts_per_subject, 3);
    }

    #[test]
    fn records_give_the_subject_key_and_only_granted_columns() {
        let policies = PolicySet {
            grants: vec![
                grant(
                    "v1",
                    "kind: verify\ncolumns: [id_number, name]\nrow_filter: town = 'Dali'",
                ),
                grant(
                    "v2",
                    "kind: verify\ncolumns: [id_number, phone]\nverify: {column_matches: true, max_attempts_per_subject: 5}",
                ),
            ],
            denies: vec![],
        };
        let decision = authorize_verify(&clerk(), "eligibility", &residents(), &policies, now()).unwrap();
        assert!(matches!(
            decision.plan(&given(&["name"])),
            Err(VerifyRefused::SubjectKeyMissing { .. })
        ));
        assert!(matches!(
            decision.plan(&given(&["id_number", "name", "phone"])),
            Err(VerifyRefused::ColumnsNotMatchable { .. })
        ));
        let by_name = decision.plan(&given(&["id_number", "name"])).unwrap();
        assert_eq!(by_name.grants, ["v1"]);
        assert_eq!(by_name.row_filters, Some(vec!["town = 'Dali'".to_owned()]));
        assert!(
            matches!(
                decision.plan(&given(&["id_number"])),
                Err(VerifyRefused::SubjectKeyOnly { .. })
            ),
            "the ID number alone would tell who is registered"
        );
        let by_phone = decision.plan(&given(&["id_number", "phone"])).unwrap();
        assert_eq!(by_phone.grants, ["v2"]);
        assert_eq!(by_phone.row_filters, None, "v2 covers every row");
        assert!(by_phone.column_matches);
        assert_eq!(by_phone.max_attempts_per_subject, 5);

        // A grant of the subject key alone approves asking who is registered.
        let mut registered = policies.clone();
        registered
            .grants
            .push(grant("v3", "kind: verify\ncolumns: [id_number]"));
        let decision = authorize_verify(&clerk(), "eligibility", &residents(), &registered, now()).unwrap();
        assert_eq!(decision.plan(&given(&["id_number"])).unwrap().grants, ["v3"]);
    }

    #[test]
    fn one_grant_answers_a_call_and_two_grants_terms_never_mix() {
        let policies = PolicySet {
            grants: vec![
                grant(
                    "narrow-but-telling",
                    "kind: verify\ncolumns: [id_number, name]\nverify: {column_matches: true, max_attempts_per_subject: 1, max_records_per_day: 5}",
                ),
                grant(
                    "wide-but-mute",
                    "kind: verify\ncolumns: [id_number, name]\nverify: {max_attempts_per_subject: 5, max_records_per_day: 1000}",
                ),
                grant(
                    "wider-rows-of-one-town",
                    "kind: verify\ncolumns: [id_number, name]\nrow_filter: town = 'Dali'\nverify: {column_matches: true, max_attempts_per_subject: 9, max_records_per_day: 9999}",
                ),
            ],
            denies: vec![],
        };
        let decision = authorize_verify(&clerk(), "eligibility", &residents(), &policies, now()).unwrap();
        let plan = decision.plan(&given(&["id_number", "name"])).unwrap();
        assert_eq!(
            plan,
            VerifyPlan {
                grants: vec!["wide-but-mute".into()],
                row_filters: None,
                column_matches: false,
                max_attempts_per_subject: 5,
                max_records_per_day: 1000,
            },
            "every row first, then the most records: no per-column answers from the other"
        );
    }

    #[test]
    fn deny_rules_and_separation_of_duties_hold_for_verification() {
        let deny: DenyRule = serde_norway::from_str(
            "id: d1\ndatasets: civil_affairs.*\ncolumns: [name]\nreason: names stay home",
        )
        .unwrap();
        let policies = PolicySet {
            grants: vec![grant("v1", "kind: verify\ncolumns: [id_number, name]")],
            denies: vec![deny],
        };
        let decision = authorize_verify(&clerk(), "eligibility", &residents(), &policies, now()).unwrap();
        assert!(matches!(
            decision.plan(&given(&["id_number", "name"])),
            Err(VerifyRefused::ColumnsNotMatchable { .. })
        ));
        assert!(
            matches!(
                decision.plan(&given(&["id_number"])),
                Err(VerifyRefused::SubjectKeyOnly { .. })
            ),
            "a deny rule on the name does not make a grant of matching names one of registration"
        );
        let auditor = Principal::new("root", "benefits").with_role(Role::Auditor);
        assert!(matches!(
            authorize_verify(&auditor, "eligibility", &residents(), &policies, now()),
            Err(VerifyRefused::Administrative { .. })
        ));
        let read_only = PolicySet {
            grants: vec![grant("g1", "")],
            denies: vec![],
        };
        assert!(matches!(
            authorize_verify(&clerk(), "eligibility", &residents(), &read_only, now()),
            Err(VerifyRefused::NoGrant { .. })
        ));
        let mut unkeyed = residents();
        unkeyed.subject_key.clear();
        assert!(matches!(
            authorize_verify(&clerk(), "eligibility", &unkeyed, &policies, now()),
            Err(VerifyRefused::NoSubjectKey { .. })
        ));
    }
}
