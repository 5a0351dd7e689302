//! One walk for the rewrites of [`super`] and its modules: every expression of a plan and
//! of its subqueries, with the schema its columns come from, keeping the names the plans
//! above read.

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, GroupingSet, LogicalPlan};

/// The order in which [`rewrite_expressions`] visits an expression's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Children first: a node sees its rewritten operands.
    BottomUp,
    /// The node first: it sees its operands as written, and is typed from them, which is
    /// cheaper when a rewrite turns operators into functions.
    TopDown,
}

/// Rewrites every expression of `plan` and of its subqueries with `rewrite`, which is given
/// the schema the expression's columns come from; an expression that names a column of its
/// plan's output keeps its name, so the plans above read the same schema.
pub(crate) fn rewrite_expressions(
    plan: LogicalPlan,
    order: Order,
    rewrite: impl Fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|plan| {
        let mut schema = merge_schema(&plan.inputs());
        if let LogicalPlan::TableScan(scan) = &plan
            && let Ok(scanned) =
                DFSchema::try_from_qualified_schema(scan.table_name.clone(), &scan.source.schema())
        {
            schema.merge(&scanned);
        }
        let names = NamePreserver::new(&plan);
        let one = |expr: Expr| {
            let name = names.save(&expr);
            let rewritten = match order {
                Order::BottomUp => expr.transform_up(|expr| rewrite(expr, &schema)),
                Order::TopDown => expr.transform_down(|expr| rewrite(expr, &schema)),
            };
            rewritten.map(|rewritten| rewritten.update_data(|expr| name.restore(expr)))
        };
        plan.map_expressions(|expr| match expr {
            // `ROLLUP`, `CUBE`, `GROUPING SETS`: each key keeps its own name, which the plan
            // above reads; the set itself is no column and takes no alias.
            Expr::GroupingSet(set) => {
                let mut transformed = false;
                let mut each = |keys: Vec<Expr>| -> Result<Vec<Expr>> {
                    keys.into_iter()
                        .map(|key| {
                            let key = one(key)?;
                            transformed |= key.transformed;
                            Ok(key.data)
                        })
                        .collect()
                };
                let set = match set {
                    GroupingSet::Rollup(keys) => GroupingSet::Rollup(each(keys)?),
                    GroupingSet::Cube(keys) => GroupingSet::Cube(each(keys)?),
                    GroupingSet::GroupingSets(sets) => {
                        GroupingSet::GroupingSets(sets.into_iter().map(&mut each).collect::<Result<_>>()?)
                    }
                };
                Ok(Transformed::new_transformed(Expr::GroupingSet(set), transformed))
            }
            expr => one(expr),
        })
    })
    .map(|transformed| transformed.data)
}
