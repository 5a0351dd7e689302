//! PostgreSQL's and SQL's spellings that DataFusion 55 reads otherwise or not at all,
//! rewritten in a parsed statement before it is planned.

mod joins;
mod placeholders;

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, CharacterLength, DataType, ExactNumberInfo, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, LimitClause, ObjectName, Query, SelectItem, SetExpr, Value, ValueWithSpan,
    VisitMut, VisitorMut, visit_expressions, visit_expressions_mut,
};

/// Makes each number written with an exponent (`1e300`, `2.5E-3`) a double precision.
/// Other numbers with a point are planned as exact decimals (`parse_float_as_decimal`),
/// as PostgreSQL reads `0.1` as a `numeric`; an exponent would make a decimal of negative
/// scale, or none at all past 38 digits (`1e300`), where a double holds it.
pub(super) fn exponents_as_doubles(statement: &mut DFStatement) {
    let mut inner = statement;
    while let DFStatement::Explain(explain) = inner {
        inner = &mut explain.statement;
    }
    let DFStatement::Statement(inner) = inner else {
        return;
    };
    let _ = visit_expressions_mut(inner.as_mut(), |expr| {
        if let Expr::Value(ValueWithSpan {
            value: Value::Number(text, _),
            ..
        }) = expr
            && text.contains(['e', 'E'])
        {
            let text = std::mem::take(text);
            *expr = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(Expr::Value(Value::SingleQuotedString(text).into())),
                data_type: DataType::Double(ExactNumberInfo::None),
                array: false,
                format: None,
            };
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Spellings of SQL's and PostgreSQL's that DataFusion 55 does not plan, written as the
/// ones it does: `FETCH FIRST n ROWS ONLY` as `LIMIT n`, `mod(a, b)` as `a % b`,
/// `sign(x)` as `signum(x)`, `CAST(x AS varchar(n))` as the first n characters of x and
/// `a ^ b` as `power(a, b)` (PostgreSQL's exponentiation; the generic dialect reads `^` as
/// XOR, and PostgreSQL's own dialect would lose `SELECT * EXCLUDE`). `IS [NOT] DISTINCT
/// FROM` binds tighter than `AND` and `OR`, as in PostgreSQL: the parser reads all that
/// follows it as its right operand (`a IS DISTINCT FROM b AND c` as `a IS DISTINCT FROM (b
/// AND c)`), and [`distinct_from_binds_tighter`] puts it back.
pub(super) fn standard_spellings(statement: &mut DFStatement) -> Result<(), Refusal> {
    let mut inner = statement;
    while let DFStatement::Explain(explain) = inner {
        inner = &mut explain.statement;
    }
    let DFStatement::Statement(inner) = inner else {
        return Ok(());
    };
    // First, while each placeholder is where it was written.
    placeholders::numbered_placeholders(inner)?;
    let _ = inner.visit(&mut FetchAsLimit);
    let _ = inner.visit(&mut NamedAsWritten);
    let _ = inner.visit(&mut joins::SubqueriesAsCounts);
    if let ControlFlow::Break(refusal) = inner.visit(&mut joins::UsingColumns) {
        return Err(refusal);
    }
    let _ = visit_expressions_mut(inner.as_mut(), |expr| {
        if let Expr::BinaryOp { op, .. } = expr
            && *op == BinaryOperator::BitwiseXor
        {
            *op = BinaryOperator::PGExp;
        }
        // `^` has the loosest binding of its run in the generic dialect (but for shifts, its
        // equals), so each run holding one is rooted at a `^`.
        if let Expr::BinaryOp { op, .. } = expr
            && *op == BinaryOperator::PGExp
        {
            let taken = std::mem::replace(expr, Expr::Value(Value::Null.into()));
            *expr = exponentiation_binds_tightest(taken);
            return ControlFlow::<()>::Continue(());
        }
        if matches!(expr, Expr::IsDistinctFrom(..) | Expr::IsNotDistinctFrom(..)) {
            let taken = std::mem::replace(expr, Expr::Value(Value::Null.into()));
            *expr = distinct_from_binds_tighter(taken);
            return ControlFlow::<()>::Continue(());
        }
        // `CAST(x AS varchar(n))` keeps the first n characters, as SQL and PostgreSQL say;
        // DataFusion's varchar has no length.
        if let Expr::Cast {
            kind,
            expr: operand,
            data_type:
                DataType::Varchar(Some(CharacterLength::IntegerLength { length, .. }))
                | DataType::CharacterVarying(Some(CharacterLength::IntegerLength { length, .. })),
            array: false,
            format: None,
        } = expr
        {
            let text = Expr::Cast {
                kind: kind.clone(),
                expr: operand.clone(),
                data_type: DataType::Varchar(None),
                array: false,
                format: None,
            };
            let number = |value: u64| Box::new(Expr::Value(Value::Number(value.to_string(), false).into()));
            *expr = Expr::Substring {
                expr: Box::new(text),
                substring_from: Some(number(1)),
                substring_for: Some(number(*length)),
                special: false,
                shorthand: false,
            };
            return ControlFlow::<()>::Continue(());
        }
        if let Expr::Function(function) = expr
            && let [name] = function.name.0.as_slice()
            && let Some(name) = name.as_ident()
            && let FunctionArguments::List(list) = &function.args
            && list.duplicate_treatment.is_none()
            && list.clauses.is_empty()
            && function.over.is_none()
            && function.filter.is_none()
        {
            let operands: Option<Vec<Expr>> = list
                .args
                .iter()
                .map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(operand)) => Some(operand.clone()),
                    _ => None,
                })
                .collect();
            match (name.value.to_ascii_lowercase().as_str(), operands.as_deref()) {
                ("mod", Some([dividend, divisor])) => {
                    *expr = Expr::Nested(Box::new(Expr::BinaryOp {
                        left: Box::new(dividend.clone()),
                        op: BinaryOperator::Modulo,
                        right: Box::new(divisor.clone()),
                    }));
                }
                ("sign", Some([_])) => {
                    function.name = ObjectName::from(vec![Ident::new("signum")]);
                }
                _ => {}
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(())
}

/// `a IS [NOT] DISTINCT FROM r` where the parser took `r` to be `x AND y`, `x OR y` or
/// `x IS ...` (operators that bind looser than `IS`, or as loosely, left to right) becomes
/// `(a IS [NOT] DISTINCT FROM x) AND y` and so on, down the left side of `r`. Parentheses
/// written in the query are kept: `a IS DISTINCT FROM (b AND c)` is a nested expression.
fn distinct_from_binds_tighter(expr: Expr) -> Expr {
    let (left, right, negated) = match expr {
        Expr::IsDistinctFrom(left, right) => (left, right, false),
        Expr::IsNotDistinctFrom(left, right) => (left, right, true),
        other => return other,
    };
    let rebuilt = |left: Box<Expr>, operand: Box<Expr>| {
        let inner = if negated {
            Expr::IsNotDistinctFrom(left, operand)
        } else {
            Expr::IsDistinctFrom(left, operand)
        };
        Box::new(distinct_from_binds_tighter(inner))
    };
    match *right {
        Expr::BinaryOp {
            left: first,
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            right: rest,
        } => Expr::BinaryOp {
            left: rebuilt(left, first),
            op,
            right: rest,
        },
        Expr::IsNull(first) => Expr::IsNull(rebuilt(left, first)),
        Expr::IsNotNull(first) => Expr::IsNotNull(rebuilt(left, first)),
        Expr::IsTrue(first) => Expr::IsTrue(rebuilt(left, first)),
        Expr::IsNotTrue(first) => Expr::IsNotTrue(rebuilt(left, first)),
        Expr::IsFalse(first) => Expr::IsFalse(rebuilt(left, first)),
        Expr::IsNotFalse(first) => Expr::IsNotFalse(rebuilt(left, first)),
        Expr::IsUnknown(first) => Expr::IsUnknown(rebuilt(left, first)),
        Expr::IsNotUnknown(first) => Expr::IsNotUnknown(rebuilt(left, first)),
        Expr::IsDistinctFrom(first, other) => Expr::IsDistinctFrom(rebuilt(left, first), other),
        Expr::IsNotDistinctFrom(first, other) => Expr::IsNotDistinctFrom(rebuilt(left, first), other),
        right if negated => Expr::IsNotDistinctFrom(left, Box::new(right)),
        right => Expr::IsDistinctFrom(left, Box::new(right)),
    }
}

/// Names each unnamed item of a select list that holds parentheses by its text as written
/// (`(2 + 3) * 4`): DataFusion names an expression by its operators and operands without
/// the parentheses, so `2 + 3 * 4` and `(2 + 3) * 4` in one list had the same name and
/// the query failed.
struct NamedAsWritten;

impl VisitorMut for NamedAsWritten {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        name_parenthesized(&mut query.body);
        ControlFlow::Continue(())
    }
}

fn name_parenthesized(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            name_colliding_subqueries(&mut select.projection);
            for item in &mut select.projection {
                let SelectItem::UnnamedExpr(expr) = item else {
                    continue;
                };
                // `(name)` is still called `name`.
                let mut bare = &*expr;
                while let Expr::Nested(inner) = bare {
                    bare = inner;
                }
                if matches!(bare, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
                    continue;
                }
                let mut parenthesized = false;
                let _ = visit_expressions(expr, |inner| {
                    parenthesized |= matches!(inner, Expr::Nested(_));
                    ControlFlow::<()>::Continue(())
                });
                if parenthesized {
                    let alias = Ident::with_quote('"', expr.to_string());
                    *item = SelectItem::ExprWithAlias {
                        expr: expr.clone(),
                        alias,
                    };
                }
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            name_parenthesized(left);
            name_parenthesized(right);
        }
        _ => {}
    }
}

/// The name an item of a select list gets without an alias, where it is a column's
/// (`id`, `t.id`) or given (`x AS id`), folded as PostgreSQL folds unquoted names; `None`
/// for any other expression.
fn item_name(item: &SelectItem) -> Option<String> {
    let folded = |ident: &Ident| match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    };
    match item {
        SelectItem::ExprWithAlias { alias, .. } => Some(folded(alias)),
        SelectItem::UnnamedExpr(Expr::Identifier(ident)) => Some(folded(ident)),
        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => parts.last().map(folded),
        _ => None,
    }
}

/// Names a scalar subquery of a select list by its text as written where the name
/// DataFusion gives it, its own column's (`(SELECT id FROM people ...)` is `id`), is also
/// another item's (`SELECT id, (SELECT id ...) FROM firms`) or may be (after `*`): DataFusion
/// would call the two names ambiguous and fail, where PostgreSQL answers two columns.
fn name_colliding_subqueries(projection: &mut [SelectItem]) {
    let wildcard = projection
        .iter()
        .any(|item| matches!(item, SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)));
    let subquery_name = |item: &SelectItem| -> Option<String> {
        let SelectItem::UnnamedExpr(Expr::Subquery(query)) = item else {
            return None;
        };
        let SetExpr::Select(inner) = query.body.as_ref() else {
            return None;
        };
        match inner.projection.as_slice() {
            [only] => item_name(only),
            _ => None,
        }
    };
    let names: Vec<Option<String>> = projection.iter().map(item_name).collect();
    for (index, item) in projection.iter_mut().enumerate() {
        let Some(name) = subquery_name(item) else {
            continue;
        };
        let collides = wildcard
            || names
                .iter()
                .enumerate()
                .any(|(other, other_name)| other != index && other_name.as_deref() == Some(name.as_str()));
        if let (true, SelectItem::UnnamedExpr(expr)) = (collides, &*item) {
            let alias = Ident::with_quote('"', expr.to_string());
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias,
            };
        }
    }
}

/// The binary operators the generic dialect binds at least as tightly as `^` (its
/// precedence 22), by PostgreSQL's precedence: `^` above `*`, `/`, `%` and `||`, above
/// `+` and `-`, above `&`, `XOR` and the shifts (the generic dialect's own order).
fn precedence(op: &BinaryOperator) -> Option<u8> {
    Some(match op {
        BinaryOperator::PGExp => 50,
        BinaryOperator::Multiply
        | BinaryOperator::Divide
        | BinaryOperator::Modulo
        | BinaryOperator::DuckIntegerDivide
        | BinaryOperator::StringConcat => 40,
        BinaryOperator::Plus | BinaryOperator::Minus => 30,
        BinaryOperator::Xor => 24,
        BinaryOperator::BitwiseAnd => 23,
        BinaryOperator::PGBitwiseShiftLeft | BinaryOperator::PGBitwiseShiftRight => 22,
        _ => return None,
    })
}

/// One operand or operator of a run of binary operators, in the order written.
enum Term {
    Operand(Box<Expr>),
    Operator(BinaryOperator),
}

/// `expr` with `^` binding tighter than `*` and `+`, and unary signs tighter than `^`, as
/// in PostgreSQL (`2 ^ 3 + 1` is 9, `2 * 3 ^ 2` is 18, `- 2 ^ 2` is 4). The generic
/// dialect parses `^` as XOR, below `+`: the run of operators is read again, in the order
/// written, by PostgreSQL's precedence. Parentheses written in the query bound the run.
fn exponentiation_binds_tightest(expr: Expr) -> Expr {
    let mut terms = Vec::new();
    flatten(expr, &mut terms);
    climb(&mut terms.into_iter().peekable(), 0)
}

fn flatten(expr: Expr, terms: &mut Vec<Term>) {
    match expr {
        Expr::BinaryOp { left, op, right } if precedence(&op).is_some() => {
            flatten(*left, terms);
            terms.push(Term::Operator(op));
            flatten(*right, terms);
        }
        // `- 2 * 3 ^ 2` was parsed as `-(2 * 3) ^ 2`: the sign belongs to the first operand.
        Expr::UnaryOp { op, expr: operand } if matches!(*operand, Expr::BinaryOp { op: ref inner, .. } if precedence(inner).is_some()) =>
        {
            let first = terms.len();
            flatten(*operand, terms);
            if let Some(Term::Operand(head)) = terms.get_mut(first) {
                let signed = std::mem::replace(head.as_mut(), Expr::Value(Value::Null.into()));
                **head = Expr::UnaryOp {
                    op,
                    expr: Box::new(signed),
                };
            }
        }
        other => terms.push(Term::Operand(Box::new(other))),
    }
}

/// Precedence climbing over `terms`, every operator left-associative.
fn climb(terms: &mut std::iter::Peekable<std::vec::IntoIter<Term>>, least: u8) -> Expr {
    let mut left = match terms.next() {
        Some(Term::Operand(operand)) => *operand,
        // Terms alternate, beginning with an operand; nothing else can come first.
        Some(Term::Operator(_)) | None => Expr::Value(Value::Null.into()),
    };
    while let Some(Term::Operator(op)) = terms.peek() {
        let Some(binding) = precedence(op).filter(|binding| *binding >= least) else {
            break;
        };
        let Some(Term::Operator(op)) = terms.next() else {
            break;
        };
        let right = climb(terms, binding + 1);
        left = Expr::BinaryOp {
            left: Box::new(left),
            op,
            right: Box::new(right),
        };
    }
    left
}

/// A statement refused while spelling.
#[derive(Debug)]
pub(in crate::query) enum Refusal {
    /// A shape the engine would answer wrongly (see the README's list).
    NotSupported(&'static str),
    /// A statement no engine could read one way only.
    Invalid(&'static str),
}

impl From<Refusal> for super::QueryError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotSupported(shape) => Self::NotSupported(shape),
            Refusal::Invalid(reason) => Self::Plan(reason.to_owned()),
        }
    }
}

/// `FETCH FIRST n ROWS ONLY` (without `WITH TIES` or `PERCENT`) as `LIMIT n`.
struct FetchAsLimit;

impl VisitorMut for FetchAsLimit {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let Some(fetch) = &query.fetch else {
            return ControlFlow::Continue(());
        };
        if fetch.with_ties || fetch.percent {
            return ControlFlow::Continue(());
        }
        let quantity = fetch
            .quantity
            .clone()
            .unwrap_or_else(|| Expr::Value(Value::Number("1".into(), false).into()));
        match &mut query.limit_clause {
            None => {
                query.limit_clause = Some(LimitClause::LimitOffset {
                    limit: Some(quantity),
                    offset: None,
                    limit_by: Vec::new(),
                });
            }
            Some(LimitClause::LimitOffset {
                limit: limit @ None, ..
            }) => *limit = Some(quantity),
            Some(_) => return ControlFlow::Continue(()),
        }
        query.fetch = None;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use causeway_policies::SyntaxLimits;
    use datafusion::sql::sqlparser::ast::{Statement, Visit, Visitor};

    use super::*;

    pub(super) fn parse_read_query(sql: &str) -> Result<DFStatement, super::super::QueryError> {
        super::super::statement::parse_read_query(sql, &SyntaxLimits::default())
    }

    /// The statement's text once rewritten.
    pub(super) fn spelled(sql: &str) -> String {
        match parse_read_query(sql) {
            Ok(DFStatement::Statement(statement)) => statement.to_string(),
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn distinct_from_binds_tighter_than_and_or_as_in_postgresql() {
        let Ok(DFStatement::Statement(statement)) =
            parse_read_query("SELECT 1 FROM t WHERE a IS NOT DISTINCT FROM b AND c = d OR e")
        else {
            panic!("a query");
        };
        let Statement::Query(query) = *statement else {
            panic!("a query");
        };
        let SetExpr::Select(select) = *query.body else {
            panic!("a select");
        };
        // ((a IS NOT DISTINCT FROM b) AND c = d) OR e
        let Some(Expr::BinaryOp {
            left: conjunction,
            op: BinaryOperator::Or,
            ..
        }) = select.selection
        else {
            panic!("OR at the top: {:?}", select.selection);
        };
        let Expr::BinaryOp {
            left: comparison,
            op: BinaryOperator::And,
            ..
        } = *conjunction
        else {
            panic!("AND under OR: {conjunction:?}");
        };
        assert!(
            matches!(*comparison, Expr::IsNotDistinctFrom(..)),
            "{comparison:?}"
        );
        // Written parentheses stay.
        assert_eq!(
            spelled("SELECT 1 FROM t WHERE a IS DISTINCT FROM (b AND c)"),
            "SELECT 1 FROM t WHERE a IS DISTINCT FROM (b AND c)"
        );
    }

    #[test]
    fn parenthesized_items_are_named_as_written() {
        assert_eq!(
            spelled("SELECT 2 + 3 * 4, (2 + 3) * 4, (x), t.y FROM t"),
            "SELECT 2 + 3 * 4, (2 + 3) * 4 AS \"(2 + 3) * 4\", (x), t.y FROM t"
        );
    }

    #[test]
    fn exponentiation_binds_tighter_than_products_and_sums() {
        for (written, tree) in [
            ("SELECT 2 ^ 3 + 1", "[[2 ^ 3] + 1]"),
            ("SELECT 2 * 3 ^ 2", "[2 * [3 ^ 2]]"),
            ("SELECT 1 + 2 ^ 3 * 4", "[1 + [[2 ^ 3] * 4]]"),
            ("SELECT - 2 * 3 ^ 2", "[[-2] * [3 ^ 2]]"),
            ("SELECT 2 ^ 3 ^ 2", "[[2 ^ 3] ^ 2]"),
            ("SELECT (2 * 3) ^ 2", "[[2 * 3] ^ 2]"),
        ] {
            let Ok(DFStatement::Statement(statement)) = parse_read_query(written) else {
                panic!("{written}");
            };
            let Statement::Query(query) = *statement else {
                panic!("{written}");
            };
            let SetExpr::Select(select) = *query.body else {
                panic!("{written}");
            };
            let Some(SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) =
                select.projection.first()
            else {
                panic!("{written}");
            };
            assert_eq!(shape(expr), tree, "{written}");
        }
    }

    /// The tree of an expression, each operation in brackets.
    fn shape(expr: &Expr) -> String {
        match expr {
            Expr::BinaryOp { left, op, right } => format!("[{} {op} {}]", shape(left), shape(right)),
            Expr::UnaryOp { op, expr } => format!("[{op}{}]", shape(expr)),
            Expr::Nested(inner) => shape(inner),
            other => other.to_string(),
        }
    }

    #[test]
    fn caret_is_exponentiation() {
        let Ok(DFStatement::Statement(statement)) = parse_read_query("SELECT 2 ^ 3") else {
            panic!("a query");
        };
        let mut operators = Vec::new();
        let _ = statement.visit(&mut Operators(&mut operators));
        assert_eq!(operators, vec![BinaryOperator::PGExp]);
    }

    struct Operators<'a>(&'a mut Vec<BinaryOperator>);

    impl Visitor for Operators<'_> {
        type Break = ();

        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if let Expr::BinaryOp { op, .. } = expr {
                self.0.push(op.clone());
            }
            ControlFlow::Continue(())
        }
    }
}
