//! Only read queries run: one `SELECT`, `WITH ... SELECT`, `VALUES` or an `EXPLAIN` of one,
//! and the statements that describe the catalog (`SHOW TABLES`, `SHOW COLUMNS`, `DESCRIBE`).

use std::ops::ControlFlow;

use causeway_policies::{SyntaxLimits, on_deep_stack};
use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, CharacterLength, DataType, ExactNumberInfo, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, LimitClause, ObjectName, Query, SelectItem, SetExpr, SetOperator,
    SetQuantifier, Statement, Value, ValueWithSpan, Visit, VisitMut, Visitor, VisitorMut, visit_expressions,
    visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::Tokenizer;

use super::QueryError;

/// Parses `sql` and accepts it only if it is exactly one read query within `limits`. A
/// statement is measured before anything recursive walks it, on a stack sized for its
/// text; one that is accepted fits the limits, so later work on it needs bounded stack.
pub fn parse_read_query(sql: &str, limits: &SyntaxLimits) -> Result<DFStatement, QueryError> {
    on_deep_stack(sql.len(), || parse_within(sql, limits))
}

fn parse_within(sql: &str, limits: &SyntaxLimits) -> Result<DFStatement, QueryError> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|error| QueryError::Syntax(error.to_string()))?;
    limits.check_tokens(&tokens).map_err(QueryError::TooLarge)?;
    drop(tokens);
    let mut statements = DFParserBuilder::new(sql)
        .with_dialect(&GenericDialect {})
        .build()
        .and_then(|mut parser| parser.parse_statements())
        .map_err(|error| QueryError::Syntax(error.strip_backtrace()))?;
    if statements.len() != 1 {
        return Err(QueryError::NotOneStatement(statements.len()));
    }
    let statement = statements.pop_front().ok_or(QueryError::NotOneStatement(0))?;
    // Measured before anything else looks at it: even naming a refused statement prints it.
    let mut inner = &statement;
    while let DFStatement::Explain(explain) = inner {
        inner = &explain.statement;
    }
    if let DFStatement::Statement(inner) = inner {
        limits.check_statement(inner).map_err(QueryError::TooLarge)?;
        match inner.visit(&mut RefusedShapes) {
            ControlFlow::Break(Refused::Function(name)) => {
                return Err(QueryError::FunctionNotAvailable(name));
            }
            ControlFlow::Break(Refused::Shape(shape)) => return Err(QueryError::NotSupported(shape)),
            ControlFlow::Continue(()) => {}
        }
    }
    let mut statement = statement;
    exponents_as_doubles(&mut statement);
    standard_spellings(&mut statement);
    match &statement {
        DFStatement::Statement(inner) if is_read(inner) => Ok(statement),
        // EXPLAIN ANALYZE runs the query and reports how many rows each step read, and
        // EXPLAIN VERBOSE prints the sources' statistics (row counts, each column's minimum
        // and maximum), the rows the grants hide included: only the plan may be explained.
        DFStatement::Explain(explain) if explain.options.analyze || explain.options.verbose => {
            Err(QueryError::ExplainAnalyze)
        }
        DFStatement::Explain(explain) if is_query(&explain.statement) => Ok(statement),
        other => Err(QueryError::NotReadOnly(kind(other))),
    }
}

/// Makes each number written with an exponent (`1e300`, `2.5E-3`) a double precision.
/// Other numbers with a point are planned as exact decimals (`parse_float_as_decimal`),
/// as PostgreSQL reads `0.1` as a `numeric`; an exponent would make a decimal of negative
/// scale, or none at all past 38 digits (`1e300`), where a double holds it.
fn exponents_as_doubles(statement: &mut DFStatement) {
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
fn standard_spellings(statement: &mut DFStatement) {
    let mut inner = statement;
    while let DFStatement::Explain(explain) = inner {
        inner = &mut explain.statement;
    }
    let DFStatement::Statement(inner) = inner else {
        return;
    };
    let _ = inner.visit(&mut FetchAsLimit);
    let _ = inner.visit(&mut NamedAsWritten);
    let _ = visit_expressions_mut(inner.as_mut(), |expr| {
        if let Expr::BinaryOp { op, .. } = expr
            && *op == BinaryOperator::BitwiseXor
        {
            *op = BinaryOperator::PGExp;
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

/// Functions that tell where a row is stored (its file, its position in the file): they
/// would show how a dataset is laid out, and which rows a row filter hides lie between
/// those shown. Refused by name wherever they appear; the engine does not have them either.
pub(super) const REFUSED_FUNCTIONS: [&str; 2] = ["input_file_name", "file_row_index"];

/// What a statement is refused for before it is planned.
enum Refused {
    Function(String),
    /// A shape DataFusion 55 answers wrongly (see the README's list).
    Shape(&'static str),
}

struct RefusedShapes;

impl Visitor for RefusedShapes {
    type Break = Refused;

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Refused> {
        if let Expr::Function(function) = expr
            && let Some(name) = function.name.0.last().and_then(|part| part.as_ident())
            && let Some(refused) = REFUSED_FUNCTIONS
                .iter()
                .find(|refused| name.value.eq_ignore_ascii_case(refused))
        {
            return ControlFlow::Break(Refused::Function((*refused).to_owned()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Refused> {
        bag_operation(&query.body).map_or(ControlFlow::Continue(()), |shape| {
            ControlFlow::Break(Refused::Shape(shape))
        })
    }
}

/// `INTERSECT ALL` and `EXCEPT ALL` keep duplicates by count (`min(m, n)` and `m - n`
/// copies of a row); DataFusion 55 returns every duplicate of the left side, or none.
fn bag_operation(body: &SetExpr) -> Option<&'static str> {
    match body {
        SetExpr::SetOperation {
            op,
            set_quantifier,
            left,
            right,
        } => {
            let all = matches!(set_quantifier, SetQuantifier::All);
            match op {
                SetOperator::Intersect if all => Some("INTERSECT ALL (use INTERSECT, or a join with counts)"),
                SetOperator::Except if all => Some("EXCEPT ALL (use EXCEPT, or a join with counts)"),
                _ => bag_operation(left).or_else(|| bag_operation(right)),
            }
        }
        _ => None,
    }
}

fn is_query(statement: &DFStatement) -> bool {
    matches!(statement, DFStatement::Statement(inner) if matches!(inner.as_ref(), Statement::Query(_)))
}

/// Queries, and the statements that only describe the catalog (SHOW TABLES, SHOW COLUMNS,
/// DESCRIBE), which read its information_schema.
fn is_read(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Query(_)
            | Statement::ShowTables { .. }
            | Statement::ShowColumns { .. }
            | Statement::ExplainTable { .. }
    )
}

/// The statement's leading keywords, for the error message.
fn kind(statement: &DFStatement) -> String {
    let text = match statement {
        DFStatement::CopyTo(_) => return "COPY".into(),
        DFStatement::CreateExternalTable(_) => return "CREATE EXTERNAL TABLE".into(),
        DFStatement::Reset(_) => return "RESET".into(),
        DFStatement::Explain(explain) => return format!("EXPLAIN {}", kind(&explain.statement)),
        DFStatement::Statement(inner) => inner.to_string(),
    };
    text.split_whitespace()
        .take_while(|word| word.chars().all(|c| c.is_ascii_alphabetic()))
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_read_query(sql: &str) -> Result<DFStatement, QueryError> {
        super::parse_read_query(sql, &SyntaxLimits::default())
    }

    #[test]
    fn read_queries_are_accepted() {
        for sql in [
            "SELECT 1",
            "with t as (select 1 as x) select x from t",
            "EXPLAIN SELECT * FROM civil_affairs.residents",
            "VALUES (1), (2)",
            "SELECT 1;",
            "SHOW TABLES",
            "DESCRIBE civil_affairs.residents",
        ] {
            assert!(parse_read_query(sql).is_ok(), "{sql}");
        }
    }

    #[test]
    fn everything_else_is_refused_by_name() {
        let cases = [
            ("CREATE TABLE t (x INT)", "CREATE TABLE"),
            ("INSERT INTO t VALUES (1)", "INSERT INTO"),
            ("DELETE FROM t", "DELETE FROM"),
            ("DROP TABLE civil_affairs.residents", "DROP TABLE"),
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            ("SET datafusion.execution.batch_size = 1", "SET"),
            (
                "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
                "CREATE EXTERNAL TABLE",
            ),
            ("EXPLAIN CREATE TABLE t (x INT)", "EXPLAIN CREATE TABLE"),
        ];
        for (sql, expected) in cases {
            match parse_read_query(sql) {
                Err(QueryError::NotReadOnly(kind)) => assert_eq!(kind, expected, "{sql}"),
                other => panic!("{sql}: {other:?}"),
            }
        }
    }

    #[test]
    fn functions_that_tell_where_rows_are_stored_are_refused_by_name() {
        for sql in [
            "SELECT count(*) FROM civil_affairs.residents GROUP BY input_file_name()",
            "SELECT INPUT_FILE_NAME() FROM civil_affairs.residents",
            "EXPLAIN SELECT file_row_index() FROM t",
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM t WHERE input_file_name() = 'x')",
        ] {
            assert!(
                matches!(parse_read_query(sql), Err(QueryError::FunctionNotAvailable(_))),
                "{sql}"
            );
        }
        assert!(parse_read_query("SELECT input_file_name FROM t").is_ok());
    }

    #[test]
    fn bag_intersections_and_differences_are_refused_until_they_are_right() {
        for sql in [
            "SELECT a FROM t INTERSECT ALL SELECT a FROM u",
            "SELECT a FROM t UNION SELECT a FROM (SELECT a FROM u EXCEPT ALL SELECT a FROM v) w",
        ] {
            assert!(
                matches!(parse_read_query(sql), Err(QueryError::NotSupported(_))),
                "{sql}"
            );
        }
        for sql in [
            "SELECT a FROM t INTERSECT SELECT a FROM u",
            "SELECT a FROM t EXCEPT SELECT a FROM u",
            "SELECT a FROM t UNION ALL SELECT a FROM u",
        ] {
            assert!(parse_read_query(sql).is_ok(), "{sql}");
        }
    }

    /// The statement's text once rewritten.
    fn spelled(sql: &str) -> String {
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

    #[test]
    fn explain_analyze_is_refused() {
        assert!(matches!(
            parse_read_query("EXPLAIN ANALYZE SELECT 1"),
            Err(QueryError::ExplainAnalyze)
        ));
        assert!(matches!(
            parse_read_query("EXPLAIN VERBOSE SELECT 1"),
            Err(QueryError::ExplainAnalyze)
        ));
        assert!(parse_read_query("EXPLAIN FORMAT TREE SELECT 1").is_ok());
    }

    #[test]
    fn statements_beyond_the_limits_are_refused_before_planning() {
        let limits = SyntaxLimits {
            max_depth: 100,
            max_terms: 10_000,
        };
        let chain = format!("SELECT {}", vec!["1"; 100_000].join("+"));
        for sql in [
            chain.clone(),
            format!("EXPLAIN {chain}"),
            vec!["SELECT 1"; 500].join(" UNION ALL "),
        ] {
            assert!(
                matches!(
                    super::parse_read_query(&sql, &limits),
                    Err(QueryError::TooLarge(
                        causeway_policies::SyntaxLimitExceeded::Depth { limit: 100 }
                    ))
                ),
                "{}",
                &sql[..40]
            );
        }
    }

    #[test]
    fn several_statements_and_bad_syntax_are_refused() {
        assert!(matches!(
            parse_read_query("SELECT 1; DROP TABLE x"),
            Err(QueryError::NotOneStatement(2))
        ));
        assert!(matches!(parse_read_query("SELEC 1"), Err(QueryError::Syntax(_))));
        assert!(matches!(
            parse_read_query(""),
            Err(QueryError::NotOneStatement(0))
        ));
    }
}
