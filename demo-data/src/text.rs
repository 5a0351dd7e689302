//! Text, written into reused buffers rather than formatted per field.

use crate::dates::Day;

/// `value` in decimal, padded with zeros to at least `width` digits.
pub(crate) fn push_number(out: &mut String, value: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut rest = value;
    let mut length = 0;
    loop {
        digits[digits.len() - 1 - length] = b'0' + (rest % 10) as u8;
        rest /= 10;
        length += 1;
        if rest == 0 {
            break;
        }
    }
    for _ in length..width {
        out.push('0');
    }
    out.extend(
        digits[digits.len() - length..]
            .iter()
            .map(|digit| char::from(*digit)),
    );
}

/// Whole yuan or square metres in hundredths, the unit amounts and areas are kept in.
pub(crate) const fn hundredths(whole: u64) -> u64 {
    whole * 100
}

/// An amount in hundredths as a decimal with exactly two places, e.g. `512.30`.
pub(crate) fn push_hundredths(out: &mut String, hundredths: u64) {
    push_number(out, hundredths / 100, 1);
    out.push('.');
    push_number(out, hundredths % 100, 2);
}

/// `YYYY-MM-DD`.
pub(crate) fn push_iso_date(out: &mut String, day: Day) {
    let (year, month, day) = day.civil();
    push_number(out, u64::from(year.unsigned_abs()), 4);
    out.push('-');
    push_number(out, u64::from(month), 2);
    out.push('-');
    push_number(out, u64::from(day), 2);
}

/// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
pub(crate) fn push_csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    MySql,
}

/// A quoted SQL string literal. PostgreSQL (with `standard_conforming_strings`, the default)
/// only needs quotes doubled; MySQL also treats backslashes as escapes.
pub(crate) fn push_sql_string(out: &mut String, value: &str, dialect: Dialect) {
    out.push('\'');
    for character in value.chars() {
        match character {
            '\'' => out.push_str("''"),
            '\\' if dialect == Dialect::MySql => out.push_str("\\\\"),
            '\0' if dialect == Dialect::MySql => out.push_str("\\0"),
            character => out.push(character),
        }
    }
    out.push('\'');
}
