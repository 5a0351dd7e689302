//! A chain of operations rewritten as one function call, not one call per operation.
//!
//! The checked arithmetic of [`super::checked`] and [`super::floats`] turns operators into
//! function calls. In DataFusion 55, typing a function call types each of its arguments
//! together with its name (`ExprSchemable::to_field`), and the name of a call is written out
//! from its arguments' names, so typing a call nested `n` deep writes `n` names of up to `n`
//! terms: quadratic. The optimizer types each level again, so a flat chain of `n` additions
//! rewritten call by call took time as the cube of `n` to plan (1,000 terms: 11 s on a
//! debug build; 2,000: 78 s), much of it in single steps that no deadline can interrupt.
//!
//! [`rewrite`] takes a whole chain of operations that a rule rewrites (`a + b - c * d`, and
//! `-(x + y)`) and makes it a single [`Chain`] call whose arguments are the chain's
//! operands, evaluated step by step in the order PostgreSQL evaluates the operators. Where
//! both operands of an operation are chains of their own, the larger one is followed and the
//! other becomes an operand, a chain of its own: calls then nest at most about `log2(n)` deep
//! for `n` operations, whatever the shape of the tree.
//!
//! A chain is named as the expression it replaces (`a + b - c`), so plans read the same
//! columns as before the rewrite. The operators are typed once, from the bottom up, rather
//! than by asking DataFusion for the type of each, which types everything below it again.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{DFSchema, Result, exec_err};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

/// One kind of operation in a chain: what it computes from its operands.
pub(crate) trait Operation: Debug + Clone + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// The name of a call of this operation alone (`checked_add`).
    fn name(&self) -> &'static str;
    /// The operator it stands for, for the chain's name.
    fn arithmetic(&self) -> Arithmetic;
    /// The type of the result, as DataFusion typed the operator.
    fn result_type(&self) -> &DataType;
    /// The result from the left operand and, for a binary operation, the right one.
    fn apply(&self, left: ColumnarValue, right: Option<ColumnarValue>) -> Result<ColumnarValue>;
}

/// Which side of a step the value computed so far is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Operand {
    /// A unary operation of the value so far.
    None,
    /// `so_far op operand`.
    Right,
    /// `operand op so_far`.
    Left,
}

/// One step of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Step<O> {
    operation: O,
    operand: Operand,
}

/// A chain of operations as one function: its first argument is the innermost operation's
/// first operand, and each step takes the next argument, if it has one.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Chain<O> {
    /// The name of a chain of more than one step.
    name: &'static str,
    steps: Vec<Step<O>>,
    signature: Signature,
}

/// An operator that a chain may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Arithmetic {
    /// `+`, `-`, `*` or `/`.
    Binary(Operator),
    /// Unary `-`.
    Negate,
}

/// Which operation, if any, a rule makes of an operator whose operands have these types
/// (the right one for a binary operator).
pub(crate) type Classify<'a, O> = &'a dyn Fn(Arithmetic, &DataType, Option<&DataType>) -> Option<O>;

/// What a rule does to an expression that is no operator of a chain (with its own
/// operators inside it).
pub(crate) type Leaf<'a> = &'a mut dyn FnMut(Expr) -> Result<Transformed<Expr>>;

/// Rewrites the operators at the top of `expr` (see the module's documentation), each as
/// `classify` says, chains of them as single calls (a chain of more than one step is named
/// `name`); every other expression within is given to `leaf`. The whole of it is done here,
/// so the walk that called this is told not to go into it again (`Jump`): each operator is
/// typed once, from its operands' types, where asking DataFusion for the type of each would
/// type the operators below it again, quadratic in a chain's length.
pub(crate) fn rewrite<O: Operation>(
    expr: Expr,
    schema: &DFSchema,
    name: &'static str,
    classify: Classify<'_, O>,
    leaf: Leaf<'_>,
) -> Result<Transformed<Expr>> {
    if !is_operator(&expr) {
        return Ok(Transformed::no(expr));
    }
    let (typed, _) = typed(expr, schema, classify);
    let rewritten = emit(typed, name, leaf)?;
    Ok(Transformed::new(
        rewritten.data,
        rewritten.transformed,
        TreeNodeRecursion::Jump,
    ))
}

fn is_operator(expr: &Expr) -> bool {
    match expr {
        Expr::BinaryExpr(BinaryExpr { op, .. }) => is_arithmetic(*op),
        Expr::Negative(_) => true,
        _ => false,
    }
}

fn is_arithmetic(op: Operator) -> bool {
    matches!(
        op,
        Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Divide
    )
}

/// An expression's operators with what the rule makes of each, and how many operators
/// each has under it.
enum Typed<O> {
    Binary {
        op: Operator,
        left: Box<Typed<O>>,
        right: Box<Typed<O>>,
        rewritten: Option<O>,
        size: usize,
    },
    Negate {
        operand: Box<Typed<O>>,
        rewritten: Option<O>,
        size: usize,
    },
    Leaf(Expr),
}

impl<O> Typed<O> {
    fn rewritten(&self) -> bool {
        matches!(
            self,
            Self::Binary {
                rewritten: Some(_),
                ..
            } | Self::Negate {
                rewritten: Some(_),
                ..
            }
        )
    }

    fn size(&self) -> usize {
        match self {
            Self::Binary { size, .. } | Self::Negate { size, .. } => *size,
            Self::Leaf(_) => 0,
        }
    }
}

/// `expr`'s operators typed from the bottom up, as DataFusion types them, and `expr`'s type
/// (`None` where it cannot be told: nothing above it is rewritten then).
fn typed<O: Operation>(
    expr: Expr,
    schema: &DFSchema,
    classify: Classify<'_, O>,
) -> (Typed<O>, Option<DataType>) {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_arithmetic(op) => {
            let (left, left_type) = typed(*left, schema, classify);
            let (right, right_type) = typed(*right, schema, classify);
            let (rewritten, data_type) = match (left_type, right_type) {
                (Some(left_type), Some(right_type)) => {
                    let rewritten = classify(Arithmetic::Binary(op), &left_type, Some(&right_type));
                    let data_type = match &rewritten {
                        Some(operation) => Some(operation.result_type().clone()),
                        None => BinaryTypeCoercer::new(&left_type, &op, &right_type)
                            .get_result_type()
                            .ok(),
                    };
                    (rewritten, data_type)
                }
                _ => (None, None),
            };
            let size = 1 + left.size() + right.size();
            let node = Typed::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
                rewritten,
                size,
            };
            (node, data_type)
        }
        Expr::Negative(operand) => {
            let (operand, operand_type) = typed(*operand, schema, classify);
            let rewritten = operand_type
                .as_ref()
                .and_then(|operand_type| classify(Arithmetic::Negate, operand_type, None));
            let data_type = match &rewritten {
                Some(operation) => Some(operation.result_type().clone()),
                None => operand_type,
            };
            let size = 1 + operand.size();
            let node = Typed::Negate {
                operand: Box::new(operand),
                rewritten,
                size,
            };
            (node, data_type)
        }
        other => {
            let data_type = other.get_type(schema).ok();
            (Typed::Leaf(other), data_type)
        }
    }
}

/// The expression `typed` becomes: operators the rule rewrites as chains, the others as
/// they were, everything else as `leaf` makes it.
fn emit<O: Operation>(typed: Typed<O>, name: &'static str, leaf: Leaf<'_>) -> Result<Transformed<Expr>> {
    match typed {
        Typed::Leaf(expr) => leaf(expr),
        Typed::Binary {
            op,
            left,
            right,
            rewritten: None,
            ..
        } => {
            let left = emit(*left, name, leaf)?;
            let right = emit(*right, name, leaf)?;
            let transformed = left.transformed || right.transformed;
            let expr = Expr::BinaryExpr(BinaryExpr::new(Box::new(left.data), op, Box::new(right.data)));
            Ok(Transformed::new_transformed(expr, transformed))
        }
        Typed::Negate {
            operand,
            rewritten: None,
            ..
        } => Ok(emit(*operand, name, leaf)?.update_data(|operand| Expr::Negative(Box::new(operand)))),
        chain => fold(chain, name, leaf).map(Transformed::yes),
    }
}

/// The chain of rewritten operators at `top` as one call. Where both operands of an
/// operator are rewritten, the one with more operators under it goes on with the chain.
fn fold<O: Operation>(top: Typed<O>, name: &'static str, leaf: Leaf<'_>) -> Result<Expr> {
    // Collected from the top down, then turned around.
    let (mut steps, mut operands) = (Vec::new(), Vec::new());
    let mut current = top;
    loop {
        match current {
            Typed::Negate {
                operand,
                rewritten: Some(operation),
                ..
            } => {
                steps.push(Step {
                    operation,
                    operand: Operand::None,
                });
                current = *operand;
            }
            Typed::Binary {
                left,
                right,
                rewritten: Some(operation),
                ..
            } => {
                let follow_left = left.rewritten() && (!right.rewritten() || left.size() >= right.size());
                if follow_left {
                    steps.push(Step {
                        operation,
                        operand: Operand::Right,
                    });
                    operands.push(*right);
                    current = *left;
                } else if right.rewritten() {
                    steps.push(Step {
                        operation,
                        operand: Operand::Left,
                    });
                    operands.push(*left);
                    current = *right;
                } else {
                    steps.push(Step {
                        operation,
                        operand: Operand::Right,
                    });
                    operands.push(*right);
                    operands.push(*left);
                    break;
                }
            }
            operand => {
                operands.push(operand);
                break;
            }
        }
    }
    steps.reverse();
    let operands = operands
        .into_iter()
        .rev()
        .map(|operand| emit(operand, name, leaf).map(|operand| operand.data))
        .collect::<Result<Vec<_>>>()?;
    let chain = Chain {
        name,
        steps,
        signature: Signature::any(operands.len(), Volatility::Immutable),
    };
    let call = ScalarFunction::new_udf(Arc::new(ScalarUDF::new_from_impl(chain)), operands);
    Ok(Expr::ScalarFunction(call))
}

impl<O: Operation> Chain<O> {
    /// The chain's name: the expression it replaces, as DataFusion names operators
    /// (`a + b - c`, `(- a)`), from its operands' names.
    fn written(&self, args: &[Expr]) -> Result<String> {
        let write = |arg: &Expr| arg.schema_name().to_string();
        let mut operands = args.iter();
        let Some(first) = operands.next() else {
            return exec_err!("{} has no operands", self.name());
        };
        // Each step wraps what is written so far: what goes before it is kept in `before`
        // (innermost first) and what goes after it in `after`, so nothing is copied twice.
        let (mut before, mut after) = (Vec::new(), Vec::new());
        for step in &self.steps {
            // `Operator`'s display is the one DataFusion names `BinaryExpr`s with.
            let op = match step.operation.arithmetic() {
                Arithmetic::Binary(op) => op,
                Arithmetic::Negate => {
                    before.push("(- ".to_owned());
                    after.push(")".to_owned());
                    continue;
                }
            };
            let Some(operand) = operands.next() else {
                return exec_err!("{} has too few operands", self.name());
            };
            match step.operand {
                Operand::Left => before.push(format!("{} {op} ", write(operand))),
                Operand::Right | Operand::None => after.push(format!(" {op} {}", write(operand))),
            }
        }
        let mut written: String = before.iter().rev().map(String::as_str).collect();
        written.push_str(&write(first));
        written.extend(after.iter().map(String::as_str));
        Ok(written)
    }
}

impl<O: Operation> ScalarUDFImpl for Chain<O> {
    fn name(&self) -> &str {
        match self.steps.as_slice() {
            [only] => only.operation.name(),
            _ => self.name,
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arguments: &[DataType]) -> Result<DataType> {
        match self.steps.last() {
            Some(last) => Ok(last.operation.result_type().clone()),
            None => exec_err!("{} has no steps", self.name),
        }
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.written(args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut operands = args.args.into_iter();
        let Some(mut value) = operands.next() else {
            return exec_err!("{} has no operands", self.name());
        };
        for step in &self.steps {
            value = match step.operand {
                Operand::None => step.operation.apply(value, None)?,
                Operand::Right => match operands.next() {
                    Some(right) => step.operation.apply(value, Some(right))?,
                    None => return exec_err!("{} has too few operands", self.name()),
                },
                Operand::Left => match operands.next() {
                    Some(left) => step.operation.apply(left, Some(value))?,
                    None => return exec_err!("{} has too few operands", self.name()),
                },
            };
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests;
