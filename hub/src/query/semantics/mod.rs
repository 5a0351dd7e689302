//! Where DataFusion's answer differs from SQL's (and PostgreSQL's), plans are rewritten to
//! SQL's before they are optimized. Each rewrite is an [`AnalyzerRule`], run after
//! DataFusion's own (type coercion included), so that it sees the types of every expression,
//! but for [`MixedNumbers`], which decides a type before coercion does.
//!
//! * [`NullAwareNotIn`]: `x NOT IN (SELECT y ...)` is false or unknown for every row when
//!   the subquery yields a NULL, and unknown when `x` is NULL and the subquery yields rows;
//!   DataFusion 55 plans it as an anti join that ignores both, and fails on a correlated
//!   subquery, which is answered as a `NOT EXISTS` of the rows that could match. The same
//!   rule answers
//!   `EXISTS` of an aggregate without `GROUP BY`, which always yields one row, as true.
//! * [`MixedNumbers`] (before type coercion): a decimal compared or combined with a double
//!   is cast to a double, as in PostgreSQL, not the double to a decimal; decimals whose
//!   common type needs more than 38 digits are compared as 256-bit decimals.
//! * [`ValuesWithSubqueries`]: `VALUES` rows holding subqueries are answered as `SELECT`s.
//! * [`bag_operations::BagOperations`]: `INTERSECT ALL` and `EXCEPT ALL` keep `min(m, n)` and
//!   `m - n` copies of a row.
//! * [`scalar_subqueries::NullableScalarSubqueries`]: a scalar subquery that finds no row
//!   is NULL, over a column declared non-nullable too.
//! * [`WideIntegerSum`]: `sum` of 64-bit integers, grouped or over a window, is a
//!   `decimal(38, 0)`, as PostgreSQL's `sum(bigint)` is a `numeric`, and of decimals of more
//!   than 28 digits a `decimal(76, s)`, so that a sum of counts or money never wraps around.
//!
//! A division guarded by its neighbour (`d <> 0 AND n / d > 1`) does not fail on the rows
//! the guard excludes ([`guarded_divisions`]).
//!
//! Arithmetic that overflows fails instead of wrapping ([`checked`]), double
//! precision arithmetic and functions fail where PostgreSQL's do ([`floats`]); `-0.0`
//! equals `0.0` ([`signed_zeros`]); casts to integers and `round` of a double round as PostgreSQL does
//! ([`rounding`]); `avg` of decimals rounds ([`decimal_average`]); dates
//! become timestamps of any year ([`wide_timestamps`]); doubles and intervals are
//! written as text as PostgreSQL writes them ([`value_text`]); `LIKE ... ESCAPE`,
//! date/time templates, `to_hex` and `concat` read their arguments as PostgreSQL does
//! ([`postgres_functions`]).

mod bag_operations;
mod case_mapping;
mod chains;
mod checked;
mod decimal_average;
mod floats;
mod guarded_divisions;
mod postgres_functions;
mod rewrite;
mod rounding;
mod scalar_subqueries;
mod signed_zeros;
mod value_text;
mod wide_timestamps;

pub(crate) use case_mapping::case_mappings;

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, DFSchemaRef, ExprSchema, Result, plan_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::{Alias, Exists, InSubquery};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{
    BinaryExpr, Expr, ExprSchemable, Filter, LogicalPlan, LogicalPlanBuilder, Operator, Subquery,
    WindowFunctionDefinition, cast, lit,
};
use datafusion::optimizer::AnalyzerRule;

use datafusion::optimizer::analyzer::resolve_grouping_function::ResolveGroupingFunction;
use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;
use rewrite::{Order, rewrite_expressions};

/// Every analyzer rule of a query, in order: DataFusion's own, with [`MixedNumbers`]
/// just before type coercion, then the rewrites that need settled types.
pub(crate) fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    vec![
        Arc::new(ResolveGroupingFunction::new()),
        Arc::new(MixedNumbers),
        Arc::new(floats::IntegerPowers),
        Arc::new(wide_timestamps::WideTimestamps),
        Arc::new(TypeCoercion::new()),
        Arc::new(ValuesWithSubqueries),
        Arc::new(bag_operations::BagOperations),
        Arc::new(scalar_subqueries::NullableScalarSubqueries),
        Arc::new(NullAwareNotIn),
        Arc::new(WideIntegerSum),
        Arc::new(decimal_average::RoundedDecimalAverage),
        Arc::new(rounding::PostgresRounding),
        Arc::new(guarded_divisions::GuardedDivisions),
        Arc::new(checked::CheckedArithmetic),
        Arc::new(floats::FloatErrors),
        Arc::new(signed_zeros::SignedZeros),
        Arc::new(value_text::PostgresText),
        Arc::new(postgres_functions::PostgresFunctions),
    ]
}

/// Whether `op` compares its operands: `=`, `<>`, `<`, `<=`, `>`, `>=`, `IS [NOT] DISTINCT
/// FROM`.
fn is_comparison(op: Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

/// The type a `sum` of `argument`s is computed in, where DataFusion's own would overflow
/// silently: 64-bit integers as `decimal(38, 0)` (every sum of fewer than 10^19 of them
/// fits), and decimals of more than 28 digits, whose sum DataFusion keeps in 38, as
/// `decimal(76, s)`, as PostgreSQL's `numeric` sum has the digits it needs.
fn wide_sum(argument: &DataType) -> Option<DataType> {
    match argument {
        DataType::Int64 | DataType::UInt64 => Some(DataType::Decimal128(38, 0)),
        DataType::Decimal128(precision, scale) if *precision > 28 => Some(DataType::Decimal256(76, *scale)),
        _ => None,
    }
}

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
        // Correlated: DataFusion 55's null-aware anti join takes the compared value as its
        // only key, and fails on the correlation's keys.
        Expr::InSubquery(in_subquery)
            if in_subquery.negated && !in_subquery.subquery.outer_ref_columns.is_empty() =>
        {
            match correlated_not_in(&in_subquery, outer)? {
                Some(rewritten) => Ok(Transformed::yes(rewritten)),
                None => Ok(Transformed::no(Expr::InSubquery(in_subquery))),
            }
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

/// `x NOT IN (correlated subquery)` as a condition of a filter, where unknown is as good as
/// false: `NOT EXISTS (SELECT * FROM (subquery) WHERE y = x OR y IS NULL OR x IS NULL)`. A
/// row is kept only when no row of the subquery equals its value or could (a NULL on
/// either side), and always when the subquery has no rows. `None` when the compared value
/// names a column the filter's input does not have (left as it is).
fn correlated_not_in(in_subquery: &InSubquery, outer: &DFSchemaRef) -> Result<Option<Expr>> {
    let subquery = &in_subquery.subquery;
    let Some((qualifier, field)) = subquery.subquery.schema().iter().next() else {
        return Ok(None);
    };
    let value = Expr::Column(Column::new(qualifier.cloned(), field.name()));
    // The compared value as the subquery sees it: each of its columns an outer reference.
    let mut references = Vec::new();
    let mut unknown = false;
    let outside = in_subquery
        .expr
        .as_ref()
        .clone()
        .transform(|expr| match expr {
            Expr::Column(column) => {
                match ExprSchema::field_from_column(outer.as_ref(), &column).map(Arc::clone) {
                    Ok(field) => {
                        let reference = Expr::OuterReferenceColumn(field, column);
                        references.push(reference.clone());
                        Ok(Transformed::yes(reference))
                    }
                    Err(_) => {
                        unknown = true;
                        Ok(Transformed::no(Expr::Column(column)))
                    }
                }
            }
            other => Ok(Transformed::no(other)),
        })?
        .data;
    if unknown {
        return Ok(None);
    }
    let could_match = value
        .clone()
        .eq(outside.clone())
        .or(value.is_null())
        .or(outside.is_null());
    let matches = LogicalPlanBuilder::from(subquery.subquery.as_ref().clone())
        .filter(could_match)?
        .build()?;
    let mut outer_ref_columns = subquery.outer_ref_columns.clone();
    outer_ref_columns.extend(references);
    Ok(Some(Expr::Exists(Exists {
        subquery: Subquery {
            subquery: Arc::new(matches),
            outer_ref_columns,
            spans: subquery.spans.clone(),
        },
        negated: true,
    })))
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

/// Compares numbers of different kinds as PostgreSQL does, where DataFusion 55's type
/// coercion would fail or round:
///
/// * a decimal meeting a double is cast to a double (PostgreSQL casts a `numeric` to
///   `double precision`); DataFusion casts the double to a decimal instead, which fails on
///   NaN, the infinities and doubles beyond the decimal's range (`reading > 1.5` over a
///   column holding `Infinity`), and rounds small ones to zero;
/// * decimals whose common type needs more than 38 digits (`decimal(38, 10)` against
///   `10000000000000000000000000000`) are compared as 256-bit decimals; DataFusion caps
///   the common type at 38 digits and fails to cast one side to it.
///
/// Runs *before* type coercion, which would otherwise choose the type.
#[derive(Debug, Default)]
pub(crate) struct MixedNumbers;

impl AnalyzerRule for MixedNumbers {
    fn name(&self) -> &str {
        "causeway_mixed_numbers"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, Order::BottomUp, comparable)
    }
}

/// How an operand takes part in a comparison of mixed numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Double,
    /// A 128-bit decimal's precision and scale.
    Decimal(u8, i8),
    /// An integer, as the digits of the decimal it is compared as.
    Integer(u8),
    Other,
}

/// The operands of a comparison, `IN` list, `BETWEEN`, `CASE` or `COALESCE`-like call, each
/// cast as [`MixedNumbers`] says where they mix.
fn comparable(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let number = |expr: &Expr| match expr.get_type(schema) {
        Ok(t) if t.is_floating() => Number::Double,
        Ok(DataType::Decimal128(precision, scale)) => Number::Decimal(precision, scale),
        Ok(DataType::Int8 | DataType::UInt8) => Number::Integer(3),
        Ok(DataType::Int16 | DataType::UInt16) => Number::Integer(5),
        Ok(DataType::Int32 | DataType::UInt32) => Number::Integer(10),
        Ok(DataType::Int64 | DataType::UInt64) => Number::Integer(20),
        _ => Number::Other,
    };
    // What the operands are cast to, if they mix: a double, or a 256-bit decimal.
    let target = |operands: &[&Expr]| -> Option<bool> {
        let numbers: Vec<Number> = operands.iter().map(|operand| number(operand)).collect();
        if !numbers.iter().any(|number| matches!(number, Number::Decimal(..))) {
            return None;
        }
        let decimals = numbers.iter().filter_map(|number| match number {
            Number::Decimal(precision, scale) => Some((*precision, *scale)),
            Number::Integer(digits) => Some((*digits, 0)),
            _ => None,
        });
        let (integer_digits, scale) = decimals.fold((None::<i16>, 0_i16), |(digits, scale), (p, s)| {
            let own = i16::from(p) - i16::from(s);
            (
                Some(digits.map_or(own, |digits| digits.max(own))),
                scale.max(i16::from(s)),
            )
        });
        let integer_digits = integer_digits?;
        if numbers.contains(&Number::Double) {
            Some(true)
        } else {
            (integer_digits + scale > 38).then_some(false)
        }
    };
    let convert = |operand: Expr, to_double: bool| match number(&operand) {
        Number::Decimal(..) if to_double => cast(operand, DataType::Float64),
        Number::Decimal(precision, scale) => cast(operand, DataType::Decimal256(precision, scale)),
        _ => operand,
    };
    Ok(match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_comparison(op) => {
            let Some(to_double) = target(&[left.as_ref(), right.as_ref()]) else {
                return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })));
            };
            Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                Box::new(convert(*left, to_double)),
                op,
                Box::new(convert(*right, to_double)),
            )))
        }
        Expr::InList(mut in_list) => {
            let operands: Vec<&Expr> = std::iter::once(in_list.expr.as_ref())
                .chain(&in_list.list)
                .collect();
            let Some(to_double) = target(&operands) else {
                return Ok(Transformed::no(Expr::InList(in_list)));
            };
            in_list.expr = Box::new(convert(*in_list.expr, to_double));
            in_list.list = in_list
                .list
                .into_iter()
                .map(|item| convert(item, to_double))
                .collect();
            Transformed::yes(Expr::InList(in_list))
        }
        Expr::Between(mut between) => {
            let Some(to_double) =
                target(&[between.expr.as_ref(), between.low.as_ref(), between.high.as_ref()])
            else {
                return Ok(Transformed::no(Expr::Between(between)));
            };
            between.expr = Box::new(convert(*between.expr, to_double));
            between.low = Box::new(convert(*between.low, to_double));
            between.high = Box::new(convert(*between.high, to_double));
            Transformed::yes(Expr::Between(between))
        }
        Expr::Case(mut case) => {
            let values: Vec<&Expr> = case
                .when_then_expr
                .iter()
                .map(|(_, then)| then.as_ref())
                .chain(case.else_expr.as_deref())
                .collect();
            let Some(to_double) = target(&values) else {
                return Ok(Transformed::no(Expr::Case(case)));
            };
            case.when_then_expr = case
                .when_then_expr
                .into_iter()
                .map(|(when, then)| (when, Box::new(convert(*then, to_double))))
                .collect();
            case.else_expr = case.else_expr.map(|value| Box::new(convert(*value, to_double)));
            Transformed::yes(Expr::Case(case))
        }
        Expr::ScalarFunction(mut call)
            if matches!(call.name(), "coalesce" | "nullif" | "greatest" | "least") =>
        {
            let Some(to_double) = target(&call.args.iter().collect::<Vec<_>>()) else {
                return Ok(Transformed::no(Expr::ScalarFunction(call)));
            };
            call.args = call.args.into_iter().map(|arg| convert(arg, to_double)).collect();
            Transformed::yes(Expr::ScalarFunction(call))
        }
        other => Transformed::no(other),
    })
}

/// Answers `VALUES` rows that hold a subquery (`VALUES ((SELECT count(*) FROM t))`) as the
/// equivalent `SELECT`s, one per row, joined by `UNION ALL`. DataFusion 55 evaluates the
/// expressions of `VALUES` when it plans them, before any subquery has run, and fails;
/// the subqueries of a `SELECT` list are planned as joins. Each value is cast to its
/// column's type and named as its column, so the plan above reads the same schema.
#[derive(Debug, Default)]
pub(crate) struct ValuesWithSubqueries;

impl AnalyzerRule for ValuesWithSubqueries {
    fn name(&self) -> &str {
        "causeway_values_with_subqueries"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| match plan {
            LogicalPlan::Values(values) if values.values.iter().flatten().any(holds_subquery) => {
                let schema = values.schema;
                let mut rows = values.values.into_iter().map(|row| {
                    let named = row
                        .into_iter()
                        .zip(schema.fields())
                        .map(|(value, field)| cast(value, field.data_type().clone()).alias(field.name()));
                    LogicalPlanBuilder::empty(true).project(named)
                });
                let Some(first) = rows.next() else {
                    return plan_err!("VALUES without rows");
                };
                let mut union = first?;
                for row in rows {
                    union = union.union(row?.build()?)?;
                }
                union.build().map(Transformed::yes)
            }
            other => Ok(Transformed::no(other)),
        })
        .map(|transformed| transformed.data)
    }
}

fn holds_subquery(expr: &Expr) -> bool {
    expr.exists(|inner| {
        Ok(matches!(
            inner,
            Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_)
        ))
    })
    .unwrap_or(true)
}

/// Computes `sum` of `Int64` and `UInt64` values as `decimal(38, 0)`, and of decimals of
/// more than 28 digits as `decimal(76, s)` (see [`wide_sum`]);
/// the sum keeps its name, so the plan above it reads it as before.
#[derive(Debug, Default)]
pub(crate) struct WideIntegerSum;

impl AnalyzerRule for WideIntegerSum {
    fn name(&self) -> &str {
        "causeway_wide_integer_sum"
    }

    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let rewritten = plan.transform_up_with_subqueries(|plan| {
            let input = match &plan {
                LogicalPlan::Aggregate(aggregate) => Arc::clone(aggregate.input.schema()),
                LogicalPlan::Window(window) => Arc::clone(window.input.schema()),
                _ => return Ok(Transformed::no(plan)),
            };
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
    let call = match &expr {
        Expr::Alias(alias) => alias.expr.as_ref(),
        other => other,
    };
    // The type to sum the one argument of a `sum` in, where DataFusion's could overflow.
    let wider = |name: &str, args: &[Expr]| -> Result<Option<DataType>> {
        let [argument] = args else {
            return Ok(None);
        };
        if name != "sum" {
            return Ok(None);
        }
        Ok(wide_sum(&argument.get_type(input.as_ref())?))
    };
    let widen = |args: Vec<Expr>, to: &DataType| args.into_iter().map(|arg| cast(arg, to.clone())).collect();
    let widened = match call {
        Expr::AggregateFunction(function) => {
            let Some(to) = wider(function.func.name(), &function.params.args)? else {
                return Ok(Transformed::no(expr));
            };
            let mut widened = function.clone();
            widened.params.args = widen(widened.params.args, &to);
            Expr::AggregateFunction(widened)
        }
        // `sum(x) OVER (...)` is the same aggregate, computed over a window.
        Expr::WindowFunction(function)
            if matches!(&function.fun, WindowFunctionDefinition::AggregateUDF(_)) =>
        {
            let Some(to) = wider(function.fun.name(), &function.params.args)? else {
                return Ok(Transformed::no(expr));
            };
            let mut widened = function.as_ref().clone();
            widened.params.args = widen(widened.params.args, &to);
            Expr::WindowFunction(Box::new(widened))
        }
        _ => return Ok(Transformed::no(expr)),
    };
    let named = match &expr {
        Expr::Alias(alias) => Expr::Alias(Alias {
            expr: Box::new(widened),
            ..alias.clone()
        }),
        _ => widened.alias(expr.schema_name().to_string()),
    };
    Ok(Transformed::new(named, true, TreeNodeRecursion::Jump))
}
