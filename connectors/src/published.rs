//! The table the hub publishes for a dataset: the source's table narrowed to the
//! contract's fields, with database filter push-down limited to what is safe.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use causeway_schemas::Contract;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DataFusionResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};

use crate::error::{ConnectorError, Result, SourceReadError};
use crate::pushdown::{SqlDialect, classify};

pub struct PublishedTable {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
    /// For each published column, its index in the source's table.
    source_columns: Vec<usize>,
    dialect: Option<SqlDialect>,
    /// Columns a database compares as DataFusion does; the others are never pushed.
    pushable: Option<HashSet<String>>,
}

impl fmt::Debug for PublishedTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishedTable")
            .field("schema", &self.schema)
            .field("dialect", &self.dialect)
            .finish()
    }
}

impl PublishedTable {
    /// Publishes the contract's fields of `inner`, in the contract's order. Each column keeps
    /// the source's own Arrow field, so the plans DataFusion builds agree with the batches
    /// the source produces.
    pub fn new(
        inner: Arc<dyn TableProvider>,
        contract: &Contract,
        dialect: Option<SqlDialect>,
    ) -> Result<Self> {
        let source_schema = inner.schema();
        let mut source_columns = Vec::with_capacity(contract.fields.len());
        for field in &contract.fields {
            let index = source_schema.index_of(&field.name).map_err(|_| {
                ConnectorError::InvalidSource(format!("field '{}' does not exist in the source", field.name))
            })?;
            source_columns.push(index);
        }
        let schema = Arc::new(Schema::new(
            source_columns
                .iter()
                .map(|index| Arc::clone(&source_schema.fields()[*index]))
                .collect::<Vec<_>>(),
        ));
        Ok(Self {
            inner,
            schema,
            source_columns,
            dialect,
            pushable: None,
        })
    }

    /// Limits push-down to the named columns.
    pub fn with_pushable_columns(mut self, columns: HashSet<String>) -> Self {
        self.pushable = Some(columns);
        self
    }

    fn is_pushable(&self, column: &str) -> bool {
        self.pushable
            .as_ref()
            .is_none_or(|columns| columns.contains(column))
    }
}

#[async_trait]
impl TableProvider for PublishedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DataFusionResult<Vec<TableProviderFilterPushDown>> {
        let Some(dialect) = self.dialect else {
            return self.inner.supports_filters_pushdown(filters);
        };
        let ours: Vec<TableProviderFilterPushDown> = filters
            .iter()
            .map(|filter| classify(filter, &self.schema, dialect, &|column| self.is_pushable(column)))
            .collect();
        let candidates: Vec<&Expr> = filters
            .iter()
            .zip(&ours)
            .filter(|(_, verdict)| **verdict != TableProviderFilterPushDown::Unsupported)
            .map(|(filter, _)| *filter)
            .collect();
        let mut theirs = self.inner.supports_filters_pushdown(&candidates)?.into_iter();
        Ok(ours
            .into_iter()
            .map(|verdict| match verdict {
                TableProviderFilterPushDown::Unsupported => verdict,
                _ => match theirs.next() {
                    Some(TableProviderFilterPushDown::Exact) => verdict,
                    Some(TableProviderFilterPushDown::Inexact) => TableProviderFilterPushDown::Inexact,
                    _ => TableProviderFilterPushDown::Unsupported,
                },
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        let source_projection: Vec<usize> = match projection {
            Some(columns) => columns.iter().map(|index| self.source_columns[*index]).collect(),
            None => self.source_columns.clone(),
        };
        let plan = self
            .inner
            .scan(state, Some(&source_projection), filters, limit)
            .await?;
        Ok(match self.dialect {
            Some(SqlDialect::Mysql) => Arc::new(GuardedScanExec::new(plan)),
            _ => plan,
        })
    }
}

/// Wraps a MySQL scan so that DataFusion's physical optimiser cannot push further filters
/// or sort orders into its SQL: the provider's scan accepts any filter that renders as SQL,
/// which would bypass the checks of [`PublishedTable::supports_filters_pushdown`] (and let
/// MySQL sort text by its own collation). The wrapper keeps every optimiser hook at its
/// default, "not supported". Causeway's own SQL scans accept nothing in the first place.
#[derive(Debug)]
struct GuardedScanExec {
    scan: Arc<dyn ExecutionPlan>,
}

impl GuardedScanExec {
    fn new(scan: Arc<dyn ExecutionPlan>) -> Self {
        Self { scan }
    }
}

impl DisplayAs for GuardedScanExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GuardedScanExec")
    }
}

impl ExecutionPlan for GuardedScanExec {
    fn name(&self) -> &'static str {
        "GuardedScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.scan.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.scan]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DataFusionResult<TreeNodeRecursion>,
    ) -> DataFusionResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        match <[_; 1]>::try_from(children) {
            Ok([scan]) => Ok(Arc::new(Self::new(scan))),
            Err(_) => Err(DataFusionError::Internal("GuardedScanExec has one child".into())),
        }
    }

    /// The rows of the scan; its errors are the source's.
    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DataFusionResult<SendableRecordBatchStream> {
        use futures::StreamExt;
        let stream = self.scan.execute(partition, context)?;
        let schema = stream.schema();
        let rows = stream
            .map(|batch| batch.map_err(|error| SourceReadError::into_datafusion(error.strip_backtrace())));
        Ok(Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, rows),
        ))
    }
}
