//! Integer and decimal arithmetic that fails on overflow instead of wrapping around.
//!
//! DataFusion 55 computes `+`, `-`, `*` and unary `-` of integers with Arrow's wrapping
//! kernels (`9223372036854775807 + 1` is `-9223372036854775808`), and of decimals without
//! checking the result against its precision; PostgreSQL raises `bigint out of range` or
//! `numeric field overflow`. [`CheckedArithmetic`] replaces each such operation, once the
//! types are settled, by a call of [`checked`]: the same operation through Arrow's checked
//! kernels (the ones DataFusion's own `fail_on_overflow` mode uses, which its SQL planner
//! never turns on), with a decimal result checked against the precision of its type. An
//! overflow fails the query with `arithmetic overflow`, never a wrong number.
//!
//! Each rewritten expression keeps its name, so a column `a + b` is still called `a + b`.
//! Division and remainder are checked by DataFusion already (`division by zero`, and
//! `-9223372036854775808 / -1` overflows); floating-point arithmetic follows IEEE 754
//! (`1e308 * 10` is `Infinity`), as the README says.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::compute::kernels::numeric::{add, mul, neg, sub};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::arrow::error::ArrowError;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
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
        plan.transform_up_with_subqueries(|plan| {
            let schema = merge_schema(&plan.inputs());
            let names = NamePreserver::new(&plan);
            plan.map_expressions(|expr| {
                let name = names.save(&expr);
                expr.transform_up(|expr| check(expr, &schema))
                    .map(|rewritten| rewritten.update_data(|expr| name.restore(expr)))
            })
        })
        .map(|transformed| transformed.data)
    }
}

fn check(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    // An expression whose type cannot be told here (an outer column of a subquery whose
    // schema is not at hand, say) is left as it is.
    let type_of = |expr: &Expr| expr.get_type(schema).ok();
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if matches!(op, Operator::Plus | Operator::Minus | Operator::Multiply)
                && overflows(type_of(&left), type_of(&right)) =>
        {
            let call = ScalarFunction::new_udf(checked(Checked::Binary(op)), vec![*left, *right]);
            Ok(Transformed::yes(Expr::ScalarFunction(call)))
        }
        Expr::Negative(operand) if type_of(&operand).is_some_and(|t| t.is_signed_integer()) => {
            let call = ScalarFunction::new_udf(checked(Checked::Negate), vec![*operand]);
            Ok(Transformed::yes(Expr::ScalarFunction(call)))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// Whether an operation on operands of these types can overflow silently: integers, and
/// decimals of 128 bits, whose type coercion has made both sides alike.
fn overflows(left: Option<DataType>, right: Option<DataType>) -> bool {
    match (left, right) {
        (Some(left), Some(right)) => {
            (left.is_integer() && right.is_integer())
                || (matches!(left, DataType::Decimal128(..)) && matches!(right, DataType::Decimal128(..)))
        }
        _ => false,
    }
}

/// The operation a checked call performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Checked {
    /// `+`, `-` or `*`.
    Binary(Operator),
    /// Unary `-`.
    Negate,
}

/// The checked form of `operation`, as a function of its operands.
pub(crate) fn checked(operation: Checked) -> Arc<ScalarUDF> {
    let arity = match operation {
        Checked::Binary(_) => 2,
        Checked::Negate => 1,
    };
    Arc::new(ScalarUDF::new_from_impl(CheckedCall {
        operation,
        signature: Signature::any(arity, Volatility::Immutable),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CheckedCall {
    operation: Checked,
    signature: Signature,
}

impl ScalarUDFImpl for CheckedCall {
    fn name(&self) -> &str {
        match self.operation {
            Checked::Binary(Operator::Plus) => "checked_add",
            Checked::Binary(Operator::Minus) => "checked_subtract",
            Checked::Binary(_) => "checked_multiply",
            Checked::Negate => "checked_negate",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The type DataFusion gives the operation itself, so that the plan's schema does not
    /// change.
    fn return_type(&self, arguments: &[DataType]) -> Result<DataType> {
        match (self.operation, arguments) {
            (Checked::Binary(op), [left, right]) => {
                BinaryTypeCoercer::new(left, &op, right).get_result_type()
            }
            (Checked::Negate, [operand]) => Ok(operand.clone()),
            _ => exec_err!("{} called with the wrong number of operands", self.name()),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let result = match (self.operation, args.args.as_slice()) {
            (Checked::Binary(op), [left, right]) => {
                let kernel = match op {
                    Operator::Plus => add,
                    Operator::Minus => sub,
                    _ => mul,
                };
                apply(left, right, kernel)?
            }
            (Checked::Negate, [ColumnarValue::Array(operand)]) => ColumnarValue::Array(neg(operand)?),
            (Checked::Negate, [ColumnarValue::Scalar(operand)]) => {
                let negated = neg(&operand.to_array()?)?;
                ColumnarValue::Scalar(ScalarValue::try_from_array(&negated, 0)?)
            }
            _ => return exec_err!("{} called with the wrong number of operands", self.name()),
        };
        fit(result, args.return_field.data_type())
    }
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
    use datafusion::arrow::datatypes::Field;

    fn call(operation: Checked, operands: Vec<ColumnarValue>) -> Result<ColumnarValue> {
        let udf = checked(operation);
        let types: Vec<DataType> = operands.iter().map(ColumnarValue::data_type).collect();
        let return_type = udf.return_type(&types)?;
        udf.invoke_with_args(ScalarFunctionArgs {
            arg_fields: types
                .iter()
                .map(|t| Arc::new(Field::new("x", t.clone(), true)))
                .collect(),
            number_rows: 2,
            return_field: Arc::new(Field::new("r", return_type, true)),
            config_options: Arc::new(ConfigOptions::default()),
            args: operands,
        })
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
            Checked::Binary(Operator::Plus),
            vec![big.clone(), one.clone()]
        )));
        assert!(overflowed(call(
            Checked::Binary(Operator::Multiply),
            vec![big, two]
        )));
        let small = ColumnarValue::Array(Arc::new(Int32Array::from(vec![Some(i32::MIN), None])));
        assert!(overflowed(call(Checked::Negate, vec![small])));
        let minimum = ColumnarValue::Scalar(ScalarValue::Int64(Some(i64::MIN)));
        assert!(overflowed(call(
            Checked::Binary(Operator::Minus),
            vec![minimum, one]
        )));
    }

    #[test]
    fn results_that_fit_are_exact_and_nulls_stay_null() {
        let values = ColumnarValue::Array(Arc::new(Int64Array::from(vec![Some(i64::MAX - 1), None])));
        let one = ColumnarValue::Scalar(ScalarValue::Int64(Some(1)));
        let Ok(ColumnarValue::Array(sum)) = call(Checked::Binary(Operator::Plus), vec![values, one]) else {
            panic!("an array of sums");
        };
        let sum = sum.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        assert_eq!(sum.iter().collect::<Vec<_>>(), vec![Some(i64::MAX), None]);
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
        let result = call(Checked::Binary(Operator::Plus), vec![column, one]);
        let Err(error) = result else {
            panic!("10^28 + 1 does not fit decimal(38, 10)");
        };
        let message = error.to_string();
        assert!(message.contains("decimal(38, 10)"), "{message}");
        assert!(!message.contains("9999999999"), "{message}");
    }
}
