//! `INTERSECT ALL` and `EXCEPT ALL` keep duplicates by count: a row found `m` times on the
//! left and `n` times on the right is answered `min(m, n)` and `max(m - n, 0)` times (SQL's
//! rule, PostgreSQL's answer). DataFusion 55 plans them as a semi (anti) join of the left
//! side on every column, which keeps every copy of a left row found on the right (or none).
//!
//! [`BagOperations`] numbers the copies of each row on both sides (`row_number()` over a
//! window partitioned by every column) and joins on the number too: the left's k-th copy
//! of a row is kept by `INTERSECT ALL` when the right has a k-th copy, so `min(m, n)` are
//! kept, and by `EXCEPT ALL` when it has not, so `m - n` are. The numbers are then dropped.
//!
//! Before the optimizer, a semi or anti join whose keys compare NULLs as equal is one that
//! DataFusion's planner made for `INTERSECT` or `EXCEPT` (subqueries become joins later, in
//! the optimizer); one of distinct rows has a `DISTINCT` left side, which needs no numbers.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, NullEquality, Result};
use datafusion::config::ConfigOptions;
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{
    Expr, ExprFunctionExt, Join, JoinType, LogicalPlan, LogicalPlanBuilder, Projection,
};
use datafusion::optimizer::AnalyzerRule;

/// Answers `INTERSECT ALL` and `EXCEPT ALL` by counts (see the module's documentation). Runs
/// before the rules that make window partitions follow SQL (`-0` is `0`), so that the
/// numbering's partitions do too.
#[derive(Debug, Default)]
pub(crate) struct BagOperations;

impl AnalyzerRule for BagOperations {
    fn name(&self) -> &str {
        "causeway_bag_operations"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| match plan {
            LogicalPlan::Join(join)
                if matches!(join.join_type, JoinType::LeftSemi | JoinType::LeftAnti)
                    && join.null_equality == NullEquality::NullEqualsNull
                    && join.filter.is_none()
                    && !matches!(join.left.as_ref(), LogicalPlan::Distinct(_)) =>
            {
                by_counts(join).map(Transformed::yes)
            }
            other => Ok(Transformed::no(other)),
        })
        .map(|transformed| transformed.data)
    }
}

/// The left side's columns are the answer's.
fn by_counts(join: Join) -> Result<LogicalPlan> {
    let answer: Vec<Expr> = join
        .left
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    // Names no column of either side has, so that a table's own column cannot be taken
    // for the copies' numbers.
    let taken = |name: &str| {
        join.left.schema().has_column_with_unqualified_name(name)
            || join.right.schema().has_column_with_unqualified_name(name)
    };
    let unused = |base: &str| {
        (0..)
            .map(|n| format!("{base}_{n}"))
            .find(|name| !taken(name))
            .unwrap_or_else(|| base.to_owned())
    };
    let (left_name, right_name) = (unused("causeway_left_copy"), unused("causeway_right_copy"));
    let (left, left_copy) = numbered(join.left, &left_name)?;
    let (right, right_copy) = numbered(join.right, &right_name)?;
    let mut on = join.on;
    on.push((left_copy, right_copy));
    let joined = Join::try_new(
        Arc::new(left),
        Arc::new(right),
        on,
        None,
        join.join_type,
        join.join_constraint,
        join.null_equality,
        join.null_aware,
    )?;
    Ok(LogicalPlan::Projection(Projection::try_new(
        answer,
        Arc::new(LogicalPlan::Join(joined)),
    )?))
}

/// `plan` with each copy of a row numbered 1, 2, ... in a column called `name`.
fn numbered(plan: Arc<LogicalPlan>, name: &str) -> Result<(LogicalPlan, Expr)> {
    let columns: Vec<Expr> = plan.schema().columns().into_iter().map(Expr::Column).collect();
    let copy = row_number().partition_by(columns).build()?.alias(name);
    let plan = LogicalPlanBuilder::from(Arc::unwrap_or_clone(plan))
        .window(vec![copy])?
        .build()?;
    Ok((plan, Expr::Column(Column::from_name(name))))
}
