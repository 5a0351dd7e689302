//! Prepared statements, kept by the client, not the hub: the handle is a signed
//! [`Statement`] (SQL, purpose, caller), and binding parameters answers a new handle that
//! holds them too, as Flight SQL allows stateless servers to do. Any replica can execute any
//! handle; nothing is held between calls, so there is nothing to leak when a client forgets
//! to close one.

use std::io::Cursor;

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::{IpcMessage, SchemaAsIpc};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use futures::TryStreamExt;
use tonic::Status;

/// A schema as Flight SQL carries it: an encapsulated IPC Schema message.
pub fn schema_bytes(schema: &Schema) -> Result<Vec<u8>, Status> {
    let message: IpcMessage = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|error: datafusion::arrow::error::ArrowError| Status::internal(error.to_string()))?;
    Ok(message.0.to_vec())
}

/// The parameters' schema: `$1`, `$2`, ... of the types the statement implies (`Null` where
/// it says none).
pub fn parameter_schema(types: &[Option<DataType>]) -> Schema {
    Schema::new(
        types
            .iter()
            .enumerate()
            .map(|(index, data_type)| {
                Field::new(
                    format!("${}", index + 1),
                    data_type.clone().unwrap_or(DataType::Null),
                    true,
                )
            })
            .collect::<Vec<_>>(),
    )
}

/// The one row of parameters a client sends with `DoPut`, encoded for a handle.
pub async fn bound_parameters(stream: PeekableFlightDataStream) -> Result<String, Status> {
    let batches: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(
        // The stream itself, not `into_inner`: its first message, the schema, was peeked.
        stream.map_err(|status| FlightError::Tonic(Box::new(status))),
    )
    .try_collect()
    .await
    .map_err(|error| Status::invalid_argument(format!("the parameters cannot be read: {error}")))?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let Some(batch) = batches.into_iter().find(|batch| batch.num_rows() > 0) else {
        return Err(Status::invalid_argument("bind one row of parameters"));
    };
    if rows > 1 {
        return Err(Status::invalid_argument(format!(
            "bind one row of parameters at a time, not {rows}: each execution reads under its own audit record"
        )));
    }
    let mut bytes = Vec::new();
    {
        let mut writer = StreamWriter::try_new(&mut bytes, &batch.schema())
            .map_err(|error| Status::internal(error.to_string()))?;
        writer
            .write(&batch)
            .map_err(|error| Status::internal(error.to_string()))?;
        writer
            .finish()
            .map_err(|error| Status::internal(error.to_string()))?;
    }
    Ok(STANDARD.encode(bytes))
}

/// The values of a handle's parameters, in order.
pub fn parameter_values(encoded: Option<&str>) -> Result<Vec<ScalarValue>, Status> {
    let Some(encoded) = encoded else {
        return Ok(Vec::new());
    };
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| Status::invalid_argument("the prepared statement's parameters are damaged"))?;
    let damaged = |_| Status::invalid_argument("the prepared statement's parameters are damaged");
    let mut reader = StreamReader::try_new(Cursor::new(bytes), None).map_err(damaged)?;
    let Some(batch) = reader.next().transpose().map_err(damaged)? else {
        return Ok(Vec::new());
    };
    batch
        .columns()
        .iter()
        .map(|column| {
            ScalarValue::try_from_array(column, 0)
                .map_err(|error| Status::invalid_argument(error.to_string()))
        })
        .collect()
}
