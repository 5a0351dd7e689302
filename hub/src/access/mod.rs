//! Access: the grants and deny rules in force, kept as one snapshot that every query reads,
//! and the changes to them. Deciding and enforcing is the `causeway_policies` crate's job;
//! this module loads, stores and checks.

pub mod requests;

use std::path::Path;
use std::sync::{Arc, RwLock};

use causeway_policies::{
    DatasetInfo, Grant, PolicyError, PolicyFunctions, PolicySet, Principal, RewriteContext, Role,
    validate_grant,
};
use datafusion::execution::session_state::SessionState;

use crate::store::{GrantOrigin, GrantRecord, MetadataStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot use the pseudonym key {path}: {message}")]
    Key { path: String, message: String },
}

/// The grants and deny rules in force, and the functions plans use to enforce them.
pub struct Access {
    store: MetadataStore,
    functions: PolicyFunctions,
    snapshot: RwLock<Arc<PolicySet>>,
}

impl Access {
    /// Loads the grants in force; the pseudonym key lives in `data_dir`.
    pub async fn open(store: MetadataStore, data_dir: &Path) -> Result<Self, AccessError> {
        let key = pseudonym_key(&data_dir.join("pseudonym.key"))?;
        let access = Self {
            store,
            functions: PolicyFunctions::new(&key),
            snapshot: RwLock::new(Arc::new(PolicySet::default())),
        };
        access.reload().await?;
        Ok(access)
    }

    pub fn functions(&self) -> &PolicyFunctions {
        &self.functions
    }

    /// The policies every query of this moment is decided by.
    pub fn snapshot(&self) -> Arc<PolicySet> {
        self.snapshot
            .read()
            .map(|snapshot| Arc::clone(&snapshot))
            .unwrap_or_default()
    }

    /// Reads the grants in force again; changes take effect at the next query.
    pub async fn reload(&self) -> Result<(), AccessError> {
        let grants = self
            .store
            .list_grants()
            .await?
            .into_iter()
            .filter(|record| record.revoked_at.is_none())
            .map(|record| record.grant)
            .collect();
        let policies = PolicySet {
            grants,
            denies: self.snapshot().denies.clone(),
        };
        if let Ok(mut snapshot) = self.snapshot.write() {
            *snapshot = Arc::new(policies);
        }
        Ok(())
    }

    pub async fn grants(&self) -> Result<Vec<GrantRecord>, AccessError> {
        Ok(self.store.list_grants().await?)
    }

    /// Records a grant after checking it against its dataset.
    pub async fn create_grant(
        &self,
        grant: Grant,
        dataset: &DatasetInfo,
        origin: GrantOrigin,
        request_id: Option<&str>,
        by: &Principal,
        session: &SessionState,
    ) -> Result<GrantRecord, AccessError> {
        let context = RewriteContext {
            principal: by,
            functions: &self.functions,
            session,
        };
        validate_grant(&grant, dataset, &context)?;
        let record = self
            .store
            .insert_grant(&grant, origin, request_id, &by.id)
            .await?;
        self.reload().await?;
        Ok(record)
    }

    /// Revokes a grant: security officers may revoke any, a dataset's publishers those on
    /// their department's datasets. Effective at the next query.
    pub async fn revoke(&self, id: &str, by: &Principal) -> Result<(), AccessError> {
        let record = self
            .store
            .grant(id)
            .await?
            .filter(|record| record.revoked_at.is_none())
            .ok_or_else(|| AccessError::NotFound(format!("grant {id}")))?;
        let owner = by.has_role(Role::Publisher) && by.department == record.grant.dataset.department;
        if !(by.has_role(Role::SecurityOfficer) || owner) {
            return Err(AccessError::Forbidden(format!(
                "only a security officer or a publisher of {} may revoke grant {id}",
                record.grant.dataset.department
            )));
        }
        self.store.revoke_grant(id, &by.id).await?;
        self.reload().await
    }
}

/// A new grant's id.
pub fn new_grant_id() -> String {
    format!("grant-{}", &uuid::Uuid::now_v7().simple().to_string()[20..])
}

/// Which grants a principal may see: security officers all, publishers those on their
/// department's datasets, everyone those made for them.
pub fn may_see_grant(principal: &Principal, record: &GrantRecord) -> bool {
    principal.has_role(Role::SecurityOfficer)
        || (principal.has_role(Role::Publisher) && principal.department == record.grant.dataset.department)
        || record.grant.subject.matches(principal)
}

/// The hub's secret for keyed pseudonyms, created at first start. Every hub that must give
/// the same pseudonyms (replicas, or hubs whose pseudonyms are joined) shares this file.
fn pseudonym_key(path: &Path) -> Result<Vec<u8>, AccessError> {
    let failed = |message: String| AccessError::Key {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read(path) {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => return Err(failed("it is shorter than 32 bytes".into())),
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(failed(error.to_string())),
        Err(_) => {}
    }
    let mut key = vec![0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| failed("no randomness available".into()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|error| failed(error.to_string()))?;
    std::io::Write::write_all(&mut file, &key).map_err(|error| failed(error.to_string()))?;
    file.sync_all().map_err(|error| failed(error.to_string()))?;
    Ok(key)
}
