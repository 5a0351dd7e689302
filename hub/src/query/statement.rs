//! Only read queries run: one `SELECT`, `WITH ... SELECT`, `VALUES` or an `EXPLAIN` of one,
//! and the statements that describe the catalog (`SHOW TABLES`, `SHOW COLUMNS`, `DESCRIBE`).

use std::ops::ControlFlow;

use causeway_policies::{SyntaxLimits, on_deep_stack};
use datafusion::error::DataFusionError;
use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{Expr, Statement, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::Tokenizer;

use super::{QueryError, spellings};

/// Parses `sql` and accepts it only if it is exactly one read query within `limits`. A
/// statement is measured before anything recursive walks it, on a stack sized for its
/// text; one that is accepted fits the limits, so later work on it needs bounded stack.
pub fn parse_read_query(sql: &str, limits: &SyntaxLimits) -> Result<DFStatement, QueryError> {
    on_deep_stack(sql.len(), || parse_within(sql, limits))
}

fn parse_within(sql: &str, limits: &SyntaxLimits) -> Result<DFStatement, QueryError> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|error| QueryError::syntax(&error.to_string()))?;
    limits.check_tokens(&tokens).map_err(QueryError::TooLarge)?;
    drop(tokens);
    let mut statements = DFParserBuilder::new(sql)
        .with_dialect(&GenericDialect {})
        .build()
        .and_then(|mut parser| parser.parse_statements())
        .map_err(|error| match &error {
            DataFusionError::SQL(parser, _) => QueryError::of_parser(parser),
            _ => QueryError::Syntax(error.strip_backtrace()),
        })?;
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
        if let ControlFlow::Break(Refused::Function(name)) = inner.visit(&mut RefusedFunctions) {
            return Err(QueryError::FunctionNotAvailable(name));
        }
    }
    let mut statement = statement;
    spellings::exponents_as_doubles(&mut statement);
    spellings::standard_spellings(&mut statement).map_err(QueryError::from)?;
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

/// Functions that tell where a row is stored (its file, its position in the file): they
/// would show how a dataset is laid out, and which rows a row filter hides lie between
/// those shown. Refused by name wherever they appear; the engine does not have them either.
pub(super) const REFUSED_FUNCTIONS: [&str; 2] = ["input_file_name", "file_row_index"];

/// What a statement is refused for before it is planned.
enum Refused {
    Function(String),
}

struct RefusedFunctions;

impl Visitor for RefusedFunctions {
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
    fn set_operations_are_read() {
        for sql in [
            "SELECT a FROM t INTERSECT ALL SELECT a FROM u",
            "SELECT a FROM t UNION SELECT a FROM (SELECT a FROM u EXCEPT ALL SELECT a FROM v) w",
            "SELECT a FROM t INTERSECT SELECT a FROM u",
            "SELECT a FROM t EXCEPT SELECT a FROM u",
            "SELECT a FROM t UNION ALL SELECT a FROM u",
        ] {
            assert!(parse_read_query(sql).is_ok(), "{sql}");
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
            ..SyntaxLimits::default()
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
        // Said as a sentence with its place, without the parser's prefixes and quoting.
        let said = parse_read_query("SELECT (1 FROM t")
            .map(drop)
            .unwrap_err()
            .to_string();
        assert!(
            said.starts_with("syntax error at line 1, column") && said.contains(": expected "),
            "{said}"
        );
        let short = parse_read_query("SELECT a FROM")
            .map(drop)
            .unwrap_err()
            .to_string();
        assert_eq!(
            short,
            "syntax error: expected identifier, found the end of the query"
        );
        assert!(
            !said.contains("ParserError") && !said.contains("Expected:"),
            "{said}"
        );
        let unclosed = parse_read_query("SELECT 'a").map(drop).unwrap_err().to_string();
        assert!(
            unclosed.starts_with("syntax error at line 1, column"),
            "{unclosed}"
        );
        assert!(matches!(
            parse_read_query(""),
            Err(QueryError::NotOneStatement(0))
        ));
    }
}
