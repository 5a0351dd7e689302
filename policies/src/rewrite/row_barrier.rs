//! The row filter as a barrier. A grant's row filter is applied inside the dataset's scan,
//! in an execution step of its own that no optimiser rule looks into or merges with: the
//! query's own predicates, evaluated above it, only ever see the rows the grants let
//! through. (Merged into one condition, DataFusion may evaluate a query's predicate on
//! every row of a batch; a predicate that fails on a hidden row would then tell, by its
//! error, that such a row exists.)
//!
//! The filter is still handed to the source, so databases and Parquet files can use it to
//! read less; the query's filters are handed on too, for the same reason, but reported as
//! inexact so that DataFusion applies them again above the barrier. Sources that take
//! filters only when the physical plan is made (Parquet files) get them then: the row
//! filter, and the query's filters for pruning by statistics, bloom filters and the page
//! index only. A pruning predicate never fails on a row, and never decides which rows come
//! out; when Parquet would evaluate the filters row by row (`pushdown_filters`), the query's
//! filters are not handed on.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchema, DataFusionError, Result, project_schema};
use datafusion::config::ConfigOptions;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
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

/// A table whose rows pass `filter` (an expression over its unqualified columns) before
/// anything else sees them.
pub struct RowBarrier {
    inner: Arc<dyn TableProvider>,
    filter: Expr,
}

impl fmt::Debug for RowBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RowBarrier({})", self.filter)
    }
}

impl RowBarrier {
    pub fn new(inner: Arc<dyn TableProvider>, filter: Expr) -> Self {
        Self { inner, filter }
    }

    pub fn filter(&self) -> &Expr {
        &self.filter
    }

    /// The table whose rows pass the filter.
    pub fn inner(&self) -> &Arc<dyn TableProvider> {
        &self.inner
    }
}

#[async_trait]
impl TableProvider for RowBarrier {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(self
            .inner
            .supports_filters_pushdown(filters)?
            .into_iter()
            .map(|verdict| match verdict {
                TableProviderFilterPushDown::Unsupported => verdict,
                _ => TableProviderFilterPushDown::Inexact,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = self.inner.schema();
        // The source reads the requested columns and those the filter needs.
        let mut needed: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..schema.fields().len()).collect());
        for column in self.filter.column_refs() {
            let index = schema.index_of(&column.name)?;
            if !needed.contains(&index) {
                needed.push(index);
            }
        }
        // The source gets the parts of the row filter it can evaluate exactly as DataFusion
        // would (the barrier applies the whole filter regardless), and the query's filters,
        // which DataFusion only offers once the source accepted them.
        let parts: Vec<Expr> = split_conjunction(&self.filter).into_iter().cloned().collect();
        let verdicts = self
            .inner
            .supports_filters_pushdown(&parts.iter().collect::<Vec<_>>())?;
        let mut pushed: Vec<Expr> = parts
            .into_iter()
            .zip(verdicts)
            .filter(|(_, verdict)| *verdict != TableProviderFilterPushDown::Unsupported)
            .map(|(part, _)| part)
            .collect();
        pushed.extend(filters.iter().cloned());
        let input = self.inner.scan(state, Some(&needed), &pushed, None).await?;
        let read = input.schema();
        let predicate =
            state.create_physical_expr(self.filter.clone(), &DFSchema::try_from(Arc::clone(&read))?)?;
        let output: Vec<usize> = match projection {
            Some(requested) => (0..requested.len()).collect(),
            None => (0..schema.fields().len()).collect(),
        };
        let output_schema = project_schema(&read, Some(&output))?;
        Ok(Arc::new(RowBarrierExec::new(
            input,
            predicate,
            output,
            output_schema,
        )))
    }
}

/// Keeps the rows that meet the predicate, then the output columns.
#[derive(Debug)]
pub struct RowBarrierExec {
    input: Arc<dyn ExecutionPlan>,
    predicate: Arc<dyn PhysicalExpr>,
    output: Vec<usize>,
    properties: Arc<PlanProperties>,
}

impl RowBarrierExec {
    fn new(
        input: Arc<dyn ExecutionPlan>,
        predicate: Arc<dyn PhysicalExpr>,
        output: Vec<usize>,
        schema: SchemaRef,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            input.output_partitioning().clone(),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Self {
            input,
            predicate,
            output,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for RowBarrierExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RowBarrierExec: {}", self.predicate)
    }
}

impl ExecutionPlan for RowBarrierExec {
    fn name(&self) -> &'static str {
        "RowBarrierExec"
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
        f(&self.predicate)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("RowBarrierExec has one child".into()))?;
        Ok(Arc::new(Self::new(
            input,
            Arc::clone(&self.predicate),
            self.output.clone(),
            self.schema(),
        )))
    }

    fn gather_filters_for_pushdown(
        &self,
        phase: FilterPushdownPhase,
        parent_filters: Vec<Arc<dyn PhysicalExpr>>,
        config: &ConfigOptions,
    ) -> Result<FilterDescription> {
        let query_filters = if config.execution.parquet.pushdown_filters {
            ChildFilterDescription::all_unsupported(&parent_filters)
        } else {
            ChildFilterDescription::from_child(&parent_filters, &self.input)?
        };
        // The row filter once, before the plan's dynamic filters (the second phase).
        let child = if phase == FilterPushdownPhase::Pre {
            query_filters.with_self_filter(Arc::clone(&self.predicate))
        } else {
            query_filters
        };
        Ok(FilterDescription::new().with_child(child))
    }

    /// Whatever the source did with them, the query's filters are applied again above the
    /// barrier, and the barrier applies the row filter to every row itself.
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
        let predicate = Arc::clone(&self.predicate);
        let output = self.output.clone();
        let schema = self.schema();
        let stream_schema = Arc::clone(&schema);
        let rows = input.map(move |batch| {
            let batch = batch?;
            let keep = predicate.evaluate(&batch)?.into_array(batch.num_rows())?;
            let keep = datafusion::common::cast::as_boolean_array(&keep)?;
            let kept = filter_record_batch(&batch, keep)?.project(&output)?;
            let options = RecordBatchOptions::new().with_row_count(Some(kept.num_rows()));
            Ok::<RecordBatch, DataFusionError>(RecordBatch::try_new_with_options(
                Arc::clone(&schema),
                kept.columns().to_vec(),
                &options,
            )?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(stream_schema, rows)))
    }
}
