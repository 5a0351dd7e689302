//! Combining the grants that apply: a row is visible when it meets the row filter of at
//! least one grant, and each of its columns shows the value of the first grant (least
//! masked first) that both covers the column and lets the row through; no grant's filter
//! lets a row show a column another grant allows only elsewhere. So several grants never
//! reveal, for any row and column, more than one of them allows.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::{Expr, ExprSchemable, cast, lit, when};

use crate::error::UnfitPolicy;

/// One grant's way to a column's value: its row condition and the value it shows.
pub struct Branch {
    pub condition: Expr,
    pub value: Expr,
}

/// The condition for a row to be visible at all.
pub fn visible_rows(conditions: &[Expr]) -> Expr {
    if conditions.iter().any(is_true) {
        return lit(true);
    }
    conditions
        .iter()
        .cloned()
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false))
}

/// The value a column shows: the first branch whose condition the row meets, else NULL.
/// Where every visible row meets the first branch's condition (`rows`, the condition for a
/// row to be visible at all), no condition is needed. Branches of different types are
/// shown as text.
pub fn column_value(branches: Vec<Branch>, rows: &Expr, schema: &DFSchema) -> Result<Expr> {
    let Some(first) = branches.first() else {
        return Err(UnfitPolicy::NoGrant.into());
    };
    if is_true(&first.condition) || first.condition == *rows {
        return Ok(first.value.clone());
    }
    let types = branches
        .iter()
        .map(|branch| branch.value.get_type(schema))
        .collect::<Result<Vec<_>>>()?;
    let same = types.windows(2).all(|pair| pair[0] == pair[1]);
    let mut branches = branches.into_iter().map(|branch| {
        let value = if same {
            branch.value
        } else {
            cast(branch.value, DataType::Utf8)
        };
        (branch.condition, value)
    });
    let (condition, value) = branches.next().ok_or(UnfitPolicy::NoGrant)?;
    let mut case = when(condition, value);
    for (condition, value) in branches {
        case = case.when(condition, value);
    }
    case.end()
}

pub fn is_true(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Literal(datafusion::common::ScalarValue::Boolean(Some(true)), _)
    )
}
