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
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{Column, Result};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::{Alias, Exists, InSubquery};
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
    let outer = Arc::clone(filter.input.schema());
    let predicate = filter.predicate.clone();
    let rewritten = positive(predicate, &outer)?;
    if !rewritten.transformed {
        return Ok(Transformed::no(LogicalPlan::Filter(filter)));
    }
    Ok(Transformed::yes(LogicalPlan::Filter(Filter::try_new(
        rewritten.data,
        filter.input,
    )?)))
}

/// Rewrites each `NOT IN (subquery)` in a positive position of a filter's condition (under
/// `AND` and `OR` only, never under `NOT`), where a condition that is unknown is as good as
/// false, and each `[NOT] EXISTS` of a subquery that always yields one row.
fn positive(expr: Expr, outer: &datafusion::common::DFSchemaRef) -> Result<Transformed<Expr>> {
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
        Expr::InSubquery(InSubquery {
            expr,
            subquery,
            negated: true,
        }) => {
            let extra = null_conditions(&expr, &subquery, outer)?;
            let original = Expr::InSubquery(InSubquery {
                expr,
                subquery,
                negated: true,
            });
            if extra.is_empty() {
                return Ok(Transformed::no(original));
            }
            let all = std::iter::once(original).chain(extra);
            Ok(Transformed::yes(conjunction(all).unwrap_or_else(|| lit(true))))
        }
        Expr::Exists(Exists { subquery, negated }) if yields_one_row(&subquery.subquery) => {
            Ok(Transformed::yes(lit(!negated)))
        }
        Expr::Not(inner) => match *inner {
            Expr::Exists(Exists { subquery, negated }) if yields_one_row(&subquery.subquery) => {
                Ok(Transformed::yes(lit(negated)))
            }
            other => Ok(Transformed::no(Expr::Not(Box::new(other)))),
        },
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
fn null_conditions(
    expr: &Expr,
    subquery: &Subquery,
    outer: &datafusion::common::DFSchemaRef,
) -> Result<Vec<Expr>> {
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
        let mut widened = false;
        let rewritten = plan.transform_up_with_subqueries(|plan| {
            let LogicalPlan::Aggregate(_) = &plan else {
                // Types flow upwards: a node above a widened sum takes its new type.
                return Ok(Transformed::yes(plan.recompute_schema()?));
            };
            let Some(input) = plan.inputs().first().map(|input| Arc::clone(input.schema())) else {
                return Ok(Transformed::no(plan));
            };
            let input_schema = input;
            let rewritten = plan.map_expressions(|expr| widen_sum(expr, &input_schema))?;
            if rewritten.transformed {
                widened = true;
                Ok(Transformed::yes(rewritten.data.recompute_schema()?))
            } else {
                Ok(rewritten)
            }
        })?;
        if !widened {
            return Ok(rewritten.data);
        }
        // What compares or computes with a widened sum was typed for the narrow one
        // (`HAVING sum(x) > 1` compares two Int64): it is typed again.
        TypeCoercion::new().analyze(rewritten.data, config)
    }
}

fn widen_sum(expr: Expr, input: &datafusion::common::DFSchemaRef) -> Result<Transformed<Expr>> {
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
