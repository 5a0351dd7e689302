//! What Causeway's own SQL connectors (SQLite, PostgreSQL) share: one table provider that
//! turns a scan into SQL with DataFusion's unparser, one execution plan that streams the
//! result in batches, and one conversion of database values to the contract's Arrow types.
//! Each database supplies only a [`RowReader`] and its SQL dialect.

mod cells;
mod exec;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{TableReference, project_schema};
use datafusion::error::Result as DataFusionResult;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::{
    Expr, LogicalPlanBuilder, LogicalTableSource, TableProviderFilterPushDown, TableType,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::sql::unparser::Unparser;
use datafusion::sql::unparser::dialect::Dialect;

pub(crate) use cells::{BatchBuilder, Cell, Unreadable, decimal_text, roundings};
use exec::SqlScanExec;

/// Runs a query on one database and streams its rows as batches of `schema`, converting
/// each value to the schema's type with [`BatchBuilder`].
pub(crate) trait RowReader: Send + Sync + fmt::Debug {
    /// The execution plan's name in `EXPLAIN`, e.g. `SqliteScanExec`.
    fn plan_name(&self) -> &'static str;

    fn read(&self, sql: String, schema: SchemaRef, batch_size: usize) -> SendableRecordBatchStream;
}

/// A database table read with SQL that Causeway writes: the schema is the contract's, and
/// each scan becomes one query with the projection, the pushed filters and the limit.
pub(crate) struct SqlTable {
    table: TableReference,
    schema: SchemaRef,
    dialect: Arc<dyn Dialect + Send + Sync>,
    reader: Arc<dyn RowReader>,
}

impl fmt::Debug for SqlTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SqlTable({} via {})", self.table, self.reader.plan_name())
    }
}

impl SqlTable {
    pub(crate) fn new(
        table: TableReference,
        schema: SchemaRef,
        dialect: Arc<dyn Dialect + Send + Sync>,
        reader: Arc<dyn RowReader>,
    ) -> Self {
        Self {
            table,
            schema,
            dialect,
            reader,
        }
    }

    fn sql(
        &self,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DataFusionResult<String> {
        let source = LogicalTableSource::new(Arc::clone(&self.schema));
        // A scan of no column (to count rows) still selects one, to make valid SQL; the
        // reader does not read it.
        let projection = match projection {
            Some(columns) if columns.is_empty() && !self.schema.fields().is_empty() => Some(vec![0]),
            other => other.cloned(),
        };
        let plan = LogicalPlanBuilder::scan_with_filters(
            self.table.clone(),
            Arc::new(source),
            projection,
            filters.to_vec(),
        )?
        .limit(0, limit)?
        .build()?;
        Ok(Unparser::new(self.dialect.as_ref())
            .plan_to_sql(&plan)?
            .to_string())
    }
}

#[async_trait]
impl TableProvider for SqlTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Accepts every filter that renders in the dialect; [`crate::PublishedTable`] has
    /// already kept back the ones the database would answer differently.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DataFusionResult<Vec<TableProviderFilterPushDown>> {
        let unparser = Unparser::new(self.dialect.as_ref());
        Ok(filters
            .iter()
            .map(|filter| match unparser.expr_to_sql(filter) {
                Ok(_) => TableProviderFilterPushDown::Exact,
                Err(_) => TableProviderFilterPushDown::Unsupported,
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
        let sql = self.sql(projection, filters, limit)?;
        let schema = project_schema(&self.schema, projection)?;
        let batch_size = state.config_options().execution.batch_size.get();
        Ok(Arc::new(SqlScanExec::new(
            Arc::clone(&self.reader),
            sql,
            schema,
            batch_size,
        )))
    }
}
