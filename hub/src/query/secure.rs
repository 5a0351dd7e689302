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

/// What every table lookup of one query shares.
pub struct QueryPolicy {
    pub principal: Principal,
    pub purpose: String,
    pub policies: Arc<PolicySet>,
    pub datasets: Arc<HashMap<DatasetId, DatasetInfo>>,
    pub functions: PolicyFunctions,
    /// Parses row filters and SQL masks; no data is read through it.
    pub session: SessionState,
    pub now: DateTime<Utc>,
    /// The decisions taken for the datasets the query names.
    pub decisions: Mutex<Vec<Decision>>,
}

#[derive(Debug)]
pub struct SecureCatalog {
    base: Arc<dyn CatalogProvider>,
    policy: Arc<QueryPolicy>,
}

impl std::fmt::Debug for QueryPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueryPolicy({} for {})", self.principal.id, self.purpose)
    }
}

impl SecureCatalog {
    pub fn new(base: Arc<dyn CatalogProvider>, policy: Arc<QueryPolicy>) -> Self {
        Self { base, policy }
    }
}

impl CatalogProvider for SecureCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.base.schema_names()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
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
        let dataset = policy
            .datasets
            .get(&id)
            .ok_or_else(|| DataFusionError::Plan(format!("table '{id}' not found")))?;
        let decision = authorize(
            &policy.principal,
            &policy.purpose,
            dataset,
            &policy.policies,
            policy.now,
        )
        .map_err(|denied| DataFusionError::External(Box::new(denied)))?;
        let reference = TableReference::partial(self.department.as_str(), name);
        let context = RewriteContext {
            principal: &policy.principal,
            functions: &policy.functions,
            session: &policy.session,
        };
        let view = secure_view(table, reference, dataset, &decision, &context)
            .map_err(|error| DataFusionError::External(Box::new(error)))?;
        if let Ok(mut decisions) = policy.decisions.lock() {
            decisions.push(decision);
        }
        Ok(Some(Arc::new(ViewTable::new(view, None))))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.base.table_exist(name)
    }
}
