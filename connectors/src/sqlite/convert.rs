//! SQLite values converted to the contract's Arrow types.

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
use datafusion::error::Result as DataFusionResult;
use rusqlite::Row;
use rusqlite::types::ValueRef;

use super::execution_error;

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

    pub(crate) fn append_row(&mut self, row: &Row<'_>) -> DataFusionResult<()> {
        for (index, column) in self.columns.iter_mut().enumerate() {
            let value = row
                .get_ref(index)
                .map_err(|error| execution_error(format!("SQLite: {error}")))?;
            column.append(value).map_err(|problem| {
                let field = self.schema.field(index);
                execution_error(format!(
                    "SQLite column '{}' holds {problem}, which is not a valid {}",
                    field.name(),
                    field.data_type()
                ))
            })?;
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
                cast(&array, field.data_type())
                    .map_err(|error| execution_error(format!("SQLite column '{}': {error}", field.name())))
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

impl Column {
    /// Appends one value; on failure returns a description of the value for the message.
    fn append(&mut self, value: ValueRef<'_>) -> Result<(), String> {
        if let ValueRef::Null = value {
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
                ValueRef::Text(bytes) => builder.append_value(String::from_utf8_lossy(bytes)),
                ValueRef::Integer(number) => builder.append_value(number.to_string()),
                ValueRef::Real(number) => builder.append_value(number.to_string()),
                other => return Err(describe(other)),
            },
            Self::Binary(builder) => match value {
                ValueRef::Blob(bytes) | ValueRef::Text(bytes) => builder.append_value(bytes),
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

fn describe(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(number) => format!("the integer {number}"),
        ValueRef::Real(number) => format!("the real {number}"),
        ValueRef::Text(bytes) => format!("the text '{}'", String::from_utf8_lossy(bytes)),
        ValueRef::Blob(bytes) => format!("a blob of {} bytes", bytes.len()),
    }
}

fn text(value: ValueRef<'_>) -> Option<&str> {
    match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok().map(str::trim),
        _ => None,
    }
}

fn integer(value: ValueRef<'_>) -> Result<i64, String> {
    match value {
        ValueRef::Integer(number) => Ok(number),
        ValueRef::Real(number) if number.fract() == 0.0 && number.abs() < 9.2e18 => Ok(number as i64),
        _ => text(value)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| describe(value)),
    }
}

fn real(value: ValueRef<'_>) -> Result<f64, String> {
    match value {
        ValueRef::Integer(number) => Ok(number as f64),
        ValueRef::Real(number) => Ok(number),
        _ => text(value)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| describe(value)),
    }
}

/// Decimals stored as text or integers convert exactly; a REAL is rounded to the scale.
fn decimal(value: ValueRef<'_>, precision: u8, scale: i8) -> Result<i128, String> {
    let parsed = match value {
        ValueRef::Integer(number) => {
            parse_decimal::<Decimal128Type>(&number.to_string(), precision, scale).ok()
        }
        ValueRef::Real(number) => {
            parse_decimal::<Decimal128Type>(&format!("{number:.*}", scale.max(0) as usize), precision, scale)
                .ok()
        }
        _ => text(value).and_then(|text| parse_decimal::<Decimal128Type>(text, precision, scale).ok()),
    };
    parsed.ok_or_else(|| describe(value))
}

fn boolean(value: ValueRef<'_>) -> Result<bool, String> {
    match value {
        ValueRef::Integer(0) => Ok(false),
        ValueRef::Integer(1) => Ok(true),
        _ => match text(value).map(str::to_ascii_lowercase).as_deref() {
            Some("true" | "t" | "1" | "yes") => Ok(true),
            Some("false" | "f" | "0" | "no") => Ok(false),
            _ => Err(describe(value)),
        },
    }
}

/// Dates as ISO text (`1990-05-17`, optionally followed by a time) or Unix seconds.
fn date(value: ValueRef<'_>) -> Result<i32, String> {
    use datafusion::arrow::compute::kernels::cast_utils::Parser;
    match value {
        ValueRef::Integer(seconds) => i32::try_from(seconds.div_euclid(86_400)).map_err(|_| describe(value)),
        _ => text(value)
            .and_then(|text| Date32Type::parse(text.get(..10).unwrap_or(text)))
            .ok_or_else(|| describe(value)),
    }
}

/// Timestamps as ISO text or Unix seconds, in microseconds; text with an offset is
/// converted to UTC.
fn timestamp_micros(value: ValueRef<'_>) -> Result<i64, String> {
    match value {
        ValueRef::Integer(seconds) => seconds.checked_mul(1_000_000).ok_or_else(|| describe(value)),
        _ => text(value)
            .and_then(|text| string_to_datetime(&chrono::Utc, text).ok())
            .map(|datetime| datetime.timestamp_micros())
            .ok_or_else(|| describe(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_convert_to_their_contract_types() {
        assert_eq!(integer(ValueRef::Text(b"42")), Ok(42));
        assert_eq!(integer(ValueRef::Real(7.0)), Ok(7));
        assert!(integer(ValueRef::Real(7.5)).is_err());
        assert_eq!(decimal(ValueRef::Text(b"1234.50"), 10, 2), Ok(123_450));
        assert_eq!(decimal(ValueRef::Integer(12), 10, 2), Ok(1_200));
        assert_eq!(decimal(ValueRef::Real(0.1), 10, 2), Ok(10));
        assert_eq!(date(ValueRef::Text(b"1970-01-02")), Ok(1));
        assert_eq!(date(ValueRef::Text(b"1970-01-02 10:00:00")), Ok(1));
        assert_eq!(
            timestamp_micros(ValueRef::Text(b"1970-01-01T00:00:01+01:00")),
            Ok(-3_599_000_000)
        );
        assert_eq!(boolean(ValueRef::Text(b"TRUE")), Ok(true));
    }

    #[test]
    fn values_that_do_not_fit_are_described() {
        assert_eq!(date(ValueRef::Text(b"soon")), Err("the text 'soon'".into()));
        assert_eq!(integer(ValueRef::Blob(b"xx")), Err("a blob of 2 bytes".into()));
    }
}
