//! Double precision arithmetic and functions that fail where PostgreSQL's fail.
//!
//! DataFusion 55 follows IEEE 754 throughout: `1.0 / 0` is `Infinity`, `1e308 * 10` is
//! `Infinity`, `ln(0)` is `-Infinity`, `sqrt(-1)` is `NaN`. PostgreSQL raises an error in
//! each case (`float.c`: `float_overflow_error`, `float_underflow_error`,
//! `float_zero_divide_error`, and the domain checks of `dlog1`, `dlog10`, `dsqrt`,
//! `dpow`), so that an infinity or a NaN in a result comes only from one in the data.
//! [`FloatErrors`] puts each double `+`, `-`, `*`, `/` and each `ln`, `log`, `log10`,
//! `log2`, `sqrt`, `exp` and `power` under a check with PostgreSQL's rules:
//!
//! * a finite result out of range (an infinity from finite operands): `value out of range:
//!   overflow`; a zero from a product, quotient, `exp` or `power` of operands that are not
//!   zero: `value out of range: underflow`;
//! * a division by zero (of anything but NaN): `division by zero`;
//! * the logarithm of zero or of a negative number, the square root of a negative number,
//!   zero to a negative power, a negative number to a power that is not whole: PostgreSQL's
//!   message for each.
//!
//! Infinities and NaN stored in the data pass through as PostgreSQL passes them
//! (`'Infinity'::float8 + 1` is `Infinity`). [`IntegerPowers`] computes `power` of two
//! integers as doubles, as PostgreSQL does (`2 ^ -1` is `0.5`, not an integer).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::numeric::{add, div, mul, sub};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::config::ConfigOptions;
use datafusion::functions::utils::make_scalar_function;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use causeway_connectors::messages::{
    LOG_OF_NEGATIVE, LOG_OF_ZERO, NEGATIVE_TO_FRACTION, ROOT_OF_NEGATIVE, UNDERFLOW, ZERO_TO_NEGATIVE,
};

use super::chains::{self, Arithmetic, Operation};
use super::rewrite::{Order, rewrite_expressions};

/// Puts double precision arithmetic and functions under PostgreSQL's checks (see the
/// module's documentation). Runs after type coercion.
#[derive(Debug, Default)]
pub(crate) struct FloatErrors;

impl AnalyzerRule for FloatErrors {
    fn name(&self) -> &str {
        "causeway_float_errors"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, Order::TopDown, check)
    }
}

fn check(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let expr = chains::rewrite(
        expr,
        schema,
        "checked_float_arithmetic",
        &float_arithmetic,
        &mut |leaf| leaf.transform_down(|expr| check(expr, schema)),
    )?;
    // Arithmetic was rewritten whole, its operands included.
    if expr.tnr == TreeNodeRecursion::Jump {
        return Ok(expr);
    }
    let floating = |expr: &Expr| expr.get_type(schema).ok().filter(DataType::is_floating);
    match expr.data {
        Expr::ScalarFunction(call) => {
            let operation = match (call.name(), call.args.len()) {
                ("ln", 1) => FloatOperation::NaturalLogarithm,
                ("log10" | "log", 1) => FloatOperation::Logarithm10,
                ("log2", 1) => FloatOperation::Logarithm2,
                ("log", 2) => FloatOperation::LogarithmToBase,
                ("sqrt", 1) => FloatOperation::SquareRoot,
                ("exp", 1) => FloatOperation::Exponential,
                ("power", 2) => FloatOperation::Power,
                _ => return Ok(Transformed::no(Expr::ScalarFunction(call))),
            };
            let whole = Expr::ScalarFunction(call);
            let Some(result) = floating(&whole) else {
                return Ok(Transformed::no(whole));
            };
            let Expr::ScalarFunction(call) = whole else {
                return Ok(Transformed::no(whole));
            };
            // Computed by the check itself, from the same operands, so that the walk goes
            // on into the operands and never meets the function again.
            let checked = ScalarFunction::new_udf(float_check(operation, result), call.args);
            Ok(Transformed::yes(Expr::ScalarFunction(checked)))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// The checked double `+`, `-`, `*` or `/` an operator on operands of these types is.
fn float_arithmetic(
    arithmetic: Arithmetic,
    left: &DataType,
    right: Option<&DataType>,
) -> Option<FloatArithmetic> {
    let (Arithmetic::Binary(op), Some(right)) = (arithmetic, right) else {
        return None;
    };
    if !left.is_floating() || !right.is_floating() {
        return None;
    }
    let result = BinaryTypeCoercer::new(left, &op, right)
        .get_result_type()
        .ok()
        .filter(DataType::is_floating)?;
    Some(FloatArithmetic { op, result })
}

/// One step of a chain of double arithmetic, with the type DataFusion gave the operator.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FloatArithmetic {
    op: Operator,
    result: DataType,
}

impl Operation for FloatArithmetic {
    fn name(&self) -> &'static str {
        FloatOperation::Arithmetic(self.op).name()
    }

    fn arithmetic(&self) -> Arithmetic {
        Arithmetic::Binary(self.op)
    }

    fn result_type(&self) -> &DataType {
        &self.result
    }

    fn apply(&self, left: ColumnarValue, right: Option<ColumnarValue>) -> Result<ColumnarValue> {
        let Some(right) = right else {
            return exec_err!("{} takes two operands", self.name());
        };
        let scalars = matches!(
            (&left, &right),
            (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_))
        );
        let operands = ColumnarValue::values_to_arrays(&[left, right])?;
        let result = checked(FloatOperation::Arithmetic(self.op), &self.result, &operands)?;
        Ok(if scalars {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?)
        } else {
            ColumnarValue::Array(result)
        })
    }
}

/// Makes `power` of two integers a `power` of doubles, as PostgreSQL has no integer
/// `power`. Runs before type coercion, which then types the call as a double.
#[derive(Debug, Default)]
pub(crate) struct IntegerPowers;

impl AnalyzerRule for IntegerPowers {
    fn name(&self) -> &str {
        "causeway_integer_powers"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, Order::BottomUp, |expr, schema| match expr {
            Expr::ScalarFunction(mut call)
                if call.name() == "power"
                    && call.args.iter().all(|arg| {
                        arg.get_type(schema)
                            .is_ok_and(|t| t.is_integer() || t == DataType::Null)
                    }) =>
            {
                call.args = call
                    .args
                    .into_iter()
                    .map(|arg| datafusion::logical_expr::cast(arg, DataType::Float64))
                    .collect();
                Ok(Transformed::yes(Expr::ScalarFunction(call)))
            }
            other => Ok(Transformed::no(other)),
        })
    }
}

/// What a check computes and guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FloatOperation {
    /// `+`, `-`, `*` or `/` of two doubles.
    Arithmetic(Operator),
    /// `ln(x)`.
    NaturalLogarithm,
    /// `log10(x)`, `log(x)`.
    Logarithm10,
    /// `log2(x)`.
    Logarithm2,
    /// `log(base, x)`.
    LogarithmToBase,
    /// `sqrt(x)`.
    SquareRoot,
    /// `exp(x)`.
    Exponential,
    /// `power(x, y)`.
    Power,
}

/// The checked form of `operation`, whose result is of type `result` (the type DataFusion
/// gave the operation, so that the plan's schema does not change).
fn float_check(operation: FloatOperation, result: DataType) -> Arc<ScalarUDF> {
    let arity = match operation {
        FloatOperation::Arithmetic(_) | FloatOperation::LogarithmToBase | FloatOperation::Power => 2,
        _ => 1,
    };
    Arc::new(ScalarUDF::new_from_impl(FloatCheck {
        operation,
        result,
        signature: Signature::any(arity, Volatility::Immutable),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FloatCheck {
    operation: FloatOperation,
    result: DataType,
    signature: Signature,
}

impl ScalarUDFImpl for FloatCheck {
    fn name(&self) -> &str {
        self.operation.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arguments: &[DataType]) -> Result<DataType> {
        Ok(self.result.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        make_scalar_function(
            |operands: &[ArrayRef]| checked(self.operation, &self.result, operands),
            vec![],
        )(&args.args)
    }
}

/// `operation` on `operands` (of one length) as a `result`, or PostgreSQL's error for the
/// first row that has one.
fn checked(operation: FloatOperation, result_type: &DataType, operands: &[ArrayRef]) -> Result<ArrayRef> {
    let doubles = operands
        .iter()
        .map(|operand| {
            Ok(cast(operand, &DataType::Float64)?
                .as_primitive::<Float64Type>()
                .clone())
        })
        .collect::<Result<Vec<Float64Array>>>()?;
    let result: ArrayRef = match (operation, operands) {
        (FloatOperation::Arithmetic(op), [left, right]) => {
            let kernel = match op {
                Operator::Plus => add,
                Operator::Minus => sub,
                Operator::Multiply => mul,
                _ => div,
            };
            kernel(left, right)?
        }
        (FloatOperation::Arithmetic(_), _) => return exec_err!("arithmetic takes two operands"),
        _ => Arc::new(operation.compute(&doubles)),
    };
    let result = cast(&result, result_type)?;
    let written = cast(&result, &DataType::Float64)?;
    let written = written.as_primitive::<Float64Type>();
    let mut values = Vec::with_capacity(doubles.len() + 1);
    for row in 0..written.len() {
        if written.is_null(row) {
            continue;
        }
        values.clear();
        values.push(written.value(row));
        values.extend(doubles.iter().map(|operand| operand.value(row)));
        if let Some(error) = operation.failure(&values) {
            return Err(error.into());
        }
    }
    Ok(result)
}

impl FloatOperation {
    /// The name of the check's call.
    fn name(self) -> &'static str {
        match self {
            Self::Arithmetic(Operator::Plus) => "checked_float_add",
            Self::Arithmetic(Operator::Minus) => "checked_float_subtract",
            Self::Arithmetic(Operator::Multiply) => "checked_float_multiply",
            Self::Arithmetic(_) => "checked_float_divide",
            Self::NaturalLogarithm => "checked_ln",
            Self::Logarithm10 => "checked_log10",
            Self::Logarithm2 => "checked_log2",
            Self::LogarithmToBase => "checked_log",
            Self::SquareRoot => "checked_sqrt",
            Self::Exponential => "checked_exp",
            Self::Power => "checked_power",
        }
    }

    /// The function's value for each row of its operands (not for arithmetic, which Arrow's
    /// kernels compute); NULL where an operand is NULL.
    fn compute(self, operands: &[Float64Array]) -> Float64Array {
        let rows = operands.first().map_or(0, Array::len);
        (0..rows)
            .map(|row| {
                let value = |index: usize| {
                    operands
                        .get(index)
                        .filter(|operand| !operand.is_null(row))
                        .map(|operand| operand.value(row))
                };
                Some(match self {
                    Self::NaturalLogarithm => value(0)?.ln(),
                    Self::Logarithm10 => value(0)?.log10(),
                    Self::Logarithm2 => value(0)?.log2(),
                    Self::LogarithmToBase => value(1)?.log(value(0)?),
                    Self::SquareRoot => value(0)?.sqrt(),
                    Self::Exponential => value(0)?.exp(),
                    Self::Power => value(0)?.powf(value(1)?),
                    Self::Arithmetic(_) => return None,
                })
            })
            .collect()
    }

    /// The error PostgreSQL raises for one row: `values` are the result, then the operands.
    fn failure(self, values: &[f64]) -> Option<ArrowError> {
        let overflow = || {
            Some(ArrowError::ArithmeticOverflow(
                "value out of range: overflow".into(),
            ))
        };
        let underflow = || Some(ArrowError::ComputeError(UNDERFLOW.into()));
        let domain = |message: &str| Some(ArrowError::ComputeError(message.into()));
        let logarithm = |x: f64| {
            if x == 0.0 {
                domain(LOG_OF_ZERO)
            } else if x < 0.0 {
                domain(LOG_OF_NEGATIVE)
            } else {
                None
            }
        };
        match (self, values) {
            (Self::Arithmetic(op), &[result, left, right]) => {
                if op == Operator::Divide && right == 0.0 && !left.is_nan() {
                    return Some(ArrowError::DivideByZero);
                }
                if result.is_infinite() && left.is_finite() && right.is_finite() {
                    return overflow();
                }
                let vanished = result == 0.0 && left != 0.0 && left.is_finite();
                match op {
                    Operator::Multiply if vanished && right != 0.0 && right.is_finite() => underflow(),
                    Operator::Divide if vanished && right.is_finite() => underflow(),
                    _ => None,
                }
            }
            (Self::NaturalLogarithm | Self::Logarithm10 | Self::Logarithm2, &[_, x]) => logarithm(x),
            (Self::LogarithmToBase, &[_, base, x]) => {
                logarithm(base).or_else(|| logarithm(x)).or_else(|| {
                    // log(1, x) divides by ln(1) = 0.
                    (base == 1.0).then_some(ArrowError::DivideByZero)
                })
            }
            (Self::SquareRoot, &[_, x]) => {
                (x < 0.0).then(|| ArrowError::ComputeError(ROOT_OF_NEGATIVE.into()))
            }
            (Self::Exponential, &[result, x]) if x.is_finite() => {
                if result.is_infinite() {
                    overflow()
                } else if result == 0.0 {
                    underflow()
                } else {
                    None
                }
            }
            (Self::Power, &[result, x, y]) => {
                if x == 0.0 && y < 0.0 {
                    domain(ZERO_TO_NEGATIVE)
                } else if x < 0.0 && y.is_finite() && y.fract() != 0.0 {
                    domain(NEGATIVE_TO_FRACTION)
                } else if result.is_infinite() && x.is_finite() && y.is_finite() {
                    overflow()
                } else if result == 0.0 && x != 0.0 && x.is_finite() && y.is_finite() {
                    underflow()
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails(operation: FloatOperation, values: &[f64]) -> Option<String> {
        operation.failure(values).map(|error| error.to_string())
    }

    #[test]
    fn results_only_data_could_give_pass_and_the_rest_fail_as_postgresql() {
        let divide = FloatOperation::Arithmetic(Operator::Divide);
        let multiply = FloatOperation::Arithmetic(Operator::Multiply);
        let add = FloatOperation::Arithmetic(Operator::Plus);
        assert!(fails(divide, &[f64::INFINITY, 1.0, 0.0]).is_some_and(|m| m.contains("Divide by zero")));
        assert!(fails(divide, &[f64::NAN, f64::NAN, 0.0]).is_none());
        assert!(fails(divide, &[f64::INFINITY, f64::INFINITY, 0.0]).is_some());
        assert!(fails(multiply, &[f64::INFINITY, 1e308, 10.0]).is_some_and(|m| m.contains("overflow")));
        assert!(fails(multiply, &[0.0, 1e-300, 1e-300]).is_some_and(|m| m.contains("underflow")));
        assert!(fails(multiply, &[f64::INFINITY, f64::INFINITY, 2.0]).is_none());
        assert!(fails(multiply, &[0.0, 0.0, 5.0]).is_none());
        assert!(fails(add, &[f64::INFINITY, f64::INFINITY, 1.0]).is_none());
        assert!(fails(add, &[3.0, 1.0, 2.0]).is_none());
        assert!(fails(divide, &[0.0, 1.0, f64::INFINITY]).is_none());

        assert_eq!(
            fails(FloatOperation::NaturalLogarithm, &[f64::NEG_INFINITY, 0.0]).as_deref(),
            Some(format!("Compute error: {LOG_OF_ZERO}").as_str())
        );
        assert!(fails(FloatOperation::NaturalLogarithm, &[f64::NAN, -1.0]).is_some());
        assert!(fails(FloatOperation::NaturalLogarithm, &[f64::INFINITY, f64::INFINITY]).is_none());
        assert!(fails(FloatOperation::LogarithmToBase, &[f64::INFINITY, 1.0, 8.0]).is_some());
        assert!(fails(FloatOperation::SquareRoot, &[f64::NAN, -4.0]).is_some());
        assert!(fails(FloatOperation::SquareRoot, &[0.0, -0.0]).is_none());
        assert!(fails(FloatOperation::Exponential, &[f64::INFINITY, 1000.0]).is_some());
        assert!(fails(FloatOperation::Exponential, &[0.0, -1000.0]).is_some());
        assert!(fails(FloatOperation::Exponential, &[0.0, f64::NEG_INFINITY]).is_none());
        assert!(fails(FloatOperation::Power, &[f64::INFINITY, 0.0, -1.0]).is_some());
        assert!(fails(FloatOperation::Power, &[f64::NAN, -8.0, 0.5]).is_some());
        assert!(fails(FloatOperation::Power, &[-8.0, -2.0, 3.0]).is_none());
        assert!(fails(FloatOperation::Power, &[0.5, 2.0, -1.0]).is_none());
    }
}
