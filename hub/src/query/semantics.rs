//! Where DataFusion's answer differs from SQL's (and PostgreSQL's), plans are rewritten to
//! SQL's before they are optimized. Each rewrite is an [`AnalyzerRule`], run after
//! DataFusion's own (type coercion included), so that it sees the types of every expression.
//!
//! * [`NullAwareNotIn`]: `x NOT IN (SELECT y ...)` is false or unknown for every row when
//!   the subquery yields a NULL, and unknown when `x` is NULL and the subquery yields rows;
//!   DataFusion 55 plans it as an anti join that ignores both. The same rule answers
//!   `EXISTS` of an aggregate without `GROUP BY`, which always yields one row, as true.
//! * [`WideIntegerSum`]: `sum` of 64-bit integers is a `decimal(38, 0)`, as PostgreSQL's
//!   `sum(bigint)` is a `numeric`, so that a sum of counts or money never wraps around.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchemaRef, Result};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::{Alias, Exists};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{
    BinaryExpr, Expr, ExprSchemable, Filter, LogicalPlan, LogicalPlanBuilder, Operator, Subquery, cast, lit,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;

/// The type `sum` of 64-bit integers is computed in: every sum of fewer than 10^19 such
/// values fits.
const WIDE_SUM: DataType = DataType::Decimal128(38, 0);

/// Makes `x NOT IN (subquery)` in a filter follow SQL's three-valued logic. As a condition
/// of a filter, where unknown is false, it is
/// `x NOT IN (subquery)` (DataFusion's anti join, which is right when no NULL is involved)
/// `AND NOT EXISTS (subquery rows whose value is NULL)`
/// `AND (x IS NOT NULL OR NOT EXISTS (subquery))`;
/// the added conditions are left out where the types say no NULL can occur.
#[derive(Debug, Default)]
pub(crate) struct NullAwareNotIn;

impl AnalyzerRule for NullAwareNotIn {
    fn name(&self) -> &str {
        "causeway_null_aware_not_in"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| match plan {
            LogicalPlan::Filter(filter) => rewrite_filter(filter),
            other => Ok(Transformed::no(other)),
        })
        .map(|transformed| transformed.data)
    }
}

fn rewrite_filter(filter: Filter) -> Result<Transformed<LogicalPlan>> {
    let Filter { predicate, input, .. } = filter;
    let rewritten = predicate
        .transform_up(|expr| match expr {
            // True or false in any position: the subquery always yields a row.
            Expr::Exists(Exists { subquery, negated }) if yields_one_row(&subquery.subquery) => {
                Ok(Transformed::yes(lit(!negated)))
            }
            other => Ok(Transformed::no(other)),
        })?
        .transform_data(|predicate| positive(predicate, input.schema()))?;
    rewritten.map_data(|predicate| Filter::try_new(predicate, input).map(LogicalPlan::Filter))
}

/// Rewrites each `NOT IN (subquery)` in a positive position of a filter's condition (under
/// `AND` and `OR` only, never under `NOT`), where a condition that is unknown is as good as
/// false.
fn positive(expr: Expr, outer: &DFSchemaRef) -> Result<Transformed<Expr>> {
    match expr {
        Expr::BinaryExpr(binary) if matches!(binary.op, Operator::And | Operator::Or) => {
            let left = positive(*binary.left, outer)?;
            let right = positive(*binary.right, outer)?;
            let transformed = left.transformed || right.transformed;
            let expr = Expr::BinaryExpr(BinaryExpr::new(
                Box::new(left.data),
                binary.op,
                Box::new(right.data),
            ));
            Ok(Transformed::new_transformed(expr, transformed))
        }
        Expr::InSubquery(in_subquery) if in_subquery.negated => {
            let extra = null_conditions(&in_subquery.expr, &in_subquery.subquery, outer)?;
            let original = Expr::InSubquery(in_subquery);
            if extra.is_empty() {
                return Ok(Transformed::no(original));
            }
            let all = std::iter::once(original).chain(extra);
            Ok(Transformed::yes(conjunction(all).unwrap_or_else(|| lit(true))))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// Whether `plan` yields exactly one row whatever its input: an aggregate without
/// `GROUP BY` (`SELECT count(*) FROM t WHERE ...`) under projections and aliases only.
/// DataFusion 55 decorrelates `EXISTS` of such a subquery as if it could be empty.
fn yields_one_row(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Projection(projection) => yields_one_row(&projection.input),
        LogicalPlan::SubqueryAlias(alias) => yields_one_row(&alias.input),
        LogicalPlan::Aggregate(aggregate) => aggregate.group_expr.is_empty(),
        _ => false,
    }
}

/// The conditions that make `expr NOT IN (subquery)` false where a NULL makes it unknown.
fn null_conditions(expr: &Expr, subquery: &Subquery, outer: &DFSchemaRef) -> Result<Vec<Expr>> {
    let inner_schema = subquery.subquery.schema();
    let Some((qualifier, field)) = inner_schema.iter().next() else {
        return Ok(Vec::new());
    };
    let mut conditions = Vec::new();
    if field.is_nullable() {
        let value = Expr::Column(Column::new(qualifier.cloned(), field.name()));
        let nulls = LogicalPlanBuilder::from(subquery.subquery.as_ref().clone())
            .filter(value.is_null())?
            .build()?;
        conditions.push(Expr::Exists(Exists {
            subquery: Subquery {
                subquery: Arc::new(nulls),
                outer_ref_columns: subquery.outer_ref_columns.clone(),
                spans: subquery.spans.clone(),
            },
            negated: true,
        }));
    }
    // An expression whose nullability cannot be told is taken as nullable.
    if expr.nullable(outer.as_ref()).unwrap_or(true) {
        let empty = Expr::Exists(Exists {
            subquery: subquery.clone(),
            negated: true,
        });
        conditions.push(expr.clone().is_not_null().or(empty));
    }
    Ok(conditions)
}

/// Computes `sum` of `Int64` and `UInt64` values as `decimal(38, 0)` (see [`WIDE_SUM`]);
/// the sum keeps its name, so the plan above it reads it as before.
#[derive(Debug, Default)]
pub(crate) struct WideIntegerSum;

impl AnalyzerRule for WideIntegerSum {
    fn name(&self) -> &str {
        "causeway_wide_integer_sum"
    }

    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let rewritten = plan.transform_up_with_subqueries(|plan| {
            let LogicalPlan::Aggregate(aggregate) = &plan else {
                return Ok(Transformed::no(plan));
            };
            let input = Arc::clone(aggregate.input.schema());
            plan.map_expressions(|expr| widen_sum(expr, &input))
        })?;
        if !rewritten.transformed {
            return Ok(rewritten.data);
        }
        // Typing again recomputes every node's schema from the widened sum upwards, and
        // types again what compares or computes with it (`HAVING sum(x) > 1` was typed as
        // a comparison of two Int64).
        TypeCoercion::new().analyze(rewritten.data, config)
    }
}

fn widen_sum(expr: Expr, input: &DFSchemaRef) -> Result<Transformed<Expr>> {
    let aggregate = match &expr {
        Expr::Alias(alias) => alias.expr.as_ref(),
        other => other,
    };
    let Expr::AggregateFunction(function) = aggregate else {
        return Ok(Transformed::no(expr));
    };
    let [argument] = function.params.args.as_slice() else {
        return Ok(Transformed::no(expr));
    };
    if function.func.name() != "sum"
        || !matches!(
            argument.get_type(input.as_ref())?,
            DataType::Int64 | DataType::UInt64
        )
    {
        return Ok(Transformed::no(expr));
    }
    let mut widened = function.clone();
    widened.params.args = vec![cast(argument.clone(), WIDE_SUM)];
    let widened = Expr::AggregateFunction(widened);
    let named = match &expr {
        Expr::Alias(alias) => Expr::Alias(Alias {
            expr: Box::new(widened),
            ..alias.clone()
        }),
        _ => widened.alias(expr.schema_name().to_string()),
    };
    Ok(Transformed::new(named, true, TreeNodeRecursion::Jump))
}
