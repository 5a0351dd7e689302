//! `avg` of decimals rounded, not truncated.
//!
//! DataFusion 55 gives `avg` of a `decimal(p, s)` the type `decimal(p + 4, s + 4)` and
//! truncates the quotient to it (`avg` of 1, 1 and 0 at scale 0 is `0.6666`). PostgreSQL's
//! `avg(numeric)` is the quotient rounded half away from zero at its (larger) scale, so the
//! hub's last digit was one too small in half the cases. [`RoundedDecimalAverage`] computes
//! the average one digit further (of the argument cast to `decimal(p + 1, s + 1)`, where
//! truncation is harmless: the digit it keeps decides the rounding) and casts the result
//! back to `decimal(p + 4, s + 4)` in a projection over the aggregate, a cast that rounds
//! half away from zero. The projection keeps every column's name and type, so the plan
//! above reads the same schema.
//!
//! Averages over windows (`avg(x) OVER (...)`, the same aggregate) are rounded the same
//! way, with the projection over the window. Averages of decimals of more than 33 digits
//! (where one more digit does not fit) keep DataFusion's truncation (listed in the README).

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, Result};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::Alias;
use datafusion::logical_expr::{
    Aggregate, Expr, ExprSchemable, LogicalPlan, Projection, Window, WindowFunctionDefinition, cast,
};
use datafusion::optimizer::AnalyzerRule;

/// Rounds `avg` of decimals (see the module's documentation). Runs after type coercion.
#[derive(Debug, Default)]
pub(crate) struct RoundedDecimalAverage;

impl AnalyzerRule for RoundedDecimalAverage {
    fn name(&self) -> &str {
        "causeway_rounded_decimal_average"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| match plan {
            LogicalPlan::Aggregate(aggregate) => round_averages(aggregate),
            LogicalPlan::Window(window) => round_window_averages(window),
            other => Ok(Transformed::no(other)),
        })
        .map(|transformed| transformed.data)
    }
}

/// The call and its output's name: an aliased expression's alias, else its schema name.
fn named(expr: &Expr) -> (&Expr, String) {
    match expr {
        Expr::Alias(Alias {
            expr: inner, name, ..
        }) => (inner.as_ref(), name.clone()),
        other => (other, other.schema_name().to_string()),
    }
}

/// `avg` of a decimal of at most 33 digits computed one digit further, and the type its
/// result is cast back to; `None` for any other call.
fn finer_average(call: &Expr, input: &DFSchema) -> Result<Option<(Expr, DataType)>> {
    let finer_of = |args: &[Expr]| -> Result<Option<(Vec<Expr>, DataType)>> {
        let [argument] = args else {
            return Ok(None);
        };
        Ok(match argument.get_type(input)? {
            DataType::Decimal128(precision, scale) if precision <= 33 && scale <= 33 => Some((
                vec![cast(
                    argument.clone(),
                    DataType::Decimal128(precision + 1, scale + 1),
                )],
                DataType::Decimal128(precision + 4, scale + 4),
            )),
            _ => None,
        })
    };
    Ok(match call {
        Expr::AggregateFunction(function) if function.func.name() == "avg" => {
            finer_of(&function.params.args)?.map(|(args, result)| {
                let mut finer = function.clone();
                finer.params.args = args;
                (Expr::AggregateFunction(finer), result)
            })
        }
        // `avg(x) OVER (...)` is the same aggregate, computed over a window.
        Expr::WindowFunction(function) if matches!(&function.fun, WindowFunctionDefinition::AggregateUDF(udf) if udf.name() == "avg") => {
            finer_of(&function.params.args)?.map(|(args, result)| {
                let mut finer = function.as_ref().clone();
                finer.params.args = args;
                (Expr::WindowFunction(Box::new(finer)), result)
            })
        }
        _ => None,
    })
}

/// `exprs` with each decimal `avg` made finer and named as before, and the names and types
/// of those to round back.
/// The name of an average's output and the type it is rounded back to.
type Rounded = (String, DataType);

fn finer_averages(exprs: &[Expr], input: &DFSchema) -> Result<(Vec<Expr>, Vec<Rounded>)> {
    let mut rounded = Vec::new();
    let mut finer_exprs = Vec::with_capacity(exprs.len());
    for expr in exprs {
        let (call, name) = named(expr);
        match finer_average(call, input)? {
            Some((finer, result)) => {
                finer_exprs.push(finer.alias(name.clone()));
                rounded.push((name, result));
            }
            None => finer_exprs.push(expr.clone()),
        }
    }
    Ok((finer_exprs, rounded))
}

/// A projection over `plan` that casts each of the `rounded` columns back to its type,
/// rounding, and passes every other column as it is.
fn rounded_back(plan: LogicalPlan, rounded: &[Rounded]) -> Result<Transformed<LogicalPlan>> {
    let columns = plan
        .schema()
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            match rounded.iter().find(|(name, _)| name == field.name()) {
                Some((name, result)) if qualifier.is_none() => cast(column, result.clone()).alias(name),
                _ => column,
            }
        })
        .collect();
    let projection = Projection::try_new(columns, Arc::new(plan))?;
    Ok(Transformed::yes(LogicalPlan::Projection(projection)))
}

fn round_averages(aggregate: Aggregate) -> Result<Transformed<LogicalPlan>> {
    let (aggr_expr, rounded) = finer_averages(&aggregate.aggr_expr, aggregate.input.schema())?;
    if rounded.is_empty() {
        return Ok(Transformed::no(LogicalPlan::Aggregate(aggregate)));
    }
    let finer = Aggregate::try_new(aggregate.input, aggregate.group_expr, aggr_expr)?;
    rounded_back(LogicalPlan::Aggregate(finer), &rounded)
}

fn round_window_averages(window: Window) -> Result<Transformed<LogicalPlan>> {
    let (window_expr, rounded) = finer_averages(&window.window_expr, window.input.schema())?;
    if rounded.is_empty() {
        return Ok(Transformed::no(LogicalPlan::Window(window)));
    }
    let finer = Window::try_new(window_expr, window.input)?;
    rounded_back(LogicalPlan::Window(finer), &rounded)
}
