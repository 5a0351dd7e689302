//! The execution plan of a SQLite scan: one query, its rows streamed in batches.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result as DataFusionResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::convert::BatchBuilder;
use super::{SqliteDatabase, execution_error};

pub(crate) struct SqliteScanExec {
    database: Arc<SqliteDatabase>,
    sql: String,
    schema: SchemaRef,
    batch_size: usize,
    properties: Arc<PlanProperties>,
}

impl SqliteScanExec {
    pub(crate) fn new(
        database: Arc<SqliteDatabase>,
        sql: String,
        schema: SchemaRef,
        batch_size: usize,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            database,
            sql,
            schema,
            batch_size: batch_size.max(1),
            properties: Arc::new(properties),
        }
    }
}

impl fmt::Debug for SqliteScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SqliteScanExec sql={}", self.sql)
    }
}

impl DisplayAs for SqliteScanExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SqliteScanExec: sql={}", self.sql)
    }
}

impl ExecutionPlan for SqliteScanExec {
    fn name(&self) -> &'static str {
        "SqliteScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DataFusionResult<TreeNodeRecursion>,
    ) -> DataFusionResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> DataFusionResult<SendableRecordBatchStream> {
        // Two batches in flight: the reader stays ahead of the consumer without buffering
        // the table, and stops when the consumer goes away.
        let (sender, receiver) = mpsc::channel::<DataFusionResult<RecordBatch>>(2);
        let database = Arc::clone(&self.database);
        let (sql, schema, batch_size) = (self.sql.clone(), Arc::clone(&self.schema), self.batch_size);
        tokio::spawn(async move {
            let permit = match Arc::clone(&database.permits).acquire_owned().await {
                Ok(permit) => permit,
                Err(_) => {
                    let _ = sender
                        .send(Err(execution_error("the SQLite connection pool is closed")))
                        .await;
                    return;
                }
            };
            let reader = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                if let Err(error) = read_rows(&database, &sql, &schema, batch_size, &sender) {
                    let _ = sender.blocking_send(Err(error));
                }
            });
            let _ = reader.await;
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            ReceiverStream::new(receiver),
        )))
    }
}

fn read_rows(
    database: &SqliteDatabase,
    sql: &str,
    schema: &SchemaRef,
    batch_size: usize,
    sender: &mpsc::Sender<DataFusionResult<RecordBatch>>,
) -> DataFusionResult<()> {
    let sqlite_error = |error: rusqlite::Error| execution_error(format!("SQLite: {error}"));
    let connection = database.open().map_err(sqlite_error)?;
    let mut statement = connection.prepare(sql).map_err(sqlite_error)?;
    let mut rows = statement.query([]).map_err(sqlite_error)?;
    let mut builder = BatchBuilder::new(Arc::clone(schema), batch_size);
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        builder.append_row(row)?;
        if builder.len() == batch_size && sender.blocking_send(builder.finish()).is_err() {
            return Ok(());
        }
    }
    if builder.len() > 0 || schema.fields().is_empty() {
        let _ = sender.blocking_send(builder.finish());
    }
    Ok(())
}
