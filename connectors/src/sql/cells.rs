//! Values read from a database, converted to the contract's Arrow types.
//!
//! Readers hand over each value as a [`Cell`]: what the database stores (SQLite's storage
//! classes) or how it writes it (PostgreSQL's text format). The target type decides how the
//! cell is read: text becomes a date, a decimal or a number where the column asks for one,
//! exactly, and a value that does not fit is an error naming it.

use std::collections::HashMap;
use std::sync::Arc;

use causeway_schemas::Rounding;

use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Decimal128Builder, Float64Builder, Int64Builder, NullArray,
    StringBuilder, TimestampMicrosecondArray,
};
use datafusion::arrow::array::{Date32Builder, PrimitiveBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::cast_utils::{parse_decimal, string_to_datetime};
use datafusion::arrow::datatypes::TimestampMicrosecondType;
use datafusion::arrow::datatypes::{DataType, Date32Type, Decimal128Type, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::error::DataFusionError;
use datafusion::error::Result as DataFusionResult;

/// One value as a database gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// How each decimal field of `contract` that says so rounds, by field name.
pub(crate) fn roundings(contract: &causeway_schemas::Contract) -> Arc<HashMap<String, Rounding>> {
    Arc::new(
        contract
            .fields
            .iter()
            .filter_map(|field| Some((field.name.clone(), field.rounding?)))
            .collect(),
    )
}

/// Collects rows into one record batch of the target schema.
pub(crate) struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
}

/// A column being built, in the Arrow type closest to what SQLite stores; `finish` casts it
/// to the exact target type, refusing values that do not fit.
enum Column {
    Integer(Int64Builder),
    Real(Float64Builder),
    Decimal(Decimal128Builder, u8, i8, Option<Rounding>),
    Text(StringBuilder),
    Binary(BinaryBuilder),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(PrimitiveBuilder<TimestampMicrosecondType>),
    Null,
}

impl BatchBuilder {
    pub(crate) fn new(schema: SchemaRef, capacity: usize) -> Self {
        let columns = schema
            .fields()
            .iter()
            .map(|field| match field.data_type() {
                data_type if data_type.is_integer() => Column::Integer(Int64Builder::with_capacity(capacity)),
                data_type if data_type.is_floating() => Column::Real(Float64Builder::with_capacity(capacity)),
                DataType::Decimal128(precision, scale) => Column::Decimal(
                    Decimal128Builder::with_capacity(capacity)
                        .with_data_type(DataType::Decimal128(*precision, *scale)),
                    *precision,
                    *scale,
                    None,
                ),
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                    Column::Binary(BinaryBuilder::new())
                }
                DataType::Boolean => Column::Boolean(BooleanBuilder::with_capacity(capacity)),
                DataType::Date32 | DataType::Date64 => Column::Date(Date32Builder::with_capacity(capacity)),
                DataType::Timestamp(_, zone) => Column::Timestamp(
                    PrimitiveBuilder::with_capacity(capacity).with_timezone_opt(zone.clone()),
                ),
                DataType::Null => Column::Null,
                _ => Column::Text(StringBuilder::new()),
            })
            .collect();
        Self {
            schema,
            columns,
            rows: 0,
        }
    }

    /// Rounds the decimal columns named in `rounding` as it says, instead of refusing
    /// values with more fraction digits than their scale.
    pub(crate) fn with_rounding(mut self, rounding: &HashMap<String, Rounding>) -> Self {
        for (column, field) in self.columns.iter_mut().zip(self.schema.fields()) {
            if let Column::Decimal(_, _, _, how) = column {
                *how = rounding.get(field.name()).copied();
            }
        }
        self
    }

    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Appends one row, given as one cell per column of the schema; cells beyond the
    /// schema's columns are not read (a scan of no column still selects one).
    pub(crate) fn append_row<'a>(
        &mut self,
        cells: impl IntoIterator<Item = Cell<'a>>,
    ) -> DataFusionResult<()> {
        let mut count = 0;
        for (index, cell) in cells.into_iter().take(self.columns.len()).enumerate() {
            let column = &mut self.columns[index];
            column.append(cell).map_err(|problem| {
                let field = self.schema.field(index);
                crate::error::SourceReadError::into_datafusion(format!(
                    "column '{}' holds {problem} {}",
                    field.name(),
                    field.data_type()
                ))
            })?;
            count += 1;
        }
        if count != self.columns.len() {
            return Err(DataFusionError::Internal(
                "a row has fewer cells than the schema has columns".into(),
            ));
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows so far as a batch; the builder is empty afterwards.
    pub(crate) fn finish(&mut self) -> DataFusionResult<RecordBatch> {
        let rows = std::mem::take(&mut self.rows);
        let arrays = self
            .columns
            .iter_mut()
            .zip(self.schema.fields())
            .map(|(column, field)| {
                let array = column.finish(rows);
                if array.data_type() == field.data_type() {
                    return Ok(array);
                }
                cast(&array, field.data_type()).map_err(|error| {
                    DataFusionError::Execution(format!("column '{}': {error}", field.name()))
                })
            })
            .collect::<DataFusionResult<Vec<ArrayRef>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            arrays,
            &options,
        )?)
    }
}

/// Why a value is not valid for its column, for the error message: the kind of value and
/// what is wrong with it, never the value itself (a grant may hide it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unreadable {
    /// The value is not of a kind the type reads (`"text"`, `"a real"`, ...).
    #[error("{0} that is not")]
    Unparsable(&'static str),
    /// A decimal with more fraction digits than the type's scale: reading it would round.
    #[error("a number with more fraction digits than")]
    TooPrecise,
    /// A number or a date beyond what the type holds.
    #[error("{0} out of the range of")]
    OutOfRange(&'static str),
}

impl Column {
    /// Appends one value; on failure returns a description of the value for the message.
    fn append(&mut self, value: Cell<'_>) -> Result<(), Unreadable> {
        if let Cell::Null = value {
            self.append_null();
            return Ok(());
        }
        match self {
            Self::Integer(builder) => builder.append_value(integer(value)?),
            Self::Real(builder) => builder.append_value(real(value)?),
            Self::Decimal(builder, precision, scale, rounding) => {
                builder.append_value(decimal(value, *precision, *scale, *rounding)?)
            }
            Self::Text(builder) => match value {
                Cell::Text(text) => builder.append_value(text),
                Cell::Integer(number) => builder.append_value(number.to_string()),
                Cell::Real(number) => builder.append_value(number.to_string()),
                other => return Err(describe(other)),
            },
            Self::Binary(builder) => match value {
                Cell::Bytes(bytes) => builder.append_value(bytes),
                Cell::Text(text) => builder.append_value(text.as_bytes()),
                other => return Err(describe(other)),
            },
            Self::Boolean(builder) => builder.append_value(boolean(value)?),
            Self::Date(builder) => builder.append_value(date(value)?),
            Self::Timestamp(builder) => builder.append_value(timestamp_micros(value)?),
            Self::Null => {}
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Self::Integer(builder) => builder.append_null(),
            Self::Real(builder) => builder.append_null(),
            Self::Decimal(builder, ..) => builder.append_null(),
            Self::Text(builder) => builder.append_null(),
            Self::Binary(builder) => builder.append_null(),
            Self::Boolean(builder) => builder.append_null(),
            Self::Date(builder) => builder.append_null(),
            Self::Timestamp(builder) => builder.append_null(),
            Self::Null => {}
        }
    }

    fn finish(&mut self, rows: usize) -> ArrayRef {
        match self {
            Self::Integer(builder) => Arc::new(builder.finish()),
            Self::Real(builder) => Arc::new(builder.finish()),
            Self::Decimal(builder, ..) => Arc::new(builder.finish()),
            Self::Text(builder) => Arc::new(builder.finish()),
            Self::Binary(builder) => Arc::new(builder.finish()),
            Self::Boolean(builder) => Arc::new(builder.finish()),
            Self::Date(builder) => Arc::new(builder.finish()),
            Self::Timestamp(builder) => {
                let array: TimestampMicrosecondArray = builder.finish();
                Arc::new(array)
            }
            Self::Null => Arc::new(NullArray::new(rows)),
        }
    }
}

/// What kind of value a cell holds, for messages.
fn describe(value: Cell<'_>) -> Unreadable {
    Unreadable::Unparsable(match value {
        Cell::Null => "NULL",
        Cell::Integer(_) => "an integer",
        Cell::Real(_) => "a real",
        Cell::Text(_) => "a text",
        Cell::Bytes(_) => "bytes",
    })
}

fn text<'a>(value: Cell<'a>) -> Option<&'a str> {
    match value {
        Cell::Text(text) => Some(text.trim()),
        _ => None,
    }
}

fn integer(value: Cell<'_>) -> Result<i64, Unreadable> {
    match value {
        Cell::Integer(number) => Ok(number),
        Cell::Real(number) if number.fract() == 0.0 && number.abs() < 9.2e18 => Ok(number as i64),
        _ => text(value)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| describe(value)),
    }
}

fn real(value: Cell<'_>) -> Result<f64, Unreadable> {
    match value {
        Cell::Integer(number) => Ok(number as f64),
        Cell::Real(number) => Ok(number),
        // Rust reads `NaN`, `inf` and `infinity`; PostgreSQL writes `Infinity`.
        _ => text(value)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| describe(value)),
    }
}

/// Decimals convert exactly or not at all: a value with more fraction digits than the
/// scale would be rounded (`17.685` read as `decimal(10,2)`), so it is refused unless the
/// contract says how to round, as is one with more digits than the precision. A REAL
/// converts when its shortest decimal form fits the scale.
fn decimal(
    value: Cell<'_>,
    precision: u8,
    scale: i8,
    rounding: Option<Rounding>,
) -> Result<i128, Unreadable> {
    let digits = match value {
        Cell::Integer(number) => number.to_string(),
        Cell::Real(number) if number.is_finite() => number.to_string(),
        Cell::Text(_) => text(value).unwrap_or_default().to_owned(),
        _ => return Err(describe(value)),
    };
    decimal_text(&digits, precision, scale, rounding).map_err(|problem| match problem {
        Unreadable::Unparsable(_) => describe(value),
        other => other,
    })
}

/// A decimal written in plain digits (`-17.685`, `+3`, `.5`) as the integer of
/// `decimal(precision, scale)`: exactly, or rounded as `rounding` says when it has more
/// fraction digits than `scale`.
pub(crate) fn decimal_text(
    digits: &str,
    precision: u8,
    scale: i8,
    rounding: Option<Rounding>,
) -> Result<i128, Unreadable> {
    let negative = digits.starts_with('-');
    let plain = digits.strip_prefix(['-', '+']).unwrap_or(digits);
    let (whole, fraction) = plain.split_once('.').unwrap_or((plain, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|byte| byte.is_ascii_digit())
    {
        return Err(Unreadable::Unparsable("a text"));
    }
    let kept = usize::try_from(scale.max(0)).unwrap_or(0);
    let out_of_range = || Unreadable::OutOfRange("a number");
    if fraction.trim_end_matches('0').len() <= kept {
        return parse_decimal::<Decimal128Type>(digits, precision, scale).map_err(|_| out_of_range());
    }
    let Some(Rounding::HalfEven) = rounding else {
        return Err(Unreadable::TooPrecise);
    };
    // The magnitude to `scale` digits, then one more unit where the dropped digits are more
    // than half of one, or exactly half and the kept last digit is odd.
    let (kept_digits, dropped) = fraction.split_at(kept);
    let truncated = format!("{whole}.{kept_digits}");
    let mut magnitude =
        parse_decimal::<Decimal128Type>(&truncated, precision, scale).map_err(|_| out_of_range())?;
    let mut dropped = dropped.bytes();
    let first = dropped.next().unwrap_or(b'0');
    let beyond_half = dropped.any(|digit| digit != b'0');
    let up = match first {
        b'6'..=b'9' => true,
        b'5' => beyond_half || magnitude % 2 == 1,
        _ => false,
    };
    if up {
        magnitude += 1;
        if magnitude >= 10_i128.pow(u32::from(precision)) {
            return Err(out_of_range());
        }
    }
    Ok(if negative { -magnitude } else { magnitude })
}

fn boolean(value: Cell<'_>) -> Result<bool, Unreadable> {
    match value {
        Cell::Integer(0) => Ok(false),
        Cell::Integer(1) => Ok(true),
        _ => match text(value).map(str::to_ascii_lowercase).as_deref() {
            Some("true" | "t" | "1" | "yes") => Ok(true),
            Some("false" | "f" | "0" | "no") => Ok(false),
            _ => Err(describe(value)),
        },
    }
}

/// A date or timestamp's text without PostgreSQL's ` BC` suffix, and whether it had one.
fn era(text: &str) -> (&str, bool) {
    match text.strip_suffix(" BC") {
        Some(rest) => (rest.trim_end(), true),
        None => (text, false),
    }
}

/// The proleptic Gregorian year of a year before Christ: 1 BC is year 0, 44 BC year -43.
fn before_christ(year: i32) -> i32 {
    1 - year
}

/// Dates as ISO text (`1990-05-17`, optionally followed by a time, years of any length and
/// PostgreSQL's ` BC`) or Unix seconds.
fn date(value: Cell<'_>) -> Result<i32, Unreadable> {
    match value {
        Cell::Integer(seconds) => {
            i32::try_from(seconds.div_euclid(86_400)).map_err(|_| Unreadable::OutOfRange("a date"))
        }
        _ => {
            let text = text(value).ok_or_else(|| describe(value))?;
            let (text, bc) = era(text);
            let day = text.split([' ', 'T']).next().unwrap_or(text);
            let mut parts = day.rsplitn(3, '-');
            let (Some(d), Some(m), Some(y)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(describe(value));
            };
            let (Ok(year), Ok(month), Ok(d)) = (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) else {
                return Err(describe(value));
            };
            let year = if bc { before_christ(year) } else { year };
            chrono::NaiveDate::from_ymd_opt(year, month, d)
                .map(Date32Type::from_naive_date)
                .ok_or_else(|| describe(value))
        }
    }
}

/// Timestamps as ISO text or Unix seconds, in microseconds; text with an offset is
/// converted to UTC. An offset of whole hours may be written `+08`, as PostgreSQL does,
/// and a year before Christ ` BC`.
fn timestamp_micros(value: Cell<'_>) -> Result<i64, Unreadable> {
    use chrono::Datelike;
    let parse = |text: &str| string_to_datetime(&chrono::Utc, text).ok();
    match value {
        Cell::Integer(seconds) => seconds
            .checked_mul(1_000_000)
            .ok_or(Unreadable::OutOfRange("a timestamp")),
        _ => {
            let text = text(value).ok_or_else(|| describe(value))?;
            let (text, bc) = era(text);
            let mut datetime = parse(text)
                .or_else(|| parse(&format!("{text}:00")))
                .ok_or_else(|| describe(value))?;
            if bc {
                datetime = datetime
                    .with_year(before_christ(datetime.year()))
                    .ok_or(Unreadable::OutOfRange("a timestamp"))?;
            }
            Ok(datetime.timestamp_micros())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_convert_to_their_contract_types() {
        assert_eq!(integer(Cell::Text("42")), Ok(42));
        assert_eq!(integer(Cell::Real(7.0)), Ok(7));
        assert!(integer(Cell::Real(7.5)).is_err());
        assert_eq!(decimal(Cell::Text("1234.50"), 10, 2, None), Ok(123_450));
        assert_eq!(decimal(Cell::Integer(12), 10, 2, None), Ok(1_200));
        assert_eq!(decimal(Cell::Real(0.1), 10, 2, None), Ok(10));
        assert_eq!(date(Cell::Text("1970-01-02")), Ok(1));
        assert_eq!(date(Cell::Text("1970-01-02 10:00:00")), Ok(1));
        assert_eq!(
            timestamp_micros(Cell::Text("1970-01-01T00:00:01+01:00")),
            Ok(-3_599_000_000)
        );
        assert_eq!(boolean(Cell::Text("TRUE")), Ok(true));
        assert_eq!(boolean(Cell::Text("f")), Ok(false));
        assert_eq!(
            timestamp_micros(Cell::Text("2020-01-01 02:00:00+00")),
            Ok(1_577_844_000_000_000)
        );
        assert_eq!(
            timestamp_micros(Cell::Text("1600-06-30 12:00:00+00")),
            Ok(-11_660_414_400_000_000)
        );
        assert_eq!(
            timestamp_micros(Cell::Text("1960-05-06 07:08:09.123456")),
            Ok(-304_707_110_876_544)
        );
        assert_eq!(date(Cell::Text("1900-01-01")), Ok(-25_567));
    }

    #[test]
    fn half_even_rounds_ties_to_the_even_digit_and_only_when_asked() {
        let half_even = |text| decimal(Cell::Text(text), 10, 2, Some(Rounding::HalfEven));
        assert_eq!(half_even("17.685"), Ok(1_768));
        assert_eq!(half_even("17.675"), Ok(1_768));
        assert_eq!(half_even("17.6851"), Ok(1_769));
        assert_eq!(half_even("17.6849"), Ok(1_768));
        assert_eq!(half_even("-17.675"), Ok(-1_768));
        assert_eq!(half_even("-0.005"), Ok(0));
        assert_eq!(half_even("0.015"), Ok(2));
        assert_eq!(half_even("17.68"), Ok(1_768));
        assert_eq!(half_even("99999999.995"), Err(Unreadable::OutOfRange("a number")));
        assert_eq!(
            decimal(Cell::Real(2.675), 10, 2, Some(Rounding::HalfEven)),
            Ok(268)
        );
    }

    #[test]
    fn values_that_do_not_fit_are_described_without_the_value() {
        assert_eq!(date(Cell::Text("soon")), Err(Unreadable::Unparsable("a text")));
        assert_eq!(integer(Cell::Bytes(b"xx")), Err(Unreadable::Unparsable("bytes")));
        assert_eq!(
            decimal(Cell::Text("17.685"), 10, 2, None),
            Err(Unreadable::TooPrecise)
        );
        assert_eq!(
            decimal(Cell::Real(17.685), 10, 2, None),
            Err(Unreadable::TooPrecise)
        );
        assert_eq!(
            decimal(Cell::Text("123456789.5"), 10, 2, None),
            Err(Unreadable::OutOfRange("a number"))
        );
        assert_eq!(
            decimal(Cell::Text("NaN"), 10, 2, None),
            Err(Unreadable::Unparsable("a text"))
        );
        assert_eq!(decimal(Cell::Text("17.680"), 10, 2, None), Ok(1_768));
        assert_eq!(decimal(Cell::Text("-0.5"), 10, 2, None), Ok(-50));
    }

    #[test]
    fn dates_before_christ_and_after_9999_are_read_as_proleptic_dates() {
        // 44 BC is the proleptic year -43; days from 1970-01-01 as chrono counts them.
        let ides = chrono::NaiveDate::from_ymd_opt(-43, 3, 15).unwrap();
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let days = i32::try_from((ides - epoch).num_days()).unwrap();
        assert_eq!(date(Cell::Text("0044-03-15 BC")), Ok(days));
        let year_10000 = chrono::NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        assert_eq!(
            date(Cell::Text("10000-01-01")),
            Ok(i32::try_from((year_10000 - epoch).num_days()).unwrap())
        );
        assert_eq!(
            timestamp_micros(Cell::Text("0044-03-15 12:00:00+00 BC")),
            Ok(ides.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp_micros())
        );
        assert_eq!(real(Cell::Text("-Infinity")), Ok(f64::NEG_INFINITY));
        assert!(real(Cell::Text("NaN")).is_ok_and(f64::is_nan));
    }
}
