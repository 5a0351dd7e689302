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
//! Averages over windows, and of decimals of more than 33 digits (where one more digit
//! does not fit), keep DataFusion's truncation (listed in the README).

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::Alias;
use datafusion::logical_expr::{Aggregate, Expr, ExprSchemable, LogicalPlan, Projection, cast};
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
            other => Ok(Transformed::no(other)),
        })
        .map(|transformed| transformed.data)
    }
}

fn round_averages(aggregate: Aggregate) -> Result<Transformed<LogicalPlan>> {
    let input_schema = Arc::clone(aggregate.input.schema());
    let mut rounded = Vec::new();
    let mut aggr_expr = Vec::with_capacity(aggregate.aggr_expr.len());
    for expr in &aggregate.aggr_expr {
        let (call, name) = match expr {
            Expr::Alias(Alias {
                expr: inner, name, ..
            }) => (inner.as_ref(), name.clone()),
            other => (other, other.schema_name().to_string()),
        };
        let finer = match call {
            Expr::AggregateFunction(function)
                if function.func.name() == "avg" && function.params.args.len() == 1 =>
            {
                match function.params.args[0].get_type(input_schema.as_ref())? {
                    DataType::Decimal128(precision, scale) if precision <= 33 && scale <= 33 => {
                        let mut finer = function.clone();
                        finer.params.args = vec![cast(
                            function.params.args[0].clone(),
                            DataType::Decimal128(precision + 1, scale + 1),
                        )];
                        Some((
                            Expr::AggregateFunction(finer),
                            DataType::Decimal128(precision + 4, scale + 4),
                        ))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match finer {
            Some((finer, result)) => {
                rounded.push((name.clone(), result));
                aggr_expr.push(finer.alias(name));
            }
            None => aggr_expr.push(expr.clone()),
        }
    }
    if rounded.is_empty() {
        return Ok(Transformed::no(LogicalPlan::Aggregate(aggregate)));
    }
    let finer = Aggregate::try_new(aggregate.input, aggregate.group_expr, aggr_expr)?;
    let columns = finer
        .schema
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            match rounded.iter().find(|(name, _)| name == field.name()) {
                Some((name, result)) if qualifier.is_none() => cast(column, result.clone()).alias(name),
                _ => column,
            }
        })
        .collect();
    let projection = Projection::try_new(columns, Arc::new(LogicalPlan::Aggregate(finer)))?;
    Ok(Transformed::yes(LogicalPlan::Projection(projection)))
}
