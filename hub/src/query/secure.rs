//! The catalog a query sees: the hub's catalog, where each dataset is a view of exactly
//! what its grants let the caller see for the query's purpose. The SQL planner inlines the
//! views, so the policy rewrite sits under everything the query does.

use std::collections::HashMap;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use causeway_policies::{
    DatasetId, DatasetInfo, Decision, PolicyFunctions, PolicySet, Principal, RewriteContext, authorize,
    secure_view,
};
use chrono::{DateTime, Utc};
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::common::TableReference;
use datafusion::datasource::ViewTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::session_state::SessionState;

use super::audit_events::{AUDIT_SCHEMA, AuditSchema};
use super::closed::{ClosedTable, Refusal};
use super::names::UnknownDataset;
use crate::audit::Chains;

/// What every table lookup of one query shares.
pub struct QueryPolicy {
    pub principal: Principal,
    pub purpose: String,
    pub policies: Arc<PolicySet>,
    pub datasets: Arc<HashMap<DatasetId, DatasetInfo>>,
    pub functions: PolicyFunctions,
    /// Parses row filters and SQL masks; no data is read through it.
    pub session: SessionState,
    /// How deep and large row filters and SQL masks may be.
    pub limits: causeway_policies::SyntaxLimits,
    pub now: DateTime<Utc>,
    /// The decisions taken for the datasets the query names.
    pub decisions: Mutex<Vec<Decision>>,
    /// Every dataset the query named, readable or not.
    pub named: Mutex<Vec<DatasetId>>,
    /// The people the caller read today, for distinct-person quotas.
    pub subjects: Arc<crate::supervision::SubjectUsage>,
    /// Makes the pseudonyms those people are counted by.
    pub access: Arc<crate::access::Access>,
}

impl QueryPolicy {
    /// Every dataset the query named so far, readable or not, as `department.name`.
    pub fn named_datasets(&self) -> Vec<String> {
        self.named
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

#[derive(Debug)]
pub struct SecureCatalog {
    base: Arc<dyn CatalogProvider>,
    policy: Arc<QueryPolicy>,
    audit: Option<Chains>,
}

impl std::fmt::Debug for QueryPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueryPolicy({} for {})", self.principal.id, self.purpose)
    }
}

impl SecureCatalog {
    /// The catalog `base` as `policy` lets its query see it, with the audit log (read from
    /// the `audit` chains) as `audit.events`.
    pub fn new(audit: Option<Chains>, base: Arc<dyn CatalogProvider>, policy: Arc<QueryPolicy>) -> Self {
        Self { base, policy, audit }
    }
}

impl CatalogProvider for SecureCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names = self.base.schema_names();
        if self.audit.is_some() {
            names.push(AUDIT_SCHEMA.to_owned());
        }
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name == AUDIT_SCHEMA {
            let chains = self.audit.clone()?;
            return Some(Arc::new(AuditSchema::new(chains, self.policy.principal.clone())));
        }
        let base = self.base.schema(name)?;
        Some(Arc::new(SecureSchema {
            department: name.to_owned(),
            base,
            policy: Arc::clone(&self.policy),
        }))
    }

    fn register_schema(
        &self,
        name: &str,
        _schema: Arc<dyn SchemaProvider>,
    ) -> Result<Option<Arc<dyn SchemaProvider>>> {
        Err(DataFusionError::Plan(format!(
            "queries cannot create schemas ({name})"
        )))
    }
}

#[derive(Debug)]
struct SecureSchema {
    department: String,
    base: Arc<dyn SchemaProvider>,
    policy: Arc<QueryPolicy>,
}

#[async_trait]
impl SchemaProvider for SecureSchema {
    fn table_names(&self) -> Vec<String> {
        self.base.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(table) = self.base.table(name).await? else {
            return Ok(None);
        };
        let id = DatasetId::new(&self.department, name);
        let policy = &self.policy;
        {
            let mut named = policy
                .named
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !named.contains(&id) {
                named.push(id.clone());
            }
        }
        let dataset = policy
            .datasets
            .get(&id)
            .ok_or_else(|| UnknownDataset::dataset(&id))?;
        let decision = match authorize(
            &policy.principal,
            &policy.purpose,
            dataset,
            &policy.policies,
            policy.now,
        ) {
            Ok(decision) => decision,
            // The dataset stays in the catalog, its columns listed, but reading it fails.
            Err(denied) => {
                return Ok(Some(Arc::new(ClosedTable::new(
                    table.schema(),
                    Refusal::Policy(denied),
                ))));
            }
        };
        let reference = TableReference::partial(self.department.as_str(), name);
        let context = RewriteContext {
            principal: &policy.principal,
            functions: &policy.functions,
            session: &policy.session,
            limits: policy.limits,
        };
        let mut view = secure_view(table, reference, dataset, &decision, &context)
            .map_err(|error| DataFusionError::External(Box::new(error)))?;
        // Under a grant with a distinct-person quota the query is held to it; under one
        // without, while another grant of the caller's has one, its people are counted
        // towards that quota all the same (up to the largest), never cut off.
        let quota = decision.subject_quota();
        let counted = quota.or_else(|| {
            causeway_policies::largest_subject_quota(&policy.principal, &id, &policy.policies, policy.now)
        });
        if let Some(limit) = counted {
            let dataset_name = id.to_string();
            policy
                .subjects
                .load(&policy.principal.id, &dataset_name, policy.now)
                .await
                .map_err(|error| DataFusionError::External(Box::new(error)))?;
            if quota.is_some()
                && policy
                    .subjects
                    .is_closed(&policy.principal.id, &dataset_name, limit, policy.now)
            {
                return Err(DataFusionError::External(Box::new(
                    crate::supervision::SubjectQuotaExceeded::Daily {
                        dataset: dataset_name,
                        limit,
                    },
                )));
            }
            view = super::subjects::metered(
                view,
                super::subjects::SubjectCount {
                    usage: Arc::clone(&policy.subjects),
                    access: Arc::clone(&policy.access),
                    principal: policy.principal.id.clone(),
                    dataset: dataset_name,
                    key: dataset.subject_key.clone(),
                    limit,
                    cuts_off: quota.is_some(),
                },
            )?;
        }
        {
            let mut decisions = policy
                .decisions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            decisions.push(decision);
        }
        Ok(Some(Arc::new(ViewTable::new(view, None))))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.base.table_exist(name)
    }
}
