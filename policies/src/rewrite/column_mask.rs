//! Masks as expressions over a column, keeping its name in the projection that shows it.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::execution::session_state::SessionState;
use datafusion::functions::expr_fn::{
    character_length, concat, date_trunc, floor, left, right, split_part, strpos,
};
use datafusion::logical_expr::{Expr, ExprSchemable, cast, lit, when};

use datafusion::sql::sqlparser::ast::ExprWithAlias;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::Tokenizer;

use crate::error::UnfitPolicy;
use crate::model::Mask;
use crate::syntax::{ExprSyntaxError, SyntaxLimits, on_deep_stack, parse_expr};
use crate::udf::PolicyFunctions;

/// Stars stand for the hidden part of a partial mask, always four whatever its length.
const HIDDEN: &str = "****";

/// `mask` applied to `column` (of type `data_type`, in a plan of schema `schema`).
pub fn mask_expr(
    column: Expr,
    data_type: &DataType,
    mask: &Mask,
    functions: &PolicyFunctions,
    schema: &DFSchema,
    session: &SessionState,
    limits: &SyntaxLimits,
) -> Result<Expr> {
    Ok(match mask {
        Mask::Null => Expr::Literal(ScalarValue::try_from(data_type)?, None),
        Mask::Partial { first, last } => {
            let text = as_text(column, data_type);
            let kept = (first + last) as i64;
            when(
                character_length(text.clone()).gt(lit(kept)),
                concat(vec![
                    left(text.clone(), lit(*first as i64)),
                    lit(HIDDEN),
                    right(text, lit(*last as i64)),
                ]),
            )
            .otherwise(lit(HIDDEN))?
        }
        Mask::Hash => functions.pseudonym(column),
        Mask::YearOnly => match data_type {
            DataType::Date32 | DataType::Date64 => cast(
                date_trunc(
                    lit("year"),
                    cast(column, DataType::Timestamp(TimeUnit::Second, None)),
                ),
                data_type.clone(),
            ),
            DataType::Timestamp(..) => date_trunc(lit("year"), column),
            other => return Err(UnfitPolicy::YearOnlyType(other.clone()).into()),
        },
        Mask::Bucket { width } => {
            if !(data_type.is_numeric()) || !width.is_finite() || *width <= 0.0 {
                return Err(UnfitPolicy::Bucket {
                    data_type: data_type.clone(),
                    width: *width,
                }
                .into());
            }
            let band = floor(cast(column, DataType::Float64) / lit(*width)) * lit(*width);
            cast(band, data_type.clone())
        }
        Mask::Prefix { before } => {
            if before.is_empty() {
                return Err(UnfitPolicy::EmptyPrefix.into());
            }
            // No delimiter, no way to tell the town from the rest: nothing is shown.
            let text = as_text(column, data_type);
            when(
                strpos(text.clone(), lit(before.clone())).gt(lit(0i64)),
                split_part(text, lit(before.clone()), lit(1i64)),
            )
            .otherwise(Expr::Literal(ScalarValue::Utf8(None), None))?
        }
        Mask::Sql { expression } => {
            let parsed = on_deep_stack(expression.len(), || -> Result<_, ExprSyntaxError> {
                let tokens = Tokenizer::new(&GenericDialect {}, expression).tokenize()?;
                parse_expr(tokens, limits)
            })?;
            let expr = session.create_logical_expr_from_sql_expr(
                ExprWithAlias {
                    expr: parsed,
                    alias: None,
                },
                schema,
            )?;
            // Over its own column only: another column read here would be shown through
            // this one whatever the grant or a deny rule says of it.
            let own = match &column {
                Expr::Column(own) => Some(own.name.as_str()),
                _ => None,
            };
            let others: Vec<String> = expr
                .column_refs()
                .into_iter()
                .filter(|read| Some(read.name.as_str()) != own)
                .map(|read| read.name.clone())
                .collect();
            if !others.is_empty() {
                return Err(UnfitPolicy::SqlMaskReadsOtherColumns(others).into());
            }
            expr.get_type(schema)?;
            expr
        }
    })
}

fn as_text(column: Expr, data_type: &DataType) -> Expr {
    match data_type {
        DataType::Utf8 => column,
        _ => cast(column, DataType::Utf8),
    }
}
