//! PostgreSQL tables, read by Causeway's own connector.
//!
//! Results come in PostgreSQL's text format and are converted to the contract's types as
//! they are read, so every value arrives exactly as PostgreSQL holds it: decimals digit for
//! digit, timestamps of any year in microseconds, dates before 1970. Sessions are read-only
//! and run in UTC with ISO dates. Rows stream in batches through a small channel from a
//! bounded connection pool; a query whose consumer goes away is cancelled on the server.

mod pool;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use causeway_schemas::{Contract, Rounding, SourceTyping};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::TableReference;
use datafusion::error::{DataFusionError, Result as DataFusionResult};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::sql::unparser::dialect::PostgreSqlDialect;
use futures::{StreamExt, pin_mut};
use tokio::sync::mpsc;
use tokio_postgres::SimpleQueryMessage;
use tokio_stream::wrappers::ReceiverStream;

use crate::database::{check_table, check_table_name, connection, table_advice};
use crate::error::{ConnectorError, Result};
use crate::kind::{RawSource, Shared, SourceKind};
use crate::published::PublishedTable;
use crate::pushdown::{ColumnComparison, PushdownRules, SqlDialect};
use crate::settings::DatabaseKind;
use crate::sql::{BatchBuilder, Cell, RowReader, SqlTable, roundings};

use pool::{PostgresPool, SourceColumn};

/// A table of a PostgreSQL connection named in the configuration.
pub(crate) struct PostgresTable<'a> {
    pub connection: &'a str,
    pub table: &'a str,
}

#[async_trait]
impl SourceKind for PostgresTable<'_> {
    fn check(&self, shared: Shared<'_>) -> Result<()> {
        check_table(
            shared.settings,
            self.connection,
            self.table,
            DatabaseKind::Postgres,
        )
    }

    async fn open(
        &self,
        shared: Shared<'_>,
        contract: &Contract,
        _session: &dyn Session,
    ) -> Result<RawSource> {
        let opened = open(self.pool(shared).await?, self.table, contract).await?;
        Ok(RawSource {
            table: opened.table,
            checked_schema: opened.declared,
            typing: TYPING,
            pushdown: Some(opened.pushdown),
            stop: None,
        })
    }

    async fn estimate_rows(
        &self,
        shared: Shared<'_>,
        _table: &PublishedTable,
        _session: &dyn Session,
    ) -> Result<Option<u64>> {
        estimate_rows(self.pool(shared).await?, self.table).await
    }

    fn advice(&self, location: &str) -> String {
        table_advice(location)
    }
}

impl PostgresTable<'_> {
    async fn pool(&self, shared: Shared<'_>) -> Result<Arc<PostgresPool>> {
        let settings = connection(shared.settings, self.connection, DatabaseKind::Postgres)?;
        shared
            .pools
            .get_or_open(DatabaseKind::Postgres.name(), self.connection, || {
                PostgresPool::connect(self.connection, settings)
            })
            .await
    }
}

/// A PostgreSQL table opened against its contract.
struct Opened {
    table: Arc<SqlTable>,
    /// The schema the database declares for it.
    declared: SchemaRef,
    pushdown: PushdownRules,
}

/// The table, reading the contract's columns in the contract's types, and what PostgreSQL
/// compares as the hub does.
async fn open(pool: Arc<PostgresPool>, table: &str, contract: &Contract) -> Result<Opened> {
    check_table_name(table)?;
    let columns = pool
        .columns(table)
        .await
        .map_err(|error| ConnectorError::unreadable("postgres", table, error))?;
    if columns.is_empty() {
        return Err(ConnectorError::NotFound(format!(
            "table {table} in connection {}",
            pool.name()
        )));
    }
    let declared = Arc::new(Schema::new(
        columns
            .iter()
            .map(|column| Field::new(&column.name, declared_type(&column.declared), true))
            .collect::<Vec<_>>(),
    ));
    // The table reads only the contract's columns, in the contract's types.
    let read_schema = Arc::new(Schema::new(
        contract
            .fields
            .iter()
            .map(|field| Field::new(&field.name, field.data_type.clone(), true))
            .collect::<Vec<_>>(),
    ));
    let pushdown = columns
        .iter()
        .fold(PushdownRules::exact(SqlDialect::Postgres), |rules, column| {
            rules.with_column(&column.name, comparison(column))
        });
    let padded = columns
        .iter()
        .filter(|column| is_padded(&column.declared))
        .map(|column| column.name.clone())
        .collect();
    let reader = PostgresReader {
        pool,
        padded,
        rounding: roundings(contract),
    };
    let table = SqlTable::new(
        TableReference::from(table),
        read_schema,
        Arc::new(PostgreSqlDialect {}),
        Arc::new(reader),
    );
    Ok(Opened {
        table: Arc::new(table),
        declared,
        pushdown,
    })
}

/// `character(n)` (`bpchar`) pads its values with spaces to `n` and ignores trailing spaces
/// when it compares them. The hub returns such values without their padding, as
/// PostgreSQL's own cast to `text` does, so `seg = 'BUILDING'` holds for the value the hub
/// returns as it does in PostgreSQL.
fn is_padded(declared: &str) -> bool {
    base_type(declared) == "character"
}

/// A type's name as `format_type` prints it without its modifiers: `numeric` of
/// `numeric(10,2)`, `character` of `character(10)`. An array type keeps its whole name
/// (`character(10)[]`): its values are read as their text.
fn base_type(declared: &str) -> &str {
    if declared.ends_with("[]") {
        return declared;
    }
    declared.split('(').next().unwrap_or(declared).trim()
}

/// How PostgreSQL compares a column, against the hub comparing the values it returns.
fn comparison(column: &SourceColumn) -> ColumnComparison {
    match base_type(&column.declared) {
        // PostgreSQL compares a `real` as the double it widens to, the hub the double the
        // real's text reads as: `0.1::real = 0.1` differs.
        "real" => ColumnComparison::Never,
        // Text in a collation that holds strings of different bytes equal ('a' = 'A'), or
        // padded: PostgreSQL finds a superset of the hub's rows.
        "text" | "character varying" if column.deterministic => ColumnComparison::Exact,
        "text" | "character varying" | "character" | "citext" | "uuid" => ColumnComparison::Narrowing,
        "smallint" | "integer" | "bigint" | "double precision" | "numeric" | "boolean" | "date" => {
            ColumnComparison::Exact
        }
        // Everything else is read as its text, which need not compare as the type does
        // (json, arrays, enums, network addresses): kept in the hub.
        _ => ColumnComparison::Never,
    }
}

/// How the source's types are checked: a contract may read a column as a wider type (an
/// `integer` as `bigint`, a `numeric(10,2)` as `decimal(14,2)`), since the text of every
/// value is converted to the contract's type exactly.
const TYPING: SourceTyping = SourceTyping::Widening;

/// PostgreSQL's type names (as `format_type` prints them) as the Arrow type that holds
/// their values; `Null` where any type may hold them (a `numeric` without precision).
fn declared_type(declared: &str) -> DataType {
    match base_type(declared) {
        "smallint" => DataType::Int16,
        "integer" => DataType::Int32,
        "bigint" => DataType::Int64,
        "real" => DataType::Float32,
        "double precision" => DataType::Float64,
        "boolean" => DataType::Boolean,
        "date" => DataType::Date32,
        "bytea" => DataType::Binary,
        "numeric" => numeric(declared),
        _ if declared.starts_with("timestamp")
            && declared.ends_with("with time zone")
            && !declared.ends_with("without time zone") =>
        {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        _ if declared.starts_with("timestamp") => DataType::Timestamp(TimeUnit::Microsecond, None),
        _ if declared.starts_with("time") => DataType::Time64(TimeUnit::Microsecond),
        // Text, character types, uuid, json, enums, arrays: all read as their text.
        _ => DataType::Utf8,
    }
}

fn numeric(declared: &str) -> DataType {
    let precision_scale = declared
        .strip_prefix("numeric(")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|inner| {
            let (precision, scale) = inner.split_once(',').unwrap_or((inner, "0"));
            Some((
                precision.trim().parse::<u8>().ok()?,
                scale.trim().parse::<i8>().ok()?,
            ))
        });
    match precision_scale {
        Some((precision, scale)) if precision <= 38 => DataType::Decimal128(precision, scale),
        Some((precision, scale)) => DataType::Decimal256(precision, scale),
        None => DataType::Null,
    }
}

/// The estimate PostgreSQL's planner keeps (`pg_class.reltuples`); unknown until the table
/// has been analysed once.
async fn estimate_rows(pool: Arc<PostgresPool>, table: &str) -> Result<Option<u64>> {
    check_table_name(table)?;
    pool.estimate_rows(table)
        .await
        .map_err(|error| ConnectorError::unreadable("postgres", table, error))
}

#[derive(Debug)]
struct PostgresReader {
    pool: Arc<PostgresPool>,
    /// `character(n)` columns, whose padding is removed.
    padded: HashSet<String>,
    /// The decimal fields the contract says to round.
    rounding: Arc<HashMap<String, Rounding>>,
}

impl RowReader for PostgresReader {
    fn plan_name(&self) -> &'static str {
        "PostgresScanExec"
    }

    fn read(&self, sql: String, schema: SchemaRef, batch_size: usize) -> SendableRecordBatchStream {
        let (sender, receiver) = mpsc::channel::<DataFusionResult<RecordBatch>>(2);
        let pool = Arc::clone(&self.pool);
        let stream_schema = Arc::clone(&schema);
        let rounding = Arc::clone(&self.rounding);
        let padded: Vec<bool> = schema
            .fields()
            .iter()
            .map(|field| self.padded.contains(field.name()))
            .collect();
        tokio::spawn(async move {
            let columns = Columns {
                schema,
                padded,
                rounding,
            };
            if let Err(error) = read_rows(&pool, &sql, columns, batch_size, &sender).await {
                let _ = sender.send(Err(error)).await;
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(
            stream_schema,
            ReceiverStream::new(receiver),
        ))
    }
}

/// The columns a scan reads, which of them are padded, and how decimals round.
struct Columns {
    schema: SchemaRef,
    padded: Vec<bool>,
    rounding: Arc<HashMap<String, Rounding>>,
}

async fn read_rows(
    pool: &PostgresPool,
    sql: &str,
    columns: Columns,
    batch_size: usize,
    sender: &mpsc::Sender<DataFusionResult<RecordBatch>>,
) -> DataFusionResult<()> {
    let connection = pool.get().await.map_err(|error| postgres_error(error.shown()))?;
    // The consumer may go away while the server has not sent a row yet (a query waiting
    // on a lock, a slow sort): the server is told to stop at once, not when a row is ready.
    let read = read_messages(pool, &connection, sql, columns, batch_size, sender);
    tokio::select! {
        result = read => result,
        () = sender.closed() => {
            pool.cancel(&connection).await;
            Ok(())
        }
    }
}

async fn read_messages(
    pool: &PostgresPool,
    connection: &tokio_postgres::Client,
    sql: &str,
    columns: Columns,
    batch_size: usize,
    sender: &mpsc::Sender<DataFusionResult<RecordBatch>>,
) -> DataFusionResult<()> {
    let failed = |error| postgres_error(pool.describe(error).shown());
    let messages = connection.simple_query_raw(sql).await.map_err(failed)?;
    pin_mut!(messages);
    let Columns {
        schema,
        padded,
        rounding,
    } = columns;
    let binary: Vec<bool> = schema
        .fields()
        .iter()
        .map(|field| {
            matches!(
                field.data_type(),
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView
            )
        })
        .collect();
    let mut builder = BatchBuilder::new(Arc::clone(&schema), batch_size).with_rounding(&rounding);
    while let Some(message) = messages.next().await {
        let SimpleQueryMessage::Row(row) = message.map_err(failed)? else {
            continue;
        };
        let texts = (0..row.len())
            .map(|index| {
                let text = row.try_get(index)?;
                Ok(match padded.get(index) {
                    Some(true) => text.map(|text: &str| text.trim_end_matches(' ')),
                    _ => text,
                })
            })
            .collect::<Result<Vec<Option<&str>>, tokio_postgres::Error>>()
            .map_err(failed)?;
        let bytes = texts
            .iter()
            .zip(&binary)
            .map(|(text, is_binary)| match (text, is_binary) {
                (Some(text), true) => decode_bytea(text)
                    .map(Some)
                    .ok_or_else(|| postgres_error("a bytea value is not in hex form")),
                _ => Ok(None),
            })
            .collect::<DataFusionResult<Vec<Option<Vec<u8>>>>>()?;
        let cells = texts.iter().zip(&bytes).map(|(text, bytes)| match (text, bytes) {
            (_, Some(bytes)) => Cell::Bytes(bytes),
            (Some(text), None) => Cell::Text(text),
            (None, None) => Cell::Null,
        });
        builder
            .append_row(cells)
            .map_err(|error| postgres_error(error.message()))?;
        if builder.len() == batch_size && sender.send(builder.finish()).await.is_err() {
            // Nobody reads on: stop the query on the server rather than drain it.
            pool.cancel(connection).await;
            return Ok(());
        }
    }
    if builder.len() > 0 || schema.fields().is_empty() {
        let _ = sender.send(builder.finish()).await;
    }
    Ok(())
}

/// PostgreSQL writes `bytea` as `\x` and hex digits.
fn decode_bytea(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?;
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect()
}

fn postgres_error(error: impl std::fmt::Display) -> DataFusionError {
    crate::error::SourceReadError::into_datafusion(format!("PostgreSQL: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_to_arrow() {
        assert_eq!(declared_type("integer"), DataType::Int32);
        assert_eq!(declared_type("numeric(10,2)"), DataType::Decimal128(10, 2));
        assert_eq!(declared_type("numeric(5)"), DataType::Decimal128(5, 0));
        assert_eq!(declared_type("numeric"), DataType::Null);
        assert_eq!(
            declared_type("timestamp(3) with time zone"),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(
            declared_type("timestamp without time zone"),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(declared_type("character varying(18)"), DataType::Utf8);
        assert_eq!(declared_type("uuid"), DataType::Utf8);
        assert_eq!(declared_type("bytea"), DataType::Binary);
    }

    #[test]
    fn bytea_hex_decodes() {
        assert_eq!(decode_bytea("\\x01ff"), Some(vec![1, 255]));
        assert_eq!(decode_bytea("\\x"), Some(vec![]));
        assert_eq!(decode_bytea("01ff"), None);
        assert_eq!(decode_bytea("\\x0g"), None);
    }
}
