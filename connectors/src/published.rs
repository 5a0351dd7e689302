//! The table the hub publishes for a dataset: the source's table narrowed to the
//! contract's fields, with database filter push-down limited to what is safe.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use causeway_schemas::Contract;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Statistics;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result as DataFusionResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::CardinalityEffect;
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterDescription, FilterPushdownPhase, FilterPushdownPropagation,
};
use datafusion::physical_plan::{
    ChildStats, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, StatisticsArgs,
};

use crate::error::{ConnectorError, Result, SourceReadError};
use crate::pushdown::{PushdownRules, SqlDialect, classify};

pub struct PublishedTable {
    inner: Arc<dyn TableProvider>,
    /// Which dataset this is, for errors and health.
    label: Arc<SourceLabel>,
    schema: SchemaRef,
    /// For each published column, its index in the source's table.
    source_columns: Vec<usize>,
    /// What a database source may be asked to filter; `None` for other sources.
    pushdown: Option<PushdownRules>,
    /// Stops a statement on the server when its reader goes away early (MySQL, whose
    /// driver would otherwise wait for the statement to end).
    stop: Option<StopStatement>,
}

/// Asks a database to stop the statement of the given SQL text that the hub runs.
pub type StopStatement = Arc<dyn Fn(String) + Send + Sync>;

impl fmt::Debug for PublishedTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishedTable")
            .field("schema", &self.schema)
            .field("pushdown", &self.pushdown)
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
        pushdown: Option<PushdownRules>,
        label: SourceLabel,
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
            label: Arc::new(label),
            schema,
            source_columns,
            pushdown,
            stop: None,
        })
    }

    /// Stops statements on the server, with `stop`, when their reader goes away early.
    pub fn with_stop(mut self, stop: StopStatement) -> Self {
        self.stop = Some(stop);
        self
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
        let Some(rules) = &self.pushdown else {
            return self.inner.supports_filters_pushdown(filters);
        };
        let ours: Vec<TableProviderFilterPushDown> = filters
            .iter()
            .map(|filter| classify(filter, &self.schema, rules))
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
        // Files that are gone are an error, not an empty table.
        self.label
            .check_files()
            .map_err(|error| self.label.failed(&error))?;
        let plan = self
            .inner
            .scan(state, Some(&source_projection), filters, limit)
            .await
            .map_err(|error| self.label.failed(&error))?;
        let plan = match self.pushdown.as_ref().map(PushdownRules::dialect) {
            Some(SqlDialect::Mysql) => Arc::new(GuardedScanExec::new(plan, self.stop.clone())),
            _ => plan,
        };
        Ok(Arc::new(SourceExec {
            input: plan,
            label: Arc::clone(&self.label),
        }))
    }
}

/// Which dataset a source serves and how to tell its reader what to check when it fails.
#[derive(Debug)]
pub struct SourceLabel {
    /// `department.name`.
    pub dataset: String,
    /// `parquet`, `postgres`, ...
    pub kind: &'static str,
    /// What to check, for people: where the rows are.
    pub check: String,
    /// The file or folder of a file source, which must exist at every read.
    pub files: Option<std::path::PathBuf>,
    pub health: Arc<crate::health::SourceHealth>,
}

impl SourceLabel {
    fn check_files(&self) -> std::result::Result<(), DataFusionError> {
        let Some(path) = &self.files else {
            return Ok(());
        };
        let gone = || {
            SourceReadError::into_datafusion(format!(
                "{} is gone (moved or deleted since the dataset was published)",
                path.display()
            ))
        };
        if path.is_dir() {
            let mut entries = std::fs::read_dir(path).map_err(|_| gone())?;
            if entries.next().is_none() {
                return Err(SourceReadError::into_datafusion(format!(
                    "{} holds no files any more",
                    path.display()
                )));
            }
            Ok(())
        } else if path.is_file() {
            Ok(())
        } else {
            Err(gone())
        }
    }

    /// The source's error, naming the dataset, its kind and what to check, without any row
    /// value; the dataset is marked unavailable until it reads again.
    fn failed(&self, error: &DataFusionError) -> DataFusionError {
        // The hub's own refusals and cancellations are not the source's failures.
        if matches!(
            error.find_root(),
            DataFusionError::ResourcesExhausted(_) | DataFusionError::Shared(_)
        ) || is_named(error)
        {
            return DataFusionError::Shared(Arc::new(clone_error(error)));
        }
        let message = format!(
            "dataset {} ({} source) could not be read: {}; check {}",
            self.dataset,
            self.kind,
            crate::error::describe_failure(error),
            self.check
        );
        self.health.failed(&self.dataset, &message);
        SourceReadError::into_datafusion(message)
    }
}

/// Whether `error` already names its dataset (a source read inside another).
fn is_named(error: &DataFusionError) -> bool {
    matches!(error.find_root(), DataFusionError::External(inner) if inner.downcast_ref::<SourceReadError>().is_some_and(|read| read.0.starts_with("dataset ")))
}

fn clone_error(error: &DataFusionError) -> DataFusionError {
    match error.find_root() {
        DataFusionError::ResourcesExhausted(message) => DataFusionError::ResourcesExhausted(message.clone()),
        DataFusionError::External(inner) => match inner.downcast_ref::<SourceReadError>() {
            Some(read) => SourceReadError::into_datafusion(read.0.clone()),
            None => DataFusionError::Execution(inner.to_string()),
        },
        other => DataFusionError::Execution(other.to_string()),
    }
}

/// The scan of a published dataset, as transparent to the optimiser as the scan itself:
/// filters, limits and repartitioning pass through to it. Its errors name the dataset, and
/// its reads tell the source's health.
#[derive(Debug)]
struct SourceExec {
    input: Arc<dyn ExecutionPlan>,
    label: Arc<SourceLabel>,
}

impl SourceExec {
    fn wrap(&self, input: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        Arc::new(Self {
            input,
            label: Arc::clone(&self.label),
        })
    }
}

impl DisplayAs for SourceExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SourceExec: dataset={} kind={}",
            self.label.dataset, self.label.kind
        )
    }
}

impl ExecutionPlan for SourceExec {
    fn name(&self) -> &'static str {
        "SourceExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
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
            Ok([input]) => Ok(self.wrap(input)),
            Err(_) => Err(DataFusionError::Internal("SourceExec has one child".into())),
        }
    }

    fn repartitioned(
        &self,
        target_partitions: usize,
        config: &ConfigOptions,
    ) -> DataFusionResult<Option<Arc<dyn ExecutionPlan>>> {
        Ok(self
            .input
            .repartitioned(target_partitions, config)?
            .map(|input| self.wrap(input)))
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> DataFusionResult<Arc<Statistics>> {
        input_stats
            .first()
            .cloned()
            .ok_or_else(|| DataFusionError::Internal("SourceExec has one child".into()))
    }

    fn supports_limit_pushdown(&self) -> bool {
        true
    }

    fn cardinality_effect(&self) -> CardinalityEffect {
        CardinalityEffect::Equal
    }

    fn gather_filters_for_pushdown(
        &self,
        _phase: FilterPushdownPhase,
        parent_filters: Vec<Arc<dyn PhysicalExpr>>,
        _config: &ConfigOptions,
    ) -> DataFusionResult<FilterDescription> {
        FilterDescription::from_children(parent_filters, &self.children())
    }

    fn handle_child_pushdown_result(
        &self,
        _phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> DataFusionResult<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        Ok(FilterPushdownPropagation::if_all(child_pushdown_result))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DataFusionResult<SendableRecordBatchStream> {
        let inner = self
            .input
            .execute(partition, context)
            .map_err(|error| self.label.failed(&error))?;
        Ok(Box::pin(SourceStream {
            inner,
            label: Arc::clone(&self.label),
            failed: false,
        }))
    }
}

/// A scan's batches: its errors named, and a read to its end marking the source well.
struct SourceStream {
    inner: SendableRecordBatchStream,
    label: Arc<SourceLabel>,
    failed: bool,
}

impl futures::Stream for SourceStream {
    type Item = DataFusionResult<datafusion::arrow::record_batch::RecordBatch>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use futures::StreamExt;
        let next = std::task::ready!(self.inner.poll_next_unpin(cx));
        std::task::Poll::Ready(match next {
            Some(Ok(batch)) => Some(Ok(batch)),
            Some(Err(error)) => {
                self.failed = true;
                Some(Err(self.label.failed(&error)))
            }
            None => {
                if !self.failed {
                    self.label.health.read_well(&self.label.dataset);
                }
                None
            }
        })
    }
}

impl datafusion::physical_plan::RecordBatchStream for SourceStream {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

/// Wraps a MySQL scan so that DataFusion's physical optimiser cannot push further filters
/// or sort orders into its SQL: the provider's scan accepts any filter that renders as SQL,
/// which would bypass the checks of [`PublishedTable::supports_filters_pushdown`] (and let
/// MySQL sort text by its own collation). The wrapper keeps every optimiser hook at its
/// default, "not supported". Causeway's own SQL scans accept nothing in the first place.
struct GuardedScanExec {
    scan: Arc<dyn ExecutionPlan>,
    stop: Option<StopStatement>,
}

impl fmt::Debug for GuardedScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedScanExec")
            .field("scan", &self.scan)
            .field("stops_statements", &self.stop.is_some())
            .finish()
    }
}

impl GuardedScanExec {
    fn new(scan: Arc<dyn ExecutionPlan>, stop: Option<StopStatement>) -> Self {
        Self { scan, stop }
    }

    /// The SQL the scan sends, as its plan line shows it (`...Exec sql=SELECT ...`).
    fn sql(&self) -> Option<String> {
        fn find(plan: &dyn ExecutionPlan) -> Option<String> {
            let line = datafusion::physical_plan::displayable(plan)
                .one_line()
                .to_string();
            if let Some((_, sql)) = line.split_once(" sql=") {
                return Some(sql.trim().to_owned());
            }
            plan.children().into_iter().find_map(|child| find(child.as_ref()))
        }
        find(self.scan.as_ref())
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
            Ok([scan]) => Ok(Arc::new(Self::new(scan, self.stop.clone()))),
            Err(_) => Err(DataFusionError::Internal("GuardedScanExec has one child".into())),
        }
    }

    /// The rows of the scan; its errors are the source's.
    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DataFusionResult<SendableRecordBatchStream> {
        Ok(Box::pin(StoppingStream {
            inner: self.scan.execute(partition, context)?,
            stop: self.stop.clone().zip(self.sql()),
        }))
    }
}

/// A database scan's batches; dropped before its end, it has the server stop the statement.
struct StoppingStream {
    inner: SendableRecordBatchStream,
    /// How to stop the statement, and its SQL; `None` once it ended.
    stop: Option<(StopStatement, String)>,
}

impl futures::Stream for StoppingStream {
    type Item = DataFusionResult<datafusion::arrow::record_batch::RecordBatch>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use futures::StreamExt;
        let next = std::task::ready!(self.inner.poll_next_unpin(cx));
        std::task::Poll::Ready(match next {
            Some(Ok(batch)) => Some(Ok(batch)),
            Some(Err(error)) => {
                self.stop = None;
                Some(Err(SourceReadError::into_datafusion(
                    crate::error::describe_failure(&error),
                )))
            }
            None => {
                self.stop = None;
                None
            }
        })
    }
}

impl datafusion::physical_plan::RecordBatchStream for StoppingStream {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

impl Drop for StoppingStream {
    fn drop(&mut self) {
        if let Some((stop, sql)) = self.stop.take() {
            stop(sql);
        }
    }
}
