//! Policies as code: YAML files of grants, deny rules and automatic-approval conditions,
//! kept in version control beside the hub's configuration. Errors name the file and line.
//!
//! ```yaml
//! grants:
//!   - id: grid-workers-see-their-grid
//!     subject: { department: civil_affairs, role: analyst }
//!     dataset: civil_affairs.residents
//!     row_filter: grid_id = principal.grid_id
//!     purposes: [grid-management]
//! deny:
//!   - id: phones-stay-home
//!     datasets: civil_affairs.*
//!     columns: [phone]
//!     reason: phone numbers are not shared
//! auto_approve:
//!   - dataset: land_registry.parcels
//!     purposes: [housing-subsidy-review]
//!     columns: [parcel_id, town, area_m2]
//!     max_days: 90
//! ```

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use serde::Deserialize;

use crate::conditions::AutoApproval;
use crate::model::{DatasetId, DenyRule, Grant, GrantKind, Mask, VerifyTerms, all_columns};

/// The policies of one or more files.
#[derive(Debug, Clone, Default)]
pub struct FilePolicies {
    pub grants: Vec<Located<Grant>>,
    pub denies: Vec<Located<DenyRule>>,
    pub permits: Vec<Located<(DatasetId, AutoApproval)>>,
}

/// A policy and where it is written.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub item: T,
    pub file: String,
    pub line: usize,
}

/// A problem in a policy file, at a line when it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for FileError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDocument {
    #[serde(default)]
    grants: Vec<Grant>,
    #[serde(default)]
    deny: Vec<DenyRule>,
    #[serde(default)]
    auto_approve: Vec<Permit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Permit {
    dataset: DatasetId,
    #[serde(default)]
    kind: GrantKind,
    #[serde(default)]
    departments: BTreeSet<String>,
    purposes: BTreeSet<String>,
    #[serde(default = "all_columns")]
    columns: Vec<String>,
    #[serde(default)]
    masks: BTreeMap<String, Mask>,
    #[serde(default)]
    row_filter: Option<String>,
    #[serde(default)]
    max_subjects_per_day: Option<u64>,
    #[serde(default)]
    verify: Option<VerifyTerms>,
    max_days: u32,
}

impl FilePolicies {
    /// Reads one file's text into these policies. Every grant and deny rule needs an id
    /// that no other one has, and every grant a purpose.
    pub fn add_file(&mut self, file: &str, text: &str) -> Result<(), FileError> {
        let document: PolicyDocument = serde_norway::from_str(text).map_err(|error| FileError {
            file: file.to_owned(),
            line: error.location().map(|location| location.line()),
            message: error.to_string(),
        })?;
        let mut ids: HashSet<String> = self
            .grants
            .iter()
            .map(|grant| grant.item.id.clone())
            .chain(self.denies.iter().map(|deny| deny.item.id.clone()))
            .collect();
        let located_error = |id: &str, message: String| FileError {
            file: file.to_owned(),
            line: line_of(text, id),
            message,
        };
        for grant in document.grants {
            if !ids.insert(grant.id.clone()) {
                return Err(located_error(
                    &grant.id,
                    format!("the id '{}' is used twice", grant.id),
                ));
            }
            if grant.purposes.is_empty() {
                return Err(located_error(
                    &grant.id,
                    format!("grant {} names no purpose", grant.id),
                ));
            }
            let line = line_of(text, &grant.id).unwrap_or_default();
            self.grants.push(Located {
                item: grant,
                file: file.to_owned(),
                line,
            });
        }
        for deny in document.deny {
            if !ids.insert(deny.id.clone()) {
                return Err(located_error(
                    &deny.id,
                    format!("the id '{}' is used twice", deny.id),
                ));
            }
            let line = line_of(text, &deny.id).unwrap_or_default();
            self.denies.push(Located {
                item: deny,
                file: file.to_owned(),
                line,
            });
        }
        // The nth permit of a dataset is at the nth line naming it (from the first permit's).
        let section = text
            .lines()
            .position(|line| line.starts_with("auto_approve:"))
            .unwrap_or_default();
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for permit in document.auto_approve {
            let dataset = permit.dataset.to_string();
            let nth = seen.entry(dataset.clone()).or_default();
            let line = lines_of(text, &dataset)
                .filter(|line| *line > section)
                .nth(*nth)
                .unwrap_or_default();
            *nth += 1;
            self.permits.push(Located {
                item: (
                    permit.dataset,
                    AutoApproval {
                        kind: permit.kind,
                        departments: permit.departments,
                        purposes: permit.purposes,
                        columns: permit.columns,
                        masks: permit.masks,
                        row_filter: permit.row_filter,
                        max_subjects_per_day: permit.max_subjects_per_day,
                        verify: permit.verify,
                        max_days: permit.max_days,
                    },
                ),
                file: file.to_owned(),
                line,
            });
        }
        Ok(())
    }

    /// The automatic-approval conditions the files set for `dataset`.
    pub fn permits_for(&self, dataset: &DatasetId) -> impl Iterator<Item = &AutoApproval> {
        self.permits
            .iter()
            .filter(move |permit| permit.item.0 == *dataset)
            .map(|permit| &permit.item.1)
    }
}

/// The line (from 1) where `needle` first appears as a whole YAML value.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    lines_of(text, needle).next()
}

/// The lines (from 1) where `needle` appears as a whole YAML value.
fn lines_of<'a>(text: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.lines().enumerate().filter_map(move |(index, line)| {
        line.split([':', ' ', ',', '{', '}', '[', ']', '"', '\''])
            .any(|word| word == needle)
            .then_some(index + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
grants:
  - id: grid-workers
    subject: { department: civil_affairs, role: analyst }
    dataset: civil_affairs.residents
    row_filter: grid_id = principal.grid_id
    purposes: [grid-management]
deny:
  - id: phones-stay-home
    datasets: civil_affairs.*
    columns: [phone]
    reason: phone numbers are not shared
auto_approve:
  - dataset: land_registry.parcels
    purposes: [housing-subsidy-review]
    columns: [parcel_id, town]
    max_days: 90
"#;

    #[test]
    fn a_file_reads_with_the_lines_of_its_policies() {
        let mut policies = FilePolicies::default();
        policies.add_file("residents.yaml", FILE).unwrap();
        assert_eq!(policies.grants[0].line, 3);
        assert_eq!(policies.denies[0].line, 9);
        assert_eq!(policies.permits[0].line, 14);
        let parcels = DatasetId::new("land_registry", "parcels");
        assert_eq!(policies.permits_for(&parcels).count(), 1);
        // A second permit of the same dataset is found at its own line, not the first's.
        let mut policies = FilePolicies::default();
        let twice =
            format!("{FILE}  - dataset: land_registry.parcels\n    purposes: [audit]\n    max_days: 9\n");
        policies.add_file("residents.yaml", &twice).unwrap();
        assert_eq!(policies.permits[1].line, 18);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let mut policies = FilePolicies::default();
        let broken = FILE.replace(
            "    purposes: [grid-management]\n",
            "    purposes: [grid-management]\n    colour: red\n",
        );
        let error = policies.add_file("residents.yaml", &broken).unwrap_err();
        assert!(error.to_string().starts_with("residents.yaml:"), "{error}");
        assert!(error.message.contains("colour"), "{error}");
        assert!(error.line.is_some());

        let mut policies = FilePolicies::default();
        policies.add_file("a.yaml", FILE).unwrap();
        let error = policies.add_file("b.yaml", FILE).unwrap_err();
        assert_eq!(error.to_string(), "b.yaml:3: the id 'grid-workers' is used twice");
    }

    #[test]
    fn a_verify_permit_carries_its_terms_into_the_grant_it_makes() {
        let mut policies = FilePolicies::default();
        let file = "auto_approve:\n  - dataset: civil_affairs.residents\n    kind: verify\n    purposes: [benefit-eligibility]\n    columns: [id_number, name]\n    verify: { column_matches: true, max_attempts_per_subject: 2 }\n    max_days: 30\n";
        policies.add_file("verify.yaml", file).unwrap();
        let residents = DatasetId::new("civil_affairs", "residents");
        let permit = policies.permits_for(&residents).next().unwrap();
        let subject = crate::Subject::Client {
            client: "clerk".into(),
        };
        let grant = permit.grant("g", subject.clone(), residents.clone());
        assert_eq!(grant.kind, GrantKind::Verify);
        assert_eq!(
            grant.verify,
            Some(VerifyTerms {
                column_matches: true,
                max_attempts_per_subject: 2,
                max_records_per_day: 10_000,
            })
        );
        // A verify permit without terms grants the defaults, stated; a read permit none.
        let mut bare = permit.clone();
        bare.verify = None;
        assert_eq!(
            bare.grant("g", subject.clone(), residents.clone()).verify,
            Some(VerifyTerms::default())
        );
        bare.kind = GrantKind::Read;
        assert_eq!(bare.grant("g", subject, residents).verify, None);
        let misspelt = file.replace("max_attempts_per_subject", "attempts");
        assert!(
            FilePolicies::default()
                .add_file("verify.yaml", &misspelt)
                .is_err()
        );
    }
}
