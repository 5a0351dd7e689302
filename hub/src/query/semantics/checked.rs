//! Integer and decimal arithmetic that fails on overflow instead of wrapping around.
//!
//! DataFusion 55 computes `+`, `-`, `*` and unary `-` of integers with Arrow's wrapping
//! kernels (`9223372036854775807 + 1` is `-9223372036854775808`), and of decimals without
//! checking the result against its precision; PostgreSQL raises `bigint out of range` or
//! `numeric field overflow`. [`CheckedArithmetic`] replaces each such operation, once the
//! types are settled, by a checked call (a whole chain of them by one call: see
//! [`super::chains`]): the same operation through Arrow's checked
//! kernels (the ones DataFusion's own `fail_on_overflow` mode uses, which its SQL planner
//! never turns on), with a decimal result checked against the precision of its type. An
//! overflow fails the query with `arithmetic overflow`, never a wrong number.
//!
//! Each rewritten expression keeps its name, so a column `a + b` is still called `a + b`.
//! A quotient of decimals is rounded half away from zero, as PostgreSQL rounds a `numeric`
//! quotient, where Arrow truncates (`2 / 3.0` is `0.66667`, not `0.66666`). Integer
//! division and remainder are checked by DataFusion already (`division by zero`, and
//! `-9223372036854775808 / -1` overflows); double precision arithmetic is checked by
//! [`super::floats`].

use std::sync::Arc;

use super::chains::{self, Arithmetic, Operation};
use super::rewrite::{Order, rewrite_expressions};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Datum, Decimal128Builder};
use datafusion::arrow::compute::kernels::numeric::{add, mul, neg, sub};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, i256};
use datafusion::arrow::error::ArrowError;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{ColumnarValue, Expr, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_expr_common::datum::apply;

/// Rewrites integer and decimal `+`, `-`, `*` and unary `-` into their checked forms (see
/// the module's documentation). Runs after type coercion, so that both operands of each
/// operation have their final types.
#[derive(Debug, Default)]
pub(crate) struct CheckedArithmetic;

impl AnalyzerRule for CheckedArithmetic {
    fn name(&self) -> &str {
        "causeway_checked_arithmetic"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        // Top down, so that each operation's operands are typed as DataFusion's own
        // operators, before they are rewritten: a chain of a thousand `+` is typed in
        // quadratic time, not far worse through the functions it becomes.
        rewrite_expressions(plan, Order::TopDown, check)
    }
}

fn check(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    chains::rewrite(
        expr,
        schema,
        "checked_arithmetic",
        &checked_operation,
        &mut |leaf| leaf.transform_down(|expr| check(expr, schema)),
    )
}

/// The checked operation an operator on operands of these types is, if it can overflow
/// silently. An operand whose type cannot be told (an outer column of a subquery whose
/// schema is not at hand, say) leaves its operator as it is.
fn checked_operation(
    arithmetic: Arithmetic,
    left: &DataType,
    right: Option<&DataType>,
) -> Option<CheckedOperation> {
    match (arithmetic, right) {
        (Arithmetic::Binary(op), Some(right)) => {
            let checked = (matches!(op, Operator::Plus | Operator::Minus | Operator::Multiply)
                && overflows(left, right))
                || (op == Operator::Divide && both_decimals(left, right));
            if !checked {
                return None;
            }
            // Type coercion made both integer operands alike: the result is their type.
            let result = if left.is_integer() && left == right {
                left.clone()
            } else {
                BinaryTypeCoercer::new(left, &op, right).get_result_type().ok()?
            };
            Some(CheckedOperation {
                operation: Arithmetic::Binary(op),
                result,
            })
        }
        (Arithmetic::Negate, None) if left.is_signed_integer() => Some(CheckedOperation {
            operation: Arithmetic::Negate,
            result: left.clone(),
        }),
        _ => None,
    }
}

/// Whether an operation on operands of these types can overflow silently: integers, and
/// decimals of 128 bits, whose type coercion has made both sides alike.
fn overflows(left: &DataType, right: &DataType) -> bool {
    (left.is_integer() && right.is_integer()) || both_decimals(left, right)
}

fn both_decimals(left: &DataType, right: &DataType) -> bool {
    matches!(
        (left, right),
        (DataType::Decimal128(..), DataType::Decimal128(..))
    )
}

/// One checked step of a chain, with the type DataFusion gave the operator, so that the
/// plan's schema does not change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CheckedOperation {
    operation: Arithmetic,
    result: DataType,
}

impl Operation for CheckedOperation {
    fn name(&self) -> &'static str {
        match self.operation {
            Arithmetic::Binary(Operator::Plus) => "checked_add",
            Arithmetic::Binary(Operator::Minus) => "checked_subtract",
            Arithmetic::Binary(Operator::Divide) => "rounded_divide",
            Arithmetic::Binary(_) => "checked_multiply",
            Arithmetic::Negate => "checked_negate",
        }
    }

    fn arithmetic(&self) -> Arithmetic {
        self.operation
    }

    fn result_type(&self) -> &DataType {
        &self.result
    }

    fn apply(&self, left: ColumnarValue, right: Option<ColumnarValue>) -> Result<ColumnarValue> {
        let result = match (self.operation, right) {
            (Arithmetic::Binary(Operator::Divide), Some(right)) => {
                let DataType::Decimal128(precision, scale) = self.result else {
                    return exec_err!("rounded_divide divides decimals");
                };
                apply(&left, &right, |l, r| divide_decimals(l, r, precision, scale))?
            }
            (Arithmetic::Binary(op), Some(right)) => {
                let kernel = match op {
                    Operator::Plus => add,
                    Operator::Minus => sub,
                    _ => mul,
                };
                apply(&left, &right, kernel)?
            }
            (Arithmetic::Negate, None) => match left {
                ColumnarValue::Array(operand) => ColumnarValue::Array(neg(&operand)?),
                ColumnarValue::Scalar(operand) => {
                    let negated = neg(&operand.to_array()?)?;
                    ColumnarValue::Scalar(ScalarValue::try_from_array(&negated, 0)?)
                }
            },
            _ => return exec_err!("{} called with the wrong number of operands", self.name()),
        };
        fit(result, &self.result)
    }
}

/// `left / right` of two decimal operands as `decimal(precision, scale)` (the type
/// DataFusion gives the quotient: the dividend's scale plus four), rounded half away from
/// zero as PostgreSQL rounds a `numeric` quotient, where Arrow's kernel truncates; computed
/// in 256 bits, so that a dividend scaled up for the quotient never overflows on the way.
fn divide_decimals(
    left: &dyn Datum,
    right: &dyn Datum,
    precision: u8,
    scale: i8,
) -> Result<ArrayRef, ArrowError> {
    let (left, left_scalar) = left.get();
    let (right, right_scalar) = right.get();
    let (Some(dividends), Some(divisors)) = (
        left.as_primitive_opt::<Decimal128Type>(),
        right.as_primitive_opt::<Decimal128Type>(),
    ) else {
        return Err(ArrowError::ComputeError("rounded_divide divides decimals".into()));
    };
    let (DataType::Decimal128(_, left_scale), DataType::Decimal128(_, right_scale)) =
        (left.data_type(), right.data_type())
    else {
        return Err(ArrowError::ComputeError("rounded_divide divides decimals".into()));
    };
    // quotient * 10^scale = dividend * 10^(scale - left_scale + right_scale) / divisor
    let shift = i32::from(scale) - i32::from(*left_scale) + i32::from(*right_scale);
    let ten = i256::from_i128(10);
    let power = |exponent: i32| {
        ten.checked_pow(exponent.unsigned_abs()).ok_or_else(|| {
            ArrowError::ArithmeticOverflow(format!("a quotient does not fit decimal({precision}, {scale})"))
        })
    };
    let (up, down) = if shift >= 0 {
        (power(shift)?, i256::ONE)
    } else {
        (i256::ONE, power(shift)?)
    };
    let limit = power(i32::from(precision))?;
    let overflow =
        || ArrowError::ArithmeticOverflow(format!("a quotient does not fit decimal({precision}, {scale})"));
    let rows = if left_scalar && right_scalar {
        1
    } else if left_scalar {
        divisors.len()
    } else {
        dividends.len()
    };
    let mut quotients = Decimal128Builder::with_capacity(rows);
    for row in 0..rows {
        let (l, r) = (usize::from(!left_scalar) * row, usize::from(!right_scalar) * row);
        if dividends.is_null(l) || divisors.is_null(r) {
            quotients.append_null();
            continue;
        }
        let numerator = i256::from_i128(dividends.value(l))
            .checked_mul(up)
            .ok_or_else(overflow)?;
        let denominator = i256::from_i128(divisors.value(r))
            .checked_mul(down)
            .ok_or_else(overflow)?;
        if denominator == i256::ZERO {
            return Err(ArrowError::DivideByZero);
        }
        let (mut quotient, rest) = (
            numerator.wrapping_div(denominator),
            numerator.wrapping_rem(denominator),
        );
        if rest.wrapping_abs().wrapping_mul(i256::from_i128(2)) >= denominator.wrapping_abs() {
            quotient = quotient.wrapping_add(numerator.signum().wrapping_mul(denominator.signum()));
        }
        if quotient.wrapping_abs() >= limit {
            return Err(overflow());
        }
        quotients.append_value(quotient.as_i128());
    }
    Ok(Arc::new(
        quotients.finish().with_precision_and_scale(precision, scale)?,
    ))
}

/// `value` as `to`: a decimal is checked against the precision of its type (Arrow's
/// kernels check only that it fits in 128 bits), and the message names the type, not the
/// value.
fn fit(value: ColumnarValue, to: &DataType) -> Result<ColumnarValue> {
    if let DataType::Decimal128(precision, scale) = to {
        let array: ArrayRef = match &value {
            ColumnarValue::Array(array) => Arc::clone(array),
            ColumnarValue::Scalar(scalar) => scalar.to_array()?,
        };
        if let Some(decimals) = array.as_primitive_opt::<Decimal128Type>()
            && decimals.validate_decimal_precision(*precision).is_err()
        {
            return Err(ArrowError::ArithmeticOverflow(format!(
                "a result does not fit decimal({precision}, {scale})"
            ))
            .into());
        }
    }
    if value.data_type() == *to {
        Ok(value)
    } else {
        value.cast_to(to, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Decimal128Array, Int32Array, Int64Array};

    fn call(operation: Arithmetic, operands: Vec<ColumnarValue>) -> Result<ColumnarValue> {
        let types: Vec<DataType> = operands.iter().map(ColumnarValue::data_type).collect();
        let result = match (operation, types.as_slice()) {
            (Arithmetic::Binary(op), [left, right]) => {
                BinaryTypeCoercer::new(left, &op, right).get_result_type()?
            }
            (Arithmetic::Negate, [operand]) => operand.clone(),
            _ => return exec_err!("the wrong number of operands"),
        };
        let mut operands = operands.into_iter();
        let Some(left) = operands.next() else {
            return exec_err!("no operands");
        };
        CheckedOperation { operation, result }.apply(left, operands.next())
    }

    fn overflowed(result: Result<ColumnarValue>) -> bool {
        matches!(
            result.map_err(|error| error.find_root().to_string()),
            Err(message) if message.contains("Overflow") || message.contains("overflow")
        )
    }

    #[test]
    fn integer_overflow_fails_where_wrapping_would_give_a_wrong_number() {
        let big = ColumnarValue::Array(Arc::new(Int64Array::from(vec![Some(1), Some(i64::MAX)])));
        let one = ColumnarValue::Scalar(ScalarValue::Int64(Some(1)));
        let two = ColumnarValue::Scalar(ScalarValue::Int64(Some(2)));
        assert!(overflowed(call(
            Arithmetic::Binary(Operator::Plus),
            vec![big.clone(), one.clone()]
        )));
        assert!(overflowed(call(
            Arithmetic::Binary(Operator::Multiply),
            vec![big, two]
        )));
        let small = ColumnarValue::Array(Arc::new(Int32Array::from(vec![Some(i32::MIN), None])));
        assert!(overflowed(call(Arithmetic::Negate, vec![small])));
        let minimum = ColumnarValue::Scalar(ScalarValue::Int64(Some(i64::MIN)));
        assert!(overflowed(call(
            Arithmetic::Binary(Operator::Minus),
            vec![minimum, one]
        )));
    }

    #[test]
    fn results_that_fit_are_exact_and_nulls_stay_null() {
        let values = ColumnarValue::Array(Arc::new(Int64Array::from(vec![Some(i64::MAX - 1), None])));
        let one = ColumnarValue::Scalar(ScalarValue::Int64(Some(1)));
        let Ok(ColumnarValue::Array(sum)) = call(Arithmetic::Binary(Operator::Plus), vec![values, one])
        else {
            panic!("an array of sums");
        };
        let sum = sum.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        assert_eq!(sum.iter().collect::<Vec<_>>(), vec![Some(i64::MAX), None]);
    }

    #[test]
    fn decimal_quotients_round_half_away_from_zero_and_never_overflow_on_the_way() {
        let decimal = |values: Vec<Option<i128>>, precision, scale| {
            Decimal128Array::from(values)
                .with_precision_and_scale(precision, scale)
                .map(|array| ColumnarValue::Array(Arc::new(array)))
        };
        // 2.00 / 3, -2.00 / 3, 1.00 / 8 (a half), 10^27 / 3 at scale 10, NULL.
        let (Ok(dividends), Ok(divisors)) = (
            decimal(vec![Some(200), Some(-200), Some(100), None], 10, 2),
            decimal(vec![Some(3), Some(3), Some(8), Some(1)], 10, 0),
        ) else {
            panic!("decimal columns");
        };
        let Ok(ColumnarValue::Array(quotients)) =
            call(Arithmetic::Binary(Operator::Divide), vec![dividends, divisors])
        else {
            panic!("quotients");
        };
        assert_eq!(quotients.data_type(), &DataType::Decimal128(14, 6));
        let values: Vec<_> = quotients.as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(values, vec![Some(666_667), Some(-666_667), Some(125_000), None]);

        // 10^23 (scale 10) / 3 (scale 20): the dividend scaled for the quotient is 10^57,
        // past 128 bits, while the quotient fits decimal(38, 14).
        let (Ok(big), Ok(three)) = (
            decimal(vec![Some(10_i128.pow(33))], 38, 10),
            decimal(vec![Some(3 * 10_i128.pow(20))], 38, 20),
        ) else {
            panic!("decimal columns");
        };
        let Ok(ColumnarValue::Array(third)) = call(Arithmetic::Binary(Operator::Divide), vec![big, three])
        else {
            panic!("10^23 / 3 fits decimal(38, 14)");
        };
        assert_eq!(third.data_type(), &DataType::Decimal128(38, 14));
        assert_eq!(
            third.as_primitive::<Decimal128Type>().value(0),
            (10_i128.pow(37) - 1) / 3
        );
        let (Ok(one), Ok(zero)) = (decimal(vec![Some(1)], 10, 0), decimal(vec![Some(0)], 10, 0)) else {
            panic!("decimal columns");
        };
        assert!(call(Arithmetic::Binary(Operator::Divide), vec![one, zero]).is_err());
    }

    #[test]
    fn a_decimal_past_its_precision_is_an_overflow_and_the_message_holds_no_value() {
        let nines = 10_i128.pow(38) - 1;
        let column = Decimal128Array::from(vec![Some(nines), Some(1)])
            .with_precision_and_scale(38, 10)
            .map(|array| ColumnarValue::Array(Arc::new(array)));
        let Ok(column) = column else {
            panic!("a decimal(38, 10) column");
        };
        let one = ColumnarValue::Scalar(ScalarValue::Decimal128(Some(10_i128.pow(10)), 38, 10));
        let result = call(Arithmetic::Binary(Operator::Plus), vec![column, one]);
        let Err(error) = result else {
            panic!("10^28 + 1 does not fit decimal(38, 10)");
        };
        let message = error.to_string();
        assert!(message.contains("decimal(38, 10)"), "{message}");
        assert!(!message.contains("9999999999"), "{message}");
    }
}
