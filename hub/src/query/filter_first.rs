//! Rows are filtered before anything is computed from them.
//!
//! DataFusion 55's projection push-down moves a projection that drops columns below the
//! filter under it, whatever the projection computes: `SELECT 100 / x FROM t WHERE x <> 0`
//! then divides every row, the ones the filter drops included, and fails with `division by
//! zero` (as `small * big` fails with `arithmetic overflow` on a row the `WHERE` excludes).
//! SQL computes the select list of the rows that pass the `WHERE` clause, and PostgreSQL
//! does. [`FilterFirst`] puts such a filter back under the projection, once DataFusion's
//! own rules have run, wherever the filter reads only columns the projection passes
//! through unchanged.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::ProjectionExec;

#[derive(Debug, Default)]
pub struct FilterFirst;

impl PhysicalOptimizerRule for FilterFirst {
    fn name(&self) -> &str {
        "causeway_filter_first"
    }

    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|plan| {
            let Some(filter) = plan.downcast_ref::<FilterExec>() else {
                return Ok(Transformed::no(plan));
            };
            match filter_under_projection(filter)? {
                Some(swapped) => Ok(Transformed::yes(swapped)),
                None => Ok(Transformed::no(plan)),
            }
        })
        .map(|transformed| transformed.data)
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `Filter(Projection(input))` as `Projection(Filter(input))`, where the projection computes
/// something and the filter reads only columns it passes through; `None` otherwise.
fn filter_under_projection(filter: &FilterExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(projection) = filter.input().downcast_ref::<ProjectionExec>() else {
        return Ok(None);
    };
    let computes = projection
        .expr()
        .iter()
        .any(|projected| projected.expr.downcast_ref::<Column>().is_none());
    if !computes || filter.projection().is_some() {
        return Ok(None);
    }
    // The predicate over the projection's input: each column it reads, as the column of
    // the input the projection passes through.
    let mut passes_through = true;
    let predicate = Arc::clone(filter.predicate())
        .transform(|expr| {
            let Some(column) = expr.downcast_ref::<Column>() else {
                return Ok(Transformed::no(expr));
            };
            match projection
                .expr()
                .get(column.index())
                .and_then(|projected| projected.expr.downcast_ref::<Column>())
            {
                Some(source) => Ok(Transformed::yes(Arc::new(source.clone()) as Arc<dyn PhysicalExpr>)),
                None => {
                    passes_through = false;
                    Ok(Transformed::no(expr))
                }
            }
        })?
        .data;
    if !passes_through {
        return Ok(None);
    }
    let filtered = FilterExecBuilder::from(filter)
        .with_input(Arc::clone(projection.input()))
        .with_predicate(predicate)
        .build()?;
    let projected = ProjectionExec::try_new(projection.expr().to_vec(), Arc::new(filtered))?;
    Ok(Some(Arc::new(projected)))
}
