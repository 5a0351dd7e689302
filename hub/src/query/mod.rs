//! The query layer: one DataFusion context per hub whose catalog `causeway` holds a schema
//! per department and a table per published dataset, and the path every query takes
//! through it: parse, refuse anything but reads, plan, execute under the limits, stream.

pub mod output;
mod statement;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use causeway_policies::Principal;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{CatalogProvider, MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::LimitsConfig;

pub use statement::parse_read_query;

/// The catalog every published dataset appears in.
pub const CATALOG: &str = "causeway";

/// What a caller asks for.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    pub sql: String,
    pub purpose: String,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("every query must state its purpose")]
    MissingPurpose,
    #[error("syntax error: {0}")]
    Syntax(String),
    #[error("send exactly one statement, not {0}")]
    NotOneStatement(usize),
    #[error("only read queries (SELECT, WITH, VALUES, EXPLAIN) may run here, not {0}")]
    NotReadOnly(String),
    #[error("{0}")]
    UnknownTable(String),
    #[error("{0}")]
    Plan(String),
    #[error("the query ran longer than the {} limit (limits.query_timeout)", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error(
        "the query needs more than the {0} MiB of memory a query may use (limits.query_memory_mb); narrow it with filters, aggregates or a LIMIT"
    )]
    MemoryLimit(u64),
    #[error("the hub is running its maximum of {0} queries and none finished in time; try again shortly")]
    Busy(usize),
    #[error("the query cannot be evaluated: {0}")]
    Evaluation(String),
    #[error("the query failed: {0}")]
    Execution(String),
}

/// A query whose plan is made and whose first batch is being computed; its batches are
/// pulled by whoever sends them to the caller.
pub struct RunningQuery {
    pub id: String,
    pub schema: SchemaRef,
    pub batches: Pin<Box<dyn Stream<Item = Result<RecordBatch, QueryError>> + Send>>,
}

pub struct QueryEngine {
    context: SessionContext,
    limits: LimitsConfig,
    permits: Arc<Semaphore>,
}

impl QueryEngine {
    pub fn new(limits: LimitsConfig) -> Self {
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, "public")
            .with_create_default_catalog_and_schema(true)
            .with_information_schema(false);
        // Parquet strings are read as plain Utf8, not Utf8View: results then carry the
        // contract's types, which every Arrow client can read.
        config.options_mut().execution.parquet.schema_force_view_types = false;
        let context = SessionContext::new_with_config(config);
        Self {
            context,
            permits: Arc::new(Semaphore::new(limits.max_concurrent_queries.max(1))),
            limits,
        }
    }

    /// A session for work outside queries, such as reading a source's schema.
    pub fn session(&self) -> SessionState {
        self.context.state()
    }

    fn catalog(&self) -> Result<Arc<dyn CatalogProvider>, DataFusionError> {
        self.context
            .catalog(CATALOG)
            .ok_or_else(|| DataFusionError::Internal(format!("the {CATALOG} catalog is missing")))
    }

    /// Makes `table` visible as `department.name`, replacing any table of that name.
    pub fn register(
        &self,
        department: &str,
        name: &str,
        table: Arc<dyn TableProvider>,
    ) -> Result<(), DataFusionError> {
        let catalog = self.catalog()?;
        let schema = match catalog.schema(department) {
            Some(schema) => schema,
            None => {
                let schema: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
                catalog.register_schema(department, Arc::clone(&schema))?;
                schema
            }
        };
        schema.deregister_table(name)?;
        schema.register_table(name.to_owned(), table)?;
        Ok(())
    }

    /// Removes `department.name`, and the department's schema once it has no tables.
    pub fn deregister(&self, department: &str, name: &str) -> Result<(), DataFusionError> {
        let catalog = self.catalog()?;
        if let Some(schema) = catalog.schema(department) {
            schema.deregister_table(name)?;
            if schema.table_names().is_empty() {
                catalog.deregister_schema(department, false)?;
            }
        }
        Ok(())
    }

    /// Plans and starts a query for `principal`. Errors found before the first row (bad
    /// SQL, unknown tables, limits hit at once) are returned here, so the caller can still
    /// answer with a proper error status.
    pub async fn run(
        &self,
        principal: &Principal,
        request: &QueryRequest,
    ) -> Result<RunningQuery, QueryError> {
        if request.purpose.trim().is_empty() {
            return Err(QueryError::MissingPurpose);
        }
        let deadline = Instant::now() + self.limits.query_timeout;
        let permit = tokio::time::timeout_at(deadline, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| QueryError::Busy(self.limits.max_concurrent_queries))?
            .map_err(|_| QueryError::Busy(self.limits.max_concurrent_queries))?;
        let id = uuid::Uuid::now_v7().to_string();
        tracing::debug!(query_id = %id, principal = %principal.id, purpose = %request.purpose, "query");

        let statement = parse_read_query(&request.sql)?;
        let state = self.query_state()?;
        let plan = state
            .statement_to_plan(statement)
            .await
            .map_err(|error| self.classify(error))?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|error| QueryError::NotReadOnly(error.strip_backtrace()))?;
        let physical = tokio::time::timeout_at(deadline, state.create_physical_plan(&plan))
            .await
            .map_err(|_| QueryError::Timeout(self.limits.query_timeout))?
            .map_err(|error| self.classify(error))?;
        let schema = physical.schema();
        let stream = execute_stream(physical, state.task_ctx()).map_err(|error| self.classify(error))?;
        Ok(RunningQuery {
            id,
            schema,
            batches: self.limited(stream, deadline, permit),
        })
    }

    /// A session for one query: the shared catalog, with a memory pool of its own.
    fn query_state(&self) -> Result<SessionState, QueryError> {
        let base = self.context.state();
        let runtime = RuntimeEnvBuilder::from_runtime_env(base.runtime_env())
            .with_memory_pool(Arc::new(FairSpillPool::new(self.memory_limit_bytes())))
            .build_arc()
            .map_err(|error| QueryError::Execution(error.strip_backtrace()))?;
        Ok(SessionStateBuilder::new_from_existing(base)
            .with_runtime_env(runtime)
            .build())
    }

    fn memory_limit_bytes(&self) -> usize {
        usize::try_from(self.limits.query_memory_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    /// The stream ends with a timeout error at the deadline, and holds the query's slot
    /// until it ends or is dropped.
    fn limited(
        &self,
        stream: datafusion::execution::SendableRecordBatchStream,
        deadline: Instant,
        permit: OwnedSemaphorePermit,
    ) -> Pin<Box<dyn Stream<Item = Result<RecordBatch, QueryError>> + Send>> {
        let timeout = self.limits.query_timeout;
        let memory_mb = self.limits.query_memory_mb;
        let state = (stream, permit, false);
        Box::pin(futures::stream::unfold(
            state,
            move |(mut stream, permit, done)| async move {
                if done {
                    return None;
                }
                match tokio::time::timeout_at(deadline, stream.next()).await {
                    Err(_) => Some((Err(QueryError::Timeout(timeout)), (stream, permit, true))),
                    Ok(None) => None,
                    Ok(Some(Ok(batch))) => Some((Ok(batch), (stream, permit, false))),
                    Ok(Some(Err(error))) => {
                        Some((Err(classify_execution(error, memory_mb)), (stream, permit, true)))
                    }
                }
            },
        ))
    }

    fn classify(&self, error: DataFusionError) -> QueryError {
        classify_execution(error, self.limits.query_memory_mb)
    }
}

/// Sorts DataFusion's errors into what the caller did wrong and what went wrong here.
fn classify_execution(error: DataFusionError, memory_mb: u64) -> QueryError {
    match error.find_root() {
        DataFusionError::ResourcesExhausted(_) => QueryError::MemoryLimit(memory_mb),
        DataFusionError::SQL(..) => QueryError::Syntax(error.strip_backtrace()),
        DataFusionError::Plan(message)
            if message.starts_with("table '") && message.ends_with("not found") =>
        {
            QueryError::UnknownTable(message.replacen(&format!("{CATALOG}."), "", 1))
        }
        DataFusionError::Plan(message) => QueryError::Plan(message.clone()),
        DataFusionError::SchemaError(..) | DataFusionError::NotImplemented(_) => {
            QueryError::Plan(error.find_root().to_string())
        }
        DataFusionError::ArrowError(..) => QueryError::Evaluation(error.find_root().to_string()),
        _ => QueryError::Execution(error.strip_backtrace()),
    }
}
