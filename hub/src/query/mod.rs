//! The query layer: one DataFusion context per hub whose catalog `causeway` holds a schema
//! per department and a table per published dataset, and the path every query takes
//! through it: parse, refuse anything but reads, plan, execute under the limits, stream.

mod audit_events;
mod bounded;
pub mod output;
mod reads;
mod runtime;
mod secure;
pub mod service;
mod statement;
mod yielding;

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use std::time::Duration;

use causeway_connectors::{SourceReadError, without_values};
use causeway_policies::{AccessDenied, DatasetId, DatasetInfo, PolicyError, Principal, denied_columns};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProviderList, MemorySchemaProvider, SchemaProvider,
    TableProvider,
};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures::{Stream, StreamExt};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::access::Access;
use crate::config::LimitsConfig;
pub use reads::Reads;
use reads::reads;
use secure::{QueryPolicy, SecureCatalog, closed_dataset_read};

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
    #[error("the query is too large: {0}")]
    TooLarge(#[source] causeway_policies::SyntaxLimitExceeded),
    #[error("send exactly one statement, not {0}")]
    NotOneStatement(usize),
    #[error("only read queries (SELECT, WITH, VALUES, EXPLAIN, SHOW, DESCRIBE) may run here, not {0}")]
    NotReadOnly(String),
    #[error("{0}")]
    UnknownTable(String),
    #[error("{0}")]
    Plan(String),
    #[error(
        "EXPLAIN ANALYZE and EXPLAIN VERBOSE are not available: they report counts and statistics of rows the grants do not show; use EXPLAIN"
    )]
    ExplainAnalyze,
    #[error("{0}")]
    AccessDenied(String),
    #[error("the query reads {}, which no grant for purpose '{purpose}' lets you read", list(.columns))]
    ColumnsNotGranted {
        columns: Vec<(String, String)>,
        purpose: String,
    },
    #[error("a grant cannot be applied: {0}")]
    Policy(String),
    #[error("the query ran longer than the {} limit (limits.query_timeout)", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error(
        "the query needs more than the {0} MiB of memory a query may use (limits.query_memory_mb); narrow it with filters, aggregates or a LIMIT"
    )]
    MemoryLimit(u64),
    #[error(
        "the query needs more disk for its spill files than the hub allows (limits.spill_max_mb) or has; narrow it with filters, aggregates or a LIMIT"
    )]
    SpillLimit,
    #[error("the hub is running its maximum of {0} queries and none finished in time; try again shortly")]
    Busy(usize),
    #[error(
        "you are running {0} queries at once, the most one caller may (limits.max_concurrent_queries_per_principal); wait for one to end"
    )]
    TooManyOfYours(usize),
    #[error("the query cannot be evaluated: {0}")]
    Evaluation(String),
    #[error("the query failed: {0}")]
    Execution(String),
}

impl QueryError {
    /// The stable code callers and the audit log see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingPurpose => "missing_purpose",
            Self::Syntax(_) => "syntax_error",
            Self::TooLarge(_) => "query_too_large",
            Self::NotOneStatement(_) => "not_one_statement",
            Self::NotReadOnly(_) => "not_read_only",
            Self::UnknownTable(_) => "unknown_table",
            Self::Plan(_) => "invalid_query",
            Self::ExplainAnalyze => "explain_not_allowed",
            Self::AccessDenied(_) => "access_denied",
            Self::ColumnsNotGranted { .. } => "column_not_granted",
            Self::Policy(_) => "grant_unusable",
            Self::Timeout(_) => "query_timeout",
            Self::MemoryLimit(_) => "memory_limit",
            Self::SpillLimit => "resource_exhausted",
            Self::Busy(_) => "busy",
            Self::TooManyOfYours(_) => "too_many_queries",
            Self::Evaluation(_) => "evaluation_error",
            Self::Execution(_) => "query_failed",
        }
    }

    /// Whether it refuses what the caller may do, rather than failing.
    pub fn is_denial(&self) -> bool {
        matches!(
            self,
            Self::ExplainAnalyze | Self::AccessDenied(_) | Self::ColumnsNotGranted { .. } | Self::Policy(_)
        )
    }
}

fn list(columns: &[(String, String)]) -> String {
    columns
        .iter()
        .map(|(dataset, column)| format!("column {column} of {dataset}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub type BatchStream = Pin<Box<dyn Stream<Item = Result<RecordBatch, QueryError>> + Send>>;

/// A query whose plan is made and whose first batch is being computed; its batches are
/// pulled by whoever sends them to the caller.
pub struct RunningQuery {
    pub id: String,
    pub schema: SchemaRef,
    /// What it reads, and under which grants.
    pub reads: Reads,
    pub batches: BatchStream,
}

/// A query refused or failed before its first batch.
#[derive(Debug)]
pub struct RefusedQuery {
    pub id: String,
    /// The datasets the query named.
    pub datasets: Vec<String>,
    pub error: QueryError,
}

pub struct QueryEngine {
    context: SessionContext,
    limits: LimitsConfig,
    permits: Arc<Semaphore>,
    /// Queries running per principal.
    running: Arc<Mutex<HashMap<String, usize>>>,
    /// Where queries are planned and run, apart from the threads that serve requests.
    runtime: runtime::QueryRuntime,
    access: Arc<Access>,
    /// Swapped whole at every change; never locked.
    datasets: ArcSwap<HashMap<DatasetId, DatasetInfo>>,
    /// Where `audit.events` is read from; `None` when the audit log is off.
    audit_dir: Option<PathBuf>,
}

impl QueryEngine {
    pub fn new(
        limits: LimitsConfig,
        access: Arc<Access>,
        audit_dir: Option<PathBuf>,
    ) -> std::io::Result<Self> {
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, "public")
            .with_create_default_catalog_and_schema(true)
            .with_information_schema(true);
        // Parquet strings are read as plain Utf8, not Utf8View: results then carry the
        // contract's types, which every Arrow client can read.
        config.options_mut().execution.parquet.schema_force_view_types = false;
        // The policy functions are not registered: the rewrite puts them into plans itself,
        // and a query naming them would compute pseudonyms of values of its choosing.
        let runtime = RuntimeEnvBuilder::new()
            .with_disk_manager_builder(spill_files(&limits)?)
            .build_arc()
            .map_err(std::io::Error::other)?;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(yielding::YieldingJoins))
            .build();
        let context = SessionContext::new_with_state(state);
        // `a || b` on text is planned as a function, so that its result is bounded like
        // every function's (see `bounded`).
        {
            use datafusion::execution::FunctionRegistry;
            let state = context.state_ref();
            let mut state = state.write();
            state
                .register_expr_planner(Arc::new(bounded::ConcatPlanner))
                .map_err(std::io::Error::other)?;
        }
        context.register_udf(bounded::string_concat().as_ref().clone());
        Ok(Self {
            context,
            permits: Arc::new(Semaphore::new(limits.max_concurrent_queries.max(1))),
            running: Arc::default(),
            runtime: runtime::QueryRuntime::new(limits.query_threads)?,
            limits,
            access,
            datasets: ArcSwap::from_pointee(HashMap::new()),
            audit_dir,
        })
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

    /// Makes `table` visible as `department.name`, replacing any table of that name;
    /// `dataset` describes its columns to the policies.
    pub fn register(
        &self,
        department: &str,
        name: &str,
        table: Arc<dyn TableProvider>,
        dataset: DatasetInfo,
    ) -> Result<(), DataFusionError> {
        self.update_datasets(|datasets| {
            datasets.insert(dataset.id.clone(), dataset);
        });
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
        self.update_datasets(|datasets| {
            datasets.remove(&DatasetId::new(department, name));
        });
        let catalog = self.catalog()?;
        if let Some(schema) = catalog.schema(department) {
            schema.deregister_table(name)?;
            if schema.table_names().is_empty() {
                catalog.deregister_schema(department, false)?;
            }
        }
        Ok(())
    }

    fn update_datasets(&self, change: impl FnOnce(&mut HashMap<DatasetId, DatasetInfo>)) {
        let mut updated = HashMap::clone(&self.datasets.load());
        change(&mut updated);
        self.datasets.store(Arc::new(updated));
    }

    /// The columns of a published dataset, as the policies see them.
    pub fn dataset(&self, id: &DatasetId) -> Option<DatasetInfo> {
        self.datasets.load().get(id).cloned()
    }

    /// Plans and starts a query for `principal`. Errors found before the first row (bad
    /// SQL, unknown tables, limits hit at once) are returned here, so the caller can still
    /// answer with a proper error status. The work is done on the query threads.
    pub async fn run(
        self: &Arc<Self>,
        principal: &Principal,
        request: &QueryRequest,
    ) -> Result<RunningQuery, RefusedQuery> {
        let id = uuid::Uuid::now_v7().to_string();
        let engine = Arc::clone(self);
        let (principal, request, task_id) = (principal.clone(), request.clone(), id.clone());
        let planning = self
            .runtime
            .handle()
            .spawn(async move { engine.plan_and_start(task_id, &principal, &request).await });
        match planning.await {
            Ok(result) => result,
            Err(error) => {
                tracing::error!(%error, query_id = %id, "planning a query ended abnormally");
                Err(RefusedQuery {
                    id,
                    datasets: Vec::new(),
                    error: QueryError::Execution(
                        "the query could not be planned; the details are in the hub's log".into(),
                    ),
                })
            }
        }
    }

    async fn plan_and_start(
        &self,
        id: String,
        principal: &Principal,
        request: &QueryRequest,
    ) -> Result<RunningQuery, RefusedQuery> {
        let refused = |error, named| RefusedQuery {
            id: id.clone(),
            datasets: named,
            error,
        };
        if request.purpose.trim().is_empty() {
            return Err(refused(QueryError::MissingPurpose, Vec::new()));
        }
        let statement = parse_read_query(&request.sql, &self.access.limits())
            .map_err(|error| refused(error, Vec::new()))?;
        tracing::debug!(query_id = %id, principal = %principal.id, purpose = %request.purpose, "query");
        let policy = Arc::new(QueryPolicy {
            principal: principal.clone(),
            purpose: request.purpose.clone(),
            policies: self.access.snapshot(),
            datasets: self.datasets.load_full(),
            functions: self.access.functions().clone(),
            session: self.context.state(),
            limits: self.access.limits(),
            now: chrono::Utc::now(),
            decisions: Mutex::new(Vec::new()),
            named: Mutex::new(Vec::new()),
        });
        match self.start(&policy, statement).await {
            Ok((schema, reads, batches)) => Ok(RunningQuery {
                id,
                schema,
                reads,
                batches,
            }),
            Err(error) => {
                let named = policy
                    .named
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                Err(refused(error, named))
            }
        }
    }

    async fn start(
        &self,
        policy: &Arc<QueryPolicy>,
        statement: datafusion::sql::parser::Statement,
    ) -> Result<(SchemaRef, Reads, BatchStream), QueryError> {
        let deadline = Instant::now() + self.limits.query_timeout;
        let mine = self.principal_slot(&policy.principal.id)?;
        let permit = tokio::time::timeout_at(deadline, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| QueryError::Busy(self.limits.max_concurrent_queries))?
            .map_err(|_| QueryError::Busy(self.limits.max_concurrent_queries))?;
        let (state, pool) = self.query_state(policy)?;
        let plan = state
            .statement_to_plan(statement)
            .await
            .and_then(|plan| bounded::bound_plan(plan, &pool))
            .map_err(|error| self.classify(error))?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|error| QueryError::NotReadOnly(error.strip_backtrace()))?;
        if let Some(reason) = closed_dataset_read(&plan) {
            return Err(QueryError::AccessDenied(reason));
        }
        let optimized = state
            .optimize(&plan)
            .and_then(|optimized| bounded::bound_plan(optimized, &pool))
            .map_err(|error| self.classify(error))?;
        // A column the caller may not read is a stand-in in the plan; if the optimised plan
        // still needs one, the query reads it.
        let denied = denied_columns(&optimized);
        if !denied.is_empty() {
            return Err(QueryError::ColumnsNotGranted {
                columns: denied,
                purpose: policy.purpose.clone(),
            });
        }
        let reads = {
            let decisions = policy
                .decisions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            reads(&optimized, &decisions, &policy.datasets)
        };
        let planning = state.query_planner().create_physical_plan(&optimized, &state);
        let physical = tokio::time::timeout_at(deadline, planning)
            .await
            .map_err(|_| QueryError::Timeout(self.limits.query_timeout))?
            .map_err(|error| self.classify(error))?;
        let schema = physical.schema();
        let stream = execute_stream(physical, state.task_ctx()).map_err(|error| self.classify(error))?;
        // The hub's slot is held until the query's work has stopped; the caller's until the
        // caller has its result, or went away.
        let pumped = self.runtime.pump(stream, permit);
        Ok((schema, reads, self.limited(pumped, deadline, mine)))
    }

    /// Takes one of the principal's query slots, or refuses when all are taken. A broken
    /// count refuses rather than lets queries through uncounted.
    fn principal_slot(&self, principal: &str) -> Result<PrincipalSlot, QueryError> {
        let most = self.limits.max_concurrent_queries_per_principal.max(1);
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let count = running.entry(principal.to_owned()).or_insert(0);
        if *count >= most {
            return Err(QueryError::TooManyOfYours(most));
        }
        *count += 1;
        Ok(PrincipalSlot {
            running: Arc::clone(&self.running),
            principal: principal.to_owned(),
        })
    }

    /// A session for one query: the catalog as the query's principal and purpose may see it,
    /// and a memory pool of its own.
    fn query_state(
        &self,
        policy: &Arc<QueryPolicy>,
    ) -> Result<(SessionState, Arc<bounded::ResultBudget>), QueryError> {
        let base = self.context.state();
        let pool = bounded::ResultBudget::new(self.memory_limit_bytes());
        let runtime = RuntimeEnvBuilder::from_runtime_env(base.runtime_env())
            .with_memory_pool(Arc::new(FairSpillPool::new(self.memory_limit_bytes())))
            .build_arc()
            .map_err(|error| QueryError::Execution(error.strip_backtrace()))?;
        let catalogs = MemoryCatalogProviderList::new();
        let secure = SecureCatalog::new(
            self.audit_dir.clone(),
            self.catalog().map_err(|error| self.classify(error))?,
            Arc::clone(policy),
        );
        catalogs.register_catalog(CATALOG.to_owned(), Arc::new(secure));
        let state = SessionStateBuilder::new_from_existing(base)
            .with_runtime_env(runtime)
            .with_catalog_list(Arc::new(catalogs))
            .build();
        Ok((state, pool))
    }

    fn memory_limit_bytes(&self) -> usize {
        usize::try_from(self.limits.query_memory_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    /// The stream ends with a timeout error at the deadline; dropping it stops the query
    /// and gives the caller's slot back.
    fn limited(&self, stream: runtime::Pumped, deadline: Instant, slot: PrincipalSlot) -> BatchStream {
        let timeout = self.limits.query_timeout;
        let memory_mb = self.limits.query_memory_mb;
        let state = (stream, Some(slot));
        Box::pin(futures::stream::unfold(
            state,
            move |(mut stream, slot)| async move {
                // The slot is let go with the last item.
                let slot = slot?;
                match tokio::time::timeout_at(deadline, stream.next()).await {
                    Err(_) => Some((Err(QueryError::Timeout(timeout)), (stream, None))),
                    Ok(None) => None,
                    Ok(Some(Ok(batch))) => Some((Ok(batch), (stream, Some(slot)))),
                    Ok(Some(Err(error))) => Some((Err(classify_execution(error, memory_mb)), (stream, None))),
                }
            },
        ))
    }

    fn classify(&self, error: DataFusionError) -> QueryError {
        classify_execution(error, self.limits.query_memory_mb)
    }
}

/// Spill files in their own directory, under the configured cap for all queries together.
fn spill_files(limits: &LimitsConfig) -> std::io::Result<DiskManagerBuilder> {
    let mode = match &limits.spill_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            DiskManagerMode::Directories(vec![dir.clone()])
        }
        None => DiskManagerMode::OsTmpDirectory,
    };
    Ok(DiskManagerBuilder::default()
        .with_mode(mode)
        .with_max_temp_directory_size(limits.spill_max_mb.saturating_mul(1024 * 1024)))
}

/// One of a principal's query slots, given back when the query's work has stopped.
struct PrincipalSlot {
    running: Arc<Mutex<HashMap<String, usize>>>,
    principal: String,
}

impl Drop for PrincipalSlot {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = running.get_mut(&self.principal) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.principal);
            }
        }
    }
}

/// The start of the disk manager's message when spill files reach their cap.
const SPILL_CAP_REACHED: &str = "used disk space during the spilling process has exceeded";

/// ENOSPC: a disk is full.
const NO_SPACE: i32 = 28;

/// Sorts DataFusion's errors into what the caller did wrong and what went wrong here.
/// Messages about evaluating values lose any quoted value: it might be one the grants hide.
fn classify_execution(error: DataFusionError, memory_mb: u64) -> QueryError {
    // DataFusion's disk manager refuses a spill past its cap with a message, which reaches
    // here wrapped in whatever was writing the spill file: its text is all there is.
    if error.to_string().contains(SPILL_CAP_REACHED) {
        return QueryError::SpillLimit;
    }
    if let DataFusionError::External(inner) = error.find_root() {
        if let Some(denied) = inner.downcast_ref::<AccessDenied>() {
            return QueryError::AccessDenied(denied.to_string());
        }
        if let Some(policy) = inner.downcast_ref::<PolicyError>() {
            return match policy {
                PolicyError::Denied(denied) => QueryError::AccessDenied(denied.to_string()),
                other => QueryError::Policy(other.to_string()),
            };
        }
    }
    match error.find_root() {
        DataFusionError::External(inner) if inner.downcast_ref::<SourceReadError>().is_some() => {
            QueryError::Execution(without_values(&inner.to_string()))
        }
        DataFusionError::External(inner) => QueryError::Evaluation(without_values(&inner.to_string())),
        DataFusionError::ArrowError(arrow, _)
            if matches!(
                arrow.as_ref(),
                ArrowError::CsvError(_)
                    | ArrowError::JsonError(_)
                    | ArrowError::ParquetError(_)
                    | ArrowError::IoError(..)
            ) =>
        {
            QueryError::Execution(without_values(&error.find_root().to_string()))
        }
        DataFusionError::IoError(io) if io.raw_os_error() == Some(NO_SPACE) => QueryError::SpillLimit,
        DataFusionError::ParquetError(_) | DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) => {
            QueryError::Execution(without_values(&error.find_root().to_string()))
        }
        DataFusionError::ResourcesExhausted(message) if message.contains("disk space") => {
            QueryError::SpillLimit
        }
        DataFusionError::ResourcesExhausted(reason) => {
            // Which operator asked for how much: no row values, and what tuning needs.
            tracing::info!(%reason, "a query ran out of memory");
            QueryError::MemoryLimit(memory_mb)
        }
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
        // What remains failed while evaluating the query's own expressions (a bad regular
        // expression, a division by zero): the caller's to fix.
        DataFusionError::ArrowError(..) | DataFusionError::Execution(_) => {
            QueryError::Evaluation(without_values(&error.find_root().to_string()))
        }
        _ => QueryError::Execution(without_values(&error.strip_backtrace())),
    }
}
