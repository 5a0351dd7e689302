//! Positional placeholders: JDBC's and ODBC's `?`, which ADBC's Flight SQL driver and the
//! Flight SQL JDBC driver send, and SQLite's `?N`, planned as DataFusion's numbered `$N`.

use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Statement, Value, ValueWithSpan, visit_expressions, visit_expressions_mut,
};
use datafusion::sql::sqlparser::tokenizer::Location;

use super::Refusal;

/// Numbers each `?` of `statement` `$1`, `$2`, ... in the order they are written (by
/// where they stand in the text, so a placeholder a later rewrite copies keeps its number),
/// and reads `?N` as `$N`. A statement that writes both `?` and numbered placeholders is
/// refused: which value each `?` takes would be a guess.
pub(super) fn numbered_placeholders(statement: &mut Statement) -> Result<(), Refusal> {
    let mut bare: Vec<Location> = Vec::new();
    let mut numbered = false;
    let _ = visit_expressions(statement, |expr| {
        if let Expr::Value(ValueWithSpan {
            value: Value::Placeholder(name),
            span,
        }) = expr
        {
            if name == "?" {
                bare.push(span.start);
            } else {
                numbered = true;
            }
        }
        ControlFlow::<()>::Continue(())
    });
    if bare.is_empty() && !numbered {
        return Ok(());
    }
    if !bare.is_empty() && numbered {
        return Err(Refusal::Invalid(
            "placeholders written both as ? and numbered ($1, ?1): write them one way",
        ));
    }
    bare.sort_by_key(|location| (location.line, location.column));
    bare.dedup();
    let numbers: HashMap<(u64, u64), usize> = bare
        .iter()
        .enumerate()
        .map(|(index, location)| ((location.line, location.column), index + 1))
        .collect();
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Value(ValueWithSpan {
            value: Value::Placeholder(name),
            span,
        }) = expr
        {
            if name == "?" {
                if let Some(number) = numbers.get(&(span.start.line, span.start.column)) {
                    *name = format!("${number}");
                }
            } else if let Some(number) = name.strip_prefix('?') {
                *name = format!("${number}");
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn numbered(sql: &str) -> Result<String, &'static str> {
        let mut statement = Parser::parse_sql(&GenericDialect {}, sql)
            .expect("parsed")
            .remove(0);
        numbered_placeholders(&mut statement).map_err(|refusal| match refusal {
            Refusal::Invalid(reason) | Refusal::NotSupported(reason) => reason,
        })?;
        Ok(statement.to_string())
    }

    #[test]
    fn question_marks_are_numbered_in_the_order_written() {
        assert_eq!(
            numbered("SELECT a, ? FROM t WHERE b = ? AND c IN (?, ?) LIMIT ?"),
            Ok("SELECT a, $1 FROM t WHERE b = $2 AND c IN ($3, $4) LIMIT $5".to_owned())
        );
        // A common table expression and a join's condition come before the rest.
        assert_eq!(
            numbered(
                "WITH x AS (SELECT * FROM t WHERE a > ?) SELECT * FROM x JOIN u ON u.k = ? WHERE x.b = ?"
            ),
            Ok(
                "WITH x AS (SELECT * FROM t WHERE a > $1) SELECT * FROM x JOIN u ON u.k = $2 WHERE x.b = $3"
                    .to_owned()
            )
        );
        // Inside a string, a question mark is text.
        assert_eq!(
            numbered("SELECT '?' FROM t WHERE a = ?"),
            Ok("SELECT '?' FROM t WHERE a = $1".to_owned())
        );
        assert_eq!(
            numbered("SELECT * FROM t WHERE a = ?2 OR b = ?1"),
            Ok("SELECT * FROM t WHERE a = $2 OR b = $1".to_owned())
        );
        assert_eq!(
            numbered("SELECT * FROM t WHERE a = $1"),
            Ok("SELECT * FROM t WHERE a = $1".to_owned())
        );
    }

    #[test]
    fn question_marks_beside_numbered_placeholders_are_refused() {
        let mut statement = Parser::parse_sql(&GenericDialect {}, "SELECT * FROM t WHERE a = ? AND b = $1")
            .expect("parsed")
            .remove(0);
        // Refused as a statement that is wrong, not as one the hub cannot answer yet.
        assert!(matches!(
            numbered_placeholders(&mut statement),
            Err(Refusal::Invalid(_))
        ));
        assert!(numbered("SELECT * FROM t WHERE a = ? AND b = ?1").is_err());
    }
}
