//! Functions whose arguments mean in PostgreSQL what DataFusion 55 reads otherwise.
//!
//! * `LIKE` and `ILIKE` with an `ESCAPE` character other than the backslash: DataFusion's
//!   kernels take only the backslash, so a literal pattern is rewritten to use it (`'%!%%'
//!   ESCAPE '!'` becomes `'%\%%'`, a backslash in it becomes `'\\'`). A pattern that ends
//!   with its escape character fails as in PostgreSQL; a pattern that is not a literal
//!   fails with DataFusion's own error.
//! * `to_char(date or timestamp, template)`, `to_date(text, template)` and
//!   `to_timestamp(text, template)` take PostgreSQL's template patterns (`YYYY-MM-DD`,
//!   `DD/MM/YYYY HH24:MI:SS`, `FMMonth`; PostgreSQL's manual, "Data Type Formatting
//!   Functions", table "Template Patterns for Date/Time Formatting"), where DataFusion
//!   takes `strftime`'s (`%Y-%m-%d`): a literal template is translated. A pattern that
//!   `strftime` cannot say (a blank-padded `Month`, `Q`, `TZ`, ordinal suffixes) is refused
//!   by name, never passed on as text that would be printed as it is. A template that is not
//!   a literal is left to DataFusion (the README says so).
//! * `concat` and `concat_ws` write a boolean as `t` or `f`, as PostgreSQL's output of a
//!   boolean (a cast to text elsewhere is still `true` or `false`, as in PostgreSQL; inside
//!   `concat` a written cast cannot be told from `concat`'s own and is written `t` or `f`).
//! * `to_hex` of an `int` or `smallint` writes its 32 bits, as PostgreSQL's `to_hex(int4)`
//!   (`to_hex(-1)` of an `int` is `ffffffff`); DataFusion widens it to 64 bits first.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue, plan_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::{Cast, Like};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator, cast, lit, when};
use datafusion::optimizer::AnalyzerRule;

use super::rewrite::{Order, rewrite_expressions};

/// Rewrites `LIKE ... ESCAPE`, the templates of `to_char`, `to_date` and `to_timestamp`,
/// and `to_hex` of narrow integers (see the module's documentation).
#[derive(Debug, Default)]
pub(crate) struct PostgresFunctions;

impl AnalyzerRule for PostgresFunctions {
    fn name(&self) -> &str {
        "causeway_postgres_functions"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, Order::BottomUp, rewrite)
    }
}

fn rewrite(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::Like(like) if like.escape_char.is_some_and(|escape| escape != '\\') => {
            let (Some(escape), Some(pattern)) = (like.escape_char, text_literal(&like.pattern)) else {
                return Ok(Transformed::no(Expr::Like(like)));
            };
            let pattern = with_backslash_escapes(&pattern, escape)?;
            Ok(Transformed::yes(Expr::Like(Like {
                pattern: Box::new(lit(pattern)),
                escape_char: None,
                ..like
            })))
        }
        Expr::ScalarFunction(mut call)
            if matches!(call.name(), "to_char" | "to_date" | "to_timestamp") && call.args.len() == 2 =>
        {
            let Some(template) = text_literal(&call.args[1]) else {
                return Ok(Transformed::no(Expr::ScalarFunction(call)));
            };
            // to_char of a number takes numeric templates (`999.99`), which are not these.
            if call.name() == "to_char" && !call.args[0].get_type(schema).is_ok_and(|t| t.is_temporal()) {
                return Ok(Transformed::no(Expr::ScalarFunction(call)));
            }
            call.args[1] = lit(strftime(&template)?);
            Ok(Transformed::yes(Expr::ScalarFunction(call)))
        }
        Expr::ScalarFunction(mut call)
            if call.name() == "to_hex"
                && matches!(call.args.as_slice(), [operand] if operand
                    .get_type(schema)
                    .is_ok_and(|t| matches!(t, DataType::Int8 | DataType::Int16 | DataType::Int32))) =>
        {
            let operand = call.args.remove(0);
            call.args = vec![Expr::BinaryExpr(BinaryExpr::new(
                Box::new(cast(operand, DataType::Int64)),
                Operator::BitwiseAnd,
                Box::new(lit(0xFFFF_FFFF_i64)),
            ))];
            Ok(Transformed::yes(Expr::ScalarFunction(call)))
        }
        Expr::ScalarFunction(mut call)
            if matches!(call.name(), "concat" | "concat_ws")
                && call.args.iter().any(|arg| boolean_as_text(arg, schema).is_some()) =>
        {
            let args = std::mem::take(&mut call.args);
            call.args = args
                .into_iter()
                .map(|arg| match boolean_as_text(&arg, schema) {
                    Some((boolean, text)) => {
                        // PostgreSQL's output of a boolean, which concat writes: t or f.
                        let written = when(boolean.clone(), lit("t"))
                            .when(Expr::Not(Box::new(boolean)), lit("f"))
                            .end()?;
                        Ok(cast(written, text))
                    }
                    None => Ok(arg),
                })
                .collect::<Result<_>>()?;
            Ok(Transformed::yes(Expr::ScalarFunction(call)))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// A boolean cast to text (as type coercion casts `concat`'s operands): the boolean and the
/// text type.
fn boolean_as_text(expr: &Expr, schema: &DFSchema) -> Option<(Expr, DataType)> {
    match expr {
        Expr::Cast(Cast { expr: operand, field })
            if matches!(
                field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) && operand.get_type(schema).is_ok_and(|t| t == DataType::Boolean) =>
        {
            Some((operand.as_ref().clone(), field.data_type().clone()))
        }
        _ => None,
    }
}

fn text_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(text))
            | ScalarValue::LargeUtf8(Some(text))
            | ScalarValue::Utf8View(Some(text)),
            _,
        ) => Some(text.clone()),
        _ => None,
    }
}

/// `pattern`, whose escape character is `escape`, written with the backslash as its
/// escape character, which is what DataFusion's `LIKE` reads.
fn with_backslash_escapes(pattern: &str, escape: char) -> Result<String> {
    let mut written = String::with_capacity(pattern.len() + 4);
    let mut characters = pattern.chars();
    while let Some(character) = characters.next() {
        if character == escape {
            match characters.next() {
                Some(escaped @ ('%' | '_' | '\\')) => {
                    written.push('\\');
                    written.push(escaped);
                }
                Some(escaped) => written.push(escaped),
                None => return plan_err!("LIKE pattern must not end with escape character"),
            }
        } else if character == '\\' {
            written.push_str("\\\\");
        } else {
            written.push(character);
        }
    }
    Ok(written)
}

/// PostgreSQL's template patterns and what `strftime` (chrono) writes for each, longest
/// first where one begins another. `None`: no `strftime` equivalent (refused).
const PATTERNS: &[(&str, Option<&str>, Option<&str>)] = &[
    // (pattern, as written, as written under FM: no padding)
    ("HH24", Some("%H"), Some("%-H")),
    ("HH12", Some("%I"), Some("%-I")),
    ("HH", Some("%I"), Some("%-I")),
    ("MI", Some("%M"), Some("%-M")),
    ("SSSSS", None, None),
    ("SSSS", None, None),
    ("SS", Some("%S"), Some("%-S")),
    ("MS", Some("%3f"), Some("%3f")),
    ("US", Some("%6f"), Some("%6f")),
    ("AM", Some("%p"), Some("%p")),
    ("PM", Some("%p"), Some("%p")),
    ("am", Some("%P"), Some("%P")),
    ("pm", Some("%P"), Some("%P")),
    ("A.M.", None, None),
    ("P.M.", None, None),
    ("a.m.", None, None),
    ("p.m.", None, None),
    ("B.C.", None, None),
    ("A.D.", None, None),
    ("b.c.", None, None),
    ("a.d.", None, None),
    ("Y,YYY", None, None),
    ("IYYY", Some("%G"), Some("%G")),
    ("IYY", None, None),
    ("IY", None, None),
    ("YYYY", Some("%Y"), Some("%Y")),
    ("YYY", None, None),
    ("YY", Some("%y"), Some("%-y")),
    ("IW", Some("%V"), Some("%-V")),
    ("ID", Some("%u"), Some("%u")),
    // Names are blank-padded to nine characters unless FM is given; chrono cannot pad.
    ("Month", None, Some("%B")),
    ("MONTH", None, None),
    ("month", None, None),
    ("Mon", Some("%b"), Some("%b")),
    ("MON", None, None),
    ("mon", None, None),
    ("MM", Some("%m"), Some("%-m")),
    ("Day", None, Some("%A")),
    ("DAY", None, None),
    ("day", None, None),
    ("Dy", Some("%a"), Some("%a")),
    ("DY", None, None),
    ("dy", None, None),
    ("DDD", Some("%j"), Some("%-j")),
    ("DD", Some("%d"), Some("%-d")),
    ("CC", None, None),
    ("WW", None, None),
    ("TZ", None, None),
    ("tz", None, None),
    ("OF", None, None),
    ("BC", None, None),
    ("AD", None, None),
    ("Q", None, None),
    ("J", None, None),
    ("D", None, None),
    ("W", None, None),
    ("Y", None, None),
    ("I", None, None),
    ("RM", None, None),
    ("rm", None, None),
    ("FX", None, None),
    ("TM", None, None),
];

/// A PostgreSQL date/time template as the `strftime` format that writes or reads the same.
fn strftime(template: &str) -> Result<String> {
    let mut format = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while !rest.is_empty() {
        // Text in double quotes is written as it is.
        if let Some(quoted) = rest.strip_prefix('"') {
            let Some(end) = quoted.find('"') else {
                return plan_err!("a date/time template has an unterminated quoted string");
            };
            push_literal(&mut format, &quoted[..end]);
            rest = &quoted[end + 1..];
            continue;
        }
        let (fill_mode, unprefixed) = match rest.strip_prefix("FM").or_else(|| rest.strip_prefix("fm")) {
            Some(after) => (true, after),
            None => (false, rest),
        };
        if let Some((pattern, written, unpadded)) = PATTERNS
            .iter()
            .find(|(pattern, ..)| starts_with_pattern(unprefixed, pattern))
        {
            let spelled = if fill_mode { unpadded } else { written };
            let Some(spelled) = spelled else {
                return plan_err!(
                    "the date/time template pattern {}{pattern} is not supported here; see the README's list",
                    if fill_mode { "FM" } else { "" }
                );
            };
            format.push_str(spelled);
            rest = &unprefixed[pattern.len()..];
            // An ordinal suffix (`DDth`) cannot be written by strftime.
            if rest.starts_with("TH") || rest.starts_with("th") {
                return plan_err!(
                    "the date/time template suffix TH is not supported here; see the README's list"
                );
            }
            continue;
        }
        let mut characters = rest.chars();
        let Some(character) = characters.next() else {
            break;
        };
        // A backslash makes the next character plain text.
        if character == '\\'
            && let Some(next) = characters.next()
        {
            push_literal(&mut format, &next.to_string());
            rest = characters.as_str();
            continue;
        }
        push_literal(&mut format, &character.to_string());
        rest = characters.as_str();
    }
    Ok(format)
}

/// Whether `text` starts with `pattern`. The numeric patterns are read in either case, as
/// PostgreSQL reads them; the names' case says how they are written (`Month`, `MONTH`).
fn starts_with_pattern(text: &str, pattern: &str) -> bool {
    let Some(head) = text.get(..pattern.len()) else {
        return false;
    };
    let cased = pattern.chars().any(|c| c.is_ascii_lowercase())
        || matches!(
            pattern,
            "MONTH"
                | "MON"
                | "DAY"
                | "DY"
                | "AM"
                | "PM"
                | "A.M."
                | "P.M."
                | "TZ"
                | "BC"
                | "AD"
                | "B.C."
                | "A.D."
                | "RM"
        );
    if cased {
        head == pattern
    } else {
        head.eq_ignore_ascii_case(pattern)
    }
}

fn push_literal(format: &mut String, text: &str) {
    for character in text.chars() {
        if character == '%' {
            format.push_str("%%");
        } else {
            format.push(character);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_characters_become_backslashes() {
        let rewritten = |pattern: &str, escape: char| with_backslash_escapes(pattern, escape).ok();
        assert_eq!(rewritten("%!%%", '!').as_deref(), Some("%\\%%"));
        assert_eq!(rewritten("%#_%", '#').as_deref(), Some("%\\_%"));
        assert_eq!(rewritten("a\\b!!", '!').as_deref(), Some("a\\\\b!"));
        assert_eq!(rewritten("!x", '!').as_deref(), Some("x"));
        assert_eq!(rewritten("abc!", '!'), None);
    }

    #[test]
    fn postgresql_templates_become_strftime_formats() {
        let cases = [
            ("YYYY-MM-DD", "%Y-%m-%d"),
            ("DD/MM/YYYY", "%d/%m/%Y"),
            ("yyyy-mm-dd HH24:MI:SS", "%Y-%m-%d %H:%M:%S"),
            ("HH12:MI AM", "%I:%M %p"),
            ("FMDD FMMonth YYYY", "%-d %B %Y"),
            ("Dy, DD Mon YYYY", "%a, %d %b %Y"),
            ("YYYY\"年\"MM\"月\"DD\"日\"", "%Y年%m月%d日"),
            ("100% YYYY", "100%% %Y"),
            ("IYYY-IW", "%G-%V"),
            ("SS.MS", "%S.%3f"),
        ];
        for (template, expected) in cases {
            assert_eq!(strftime(template).ok().as_deref(), Some(expected), "{template}");
        }
        for refused in ["Month YYYY", "Q", "YYYY TZ", "DDth", "MONTH", "\"open"] {
            assert!(strftime(refused).is_err(), "{refused}");
        }
    }
}
