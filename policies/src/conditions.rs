//! What a dataset's owner publishes about getting access to it: how long a decision takes,
//! how often a grant is confirmed again, and the permit list of requests approved at once.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{DatasetId, Grant, GrantKind, Mask, Subject, VerifyTerms, all_columns};

/// The permit list of a dataset: a request that meets every condition is approved at once.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoApproval {
    /// The kind of grant the request asks for: `read` (the default) or `verify`.
    #[serde(default, skip_serializing_if = "GrantKind::is_read")]
    pub kind: GrantKind,
    /// Requesting departments; any when empty.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub departments: BTreeSet<String>,
    /// Purposes that qualify.
    pub purposes: BTreeSet<String>,
    /// Columns that may be requested; all when it holds `*`.
    #[serde(default = "all_columns")]
    pub columns: Vec<String>,
    /// Masks that stay on the granted columns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub masks: BTreeMap<String, Mask>,
    /// A row filter the grant carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_filter: Option<String>,
    /// A distinct-person quota the grant carries ([`Grant::max_subjects_per_day`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_subjects_per_day: Option<u64>,
    /// For a `verify` permit, the most it grants ([`Grant::verify`]): a request asking for
    /// no more is approved with the terms it asked for, one asking for none with these; the
    /// defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyTerms>,
    /// The longest access, in days.
    pub max_days: u32,
}

/// Verify terms as a request asks for them or a reviewer narrows them: each term given
/// replaces the one it is applied to (a permit's or the defaults for a request, those asked
/// for in a decision); each left out stays.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialVerifyTerms {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_matches: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts_per_subject: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_records_per_day: Option<u64>,
}

impl PartialVerifyTerms {
    /// `base` with the terms given here in place of its own.
    pub fn applied_to(&self, base: &VerifyTerms) -> VerifyTerms {
        VerifyTerms {
            column_matches: self.column_matches.unwrap_or(base.column_matches),
            max_attempts_per_subject: self
                .max_attempts_per_subject
                .unwrap_or(base.max_attempts_per_subject),
            max_records_per_day: self.max_records_per_day.unwrap_or(base.max_records_per_day),
        }
    }
}

impl AutoApproval {
    /// The grant the permit makes for `subject` on `dataset` (the requested columns, purpose
    /// and duration are the request's, set by whoever files it): its masks, row filter,
    /// distinct-person quota and, for a verify permit, its terms. Checked with
    /// [`crate::validate_grant`] like any grant, so that a permit nobody could be granted
    /// is found where it is written.
    pub fn grant(&self, id: impl Into<String>, subject: Subject, dataset: DatasetId) -> Grant {
        Grant {
            kind: self.kind,
            columns: self.columns.clone(),
            masks: self.masks.clone(),
            row_filter: self.row_filter.clone(),
            purposes: self.purposes.clone(),
            max_subjects_per_day: self.max_subjects_per_day,
            verify: self.verify_terms(),
            ..Grant::new(id, subject, dataset)
        }
    }

    /// A verify permit's terms, the defaults when it states none; none for a read permit
    /// unless it (wrongly) states some, which validation then refuses.
    pub fn verify_terms(&self) -> Option<VerifyTerms> {
        match self.kind {
            GrantKind::Verify => Some(self.verify.clone().unwrap_or_default()),
            GrantKind::Read => self.verify.clone(),
        }
    }
}

/// What a dataset's owner publishes about getting access to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConditions {
    /// Working days the owner and the security officer take to decide a request.
    #[serde(default = "default_decision_days")]
    pub decision_days: u32,
    /// Conditions under which requests are approved at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auto_approve: Vec<AutoApproval>,
    /// Days a grant on the dataset stays in force unless the owning department confirms
    /// it again (access recertification, as ISO/IEC 27001 A.5.18 and GB/T 22239 ask for a
    /// periodic review of access rights).
    #[serde(default = "default_recertification_days")]
    pub recertification_days: u32,
}

impl Default for AccessConditions {
    fn default() -> Self {
        Self {
            decision_days: default_decision_days(),
            auto_approve: Vec::new(),
            recertification_days: default_recertification_days(),
        }
    }
}

fn default_recertification_days() -> u32 {
    180
}

fn default_decision_days() -> u32 {
    5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_terms_narrow_field_by_field() {
        let asked = VerifyTerms {
            column_matches: true,
            max_attempts_per_subject: 5,
            max_records_per_day: 100,
        };
        let fewer_attempts = VerifyTerms {
            max_attempts_per_subject: 2,
            ..asked.clone()
        };
        let fewer_records = VerifyTerms {
            column_matches: false,
            max_records_per_day: 10,
            ..asked.clone()
        };
        assert!(fewer_attempts.within(&asked) && fewer_records.within(&asked));
        assert!(!asked.within(&fewer_attempts) && !asked.within(&fewer_records));
        // Neither is within the other: each allows more of something.
        assert!(!fewer_attempts.within(&fewer_records) && !fewer_records.within(&fewer_attempts));
        let both = fewer_attempts.stricter(&fewer_records);
        assert_eq!(
            both,
            VerifyTerms {
                column_matches: false,
                max_attempts_per_subject: 2,
                max_records_per_day: 10,
            }
        );
        assert!(both.within(&fewer_attempts) && both.within(&fewer_records));
    }
}
