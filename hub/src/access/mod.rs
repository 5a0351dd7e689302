//! Access: the grants and deny rules in force, kept as one snapshot that every query reads,
//! and the changes to them. Deciding and enforcing is the `causeway_policies` crate's job;
//! this module loads, stores and checks.

pub mod calendar;
mod grantee;
pub mod pseudonym_key;
mod recertification;
pub mod requests;
pub mod review;

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::Utc;

use causeway_policies::{
    AccessConditions, DatasetId, DatasetInfo, FileError, FilePolicies, Grant, PolicyError, PolicyFunctions,
    PolicySet, Principal, RewriteContext, Role, Subject, SyntaxLimits, validate_grant,
};
use datafusion::execution::session_state::SessionState;

use crate::audit::literals::AuditLiterals;
use crate::audit::{AuditError, Gate};
use crate::store::{GrantOrigin, GrantRecord, MetadataStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} does not exist")]
    NotFound(String),
    /// A grant that cannot be confirmed: no longer in force, or written in a policy file.
    #[error("{0}")]
    NotConfirmable(String),
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("cannot use the pseudonym key {path}: {message}")]
    Key { path: String, message: String },
}

/// The grants and deny rules in force, and the functions plans use to enforce them.
pub struct Access {
    store: MetadataStore,
    functions: PolicyFunctions,
    /// Pseudonyms and sealing of the values typed into logged queries.
    literals: AuditLiterals,
    /// How deep and large row filters and SQL masks may be.
    limits: SyntaxLimits,
    /// Swapped whole; never locked, so never poisoned into "no policy".
    snapshot: ArcSwap<PolicySet>,
    files: ArcSwap<FilePolicies>,
    /// Reads of the grants take turns: a read that listed the grants before a revocation
    /// must not store its list after the revocation's own read.
    reloading: tokio::sync::Mutex<()>,
    /// Working days, for the decision deadlines of requests.
    calendar: calendar::WorkingCalendar,
    /// The pseudonym key, extracted for deriving the hub's other shared secrets from it.
    derived: ring::hkdf::Prk,
}

impl Access {
    /// How logged queries keep the values typed into them.
    pub fn audit_literals(&self) -> &AuditLiterals {
        &self.literals
    }

    /// Loads the grants in force, with the pseudonym key at `key_path` (created if missing).
    pub async fn open(
        store: MetadataStore,
        key_path: &Path,
        limits: SyntaxLimits,
    ) -> Result<Self, AccessError> {
        let key = pseudonym_key::open(key_path)?;
        let retired = pseudonym_key::retired(key_path)?;
        let derived = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"causeway").extract(&key);
        let access = Self {
            store,
            functions: PolicyFunctions::new(&key),
            literals: AuditLiterals::new(&key).with_retired(&retired),
            limits,
            snapshot: ArcSwap::from_pointee(PolicySet::default()),
            files: ArcSwap::from_pointee(FilePolicies::default()),
            reloading: tokio::sync::Mutex::new(()),
            calendar: calendar::WorkingCalendar::default(),
            derived,
        };
        access.reload().await?;
        Ok(access)
    }

    /// Counts decision deadlines in `calendar`'s working days (weekends alone by default).
    pub fn with_calendar(mut self, calendar: calendar::WorkingCalendar) -> Self {
        self.calendar = calendar;
        self
    }

    /// An HMAC-SHA256 key for `purpose` (e.g. `b"flight-tickets"`), derived from the
    /// pseudonym key (HKDF, RFC 5869): every hub sharing that key, replicas included, derives
    /// the same one, and no two purposes share a key.
    pub fn derived_key(&self, purpose: &'static [u8]) -> Option<ring::hmac::Key> {
        let info = [purpose];
        // Only a length above 255 hash lengths fails; one is asked for.
        self.derived
            .expand(&info, ring::hmac::HMAC_SHA256)
            .ok()
            .map(ring::hmac::Key::from)
    }

    pub fn calendar(&self) -> &calendar::WorkingCalendar {
        &self.calendar
    }

    pub fn functions(&self) -> &PolicyFunctions {
        &self.functions
    }

    pub fn limits(&self) -> SyntaxLimits {
        self.limits
    }

    /// The policies every query of this moment is decided by.
    pub fn snapshot(&self) -> Arc<PolicySet> {
        self.snapshot.load_full()
    }

    fn files(&self) -> Arc<FilePolicies> {
        self.files.load_full()
    }

    /// Reads the grants in force again; changes take effect at the next query.
    pub async fn reload(&self) -> Result<(), AccessError> {
        let _turn = self.reloading.lock().await;
        let files = self.files();
        let grants = self
            .store
            .list_grants()
            .await?
            .into_iter()
            .filter(|record| record.revoked_at.is_none())
            .map(|record| record.grant)
            .chain(files.grants.iter().map(|grant| grant.item.clone()))
            .collect();
        let policies = PolicySet {
            grants,
            denies: files.denies.iter().map(|deny| deny.item.clone()).collect(),
        };
        self.snapshot.store(Arc::new(policies));
        Ok(())
    }

    /// Replaces the file policies with those of `dir`, checked against the datasets that
    /// `dataset` knows; `gate` is passed (its record on disk) before they take effect. On
    /// any error the policies in force stay as they were.
    pub async fn load_files(
        &self,
        dir: &Path,
        dataset: &(dyn Fn(&DatasetId) -> Option<DatasetInfo> + Sync),
        session: &SessionState,
        gate: &mut Gate,
    ) -> Result<(), Vec<FileError>> {
        let files = read_policy_dir(dir)?;
        let errors = check_files(&files, dataset, &self.functions, session, self.limits);
        if !errors.is_empty() {
            return Err(errors);
        }
        let (grants, denies) = (files.grants.len(), files.denies.len());
        gate.record().detail = Some(
            serde_json::json!({ "dir": dir.display().to_string(), "grants": grants, "denies": denies })
                .to_string(),
        );
        gate.pass().await.map_err(|error| {
            vec![FileError {
                file: dir.display().to_string(),
                line: None,
                message: error.to_string(),
            }]
        })?;
        self.files.store(Arc::new(files));
        self.reload().await.map_err(|error| {
            vec![FileError {
                file: dir.display().to_string(),
                line: None,
                message: error.to_string(),
            }]
        })?;
        tracing::info!(dir = %dir.display(), grants, denies, "policy files loaded");
        Ok(())
    }

    /// Checks the access conditions a publisher sends as policy files' permits are checked:
    /// each permit makes a grant that could be made on `dataset` (a verify permit names the
    /// subject key and takes no masks, terms only on a verify permit, known columns).
    pub fn check_conditions(
        &self,
        conditions: &AccessConditions,
        dataset: &DatasetInfo,
        session: &SessionState,
    ) -> Result<(), AccessError> {
        let checker = Principal::new("policy-check", "policy-check");
        let context = RewriteContext {
            principal: &checker,
            functions: &self.functions,
            session,
            limits: self.limits,
        };
        for (index, permit) in conditions.auto_approve.iter().enumerate() {
            check_permit(
                permit,
                format!("permitted by access.auto_approve[{index}]"),
                dataset,
                &context,
            )?;
        }
        Ok(())
    }

    /// A dataset's access conditions: those its owner published, and those policy files add.
    pub fn conditions(&self, dataset: &DatasetId, published: AccessConditions) -> AccessConditions {
        let mut conditions = published;
        conditions
            .auto_approve
            .extend(self.files().permits_for(dataset).cloned());
        conditions
    }

    /// Every grant: those in the store, revoked ones included, and those of policy files.
    pub async fn grants(&self) -> Result<Vec<GrantRecord>, AccessError> {
        let mut records = self.store.list_grants().await?;
        records.extend(self.files().grants.iter().map(|grant| GrantRecord {
            grant: grant.item.clone(),
            origin: GrantOrigin::File,
            request_id: None,
            created_by: format!("{}:{}", grant.file, grant.line),
            created_at: String::new(),
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
        }));
        Ok(records)
    }

    /// Records a grant after checking it against its dataset; `gate` is passed (its audit
    /// record on disk) before the grant is stored.
    #[expect(clippy::too_many_arguments, reason = "a grant's whole provenance")]
    pub async fn create_grant(
        &self,
        grant: Grant,
        dataset: &DatasetInfo,
        origin: GrantOrigin,
        request_id: Option<&str>,
        by: &Principal,
        session: &SessionState,
        gate: &mut Gate,
    ) -> Result<GrantRecord, AccessError> {
        let context = RewriteContext {
            principal: by,
            functions: &self.functions,
            session,
            limits: self.limits,
        };
        // A policy file's grant has the id its file gives; any other's is generated, which
        // means nothing to whoever is making it.
        if origin == GrantOrigin::File {
            validate_grant(&grant, dataset, &context)?;
        } else {
            validate_unnamed(&grant, "being made", dataset, &context)?;
        }
        if origin == GrantOrigin::Direct {
            self.check_grantee(&grant.subject, by).await?;
            self.check_not_denied(&grant, dataset).await?;
        }
        let mut grant = grant;
        // Every grant but a policy file's lapses unless its owner confirms it in time; a
        // grant may ask for an earlier review, never a later one.
        if origin != GrantOrigin::File {
            let latest = Utc::now() + recertification::interval(dataset);
            grant.recertify_by = Some(grant.recertify_by.map_or(latest, |asked| asked.min(latest)));
        }
        let record = gate.record();
        if !record.grants.contains(&grant.id) {
            record.grants.push(grant.id.clone());
        }
        if record.detail.is_none() {
            record.detail = serde_json::to_string(&grant).ok();
        }
        gate.pass().await?;
        let record = self
            .store
            .insert_grant(&grant, origin, request_id, &by.id)
            .await?;
        self.reload().await?;
        Ok(record)
    }

    /// Revokes a grant: security administrators may revoke any, a dataset's publishers those on
    /// their department's datasets. Effective at the next query.
    /// Revokes grant `id` for `by`; returns the dataset it was on.
    pub async fn revoke(
        &self,
        id: &str,
        by: &Principal,
        reason: Option<&str>,
        gate: &mut Gate,
    ) -> Result<DatasetId, AccessError> {
        if let Some(grant) = self.files().grants.iter().find(|grant| grant.item.id == id) {
            return Err(AccessError::Forbidden(format!(
                "grant {id} is written in {}:{}; change the file and reload",
                grant.file, grant.line
            )));
        }
        let record = self
            .store
            .grant(id)
            .await?
            .filter(|record| record.revoked_at.is_none())
            .ok_or_else(|| AccessError::NotFound(format!("grant {id}")))?;
        let owner = by.has_role(Role::Publisher) && by.department == record.grant.dataset.department;
        if !(by.has_role(Role::SecurityAdmin) || owner) {
            return Err(AccessError::Forbidden(format!(
                "only a security administrator or a publisher of {} may revoke grant {id}",
                record.grant.dataset.department
            )));
        }
        let audited = gate.record();
        audited.datasets.push(record.grant.dataset.to_string());
        if let Some(reason) = reason {
            audited.detail = Some(serde_json::json!({ "reason": reason }).to_string());
        }
        gate.pass().await?;
        self.store.revoke_grant(id, &by.id, reason).await?;
        // Out of force at once, whatever reading the grants again makes of it: a reload that
        // fails must not leave a revoked grant in force.
        self.snapshot.rcu(|current| {
            let mut policies = PolicySet::clone(current);
            policies.grants.retain(|grant| grant.id != id);
            policies
        });
        self.reload().await?;
        Ok(record.grant.dataset)
    }
}

/// Reads every `*.yaml` and `*.yml` file of `dir`, in name order.
pub fn read_policy_dir(dir: &Path) -> Result<FilePolicies, Vec<FileError>> {
    let unreadable = |message: String| {
        vec![FileError {
            file: dir.display().to_string(),
            line: None,
            message,
        }]
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|error| unreadable(error.to_string()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "yaml" || extension == "yml")
        })
        .collect();
    paths.sort();
    let mut policies = FilePolicies::default();
    let mut errors = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                if let Err(error) = policies.add_file(&name, &text) {
                    errors.push(error);
                }
            }
            Err(error) => errors.push(FileError {
                file: name,
                line: None,
                message: error.to_string(),
            }),
        }
    }
    if errors.is_empty() {
        Ok(policies)
    } else {
        Err(errors)
    }
}

/// Checks file grants and conditions: against the datasets they name where those exist,
/// else what can be judged without one ([`causeway_policies::check_terms`]).
pub fn check_files(
    files: &FilePolicies,
    dataset: &(dyn Fn(&DatasetId) -> Option<DatasetInfo> + Sync),
    functions: &PolicyFunctions,
    session: &SessionState,
    limits: SyntaxLimits,
) -> Vec<FileError> {
    let checker = Principal::new("policy-check", "policy-check");
    let context = RewriteContext {
        principal: &checker,
        functions,
        session,
        limits,
    };
    let mut errors = Vec::new();
    for grant in &files.grants {
        let checked = match dataset(&grant.item.dataset) {
            Some(info) => validate_grant(&grant.item, &info, &context),
            None => causeway_policies::check_terms(&grant.item),
        };
        if let Err(error) = checked {
            errors.push(FileError {
                file: grant.file.clone(),
                line: Some(grant.line),
                message: error.to_string(),
            });
        }
    }
    for permit in &files.permits {
        let (id, conditions) = &permit.item;
        let label = format!("auto-approval of {id}");
        let checked = match dataset(id) {
            Some(info) => check_permit(conditions, label, &info, &context),
            None => causeway_policies::check_terms(&conditions.grant(label, anyone(), id.clone())),
        };
        if let Err(error) = checked {
            errors.push(FileError {
                file: permit.file.clone(),
                line: Some(permit.line),
                message: error.to_string(),
            });
        }
    }
    errors
}

/// Whoever asks under a permit: the subject its checks stand a grant for.
fn anyone() -> Subject {
    Subject::Department {
        department: "any".into(),
    }
}

/// Checks that `permit` makes a grant that could be made on `dataset` (whoever asks under
/// it); `label` names the grant in the error.
fn check_permit(
    permit: &causeway_policies::AutoApproval,
    label: String,
    dataset: &DatasetInfo,
    context: &RewriteContext,
) -> Result<(), PolicyError> {
    validate_grant(
        &permit.grant(label, anyone(), dataset.id.clone()),
        dataset,
        context,
    )
}

/// A new grant's id.
pub fn new_grant_id() -> String {
    format!("grant-{}", &uuid::Uuid::now_v7().simple().to_string()[20..])
}

/// Which grants a principal may see: security administrators and auditors all, publishers
/// those on their department's datasets, everyone those made for them.
pub fn may_see_grant(principal: &Principal, record: &GrantRecord) -> bool {
    principal.has_role(Role::SecurityAdmin)
        || principal.has_role(Role::Auditor)
        || (principal.has_role(Role::Publisher) && principal.department == record.grant.dataset.department)
        || record.grant.subject.matches(principal)
}

/// Checks `grant`, whose id was generated (or is not given yet) and so means nothing to the
/// person making it: its errors name it `as_named` ("grant being made: ...") instead.
pub(crate) fn validate_unnamed(
    grant: &Grant,
    as_named: &str,
    dataset: &DatasetInfo,
    context: &RewriteContext<'_>,
) -> Result<(), PolicyError> {
    let named = Grant {
        id: as_named.into(),
        ..grant.clone()
    };
    validate_grant(&named, dataset, context)
}

#[cfg(test)]
mod tests {
    use causeway_policies::ColumnInfo;
    use causeway_schemas::Classification;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::audit::{Action, AuditLog, Event, Outcome};

    fn gate(action: Action) -> Gate {
        Gate::new(&AuditLog::off(), Event::new(action, Outcome::Ok))
    }

    /// Revoking writes the store, then reads every grant again; when that reading fails
    /// (here a grant the store can no longer parse), the revoked grant must not stay in
    /// force with the old snapshot.
    #[tokio::test]
    async fn a_revoked_grant_stays_revoked_when_reading_the_grants_again_fails() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("metadata.db");
        let store = MetadataStore::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("store");
        let access = Access::open(store, &dir.path().join("pseudonym.key"), SyntaxLimits::default())
            .await
            .expect("access");
        let dataset = DatasetInfo {
            id: DatasetId::new("civil_affairs", "residents"),
            columns: vec![ColumnInfo {
                name: "town".into(),
                data_type: DataType::Utf8,
                classification: Classification::new("public").expect("tag"),
            }],
            recertification_days: 180,
            subject_key: Vec::new(),
        };
        let officer = Principal::new("officer", "security").with_role(Role::SecurityAdmin);
        let session = SessionContext::new().state();
        for id in ["grant-a", "grant-b"] {
            let grant: Grant = serde_json::from_value(serde_json::json!({
                "id": id, "subject": {"client": "analyst"}, "dataset": "civil_affairs.residents",
                "columns": ["town"], "purposes": ["care"],
            }))
            .expect("grant");
            access
                .create_grant(
                    grant,
                    &dataset,
                    GrantOrigin::Direct,
                    None,
                    &officer,
                    &session,
                    &mut gate(Action::GrantCreated),
                )
                .await
                .expect("granted");
        }
        let in_force = |access: &Access| -> Vec<String> {
            access
                .snapshot()
                .grants
                .iter()
                .map(|grant| grant.id.clone())
                .collect()
        };
        assert_eq!(in_force(&access), ["grant-a", "grant-b"]);

        rusqlite::Connection::open(&path)
            .expect("sqlite")
            .execute("UPDATE grants SET body = 'not a grant' WHERE id = 'grant-b'", [])
            .expect("spoil a grant");
        let revoked = access
            .revoke("grant-a", &officer, None, &mut gate(Action::GrantRevoked))
            .await;
        assert!(revoked.is_err(), "reading the grants again failed: {revoked:?}");
        assert_eq!(
            in_force(&access),
            ["grant-b"],
            "grant-a is out of force all the same"
        );
    }
}
