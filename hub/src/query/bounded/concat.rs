//! `||` on text as one bounded call.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};

use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;

use super::estimate::array_bytes;

/// Plans `a || b` on text as [`StringConcat`], so that it is bounded like every function,
/// and a chain `a || b || c` as one call of three operands: as shallow as it is wide, and
/// named in one pass (lists are planned as `array_concat` by DataFusion's own planner,
/// which comes first).
#[derive(Debug, Default)]
pub struct ConcatPlanner;

impl ExprPlanner for ConcatPlanner {
    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        if expr.op != BinaryOperator::StringConcat {
            return Ok(PlannerResult::Original(expr));
        }
        let is_list = |side: &Expr| {
            !is_string_concat(side)
                && side.get_type(schema).is_ok_and(|data_type| {
                    matches!(
                        data_type,
                        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
                    )
                })
        };
        if is_list(&expr.left) || is_list(&expr.right) {
            return Ok(PlannerResult::Original(expr));
        }
        let mut operands = Vec::new();
        for side in [expr.left, expr.right] {
            match side {
                Expr::ScalarFunction(call) if call.name() == STRING_CONCAT => operands.extend(call.args),
                other => operands.push(other),
            }
        }
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(string_concat(), operands),
        )))
    }
}

fn is_string_concat(expr: &Expr) -> bool {
    matches!(expr, Expr::ScalarFunction(call) if call.name() == STRING_CONCAT)
}

const STRING_CONCAT: &str = "string_concat";

/// The `||` of texts as a function: null when any operand is null, as SQL says.
pub fn string_concat() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(StringConcat {
        signature: Signature::variadic_any(Volatility::Immutable),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct StringConcat {
    signature: Signature,
}

impl ScalarUDFImpl for StringConcat {
    fn name(&self) -> &str {
        STRING_CONCAT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        let names: Vec<String> = args.iter().map(|arg| arg.schema_name().to_string()).collect();
        Ok(names.join(" || "))
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(vec![DataType::Utf8; arg_types.len()])
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        if args.args.len() < 2 {
            return exec_err!("|| takes two operands or more");
        }
        if args
            .args
            .iter()
            .all(|arg| matches!(arg, ColumnarValue::Scalar(_)))
        {
            let mut joined = String::new();
            for arg in &args.args {
                let ColumnarValue::Scalar(value) = arg else {
                    continue;
                };
                match value.cast_to(&DataType::Utf8)? {
                    ScalarValue::Utf8(Some(text)) => joined.push_str(&text),
                    _ => return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
                }
            }
            return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(joined))));
        }
        let operands = args
            .args
            .iter()
            .map(|arg| Ok(cast(&arg.to_array(rows)?, &DataType::Utf8)?))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let texts: Vec<_> = operands
            .iter()
            .map(|operand| operand.as_string::<i32>())
            .collect();
        let bytes = texts
            .iter()
            .fold(0usize, |total, text| total.saturating_add(array_bytes(*text)));
        let mut joined = StringBuilder::with_capacity(rows, bytes);
        let mut value = String::new();
        for row in 0..rows {
            if texts.iter().all(|text| text.is_valid(row)) {
                value.clear();
                for text in &texts {
                    value.push_str(text.value(row));
                }
                joined.append_value(&value);
            } else {
                joined.append_null();
            }
        }
        Ok(ColumnarValue::Array(Arc::new(joined.finish())))
    }
}
