//! The answers of the hub and of PostgreSQL to one query, as rows of canonical cells, and
//! when two answers agree.

use tokio_postgres::types::Type;

use super::json::{self, Json};
use crate::support::Caller;

/// One value of an answer, canonical on both sides: dates as ISO text, instants without
/// their `T` and zero fractions, booleans as booleans, numbers as the text that was written.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    /// A number as written; `float` when either side's type is a binary floating point.
    Number {
        text: String,
        float: bool,
    },
    Text(String),
}

impl std::fmt::Display for Cell {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Null => write!(formatter, "NULL"),
            Cell::Bool(value) => write!(formatter, "{value}"),
            Cell::Number { text, .. } => write!(formatter, "{text}"),
            Cell::Text(text) => write!(formatter, "{text:?}"),
        }
    }
}

/// What a query gave: its rows, or the error it failed with.
#[derive(Debug, Clone)]
pub enum Answer {
    Rows(Vec<Vec<Cell>>),
    Error(String),
}

impl Answer {
    /// The answer for a report: the error, or up to `shown` rows.
    pub fn summary(&self, shown: usize) -> String {
        match self {
            Answer::Error(message) => format!("error: {}", first_line(message)),
            Answer::Rows(rows) => {
                let mut text: Vec<String> = rows
                    .iter()
                    .take(shown)
                    .map(|row| {
                        let cells: Vec<String> = row.iter().map(Cell::to_string).collect();
                        format!("({})", cells.join(", "))
                    })
                    .collect();
                if rows.len() > shown {
                    text.push(format!("... {} rows in all", rows.len()));
                }
                if rows.is_empty() {
                    "no rows".to_owned()
                } else {
                    text.join(" ")
                }
            }
        }
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(300).collect()
}

/// The hub's answer, read from its JSON text with every digit and every column in order.
pub async fn hub_answer(caller: &Caller, sql: &str) -> Answer {
    let response = caller.query_response(sql, "testing").await;
    let status = response.status();
    let text = match response.text().await {
        Ok(text) => text,
        Err(error) => return Answer::Error(format!("{status}: the answer broke off: {error}")),
    };
    let document = match json::parse(&text) {
        Ok(document) => document,
        Err(error) => return Answer::Error(format!("{status}: unreadable answer ({error}): {text}")),
    };
    if !status.is_success() {
        let message = match document.get("error").and_then(|error| error.get("message")) {
            Some(Json::Text(message)) => message.clone(),
            _ => text,
        };
        return Answer::Error(format!("{status}: {message}"));
    }
    let types: Vec<String> = match document.get("columns") {
        Some(Json::Array(columns)) => columns
            .iter()
            .map(|column| match column.get("type") {
                Some(Json::Text(data_type)) => data_type.clone(),
                _ => String::new(),
            })
            .collect(),
        _ => return Answer::Error(format!("no columns in {text}")),
    };
    let Some(Json::Array(rows)) = document.get("rows") else {
        return Answer::Error(format!("no rows in {text}"));
    };
    let rows = rows
        .iter()
        .map(|row| match row {
            Json::Object(members) => members
                .iter()
                .zip(&types)
                .map(|((_, value), data_type)| hub_cell(value, data_type))
                .collect(),
            other => vec![Cell::Text(format!("{other:?}"))],
        })
        .collect();
    Answer::Rows(rows)
}

fn hub_cell(value: &Json, data_type: &str) -> Cell {
    match value {
        Json::Null => Cell::Null,
        Json::Bool(value) => Cell::Bool(*value),
        Json::Number(text) => Cell::Number {
            text: text.clone(),
            float: data_type.starts_with("Float"),
        },
        Json::Text(text) if data_type.starts_with("Timestamp") => Cell::Text(instant(text)),
        // JSON has no NaN or infinities: the hub writes them as strings.
        Json::Text(text)
            if data_type.starts_with("Float")
                && matches!(text.as_str(), "NaN" | "Infinity" | "-Infinity") =>
        {
            Cell::Number {
                text: text.clone(),
                float: true,
            }
        }
        Json::Text(text) => Cell::Text(text.clone()),
        other => Cell::Text(format!("{other:?}")),
    }
}

/// PostgreSQL's answer in its text format; the column types come from preparing the query.
pub async fn postgres_answer(client: &tokio_postgres::Client, sql: &str) -> Answer {
    let statement = match client.prepare(sql).await {
        Ok(statement) => statement,
        Err(error) => return Answer::Error(postgres_error(&error)),
    };
    let types: Vec<Type> = statement
        .columns()
        .iter()
        .map(|column| column.type_().clone())
        .collect();
    let messages = match client.simple_query(sql).await {
        Ok(messages) => messages,
        Err(error) => return Answer::Error(postgres_error(&error)),
    };
    let rows = messages
        .iter()
        .filter_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|index| postgres_cell(row.get(index), types.get(index)))
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    Answer::Rows(rows)
}

fn postgres_error(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map_or_else(|| error.to_string(), |db| db.message().to_owned())
}

fn postgres_cell(text: Option<&str>, data_type: Option<&Type>) -> Cell {
    let Some(text) = text else {
        return Cell::Null;
    };
    let data_type = data_type.cloned().unwrap_or(Type::TEXT);
    if data_type == Type::BOOL {
        Cell::Bool(text == "t")
    } else if [Type::INT2, Type::INT4, Type::INT8, Type::NUMERIC].contains(&data_type) {
        Cell::Number {
            text: text.to_owned(),
            float: false,
        }
    } else if [Type::FLOAT4, Type::FLOAT8].contains(&data_type) {
        Cell::Number {
            text: text.to_owned(),
            float: true,
        }
    } else if [Type::TIMESTAMP, Type::TIMESTAMPTZ].contains(&data_type) {
        Cell::Text(instant(text))
    } else {
        Cell::Text(text.to_owned())
    }
}

/// An instant as `YYYY-MM-DD HH:MM:SS[.fraction]`, without a UTC offset or zero fraction.
fn instant(text: &str) -> String {
    let mut text = text.replacen('T', " ", 1);
    for suffix in ["Z", "+00:00", "+00"] {
        if let Some(stripped) = text.strip_suffix(suffix) {
            text = stripped.to_owned();
        }
    }
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    text
}

/// Whether two answers agree: both errors, or the same rows (in order when `ordered`,
/// else as multisets).
pub fn agree(hub: &Answer, postgres: &Answer, ordered: bool) -> bool {
    match (hub, postgres) {
        (Answer::Error(_), Answer::Error(_)) => true,
        (Answer::Rows(hub), Answer::Rows(postgres)) => same_rows(hub, postgres, ordered),
        _ => false,
    }
}

fn same_rows(hub: &[Vec<Cell>], postgres: &[Vec<Cell>], ordered: bool) -> bool {
    if hub.len() != postgres.len() {
        return false;
    }
    if ordered {
        return hub.iter().zip(postgres).all(|(a, b)| same_row(a, b));
    }
    let mut used = vec![false; postgres.len()];
    hub.iter().all(|row| {
        let found = postgres
            .iter()
            .enumerate()
            .position(|(index, other)| !used[index] && same_row(row, other));
        found.map(|index| used[index] = true).is_some()
    })
}

/// For two row sets that differ: the rows only one side has, or where the order differs.
pub fn difference(hub: &Answer, postgres: &Answer) -> Option<String> {
    let (Answer::Rows(hub), Answer::Rows(postgres)) = (hub, postgres) else {
        return None;
    };
    let mut used = vec![false; postgres.len()];
    let mut only_hub = Vec::new();
    for row in hub {
        let found = postgres
            .iter()
            .enumerate()
            .position(|(index, other)| !used[index] && same_row(row, other));
        match found {
            Some(index) => used[index] = true,
            None => only_hub.push(row.clone()),
        }
    }
    let only_postgres: Vec<Vec<Cell>> = postgres
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(row, _)| row.clone())
        .collect();
    if only_hub.is_empty() && only_postgres.is_empty() {
        let position = hub.iter().zip(postgres).position(|(a, b)| !same_row(a, b))?;
        return Some(format!(
            "same rows in another order, first at row {position}: hub {} postgres {}",
            Answer::Rows(vec![hub[position].clone()]).summary(1),
            Answer::Rows(vec![postgres[position].clone()]).summary(1),
        ));
    }
    Some(format!(
        "only in hub ({}): {}\n  only in postgres ({}): {}",
        only_hub.len(),
        Answer::Rows(only_hub.clone()).summary(6),
        only_postgres.len(),
        Answer::Rows(only_postgres.clone()).summary(6),
    ))
}

fn same_row(a: &[Cell], b: &[Cell]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_cell(a, b))
}

fn same_cell(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        (Cell::Number { text: a, float: fa }, Cell::Number { text: b, float: fb }) => {
            if *fa || *fb {
                same_float(a, b)
            } else {
                same_decimal(a, b)
            }
        }
        _ => a == b,
    }
}

fn float_of(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "inf" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// Floats agree within a relative 1e-9; NaN agrees with NaN and -0 with 0.
fn same_float(a: &str, b: &str) -> bool {
    match (float_of(a), float_of(b)) {
        (Some(x), Some(y)) if x.is_nan() || y.is_nan() => x.is_nan() && y.is_nan(),
        (Some(x), Some(y)) if x.is_infinite() || y.is_infinite() => {
            x.is_infinite() && y.is_infinite() && x.is_sign_positive() == y.is_sign_positive()
        }
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
        _ => a == b,
    }
}

/// A decimal number as sign, integer digits and fraction digits (as written).
struct Decimal {
    negative: bool,
    integer: String,
    fraction: String,
}

fn decimal_of(text: &str) -> Option<Decimal> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (integer, fraction) = rest.split_once('.').unwrap_or((rest, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    (!integer.is_empty() && digits(integer) && digits(fraction)).then(|| Decimal {
        negative,
        integer: integer.to_owned(),
        fraction: fraction.to_owned(),
    })
}

/// The canonical text of a decimal: no leading or trailing zeros, no sign on zero.
fn canonical(decimal: &Decimal) -> String {
    let integer = decimal.integer.trim_start_matches('0');
    let fraction = decimal.fraction.trim_end_matches('0');
    let magnitude = match (integer.is_empty(), fraction.is_empty()) {
        (true, true) => return "0".to_owned(),
        (_, true) => integer.to_owned(),
        (true, false) => format!("0.{fraction}"),
        (false, false) => format!("{integer}.{fraction}"),
    };
    if decimal.negative {
        format!("-{magnitude}")
    } else {
        magnitude
    }
}

/// `decimal` rounded half away from zero to `scale` fraction digits.
fn rounded(decimal: &Decimal, scale: usize) -> Decimal {
    if decimal.fraction.len() <= scale {
        return Decimal {
            negative: decimal.negative,
            integer: decimal.integer.clone(),
            fraction: decimal.fraction.clone(),
        };
    }
    let mut digits: Vec<u8> = format!("{}{}", decimal.integer, &decimal.fraction[..scale]).into_bytes();
    if decimal.fraction.as_bytes()[scale] >= b'5' {
        let mut index = digits.len();
        loop {
            if index == 0 {
                digits.insert(0, b'1');
                break;
            }
            index -= 1;
            if digits[index] == b'9' {
                digits[index] = b'0';
            } else {
                digits[index] += 1;
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&digits).into_owned();
    let (integer, fraction) = text.split_at(text.len() - scale);
    Decimal {
        negative: decimal.negative,
        integer: integer.to_owned(),
        fraction: fraction.to_owned(),
    }
}

/// Decimals agree when equal, or when the one written with fewer fraction digits (at least
/// four, as an average or quotient of decimals is scaled) is the other correctly rounded.
fn same_decimal(a: &str, b: &str) -> bool {
    let (Some(x), Some(y)) = (decimal_of(a), decimal_of(b)) else {
        return same_float(a, b);
    };
    if canonical(&x) == canonical(&y) {
        return true;
    }
    let (short, long) = if x.fraction.len() <= y.fraction.len() {
        (&x, &y)
    } else {
        (&y, &x)
    };
    short.fraction.len() >= 4
        && long.fraction.len() > short.fraction.len()
        && canonical(&rounded(long, short.fraction.len())) == canonical(short)
}

#[test]
fn numbers_agree_as_numbers() {
    assert!(same_decimal("5", "5.00"));
    assert!(same_decimal("-0.00", "0"));
    assert!(!same_decimal("9223372036854775807", "9223372036854775806"));
    assert!(same_decimal("12345.666667", "12345.6666666666666667"));
    assert!(same_decimal("0.999950", "0.99994999999"));
    assert!(!same_decimal("2.5", "2.46"));
    assert!(!same_decimal("3", "2"));
    assert!(!same_decimal("9.999999", "9.99999999"));
    assert!(same_decimal("10.000000", "9.99999999"));
    assert!(same_float("0.30000000000000004", "0.3"));
    assert!(same_float("NaN", "nan"));
    assert!(same_float("-0", "0"));
    assert!(!same_float("NaN", "0"));
    assert!(!same_float("1.5", "1.6"));
    assert_eq!(instant("2020-01-01T00:00:00.000Z"), "2020-01-01 00:00:00");
    assert_eq!(instant("2020-01-01 00:00:00+00"), "2020-01-01 00:00:00");
}
