//! Rounding as PostgreSQL rounds.
//!
//! DataFusion 55 truncates when it casts a decimal or a double to an integer
//! (`CAST(2.5 AS int)` is 2, `CAST(-7.5 AS int)` is -7), and rounds a double's halves away
//! from zero in `round(x)`. PostgreSQL rounds a `numeric` to the nearest integer with
//! halves away from zero (`numeric_int4`: 2.5 is 3, -7.5 is -8), and a `double precision`
//! to the nearest with halves to even (`rint`: 2.5 is 2, 3.5 is 4), in its casts and in
//! `round(double precision)`. [`PostgresRounding`] puts [`round_to_integer`] under each
//! such cast, and in place of `round` of one double. A cast of a decimal to a smaller scale
//! (`CAST(d AS numeric(12, 0))`) rounds as PostgreSQL's does, but DataFusion's simplifier
//! compares it with a literal as if it kept every value (`d = 103.00`); the decimal is
//! rounded to the cast's scale first, which makes that comparison right.

use std::sync::Arc;

use super::rewrite::{Order, rewrite_expressions};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float32Type, Float64Type};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::{Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::optimizer::AnalyzerRule;

/// Rounds before every cast of a decimal or a double to an integer, and rounds `round` of
/// one double half to even (see the module's documentation).
#[derive(Debug, Default)]
pub(crate) struct PostgresRounding;

impl AnalyzerRule for PostgresRounding {
    fn name(&self) -> &str {
        "causeway_postgres_rounding"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, Order::BottomUp, round)
    }
}

fn round(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    // The digits a cast's operand is rounded to first: none (an integer) when a double or a
    // decimal is cast to an integer type; the cast's scale when a decimal is cast to a
    // smaller one, because DataFusion reads `CAST(d AS numeric(12, 0)) = 103` as
    // `d = 103.00`, as if the cast kept every value (its unwrap-cast simplification).
    let digits = |operand: &Expr, target: &DataType| match (operand.get_type(schema).ok()?, target) {
        (from, to) if to.is_integer() && (from.is_floating() || matches!(from, DataType::Decimal128(..))) => {
            Some(0)
        }
        (DataType::Decimal128(_, from), DataType::Decimal128(_, to)) if from > *to && *to >= 0 => Some(*to),
        _ => None,
    };
    let rounded = |operand: Expr, digits: i8| {
        Box::new(Expr::ScalarFunction(ScalarFunction::new_udf(
            round_to_scale(digits),
            vec![operand],
        )))
    };
    Ok(match expr {
        Expr::Cast(Cast { expr, field }) => match digits(&expr, field.data_type()) {
            Some(digits) => Transformed::yes(Expr::Cast(Cast {
                expr: rounded(*expr, digits),
                field,
            })),
            None => Transformed::no(Expr::Cast(Cast { expr, field })),
        },
        Expr::TryCast(TryCast { expr, field }) => match digits(&expr, field.data_type()) {
            Some(digits) => Transformed::yes(Expr::TryCast(TryCast {
                expr: rounded(*expr, digits),
                field,
            })),
            None => Transformed::no(Expr::TryCast(TryCast { expr, field })),
        },
        Expr::ScalarFunction(call)
            if call.name() == "round"
                && matches!(call.args.as_slice(), [operand] if operand.get_type(schema).is_ok_and(|t| t.is_floating())) =>
        {
            Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(
                round_to_integer(),
                call.args,
            )))
        }
        other => Transformed::no(other),
    })
}

/// The nearest integer of a double (halves to even) or a decimal (halves away from zero),
/// of the operand's own type.
pub(crate) fn round_to_integer() -> Arc<ScalarUDF> {
    round_to_scale(0)
}

/// A decimal rounded to `digits` after the point (halves away from zero, as PostgreSQL's
/// `numeric` rounds), of the operand's own type; a double to an integer when `digits` is 0.
fn round_to_scale(digits: i8) -> Arc<ScalarUDF> {
    let name = match digits {
        0 => "round_to_integer".to_owned(),
        _ => format!("round_to_scale_{digits}"),
    };
    Arc::new(ScalarUDF::new_from_impl(RoundToScale {
        signature: Signature::any(1, Volatility::Immutable),
        digits,
        name,
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RoundToScale {
    signature: Signature,
    digits: i8,
    name: String,
}

impl ScalarUDFImpl for RoundToScale {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arguments: &[DataType]) -> Result<DataType> {
        match arguments {
            [operand] => Ok(operand.clone()),
            _ => exec_err!("{} takes one operand", self.name),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.as_slice() {
            [ColumnarValue::Array(values)] => Ok(ColumnarValue::Array(rounded(values, self.digits)?)),
            [ColumnarValue::Scalar(value)] => {
                let values = rounded(&value.to_array()?, self.digits)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&values, 0)?))
            }
            _ => exec_err!("{} takes one operand", self.name),
        }
    }
}

fn rounded(values: &ArrayRef, digits: i8) -> Result<ArrayRef> {
    Ok(match values.data_type() {
        DataType::Float64 if digits == 0 => Arc::new(
            values
                .as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(f64::round_ties_even),
        ),
        DataType::Float32 if digits == 0 => Arc::new(
            values
                .as_primitive::<Float32Type>()
                .unary::<_, Float32Type>(f32::round_ties_even),
        ),
        DataType::Decimal128(precision, scale) if *scale > digits && digits >= 0 => {
            let unit = 10_i128.pow(u32::from((*scale - digits).unsigned_abs()));
            let half = unit / 2;
            let decimals = values.as_primitive::<Decimal128Type>();
            // Whole units, halves away from zero; the magnitude only shrinks or stays
            // within the same number of digits, so precision holds except at 10^p - 1.
            let rounded = decimals.unary::<_, Decimal128Type>(|value| {
                let (whole, rest) = (value / unit, value % unit);
                let away = if rest.abs() >= half { value.signum() } else { 0 };
                (whole + away).saturating_mul(unit)
            });
            Arc::new(rounded.with_precision_and_scale(*precision, *scale)?)
        }
        _ => Arc::clone(values),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Decimal128Array, Float64Array};

    #[test]
    fn doubles_round_halves_to_even_and_decimals_away_from_zero() {
        let doubles: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(2.5),
            Some(3.5),
            Some(-2.5),
            Some(-0.4),
            None,
        ]));
        let Ok(result) = rounded(&doubles, 0) else {
            panic!("doubles round");
        };
        let values: Vec<_> = result.as_primitive::<Float64Type>().iter().collect();
        assert_eq!(values, vec![Some(2.0), Some(4.0), Some(-2.0), Some(-0.0), None]);

        let decimals = Decimal128Array::from(vec![Some(250), Some(-750), Some(249), Some(-50), None])
            .with_precision_and_scale(10, 2)
            .map(|array| Arc::new(array) as ArrayRef);
        let Ok(decimals) = decimals else {
            panic!("decimal(10, 2)");
        };
        let Ok(result) = rounded(&decimals, 0) else {
            panic!("decimals round");
        };
        let values: Vec<_> = result.as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(values, vec![Some(300), Some(-800), Some(200), Some(-100), None]);
    }
}
