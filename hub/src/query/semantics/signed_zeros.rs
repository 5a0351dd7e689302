//! `-0.0` and `0.0` as one value, as PostgreSQL holds them (`float8_cmp_internal`).
//!
//! Arrow compares doubles by their total order, where `-0.0 < 0.0` (NaN above everything
//! and equal to itself, as in PostgreSQL). [`SignedZeros`] makes each double that is
//! compared, sorted, grouped, joined, partitioned, counted as distinct or deduplicated
//! `f + 0.0`, which is `0.0` for either zero and `f` otherwise.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::Alias;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    Aggregate, BinaryExpr, Distinct, Expr, ExprSchemable, LogicalPlan, Operator, Projection, Window, lit,
};
use datafusion::optimizer::AnalyzerRule;

use super::is_comparison;
use super::rewrite::{Order, rewrite_expressions};

/// Makes `-0.0` and `0.0` one value wherever doubles are compared, sorted, grouped,
/// joined, partitioned, counted as distinct or deduplicated (see the module's
/// documentation). A comparison with a literal that is not zero is left alone: both zeros
/// compare alike with it, and such a filter can still be pushed to a database.
#[derive(Debug, Default)]
pub(crate) struct SignedZeros;

impl AnalyzerRule for SignedZeros {
    fn name(&self) -> &str {
        "causeway_signed_zeros"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let plan = rewrite_expressions(plan, Order::BottomUp, |expr, schema| {
            Ok(zeros_compared_equal(expr, schema))
        })?;
        plan.transform_up_with_subqueries(|plan| {
            let floating =
                |expr: &Expr, schema: &DFSchema| expr.get_type(schema).is_ok_and(|t| t.is_floating());
            Ok(match plan {
                LogicalPlan::Sort(mut sort) => {
                    let schema = Arc::clone(sort.input.schema());
                    let mut changed = false;
                    for key in &mut sort.expr {
                        if floating(&key.expr, &schema) {
                            key.expr = one_zero(key.expr.clone(), &schema);
                            changed = true;
                        }
                    }
                    Transformed::new_transformed(LogicalPlan::Sort(sort), changed)
                }
                LogicalPlan::Join(mut join) => {
                    let (left, right) = (Arc::clone(join.left.schema()), Arc::clone(join.right.schema()));
                    let mut changed = false;
                    for (left_key, right_key) in &mut join.on {
                        if floating(left_key, &left) && floating(right_key, &right) {
                            *left_key = one_zero(left_key.clone(), &left);
                            *right_key = one_zero(right_key.clone(), &right);
                            changed = true;
                        }
                    }
                    Transformed::new_transformed(LogicalPlan::Join(join), changed)
                }
                // Grouped by doubles, or aggregating distinct ones (`count(DISTINCT f)`).
                LogicalPlan::Aggregate(aggregate)
                    if aggregate
                        .group_expr
                        .iter()
                        .any(|key| floating(key, aggregate.input.schema()))
                        || aggregate
                            .aggr_expr
                            .iter()
                            .any(|call| distinct_of_doubles(call, aggregate.input.schema())) =>
                {
                    let names = NamePreserver::new_for_projection();
                    let schema = Arc::clone(aggregate.input.schema());
                    let keys = aggregate
                        .group_expr
                        .into_iter()
                        .map(|key| {
                            if matches!(key, Expr::GroupingSet(_)) || !floating(&key, &schema) {
                                return key;
                            }
                            let name = names.save(&key);
                            name.restore(one_zero(key, &schema))
                        })
                        .collect();
                    let calls =
                        zeroed_calls(
                            aggregate.aggr_expr,
                            &schema,
                            distinct_of_doubles,
                            |call| match call {
                                Expr::AggregateFunction(mut function) => {
                                    function.params.args = function
                                        .params
                                        .args
                                        .into_iter()
                                        .map(|arg| one_zero(arg, &schema))
                                        .collect();
                                    Expr::AggregateFunction(function)
                                }
                                other => other,
                            },
                        );
                    Transformed::yes(LogicalPlan::Aggregate(Aggregate::try_new(
                        aggregate.input,
                        keys,
                        calls,
                    )?))
                }
                // `OVER (PARTITION BY f)`: one partition for both zeros.
                LogicalPlan::Window(window)
                    if window
                        .window_expr
                        .iter()
                        .any(|call| partitioned_by_doubles(call, window.input.schema())) =>
                {
                    let schema = Arc::clone(window.input.schema());
                    let calls =
                        zeroed_calls(
                            window.window_expr,
                            &schema,
                            partitioned_by_doubles,
                            |call| match call {
                                Expr::WindowFunction(mut function) => {
                                    function.params.partition_by = function
                                        .params
                                        .partition_by
                                        .into_iter()
                                        .map(|key| one_zero(key, &schema))
                                        .collect();
                                    Expr::WindowFunction(function)
                                }
                                other => other,
                            },
                        );
                    Transformed::yes(LogicalPlan::Window(Window::try_new(calls, window.input)?))
                }
                // `SELECT DISTINCT` and `UNION`: one row for both zeros.
                LogicalPlan::Distinct(Distinct::All(input))
                    if input
                        .schema()
                        .fields()
                        .iter()
                        .any(|field| field.data_type().is_floating()) =>
                {
                    let schema = Arc::clone(input.schema());
                    let columns = schema
                        .iter()
                        .map(|(qualifier, field)| {
                            let column = Expr::Column(datafusion::common::Column::new(
                                qualifier.cloned(),
                                field.name(),
                            ));
                            if field.data_type().is_floating() {
                                one_zero(column, &schema).alias_qualified(qualifier.cloned(), field.name())
                            } else {
                                column
                            }
                        })
                        .collect();
                    let zeroed = Projection::try_new(columns, input)?;
                    Transformed::yes(LogicalPlan::Distinct(Distinct::All(Arc::new(
                        LogicalPlan::Projection(zeroed),
                    ))))
                }
                other => Transformed::no(other),
            })
        })
        .map(|transformed| transformed.data)
    }
}

/// `calls` with each that is `picked` rewritten by `zeroed`, named as before (the plan
/// above reads it by its name).
fn zeroed_calls(
    calls: Vec<Expr>,
    schema: &DFSchema,
    picked: fn(&Expr, &DFSchema) -> bool,
    zeroed: impl Fn(Expr) -> Expr,
) -> Vec<Expr> {
    calls
        .into_iter()
        .map(|call| {
            if !picked(&call, schema) {
                return call;
            }
            match call {
                Expr::Alias(Alias { expr, name, .. }) => zeroed(*expr).alias(name),
                other => {
                    let name = other.schema_name().to_string();
                    zeroed(other).alias(name)
                }
            }
        })
        .collect()
}

/// Whether `call` aggregates distinct doubles (`count(DISTINCT f)`).
fn distinct_of_doubles(call: &Expr, schema: &DFSchema) -> bool {
    let call = match call {
        Expr::Alias(alias) => alias.expr.as_ref(),
        other => other,
    };
    matches!(call, Expr::AggregateFunction(function)
        if function.params.distinct
            && function.params.args.iter().any(|arg| arg.get_type(schema).is_ok_and(|t| t.is_floating())))
}

/// Whether `call` is a window partitioned by a double.
fn partitioned_by_doubles(call: &Expr, schema: &DFSchema) -> bool {
    let call = match call {
        Expr::Alias(alias) => alias.expr.as_ref(),
        other => other,
    };
    matches!(call, Expr::WindowFunction(function)
        if function.params.partition_by.iter().any(|key| key.get_type(schema).is_ok_and(|t| t.is_floating())))
}

fn zeros_compared_equal(expr: Expr, schema: &DFSchema) -> Transformed<Expr> {
    let floating = |expr: &Expr| expr.get_type(schema).is_ok_and(|t| t.is_floating());
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_comparison(op) => {
            if !(floating(&left) && floating(&right)) || not_zero(&left) || not_zero(&right) {
                return Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right }));
            }
            Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                Box::new(one_zero(*left, schema)),
                op,
                Box::new(one_zero(*right, schema)),
            )))
        }
        Expr::InList(mut in_list) if floating(&in_list.expr) && !in_list.list.iter().all(not_zero) => {
            in_list.expr = Box::new(one_zero(*in_list.expr, schema));
            in_list.list = in_list
                .list
                .into_iter()
                .map(|item| one_zero(item, schema))
                .collect();
            Transformed::yes(Expr::InList(in_list))
        }
        Expr::Between(mut between)
            if floating(&between.expr) && !(not_zero(&between.low) && not_zero(&between.high)) =>
        {
            between.expr = Box::new(one_zero(*between.expr, schema));
            between.low = Box::new(one_zero(*between.low, schema));
            between.high = Box::new(one_zero(*between.high, schema));
            Transformed::yes(Expr::Between(between))
        }
        other => Transformed::no(other),
    }
}

/// Whether `expr` is a constant other than a zero (NULL and NaN included), perhaps cast:
/// both zeros compare alike with it.
fn not_zero(expr: &Expr) -> bool {
    match expr {
        Expr::Literal(value, _) => match value.cast_to(&DataType::Float64) {
            Ok(ScalarValue::Float64(Some(number))) => number != 0.0,
            Ok(ScalarValue::Float64(None)) => true,
            _ => false,
        },
        Expr::Cast(cast) => not_zero(&cast.expr),
        Expr::TryCast(cast) => not_zero(&cast.expr),
        _ => false,
    }
}

/// `expr + 0.0`: `0.0` for either zero, `expr` for every other double (NaN and the
/// infinities included).
fn one_zero(expr: Expr, schema: &DFSchema) -> Expr {
    let zero = match expr.get_type(schema) {
        Ok(DataType::Float32) => lit(0.0_f32),
        Ok(DataType::Float64) => lit(0.0_f64),
        _ => return expr,
    };
    Expr::BinaryExpr(BinaryExpr::new(Box::new(expr), Operator::Plus, Box::new(zero)))
}
