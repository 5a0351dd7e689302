//! Datasets a caller may see listed but not read.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::source_as_provider;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, LogicalPlan, TableType};
use datafusion::physical_plan::ExecutionPlan;

use causeway_policies::AccessDenied;

use super::QueryError;

/// A dataset the caller may not read: its columns are listed (the catalog is open to every
/// caller), but a plan that reads it is refused (see [`closed_dataset_read`]).
#[derive(Debug)]
pub struct ClosedTable {
    schema: SchemaRef,
    /// Why the caller may not read it.
    refusal: Refusal,
}

/// Why a listed table is closed to the caller.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The policies' decision on a dataset.
    Policy(AccessDenied),
    /// `audit.events` is read by auditors, security administrators and publishers only.
    NotAnAuditor,
}

impl Refusal {
    pub fn error(&self) -> QueryError {
        match self {
            Self::Policy(denied) => QueryError::AccessDenied(Box::new(denied.clone())),
            Self::NotAnAuditor => QueryError::NotAnAuditor,
        }
    }
}

impl ClosedTable {
    pub fn new(schema: SchemaRef, refusal: Refusal) -> Self {
        Self { schema, refusal }
    }
}

#[async_trait]
impl TableProvider for ClosedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// A view, as every dataset the caller may read is: the listing says nothing of access.
    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Err(DataFusionError::Plan(self.refusal.error().to_string()))
    }
}

/// Why the plan may not run, if it names a table the caller may not read. Checked on the
/// plan as written, so that neither an `EXPLAIN` nor an optimiser that drops the scan (as
/// for `WHERE false`) lets a query past a refusal.
pub fn closed_dataset_read(plan: &LogicalPlan) -> Option<QueryError> {
    let mut denied = None;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(provider) = source_as_provider(&scan.source)
            && let Some(closed) = provider.downcast_ref::<ClosedTable>()
        {
            denied = Some(closed.refusal.error());
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    denied
}
