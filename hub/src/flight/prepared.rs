//! Prepared statements, kept by the client, not the hub: the handle is a signed
//! [`Statement`] (SQL, purpose, caller), and binding parameters answers a new handle that
//! holds them too, as Flight SQL allows stateless servers to do. Any replica can execute any
//! handle; nothing is held between calls, so there is nothing to leak when a client forgets
//! to close one.

use std::io::Cursor;

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::{IpcMessage, SchemaAsIpc};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use datafusion::arrow::ipc::{MessageHeader, root_as_message};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use futures::{StreamExt, TryStreamExt};
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

/// The most a client may send to bind one row of parameters, headers and bodies together.
pub const MAX_BIND_BYTES: usize = 1 << 20;

/// The one row of parameters a client sends with `DoPut`, encoded for a handle. The messages
/// are checked before any is decoded: at most [`MAX_BIND_BYTES`] in all, no compressed body
/// (a compressed buffer declares its own decompressed size, which the decoder would reserve
/// as told), and no batch of more than one row; so a client cannot make the hub hold or
/// allocate more than that.
pub async fn bound_parameters(mut stream: PeekableFlightDataStream) -> Result<String, Status> {
    let mut messages = Vec::new();
    let mut size = 0usize;
    let mut rows = 0i64;
    while let Some(data) = stream.next().await {
        let data = data?;
        size += data.data_header.len() + data.data_body.len() + data.app_metadata.len();
        if size > MAX_BIND_BYTES {
            return Err(Status::invalid_argument(format!(
                "the parameters are larger than {MAX_BIND_BYTES} bytes; bind one row of values"
            )));
        }
        if !data.data_header.is_empty() {
            let message = root_as_message(&data.data_header)
                .map_err(|_| Status::invalid_argument("the parameters are not Arrow IPC messages"))?;
            let compressed = match message.header_type() {
                MessageHeader::RecordBatch => {
                    let batch = message.header_as_record_batch();
                    rows += batch.map_or(0, |batch| batch.length());
                    batch.is_some_and(|batch| batch.compression().is_some())
                }
                MessageHeader::DictionaryBatch => message
                    .header_as_dictionary_batch()
                    .and_then(|dictionary| dictionary.data())
                    .is_some_and(|batch| batch.compression().is_some()),
                _ => false,
            };
            if compressed {
                return Err(Status::invalid_argument("send the parameters uncompressed"));
            }
            if rows > 1 {
                return Err(Status::invalid_argument(
                    "bind one row of parameters at a time: each execution reads under its own audit record",
                ));
            }
        }
        messages.push(Ok(data));
    }
    let batches: Vec<RecordBatch> =
        FlightRecordBatchStream::new_from_flight_data(futures::stream::iter(messages))
            .try_collect()
            .await
            .map_err(|error| Status::invalid_argument(format!("the parameters cannot be read: {error}")))?;
    let Some(batch) = batches.into_iter().find(|batch| batch.num_rows() > 0) else {
        return Err(Status::invalid_argument("bind one row of parameters"));
    };
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
