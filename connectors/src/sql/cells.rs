//! Values read from a database, converted to the contract's Arrow types.
//!
//! Readers hand over each value as a [`Cell`]: what the database stores (SQLite's storage
//! classes) or how it writes it (PostgreSQL's text format). The target type decides how the
//! cell is read: text becomes a date, a decimal or a number where the column asks for one,
//! exactly, and a value that does not fit is an error naming it.

use std::sync::Arc;

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
    Decimal(Decimal128Builder, u8, i8),
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
                DataFusionError::Execution(format!(
                    "column '{}' holds {problem}, which is not a valid {}",
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

/// A value that is not valid for its column, described for the error message. The
/// description holds the value: callers see the message only through `without_values`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Unreadable(String);

impl From<&str> for Unreadable {
    fn from(description: &str) -> Self {
        Self(description.to_owned())
    }
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
            Self::Decimal(builder, precision, scale) => {
                builder.append_value(decimal(value, *precision, *scale)?)
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

fn describe(value: Cell<'_>) -> Unreadable {
    Unreadable(match value {
        Cell::Null => "NULL".into(),
        Cell::Integer(number) => format!("the integer {number}"),
        Cell::Real(number) => format!("the real {number}"),
        Cell::Text(text) => format!("the text '{text}'"),
        Cell::Bytes(bytes) => format!("{} bytes", bytes.len()),
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
        _ => text(value)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| describe(value)),
    }
}

/// Decimals stored as text or integers convert exactly; a REAL is rounded to the scale.
fn decimal(value: Cell<'_>, precision: u8, scale: i8) -> Result<i128, Unreadable> {
    let parsed = match value {
        Cell::Integer(number) => parse_decimal::<Decimal128Type>(&number.to_string(), precision, scale).ok(),
        Cell::Real(number) => {
            parse_decimal::<Decimal128Type>(&format!("{number:.*}", scale.max(0) as usize), precision, scale)
                .ok()
        }
        _ => text(value).and_then(|text| parse_decimal::<Decimal128Type>(text, precision, scale).ok()),
    };
    parsed.ok_or_else(|| describe(value))
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

/// Dates as ISO text (`1990-05-17`, optionally followed by a time) or Unix seconds.
fn date(value: Cell<'_>) -> Result<i32, Unreadable> {
    use datafusion::arrow::compute::kernels::cast_utils::Parser;
    match value {
        Cell::Integer(seconds) => i32::try_from(seconds.div_euclid(86_400)).map_err(|_| describe(value)),
        _ => text(value)
            .and_then(|text| Date32Type::parse(text.get(..10).unwrap_or(text)))
            .ok_or_else(|| describe(value)),
    }
}

/// Timestamps as ISO text or Unix seconds, in microseconds; text with an offset is
/// converted to UTC. An offset of whole hours may be written `+08`, as PostgreSQL does.
fn timestamp_micros(value: Cell<'_>) -> Result<i64, Unreadable> {
    let parse = |text: &str| string_to_datetime(&chrono::Utc, text).ok();
    match value {
        Cell::Integer(seconds) => seconds.checked_mul(1_000_000).ok_or_else(|| describe(value)),
        _ => text(value)
            .and_then(|text| parse(text).or_else(|| parse(&format!("{text}:00"))))
            .map(|datetime| datetime.timestamp_micros())
            .ok_or_else(|| describe(value)),
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
        assert_eq!(decimal(Cell::Text("1234.50"), 10, 2), Ok(123_450));
        assert_eq!(decimal(Cell::Integer(12), 10, 2), Ok(1_200));
        assert_eq!(decimal(Cell::Real(0.1), 10, 2), Ok(10));
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
    fn values_that_do_not_fit_are_described() {
        assert_eq!(date(Cell::Text("soon")), Err("the text 'soon'".into()));
        assert_eq!(integer(Cell::Bytes(b"xx")), Err("2 bytes".into()));
    }
}
