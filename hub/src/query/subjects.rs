//! The distinct-person meter: a dataset read under a grant with `max_subjects_per_day`
//! counts, row by row, the subjects (by the contract's subject key) whose rows the query
//! reads, and stops at the first row of a subject past the day's quota.
//!
//! The meter sits in the scan, above the row filter's barrier and below everything the
//! query does with the rows: it takes the query's own conditions on the dataset's columns
//! (reported to DataFusion as exact, evaluated here on the rows the barrier let through)
//! and its LIMIT, so that a grid worker's `WHERE grid_id = 'GC-001'` counts the households of
//! that grid, not the register. Whatever the query does above (joins, aggregates, sorts)
//! is not seen: a row read to compute an aggregate counts as read. The count is therefore
//! an upper bound of the people whose rows the caller receives, never less.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, DataFusionError, Result, project_schema};
use datafusion::config::ConfigOptions;
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::split_conjunction;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::filter_pushdown::{
    ChildFilterDescription, ChildPushdownResult, FilterDescription, FilterPushdownPhase,
    FilterPushdownPropagation,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use futures::StreamExt;

use crate::access::Access;
use crate::supervision::{Admitted, SubjectQuotaExceeded, SubjectUsage};

/// Whose subjects of which dataset a meter counts, against which quota.
#[derive(Clone)]
pub struct SubjectCount {
    pub usage: Arc<SubjectUsage>,
    /// Makes the keyed pseudonyms subjects are counted by.
    pub access: Arc<Access>,
    pub principal: String,
    /// `department.name`
    pub dataset: String,
    /// The subject key's columns.
    pub key: Vec<String>,
    /// The day's quota of people; past it, a query is cut off when `cuts_off`, else (a read
    /// under a grant without a quota of its own) no longer counted.
    pub limit: u64,
    pub cuts_off: bool,
}

impl fmt::Debug for SubjectCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cuts_off {
            write!(f, "{} people a day", self.limit)
        } else {
            write!(f, "counted towards {} people a day", self.limit)
        }
    }
}

impl SubjectCount {
    /// The pseudonyms of the subjects of `batch`'s rows; the key's columns are at `key`.
    fn subjects(&self, batch: &RecordBatch, key: &[usize]) -> Result<Vec<String>> {
        let columns = key
            .iter()
            .map(|index| cast(batch.column(*index), &DataType::Utf8))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let literals = self.access.audit_literals();
        let mut text = String::new();
        Ok((0..batch.num_rows())
            .map(|row| {
                text.clear();
                for (position, column) in columns.iter().enumerate() {
                    if position > 0 {
                        text.push('\u{1f}');
                    }
                    let column = column.as_string::<i32>();
                    if column.is_null(row) {
                        // A row without its subject (a source breaking its contract) is
                        // counted as someone new each time, never lumped with others.
                        return format!("unknown-{}", uuid::Uuid::new_v4().simple());
                    }
                    text.push_str(column.value(row));
                }
                literals.pseudonym(&text)
            })
            .collect())
    }
}

/// Puts a meter under the scan of `view` (a dataset's secure view, whose scan is the
/// dataset's table behind its row filter's barrier), counting for `count`.
pub fn metered(view: LogicalPlan, count: SubjectCount) -> Result<LogicalPlan> {
    view.transform_up(|node| {
        let LogicalPlan::TableScan(mut scan) = node else {
            return Ok(Transformed::no(node));
        };
        let inner = source_as_provider(&scan.source)?;
        scan.source = provider_as_source(Arc::new(SubjectMeter {
            inner,
            count: count.clone(),
        }));
        Ok(Transformed::new(
            LogicalPlan::TableScan(scan),
            true,
            TreeNodeRecursion::Stop,
        ))
    })
    .map(|transformed| transformed.data)
}

/// A table whose rows, once they meet the query's conditions, are counted by subject.
pub struct SubjectMeter {
    inner: Arc<dyn TableProvider>,
    count: SubjectCount,
}

impl SubjectMeter {
    /// The table it counts the rows of.
    pub fn inner(&self) -> &Arc<dyn TableProvider> {
        &self.inner
    }

    /// The same count over `inner`.
    pub fn with_inner(&self, inner: Arc<dyn TableProvider>) -> Self {
        Self {
            inner,
            count: self.count.clone(),
        }
    }
}

impl fmt::Debug for SubjectMeter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectMeter({}, {:?})", self.count.dataset, self.count)
    }
}

#[async_trait]
impl TableProvider for SubjectMeter {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Every condition is evaluated here, above the barrier, before rows are counted.
    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Exact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = self.inner.schema();
        // The requested columns first, then those the conditions and the key need.
        let mut needed: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..schema.fields().len()).collect());
        let output: Vec<usize> = (0..needed.len()).collect();
        let key_columns = self.count.key.iter().map(String::as_str);
        let condition_columns = filters
            .iter()
            .flat_map(Expr::column_refs)
            .map(|column| column.name.as_str());
        for name in key_columns.chain(condition_columns) {
            let index = schema.index_of(name)?;
            if !needed.contains(&index) {
                needed.push(index);
            }
        }
        // The inner table may use the conditions to read less; they are applied here
        // regardless.
        let verdicts = self
            .inner
            .supports_filters_pushdown(&filters.iter().collect::<Vec<_>>())?;
        let handed: Vec<Expr> = filters
            .iter()
            .zip(verdicts)
            .filter(|(_, verdict)| *verdict != TableProviderFilterPushDown::Unsupported)
            .map(|(filter, _)| filter.clone())
            .collect();
        let input = self.inner.scan(state, Some(&needed), &handed, None).await?;
        let read = input.schema();
        let predicate = conjunction(filters.to_vec())
            .map(|condition| state.create_physical_expr(condition, &DFSchema::try_from(Arc::clone(&read))?))
            .transpose()?;
        let key = self
            .count
            .key
            .iter()
            .map(|name| read.index_of(name))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let output_schema = project_schema(&read, Some(&output))?;
        Ok(Arc::new(SubjectMeterExec::new(
            input,
            Meter {
                schema: Arc::clone(&output_schema),
                predicate,
                key,
                output,
                limit,
                count: self.count.clone(),
            },
            output_schema,
        )))
    }
}

/// What the meter does to each batch.
#[derive(Clone)]
struct Meter {
    /// The rows' schema as the meter hands them on.
    schema: SchemaRef,
    predicate: Option<Arc<dyn PhysicalExpr>>,
    key: Vec<usize>,
    output: Vec<usize>,
    /// The query's LIMIT, when it was handed down: no more rows are read, nor counted.
    limit: Option<usize>,
    count: SubjectCount,
}

impl fmt::Debug for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} of {}", self.count, self.count.dataset)
    }
}

/// Keeps the rows that meet the query's conditions, counts their subjects, and stops at the
/// first row of a subject past the quota, with its error.
#[derive(Debug)]
pub struct SubjectMeterExec {
    input: Arc<dyn ExecutionPlan>,
    meter: Meter,
    properties: Arc<PlanProperties>,
}

impl SubjectMeterExec {
    fn new(input: Arc<dyn ExecutionPlan>, meter: Meter, schema: SchemaRef) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            input.output_partitioning().clone(),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Self {
            input,
            meter,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for SubjectMeterExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectMeterExec: {:?}", self.meter)
    }
}

impl ExecutionPlan for SubjectMeterExec {
    fn name(&self) -> &'static str {
        "SubjectMeterExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        match &self.meter.predicate {
            Some(predicate) => f(predicate),
            None => Ok(TreeNodeRecursion::Continue),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("SubjectMeterExec has one child".into()))?;
        Ok(Arc::new(Self::new(input, self.meter.clone(), self.schema())))
    }

    /// The query's conditions go down to the source so that a Parquet file can skip the row
    /// groups and pages whose statistics, bloom filters and page index rule them out: a
    /// lookup by ID number reads a page, not the register. Only as a pruning predicate,
    /// which never fails on a row nor decides which rows come out: when Parquet would
    /// evaluate filters row by row (`pushdown_filters`), nothing is handed down, since a
    /// condition failing there would fail before the meter counted the rows it was
    /// evaluated on. Nothing from above the meter goes below it: what it counts is what the
    /// query's own conditions on the dataset select.
    fn gather_filters_for_pushdown(
        &self,
        phase: FilterPushdownPhase,
        parent_filters: Vec<Arc<dyn PhysicalExpr>>,
        config: &ConfigOptions,
    ) -> Result<FilterDescription> {
        let child = ChildFilterDescription::all_unsupported(&parent_filters);
        let child = match &self.meter.predicate {
            Some(predicate)
                if phase == FilterPushdownPhase::Pre && !config.execution.parquet.pushdown_filters =>
            {
                child.with_self_filters(split_conjunction(predicate).into_iter().cloned().collect())
            }
            _ => child,
        };
        Ok(FilterDescription::new().with_child(child))
    }

    /// The meter applies its conditions to every row itself, whatever the source did with
    /// them.
    fn handle_child_pushdown_result(
        &self,
        _phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        Ok(FilterPushdownPropagation::all_unsupported(child_pushdown_result))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = self.schema();
        // (the rest of the input, the meter, rows taken so far); `None` once stopped.
        let start = Some((input, self.meter.clone(), 0usize));
        let rows = futures::stream::unfold(start, |state| async move {
            let (mut input, meter, mut taken) = state?;
            let batch = input.next().await?;
            let (passed, admitted) = meter.pass(batch, &mut taken);
            // What the batch added is in the store before a row of it is handed out, so that
            // a restart or another hub counts it; the batch that reaches past the quota is not
            // handed on at all, so that a query cut off at its first batch is refused whole.
            let persisted = match &admitted {
                Some(admitted) => meter
                    .count
                    .usage
                    .persist(&meter.count.principal, &meter.count.dataset, admitted)
                    .await
                    .map_err(|error| DataFusionError::External(Box::new(error))),
                None => Ok(()),
            };
            let passed = persisted.and(passed);
            let next = passed.is_ok().then_some((input, meter, taken));
            Some((passed, next))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rows)))
    }
}

impl Meter {
    /// The rows of `batch` the query reads, once their people are counted, or the quota's
    /// error when one of them is past it; and what the count added, for the store.
    fn pass(&self, batch: Result<RecordBatch>, taken: &mut usize) -> (Result<RecordBatch>, Option<Admitted>) {
        let mut batch = match batch {
            Ok(batch) => batch,
            Err(error) => return (Err(error), None),
        };
        if let Some(predicate) = &self.predicate {
            let keep = predicate
                .evaluate(&batch)
                .and_then(|keep| keep.into_array(batch.num_rows()));
            let keep = match keep {
                Ok(keep) => keep,
                // A condition that fails on a row tells something of that row (`1/0` when a
                // phone number starts with 1): every row it was evaluated on counts as read.
                Err(error) => {
                    let (admitted, counted) = self.admit(&batch);
                    return (counted.and(Err(error)), admitted);
                }
            };
            let kept = datafusion::common::cast::as_boolean_array(&keep)
                .and_then(|keep| Ok(filter_record_batch(&batch, keep)?));
            batch = match kept {
                Ok(kept) => kept,
                Err(error) => return (Err(error), None),
            };
        }
        if let Some(limit) = self.limit {
            let left = limit.saturating_sub(*taken);
            batch = batch.slice(0, left.min(batch.num_rows()));
        }
        let (admitted, counted) = self.admit(&batch);
        if let Err(error) = counted {
            return (Err(error), admitted);
        }
        *taken += batch.num_rows();
        (self.output_of(&batch), admitted)
    }

    /// The output columns of `batch`, with the output's own schema and its row count kept
    /// for a query that needs no column (`count(*)`).
    fn output_of(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let kept = batch.project(&self.output)?;
        let options = RecordBatchOptions::new().with_row_count(Some(kept.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            kept.columns().to_vec(),
            &options,
        )?)
    }

    /// Counts the people of `batch`'s rows: what was added, and the quota's error when one
    /// of them is past it.
    fn admit(&self, batch: &RecordBatch) -> (Option<Admitted>, Result<()>) {
        let subjects = match self.count.subjects(batch, &self.key) {
            Ok(subjects) => subjects,
            Err(error) => return (None, Err(error)),
        };
        let admitted = self.count.usage.admit(
            &self.count.principal,
            &self.count.dataset,
            self.count.limit,
            self.count.cuts_off,
            &subjects,
            Utc::now(),
        );
        let counted = if admitted.rows < batch.num_rows() {
            Err(DataFusionError::External(Box::new(SubjectQuotaExceeded::Daily {
                dataset: self.count.dataset.clone(),
                limit: self.count.limit,
            })))
        } else {
            Ok(())
        };
        (Some(admitted), counted)
    }
}
