//! Result rows for the wire protocol: the columns' description (RowDescription) and the
//! rows of each batch in the client's text or binary format, encoded by arrow-pg but for
//! decimals, which are written as PostgreSQL's `numeric` at any precision (`numeric.rs`).

use std::sync::Arc;

use arrow_pg::datatypes::arrow_schema_to_pg_fields;
use arrow_pg::encoder::{Encoder, encode_value};
use datafusion::arrow::array::{Array, AsArray, PrimitiveArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Decimal256Type, DecimalType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use pgwire::api::portal::Format;
use pgwire::api::results::{DataRowEncoder, FieldInfo};
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;

use super::numeric::Numeric;
use super::sqlstate;
use crate::api::ApiError;
use crate::query::service::{Results, ServiceError};

/// The description of `schema`'s columns in `format`, as arrow-pg gives it, with each
/// decimal's precision and scale as its type modifier (PostgreSQL's `numeric(p, s)` is
/// `((p << 16) | s) + 4`), which pgjdbc's `getPrecision`/`getScale` and psycopg's
/// `description` read.
pub fn described_fields(schema: &Schema, format: &Format) -> PgWireResult<Vec<FieldInfo>> {
    // arrow-pg has no type for a Decimal256: it is described as a `numeric` like a
    // Decimal128, its precision in the modifier below.
    let described = Schema::new(
        schema
            .fields()
            .iter()
            .map(|field| match field.data_type() {
                DataType::Decimal256(_, scale) => Field::new(
                    field.name(),
                    DataType::Decimal128(38, *scale),
                    field.is_nullable(),
                ),
                _ => field.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    );
    let fields = arrow_schema_to_pg_fields(&described, format, None)?;
    Ok(fields
        .into_iter()
        .zip(schema.fields())
        .map(|(field, arrow)| match arrow.data_type() {
            DataType::Decimal128(precision, scale) | DataType::Decimal256(precision, scale)
                if *scale >= 0 =>
            {
                field.with_type_modifier(((i32::from(*precision) << 16) | i32::from(*scale)) + 4)
            }
            _ => field,
        })
        .collect())
}

const UNENCODABLE: &str = "a value could not be written in the PostgreSQL format";

/// The rows of `batch` in the formats of `fields`. arrow-pg's errors may quote the value
/// they could not write: the client gets a plain one, the log only the column types.
pub fn encoded(fields: &Arc<Vec<FieldInfo>>, batch: RecordBatch) -> PgWireResult<Vec<DataRow>> {
    let schema = batch.schema();
    encode_rows(fields, &batch).map_err(|_| {
        let types: Vec<String> = schema
            .fields()
            .iter()
            .map(|field| field.data_type().to_string())
            .collect();
        tracing::info!(
            ?types,
            "a batch could not be encoded for the PostgreSQL wire protocol"
        );
        sqlstate::response("ERROR", "22000", UNENCODABLE)
    })
}

/// The rows of `batch`, each column as arrow-pg writes it but decimals, which are [`Numeric`].
fn encode_rows(fields: &Arc<Vec<FieldInfo>>, batch: &RecordBatch) -> PgWireResult<Vec<DataRow>> {
    let schema = batch.schema();
    let columns: Vec<_> = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .zip(fields.iter())
        .collect();
    let mut encoder = DataRowEncoder::new(Arc::clone(fields));
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        for ((array, field), pg_field) in &columns {
            let decimal = match field.data_type() {
                DataType::Decimal128(..) => Some(decimal_text(array.as_primitive::<Decimal128Type>(), row)),
                DataType::Decimal256(..) => Some(decimal_text(array.as_primitive::<Decimal256Type>(), row)),
                _ => None,
            };
            match decimal {
                Some(text) => Encoder::encode_field(&mut encoder, &Numeric(text), pg_field)?,
                None => encode_value(&mut encoder, array, row, field, pg_field)?,
            }
        }
        rows.push(encoder.take_row());
    }
    Ok(rows)
}

/// The decimal at `row` as Arrow writes it, exactly at any precision; `None` for NULL.
fn decimal_text<T: DecimalType>(decimals: &PrimitiveArray<T>, row: usize) -> Option<String> {
    decimals.is_valid(row).then(|| decimals.value_as_string(row))
}

/// The rows of `results` as the client's format asks, encoded batch by batch as they come;
/// the service is told how the result ended. Dropping the stream (the client went away or
/// closed its portal) ends the query.
pub fn rows(
    results: Results,
    fields: Arc<Vec<FieldInfo>>,
) -> impl futures::Stream<Item = PgWireResult<DataRow>> + Send {
    futures::stream::unfold(Some(results), move |results| {
        let fields = Arc::clone(&fields);
        async move {
            let mut results = results?;
            match results.next().await {
                None => {
                    results.completed();
                    None
                }
                Some(Ok(batch)) => {
                    match encoded(&fields, batch) {
                        Ok(rows) => {
                            // Each DataRow on the wire: its type byte, its length (4) and
                            // its field count (2), then the fields.
                            results.sent(rows.iter().map(|row| row.data.len() + 7).sum());
                            Some((
                                futures::stream::iter(rows.into_iter().map(Ok).collect::<Vec<_>>()),
                                Some(results),
                            ))
                        }
                        Err(error) => {
                            results.failed(ServiceError::FrontDoor {
                                code: "encoding_error",
                                message: UNENCODABLE.into(),
                                denied: false,
                            });
                            Some((futures::stream::iter(vec![Err(error)]), None))
                        }
                    }
                }
                Some(Err(error)) => {
                    let shown = sqlstate::error(&ApiError::from(&error));
                    results.failed(error);
                    Some((futures::stream::iter(vec![Err(shown)]), None))
                }
            }
        }
    })
    .flatten()
}
