//! The query layer: one DataFusion context per hub whose catalog `causeway` holds a schema
//! per department and a table per published dataset, and the path every query takes
//! through it: parse, refuse anything but reads, plan, execute under the limits, stream.

mod audit_events;
mod bounded;
mod closed;
mod deadline;
mod error;
mod filter_first;
mod names;
pub mod output;
mod parameters;
mod reads;
mod runtime;
mod secure;
mod semantics;
pub mod service;
mod slots;
mod spellings;
mod statement;
mod subjects;
pub mod verify;
mod yielding;

use std::collections::HashMap;

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use causeway_policies::{
    AccessDenied, DatasetId, DatasetInfo, Decision, PolicySet, Principal, authorize, denied_columns,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProviderList, MemorySchemaProvider, SchemaProvider,
    TableProvider,
};
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures::{Stream, StreamExt};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::access::Access;
use crate::audit::Chains;
use crate::config::LimitsConfig;
use closed::closed_dataset_read;
use parameters::{bind_types, parameter_types};
pub use reads::Reads;
use reads::reads;
use secure::{QueryPolicy, SecureCatalog};
use slots::PrincipalSlot;

use error::classify_execution;
pub use error::{QueryError, unknown_column};
pub use names::UnknownDataset;
pub use statement::parse_read_query;

/// The catalog every published dataset appears in.
pub const CATALOG: &str = "causeway";

/// What a caller asks for.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    pub sql: String,
    pub purpose: String,
    /// The values of the statement's placeholders `$1`, `$2`, ..., in order, each of the
    /// type it is given as (as Flight SQL's and PostgreSQL's bound parameters are).
    pub parameters: Vec<ScalarValue>,
    /// Grants and deny rules to plan under instead of the hub's: a reviewer's dry run of a
    /// grant not made yet.
    pub policies: Option<Arc<PolicySet>>,
}

/// What a statement would return, and the parameters it takes, found by planning it under
/// the caller's policies without running it (for prepared statements).
#[derive(Debug, Clone)]
pub struct Described {
    /// The columns of its result.
    pub schema: SchemaRef,
    /// The type of each placeholder, `$1` first; `None` where the statement does not say.
    pub parameters: Vec<Option<DataType>>,
}

/// A dataset as one caller sees it under one purpose: always listed (the catalog is open to
/// every caller), with what the caller may read of it, or why nothing.
#[derive(Debug, Clone)]
pub struct CatalogTable {
    pub dataset: DatasetInfo,
    pub access: Result<Decision, AccessDenied>,
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
    audit: Option<Chains>,
    /// The people each caller read today, for distinct-person quotas.
    subjects: Arc<crate::supervision::SubjectUsage>,
}

impl QueryEngine {
    pub fn new(limits: LimitsConfig, access: Arc<Access>, audit: Option<Chains>) -> std::io::Result<Self> {
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, "public")
            .with_create_default_catalog_and_schema(true)
            .with_information_schema(true);
        // Parquet strings are read as plain Utf8, not Utf8View: results then carry the
        // contract's types, which every Arrow client can read.
        config.options_mut().execution.parquet.schema_force_view_types = false;
        // `0.1` is an exact decimal, as in PostgreSQL, not the double nearest to it; numbers
        // with an exponent stay doubles (see `statement::exponents_as_doubles`).
        config.options_mut().sql_parser.parse_float_as_decimal = true;
        // The policy functions are not registered: the rewrite puts them into plans itself,
        // and a query naming them would compute pseudonyms of values of its choosing.
        let runtime = RuntimeEnvBuilder::new()
            .with_disk_manager_builder(runtime::spill_files(&limits)?)
            .build_arc()
            .map_err(std::io::Error::other)?;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(filter_first::FilterFirst))
            .with_physical_optimizer_rule(Arc::new(yielding::YieldingJoins))
            .with_analyzer_rules(semantics::analyzer_rules())
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
        // PostgreSQL's one-for-one case mapping in place of DataFusion's full one.
        for mapping in semantics::case_mappings() {
            context.register_udf(mapping);
        }
        for refused in statement::REFUSED_FUNCTIONS {
            context.deregister_udf(refused);
        }
        Ok(Self {
            context,
            permits: Arc::new(Semaphore::new(limits.max_concurrent_queries.max(1))),
            running: Arc::default(),
            runtime: runtime::QueryRuntime::new(limits.query_threads)?,
            limits,
            access,
            datasets: ArcSwap::from_pointee(HashMap::new()),
            audit,
            subjects: Arc::default(),
        })
    }

    /// Counts people read under distinct-person quotas in `subjects` (default: memory only).
    pub fn with_subject_usage(mut self, subjects: Arc<crate::supervision::SubjectUsage>) -> Self {
        self.subjects = subjects;
        self
    }

    /// The limits queries run under.
    pub fn limits(&self) -> &LimitsConfig {
        &self.limits
    }

    /// How logged queries keep the values typed into them.
    pub fn audit_literals(&self) -> &crate::audit::literals::AuditLiterals {
        self.access.audit_literals()
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
        self.on_query_threads(async move { engine.plan_and_start(task_id, &principal, &request).await })
            .await
            .unwrap_or_else(|error| {
                Err(RefusedQuery {
                    id,
                    datasets: Vec::new(),
                    error,
                })
            })
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
        let policies = request.policies.clone().unwrap_or_else(|| self.access.snapshot());
        let policy = self.policy_for(principal, &request.purpose, policies);
        match self.start(&policy, statement, request.parameters.clone()).await {
            Ok((schema, reads, batches)) => Ok(RunningQuery {
                id,
                schema,
                reads,
                batches,
            }),
            Err(error) => Err(refused(error, policy.named_datasets())),
        }
    }

    /// What `principal` may do under `purpose`, as of now.
    fn policy_for(&self, principal: &Principal, purpose: &str, policies: Arc<PolicySet>) -> Arc<QueryPolicy> {
        Arc::new(QueryPolicy {
            principal: principal.clone(),
            purpose: purpose.to_owned(),
            policies,
            datasets: self.datasets.load_full(),
            functions: self.access.functions().clone(),
            session: self.context.state(),
            limits: self.access.limits(),
            now: chrono::Utc::now(),
            decisions: Mutex::new(Vec::new()),
            named: Mutex::new(Vec::new()),
            subjects: Arc::clone(&self.subjects),
            access: Arc::clone(&self.access),
        })
    }

    /// Plans `sql` for `principal` under `purpose` without running it: the columns it would
    /// return and the types of its placeholders. Refused when it names a dataset the caller
    /// may not read for the purpose; a column no grant covers is refused when the statement
    /// runs (after optimisation, which may drop it), as for any query.
    pub async fn describe(
        self: &Arc<Self>,
        principal: &Principal,
        sql: &str,
        purpose: &str,
    ) -> Result<Described, RefusedQuery> {
        let id = uuid::Uuid::now_v7().to_string();
        let refused = |(error, datasets)| RefusedQuery {
            id: id.clone(),
            datasets,
            error,
        };
        if purpose.trim().is_empty() {
            return Err(refused((QueryError::MissingPurpose, Vec::new())));
        }
        let engine = Arc::clone(self);
        let policy = self.policy_for(principal, purpose, self.access.snapshot());
        let sql = sql.to_owned();
        self.on_query_threads(async move {
            let statement =
                parse_read_query(&sql, &engine.access.limits()).map_err(|error| (error, Vec::new()))?;
            let deadline = Instant::now() + engine.limits.query_timeout;
            let (_, _, plan) = engine
                .plan(&policy, statement, deadline)
                .await
                .map_err(|error| (error, policy.named_datasets()))?;
            let parameters = parameter_types(&plan).map_err(|error| (engine.classify(error), Vec::new()))?;
            Ok(Described {
                schema: Arc::new(plan.schema().as_arrow().clone()),
                parameters,
            })
        })
        .await
        .unwrap_or_else(|error| Err((error, Vec::new())))
        .map_err(refused)
    }

    /// Every published dataset as `principal` sees it under `purpose`: its columns, and what
    /// its grants let the caller read of it, or why nothing.
    pub fn catalog_view(&self, principal: &Principal, purpose: &str) -> Vec<CatalogTable> {
        let policies = self.access.snapshot();
        let now = chrono::Utc::now();
        let datasets = self.datasets.load();
        let mut tables: Vec<CatalogTable> = datasets
            .values()
            .map(|dataset| CatalogTable {
                access: authorize(principal, purpose, dataset, &policies, now),
                dataset: dataset.clone(),
            })
            .collect();
        tables.sort_by(|a, b| a.dataset.id.cmp(&b.dataset.id));
        tables
    }

    async fn start(
        &self,
        policy: &Arc<QueryPolicy>,
        statement: datafusion::sql::parser::Statement,
        parameters: Vec<ScalarValue>,
    ) -> Result<(SchemaRef, Reads, BatchStream), QueryError> {
        let deadline = Instant::now() + self.limits.query_timeout;
        let mine = self.principal_slot(&policy.principal.id)?;
        let permit = tokio::time::timeout_at(deadline, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| QueryError::Busy(self.limits.max_concurrent_queries))?
            .map_err(|_| QueryError::Busy(self.limits.max_concurrent_queries))?;
        let (state, pool, plan) = self.plan(policy, statement, deadline).await?;
        let parameters = bind_types(
            parameters,
            &parameter_types(&plan).map_err(|error| self.classify(error))?,
        )?;
        let plan = plan
            .with_param_values(ParamValues::List(
                parameters.into_iter().map(Into::into).collect(),
            ))
            .and_then(|plan| bounded::bound_plan(plan, &pool))
            .map_err(|error| self.classify(error))?;
        let optimized = state
            .optimize(&plan)
            .and_then(|optimized| bounded::bound_plan(optimized, &pool))
            .map_err(|error| self.classify(error))?;
        // A column the caller may not read is a stand-in in the plan; if the optimised plan
        // still needs one, the query reads it.
        let denied = denied_columns(&optimized);
        if !denied.is_empty() {
            let decisions = policy
                .decisions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            return Err(QueryError::columns_not_granted(
                denied,
                &decisions,
                &policy.purpose,
            ));
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

    /// The statement's logical plan in a session of its own, under the caller's policies,
    /// checked to read only what may be read; its placeholders not yet bound. The session
    /// stops optimising at `deadline`.
    async fn plan(
        &self,
        policy: &Arc<QueryPolicy>,
        statement: datafusion::sql::parser::Statement,
        deadline: Instant,
    ) -> Result<(SessionState, Arc<bounded::ResultBudget>, LogicalPlan), QueryError> {
        let (state, pool) = self.query_state(policy, deadline)?;
        names::check_names(&state, &statement).map_err(|error| self.classify(error))?;
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
        if let Some(refusal) = closed_dataset_read(&plan) {
            return Err(refusal);
        }
        Ok((state, pool, plan))
    }

    /// A session for one query: the catalog as the query's principal and purpose may see it,
    /// a memory pool of its own, and planning that stops at `deadline`.
    fn query_state(
        &self,
        policy: &Arc<QueryPolicy>,
        deadline: Instant,
    ) -> Result<(SessionState, Arc<bounded::ResultBudget>), QueryError> {
        let base = self.context.state();
        let pool = bounded::ResultBudget::new(self.memory_limit_bytes());
        let runtime = RuntimeEnvBuilder::from_runtime_env(base.runtime_env())
            .with_memory_pool(Arc::new(FairSpillPool::new(self.memory_limit_bytes())))
            .build_arc()
            .map_err(|error| QueryError::Execution(error.strip_backtrace()))?;
        let catalogs = MemoryCatalogProviderList::new();
        let secure = SecureCatalog::new(
            self.audit.clone(),
            self.catalog().map_err(|error| self.classify(error))?,
            Arc::clone(policy),
        );
        catalogs.register_catalog(CATALOG.to_owned(), Arc::new(secure));
        let builder = SessionStateBuilder::new_from_existing(base)
            .with_runtime_env(runtime)
            .with_catalog_list(Arc::new(catalogs));
        let state = deadline::with_deadline(builder, deadline).build();
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
        if let DataFusionError::External(inner) = error.find_root()
            && inner.is::<deadline::PlanningDeadline>()
        {
            return QueryError::Timeout(self.limits.query_timeout);
        }
        classify_execution(error, self.limits.query_memory_mb)
    }
}
