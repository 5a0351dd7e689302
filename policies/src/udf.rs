//! The functions the policy rewrite puts into plans.
//!
//! `causeway_pseudonym(value)` is the keyed hash mask: HMAC-SHA256 of the value's text with
//! the hub's secret, so equal values get equal pseudonyms across datasets and joins on them
//! still work, while nobody without the secret can recompute or reverse them.
//!
//! `causeway_denied(dataset, column, typed null)` stands in for a column the caller may not
//! read. It carries no value at all; a plan that still needs it after optimisation names a
//! column the caller may not read, and is refused. Should one ever run, it fails.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use ring::hmac;

pub const PSEUDONYM: &str = "causeway_pseudonym";
pub const DENIED: &str = "causeway_denied";

/// The policy functions of one hub, keyed with its pseudonym secret.
#[derive(Debug, Clone)]
pub struct PolicyFunctions {
    pseudonym: Arc<ScalarUDF>,
    denied: Arc<ScalarUDF>,
}

impl PolicyFunctions {
    pub fn new(pseudonym_key: &[u8]) -> Self {
        Self {
            pseudonym: Arc::new(ScalarUDF::new_from_impl(Pseudonym {
                key: pseudonym_key.to_vec(),
                signature: Signature::any(1, Volatility::Immutable),
            })),
            denied: Arc::new(ScalarUDF::new_from_impl(Denied {
                signature: Signature::any(3, Volatility::Volatile),
            })),
        }
    }

    pub fn pseudonym(&self, value: Expr) -> Expr {
        self.pseudonym.call(vec![value])
    }

    /// The stand-in for `column` of `dataset`, typed as the column.
    pub fn denied(&self, dataset: &str, column: &str, data_type: &DataType) -> Result<Expr> {
        Ok(self.denied.call(vec![
            Expr::Literal(ScalarValue::from(dataset), None),
            Expr::Literal(ScalarValue::from(column), None),
            Expr::Literal(ScalarValue::try_from(data_type)?, None),
        ]))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Pseudonym {
    key: Vec<u8>,
    signature: Signature,
}

impl ScalarUDFImpl for Pseudonym {
    fn name(&self) -> &str {
        PSEUDONYM
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = <[ColumnarValue; 1]>::try_from(args.args)
            .map_err(|_| DataFusionError::Internal(format!("{PSEUDONYM} takes one argument")))?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.key);
        let text = cast(&value.into_array(args.number_rows)?, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let mut out = StringBuilder::with_capacity(text.len(), text.len() * 32);
        for index in 0..text.len() {
            if text.is_null(index) {
                out.append_null();
            } else {
                out.append_value(pseudonym(&key, text.value(index)));
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// The first 128 bits of the HMAC, as 32 hex digits.
fn pseudonym(key: &hmac::Key, text: &str) -> String {
    let tag = hmac::sign(key, text.as_bytes());
    tag.as_ref()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Denied {
    signature: Signature,
}

impl ScalarUDFImpl for Denied {
    fn name(&self) -> &str {
        DENIED
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        arg_types
            .get(2)
            .cloned()
            .ok_or_else(|| DataFusionError::Internal(format!("{DENIED} takes three arguments")))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(DataFusionError::Execution(
            "the query reads a column it is not granted".into(),
        ))
    }
}

/// The denied columns a plan still needs, as `(dataset, column)`.
pub fn denied_columns(plan: &datafusion::logical_expr::LogicalPlan) -> Vec<(String, String)> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let mut found = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|inner| {
                if let Expr::ScalarFunction(function) = inner
                    && function.name() == DENIED
                    && let [
                        Expr::Literal(ScalarValue::Utf8(Some(dataset)), _),
                        Expr::Literal(ScalarValue::Utf8(Some(column)), _),
                        ..,
                    ] = function.args.as_slice()
                {
                    let entry = (dataset.clone(), column.clone());
                    if !found.contains(&entry) {
                        found.push(entry);
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_stable_and_opaque() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"hub secret");
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"another hub");
        let id = "44060519900101123X";
        assert_eq!(pseudonym(&key, id), pseudonym(&key, id));
        assert_eq!(pseudonym(&key, id).len(), 32);
        assert_ne!(pseudonym(&key, id), pseudonym(&other, id));
        assert_ne!(pseudonym(&key, id), pseudonym(&key, "44060519900101124X"));
        assert!(!pseudonym(&key, id).contains("1123"));
    }
}
