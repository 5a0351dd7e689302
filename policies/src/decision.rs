//! The authorizer: given who asks, for which purpose, about which dataset, and every grant
//! and deny rule, which rows and columns the asker may see, masked how, and why. Pure: the
//! same inputs always give the same decision.

use std::collections::BTreeMap;

use causeway_schemas::Classification;
use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

use crate::masks::default_mask;
use crate::model::{DatasetId, DenyRule, Grant, GrantKind, Mask, PolicySet};
use crate::principal::{Principal, Role};

/// A dataset's columns, as the policy sees them.
#[derive(Debug, Clone)]
pub struct DatasetInfo {
    pub id: DatasetId,
    pub columns: Vec<ColumnInfo>,
    /// Days a grant on it stays in force without its owner confirming it again
    /// ([`crate::AccessConditions::recertification_days`]).
    pub recertification_days: u32,
    /// The columns that name the person or firm a row is about (the contract's
    /// `subject_key`); empty when it names none.
    pub subject_key: Vec<String>,
}

impl DatasetInfo {
    /// Whether `columns` (one at least) name nothing but the subject key: asking about them
    /// alone tells whether someone is in the dataset at all, which only a grant (or permit)
    /// written for exactly that answers.
    pub fn only_subject_key<'a>(&self, columns: impl IntoIterator<Item = &'a String>) -> bool {
        let mut columns = columns.into_iter().peekable();
        columns.peek().is_some() && columns.all(|column| self.subject_key.contains(column))
    }
}

#[derive(Debug, Clone)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: DataType,
    pub classification: Classification,
}

/// What the asker may see of a dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub dataset: DatasetId,
    pub purpose: String,
    /// The grants that apply, in the order they are tried for each column.
    pub grants: Vec<AppliedGrant>,
    pub columns: Vec<ColumnDecision>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppliedGrant {
    pub id: String,
    /// The condition rows must meet, as written in the grant (before the asker's attributes
    /// are put in).
    pub row_filter: Option<String>,
    pub max_rows_per_query: Option<u64>,
    pub max_rows_per_day: Option<u64>,
    pub max_subjects_per_day: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnDecision {
    pub name: String,
    #[serde(flatten)]
    pub access: ColumnAccess,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "access", rename_all = "snake_case")]
pub enum ColumnAccess {
    /// Shown, through the grants listed (least masked first): a row shows the column as the
    /// first of them whose row filter it meets.
    Visible { through: Vec<ColumnSource> },
    /// Never shown.
    Denied { reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnSource {
    /// Index into [`Decision::grants`].
    #[serde(skip)]
    pub grant: usize,
    pub grant_id: String,
    /// `None`: the raw value.
    pub mask: Option<Mask>,
}

/// How many rows of a dataset a principal may take out: in one query, and in one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RowQuota {
    pub per_query: Option<u64>,
    pub per_day: Option<u64>,
}

impl Decision {
    /// The dataset's quota for this decision: the most any of its grants allows, since each
    /// grant alone would let that many rows through; a grant without a quota lifts it.
    pub fn row_quota(&self) -> RowQuota {
        let most = |quota: fn(&AppliedGrant) -> Option<u64>| {
            self.grants
                .iter()
                .map(quota)
                .collect::<Option<Vec<u64>>>()?
                .into_iter()
                .max()
        };
        RowQuota {
            per_query: most(|grant| grant.max_rows_per_query),
            per_day: most(|grant| grant.max_rows_per_day),
        }
    }

    /// How many distinct subjects' rows the caller may read of the dataset a day: the most
    /// any of its grants allows; a grant without such a quota lifts it.
    pub fn subject_quota(&self) -> Option<u64> {
        self.grants
            .iter()
            .map(|grant| grant.max_subjects_per_day)
            .collect::<Option<Vec<u64>>>()?
            .into_iter()
            .max()
    }
}

/// Why the asker may not read the dataset at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    #[error("no grant lets you read {dataset} for the purpose '{purpose}'")]
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
        "your grant on {dataset} for the purpose '{purpose}' is verify-only: it answers whether records match (POST /v1/verify) and reads no rows"
    )]
    VerifyOnly { dataset: DatasetId, purpose: String },
}

/// The first deny rule that a request of `principal` for `columns` of `dataset` (`*` for
/// every column) runs into: the rule, and the column it keeps back (`None` when it keeps back
/// the whole dataset). A grant for such a request could never be used, so it is refused
/// when filed.
pub fn denied_request<'a>(
    principal: &Principal,
    dataset: &DatasetInfo,
    columns: &[String],
    policies: &'a PolicySet,
) -> Option<(&'a DenyRule, Option<String>)> {
    let everything = columns.iter().any(|column| column == "*");
    policies
        .denies
        .iter()
        .filter(|rule| rule.applies_to(principal, &dataset.id))
        .find_map(|rule| {
            if rule.covers_dataset() {
                return Some((rule, None));
            }
            dataset
                .columns
                .iter()
                .filter(|column| everything || columns.contains(&column.name))
                .find(|column| rule.covers_column(&column.name, &column.classification))
                .map(|column| (rule, Some(column.name.clone())))
        })
}

/// Decides what `principal` may see of `dataset` for `purpose` at `now`.
///
/// Administrative accounts read nothing, whatever a grant says. Deny rules win over grants. Only grants for the principal, for this dataset, for this
/// purpose and in force count; with none, the dataset is closed. A column is shown when a
/// grant covers it and no deny rule does, masked as that grant says, else as its
/// classification says unless the grant lifts that mask by name.
pub fn authorize(
    principal: &Principal,
    purpose: &str,
    dataset: &DatasetInfo,
    policies: &PolicySet,
    now: DateTime<Utc>,
) -> Result<Decision, AccessDenied> {
    if let Some(role) = principal.administrative_role() {
        return Err(AccessDenied::Administrative {
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
        return Err(AccessDenied::DatasetDenied {
            dataset: dataset.id.clone(),
            rule: rule.id.clone(),
            reason: rule.reason.clone(),
        });
    }
    let owner = owner_grant(principal, dataset);
    let grants: Vec<&Grant> = owner
        .iter()
        .chain(
            in_force(policies, principal, &dataset.id, now).filter(|grant| grant.purposes.contains(purpose)),
        )
        .collect();
    if grants.is_empty() {
        let verifies = in_grants_for(policies, principal, &dataset.id, now, GrantKind::Verify)
            .any(|grant| grant.purposes.contains(purpose));
        return Err(if verifies {
            AccessDenied::VerifyOnly {
                dataset: dataset.id.clone(),
                purpose: purpose.to_owned(),
            }
        } else {
            AccessDenied::NoGrant {
                dataset: dataset.id.clone(),
                purpose: purpose.to_owned(),
            }
        });
    }
    let columns = dataset
        .columns
        .iter()
        .map(|column| {
            let access = if let Some(rule) = denies
                .iter()
                .find(|rule| rule.covers_column(&column.name, &column.classification))
            {
                ColumnAccess::Denied {
                    reason: format!("{} (deny rule {})", rule.reason, rule.id),
                }
            } else {
                let mut through: Vec<ColumnSource> = grants
                    .iter()
                    .enumerate()
                    .filter(|(_, grant)| grant.covers_column(&column.name))
                    .map(|(index, grant)| ColumnSource {
                        grant: index,
                        grant_id: grant.id.clone(),
                        mask: mask_for(grant, column),
                    })
                    .collect();
                // Raw values first: a row shows the least masked value a grant allows it.
                through.sort_by_key(|source| source.mask.is_some());
                if through.is_empty() {
                    ColumnAccess::Denied {
                        reason: "no grant for this purpose covers it".into(),
                    }
                } else {
                    ColumnAccess::Visible { through }
                }
            };
            ColumnDecision {
                name: column.name.clone(),
                access,
            }
        })
        .collect();
    Ok(Decision {
        dataset: dataset.id.clone(),
        purpose: purpose.to_owned(),
        grants: grants
            .iter()
            .map(|grant| AppliedGrant {
                id: grant.id.clone(),
                row_filter: grant.row_filter.clone(),
                max_rows_per_query: grant.max_rows_per_query,
                max_rows_per_day: grant.max_rows_per_day,
                max_subjects_per_day: grant.max_subjects_per_day,
            })
            .collect(),
        columns,
    })
}

/// Whether `principal` may read every row of `dataset` at `now`, for some purpose: they own
/// it, or a grant in force for them has no row filter, and no deny rule closes the whole
/// dataset to them. Counts and other statistics of a dataset are shown only to such
/// callers, since the number of rows a row filter hides is itself a disclosure.
pub fn may_read_all_rows(
    principal: &Principal,
    dataset: &DatasetId,
    policies: &PolicySet,
    now: DateTime<Utc>,
) -> bool {
    let denied = policies
        .denies
        .iter()
        .any(|rule| rule.applies_to(principal, dataset) && rule.covers_dataset());
    !denied
        && (owns(principal, dataset)
            || in_force(policies, principal, dataset, now).any(|grant| grant.row_filter.is_none()))
}

/// The largest distinct-person quota among the read grants for `principal` on `dataset` in
/// force at `now`, for any purpose (`None`: no grant carries one). People are counted per
/// caller and dataset, whatever the purpose they are read for: reads under a grant without
/// a quota count too, up to this many, so that a quota is not renewed by reading its people
/// under another purpose first.
pub fn largest_subject_quota(
    principal: &Principal,
    dataset: &DatasetId,
    policies: &PolicySet,
    now: DateTime<Utc>,
) -> Option<u64> {
    in_force(policies, principal, dataset, now)
        .filter_map(|grant| grant.max_subjects_per_day)
        .max()
}

/// The read grants for `principal` on `dataset` in force at `now`, for any purpose.
fn in_force<'a>(
    policies: &'a PolicySet,
    principal: &'a Principal,
    dataset: &'a DatasetId,
    now: DateTime<Utc>,
) -> impl Iterator<Item = &'a Grant> {
    in_grants_for(policies, principal, dataset, now, GrantKind::Read)
}

/// The grants of `kind` for `principal` on `dataset` in force at `now`, for any purpose.
pub(crate) fn in_grants_for<'a>(
    policies: &'a PolicySet,
    principal: &'a Principal,
    dataset: &'a DatasetId,
    now: DateTime<Utc>,
    kind: GrantKind,
) -> impl Iterator<Item = &'a Grant> {
    policies.grants.iter().filter(move |grant| {
        grant.kind == kind
            && grant.dataset == *dataset
            && grant.subject.matches(principal)
            && grant.is_valid_at(now)
    })
}

/// Whether `principal` publishes for the department that owns `dataset`.
pub(crate) fn owns(principal: &Principal, dataset: &DatasetId) -> bool {
    principal.department == dataset.department && principal.has_role(crate::principal::Role::Publisher)
}

/// The owning department's publishers read their own datasets raw, for any purpose: the
/// data is theirs. Deny rules still apply to them.
fn owner_grant(principal: &Principal, dataset: &DatasetInfo) -> Option<Grant> {
    owns(principal, &dataset.id).then(|| Grant {
        unmasked: dataset.columns.iter().map(|column| column.name.clone()).collect(),
        ..Grant::new(
            format!("owner:{}", dataset.id.department),
            crate::model::Subject::Department {
                department: dataset.id.department.clone(),
            },
            dataset.id.clone(),
        )
    })
}

/// The masks a grant leaves to the columns' classifications: each column of `dataset` it
/// covers that it neither masks by name nor lifts (`unmasked`), and whose classification
/// masks by default ([`default_mask`]). With the grant's own `masks`, how every covered
/// column is shown, as [`authorize`] shows it (deny rules aside).
pub fn default_masks(grant: &Grant, dataset: &DatasetInfo) -> BTreeMap<String, Mask> {
    // A verify grant shows no column at all.
    if grant.kind == GrantKind::Verify {
        return BTreeMap::new();
    }
    dataset
        .columns
        .iter()
        .filter(|column| grant.covers_column(&column.name) && !grant.masks.contains_key(&column.name))
        .filter_map(|column| Some((column.name.clone(), mask_for(grant, column)?)))
        .collect()
}

fn mask_for(grant: &Grant, column: &ColumnInfo) -> Option<Mask> {
    if let Some(mask) = grant.masks.get(&column.name) {
        return Some(mask.clone());
    }
    if grant.unmasked.contains(&column.name) {
        return None;
    }
    default_mask(&column.classification)
}

#[cfg(test)]
pub(crate) mod tests;
