//! CSV: one header row, then the rows as they come; nested values as their JSON text.

use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::json::writer::{EncoderOptions, make_encoder};
use datafusion::arrow::record_batch::RecordBatch;

use super::{BatchEncoder, EncodeError, NonFiniteFloats};

/// CSV with one header row, even for an empty result. CSV has no nested values: a list,
/// struct or map is written as its JSON text (as PostgreSQL's `COPY ... CSV` writes arrays
/// and composites as their text forms), in the JSON format's conventions.
pub(super) struct CsvEncoder {
    pub(super) schema: SchemaRef,
}

impl CsvEncoder {
    fn write(batch: &RecordBatch, header: bool) -> Result<Bytes, EncodeError> {
        let batch = nested_as_json_text(batch)?;
        let mut writer = CsvWriterBuilder::new().with_header(header).build(Vec::new());
        writer.write(&batch)?;
        Ok(Bytes::from(writer.into_inner()))
    }
}

fn is_nested(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::Struct(_)
            | DataType::Map(..)
            | DataType::Union(..)
    )
}

/// `batch` with every nested column replaced by a text column of each value's JSON.
fn nested_as_json_text(batch: &RecordBatch) -> Result<RecordBatch, EncodeError> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|field| is_nested(field.data_type())) {
        return Ok(batch.clone());
    }
    let options = EncoderOptions::default()
        .with_explicit_nulls(true)
        .with_encoder_factory(Arc::new(NonFiniteFloats));
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !is_nested(field.data_type()) {
            fields.push(field.clone());
            columns.push(column.clone());
            continue;
        }
        let mut encoder = make_encoder(field, column.as_ref(), &options)?;
        let mut text = StringBuilder::with_capacity(column.len(), column.len() * 16);
        let mut value = Vec::new();
        for index in 0..column.len() {
            if encoder.is_null(index) {
                text.append_null();
                continue;
            }
            value.clear();
            encoder.encode(index, &mut value);
            text.append_value(String::from_utf8_lossy(&value));
        }
        fields.push(Arc::new(Field::new(
            field.name(),
            DataType::Utf8,
            field.is_nullable(),
        )));
        columns.push(Arc::new(text.finish()));
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
        columns,
    )?)
}

impl BatchEncoder for CsvEncoder {
    fn begin(&mut self) -> Result<Bytes, EncodeError> {
        Self::write(&RecordBatch::new_empty(self.schema.clone()), true)
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, EncodeError> {
        Self::write(batch, false)
    }

    fn finish(&mut self) -> Result<Bytes, EncodeError> {
        Ok(Bytes::new())
    }
}
