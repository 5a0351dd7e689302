//! A division guarded by its neighbour: `d <> 0 AND n / d > 1`, `d = 0 OR n % d = 0`,
//! `CASE WHEN d <> 0 THEN n / d > 1 ELSE false END`.
//!
//! PostgreSQL evaluates the operands of `AND` and `OR` from left to right and stops once the
//! answer is known, and a `CASE` branch only for the rows that reach it, so a guard beside a
//! division is what people write. DataFusion 55 evaluates both operands of `AND` over a whole
//! batch as soon as one row passes the first, and its simplifier turns a boolean `CASE` into
//! `AND` and `OR`, so the division fails with `division by zero` on a row the guard excludes.
//!
//! [`GuardedDivisions`] divides by `CASE WHEN d = 0 THEN NULL ELSE d END` instead of `d`
//! wherever a guard decides the answer for `d = 0` on its own. That changes no answer: the
//! divisor differs from `d` only where `d` is zero, and there the guard's `AND` is false
//! (or its `OR` true, or its `CASE` branch not taken) whatever the division gives. The
//! guards recognised compare the divisor itself with zero: `d <> 0`, `d > 0` and `d < 0`
//! beside the division in an `AND` or as the `WHEN` of its branch, and `d = 0` beside it in
//! an `OR` or as an earlier `WHEN`. The divisor may be cast on either side, so long as the
//! cast keeps zero apart from every other value. A division that no such guard covers still
//! fails on zero, as in PostgreSQL.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::Case;
use datafusion::logical_expr::utils::{conjunction, disjunction, split_binary, split_binary_owned};
use datafusion::logical_expr::{BinaryExpr, Cast, Expr, ExprSchemable, LogicalPlan, Operator, TryCast};
use datafusion::optimizer::AnalyzerRule;

use super::rewrite::{Order, rewrite_expressions};

/// Divides by a divisor made NULL at zero where a guard beside the division decides the
/// answer for zero (see the module's documentation). Runs after type coercion and before
/// the checked arithmetic, which turns divisions into functions.
#[derive(Debug, Default)]
pub(crate) struct GuardedDivisions;

impl AnalyzerRule for GuardedDivisions {
    fn name(&self) -> &str {
        "causeway_guarded_divisions"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, Order::TopDown, guard)
    }
}

/// What a guard says of its divisor when it decides the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// True only where the divisor is not zero: `d <> 0`, `d > 0`, `d < 0`.
    NotZero,
    /// True wherever the divisor is zero: `d = 0`.
    Zero,
}

fn guard(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            op: op @ (Operator::And | Operator::Or),
            ..
        }) => guarded_operands(expr, op, schema),
        Expr::Case(case) if case.expr.is_none() => guarded_branches(case, schema),
        other => Ok(Transformed::no(other)),
    }
}

/// `g AND e` where `g` is false at zero, or `g OR e` where it is true: `e` divides safely.
fn guarded_operands(expr: Expr, op: Operator, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let wanted = if op == Operator::And {
        Guard::NotZero
    } else {
        Guard::Zero
    };
    let guarded: Vec<Option<&Expr>> = split_binary(&expr, op)
        .into_iter()
        .map(|operand| guarded_divisor(operand, wanted, schema))
        .collect();
    if guarded.iter().all(Option::is_none) {
        return Ok(Transformed::no(expr));
    }
    let guarded: Vec<Option<Expr>> = guarded.into_iter().map(|divisor| divisor.cloned()).collect();
    let mut transformed = false;
    let mut operands = Vec::with_capacity(guarded.len());
    for (index, operand) in split_binary_owned(expr, op).into_iter().enumerate() {
        let others: Vec<&Expr> = guarded
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != index)
            .filter_map(|(_, divisor)| divisor.as_ref())
            .collect();
        let operand = divide_safely(operand, &others, schema)?;
        transformed |= operand.transformed;
        operands.push(operand.data);
    }
    let joined = if op == Operator::And {
        conjunction(operands)
    } else {
        disjunction(operands)
    };
    match joined {
        Some(joined) => Ok(Transformed::new_transformed(joined, transformed)),
        None => datafusion::common::internal_err!("an {op} of no operands"),
    }
}

/// `CASE WHEN g THEN e`: `e` divides safely where `g` is false at zero; every branch after
/// `WHEN g`, and `ELSE`, where `g` is true at zero.
fn guarded_branches(case: Case, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let mut transformed = false;
    let mut after: Vec<Expr> = Vec::new();
    let mut branches = Vec::with_capacity(case.when_then_expr.len());
    for (when, then) in case.when_then_expr {
        let when = {
            let earlier: Vec<&Expr> = after.iter().collect();
            divide_safely(*when, &earlier, schema)?
        };
        transformed |= when.transformed;
        let mut covered: Vec<&Expr> = after.iter().collect();
        let not_zero = guarded_divisor(&when.data, Guard::NotZero, schema).cloned();
        covered.extend(not_zero.as_ref());
        let then = divide_safely(*then, &covered, schema)?;
        transformed |= then.transformed;
        if let Some(zero) = guarded_divisor(&when.data, Guard::Zero, schema) {
            after.push(zero.clone());
        }
        branches.push((Box::new(when.data), Box::new(then.data)));
    }
    let otherwise = match case.else_expr {
        Some(otherwise) => {
            let earlier: Vec<&Expr> = after.iter().collect();
            let otherwise = divide_safely(*otherwise, &earlier, schema)?;
            transformed |= otherwise.transformed;
            Some(Box::new(otherwise.data))
        }
        None => None,
    };
    Ok(Transformed::new_transformed(
        Expr::Case(Case::new(None, branches, otherwise)),
        transformed,
    ))
}

/// The divisor `operand` guards as `wanted`: `d` of `d <> 0` (or `0 <> d`, `d > 0`, `d < 0`)
/// for [`Guard::NotZero`], of `d = 0` for [`Guard::Zero`]. Only a divisor evaluated the
/// same way each time can be guarded.
fn guarded_divisor<'a>(operand: &'a Expr, wanted: Guard, schema: &DFSchema) -> Option<&'a Expr> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = operand else {
        return None;
    };
    let (divisor, op) = if is_zero(right, schema) {
        (left.as_ref(), *op)
    } else if is_zero(left, schema) {
        (right.as_ref(), op.swap()?)
    } else {
        return None;
    };
    let says = match op {
        Operator::NotEq | Operator::Gt | Operator::Lt => Guard::NotZero,
        Operator::Eq => Guard::Zero,
        _ => return None,
    };
    let divisor = bare(divisor, schema);
    (says == wanted && !divisor.is_volatile()).then_some(divisor)
}

/// Whether `expr` is a literal zero of a number, cast or not.
fn is_zero(expr: &Expr, schema: &DFSchema) -> bool {
    match bare(expr, schema) {
        Expr::Literal(value, _) => {
            !value.is_null() && ScalarValue::new_zero(&value.data_type()).is_ok_and(|zero| zero == *value)
        }
        _ => false,
    }
}

/// `expr` without the casts that keep zero apart from every other value: from an integer to
/// any number, from a decimal to a double or a decimal of no fewer fractional digits.
fn bare<'a>(expr: &'a Expr, schema: &DFSchema) -> &'a Expr {
    let (inner, to) = match expr {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            (expr, field.data_type())
        }
        other => return other,
    };
    let keeps_zero = match (inner.get_type(schema), to) {
        (Ok(from), to) if from.is_integer() => to.is_numeric(),
        (Ok(DataType::Decimal128(_, from) | DataType::Decimal256(_, from)), to) => match to {
            DataType::Float64 => true,
            DataType::Decimal128(_, scale) | DataType::Decimal256(_, scale) => *scale >= from,
            _ => false,
        },
        _ => false,
    };
    if keeps_zero { bare(inner, schema) } else { expr }
}

/// `operand` with each division and remainder by one of `divisors` made NULL at zero.
fn divide_safely(operand: Expr, divisors: &[&Expr], schema: &DFSchema) -> Result<Transformed<Expr>> {
    if divisors.is_empty() {
        return Ok(Transformed::no(operand));
    }
    operand.transform_up(|expr| match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: op @ (Operator::Divide | Operator::Modulo),
            right,
        }) if divisors.contains(&bare(&right, schema)) => {
            let Ok(zero) = right.get_type(schema).and_then(|t| ScalarValue::new_zero(&t)) else {
                return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })));
            };
            let null = ScalarValue::try_from(zero.data_type())?;
            let null_at_zero = Expr::Case(Case::new(
                None,
                vec![(
                    Box::new(Expr::BinaryExpr(BinaryExpr::new(
                        right.clone(),
                        Operator::Eq,
                        Box::new(Expr::Literal(zero, None)),
                    ))),
                    Box::new(Expr::Literal(null, None)),
                )],
                Some(right),
            ));
            Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                left,
                op,
                Box::new(null_at_zero),
            ))))
        }
        other => Ok(Transformed::no(other)),
    })
}
