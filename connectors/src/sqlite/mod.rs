//! SQLite tables, read with rusqlite on blocking threads.
//!
//! SQLite's column types are only affinities: a column declared `DATE` or `DECIMAL(10,2)`
//! holds text, integers or reals. So the contract decides the Arrow types; the declared
//! types are checked loosely against it at publish, and each value is converted to the
//! contract's type as it is read, with an error naming the column when one does not fit.
//! Rows stream in batches through a small channel; the number of open connections per
//! database file is bounded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use causeway_schemas::{Contract, Rounding, SourceTyping};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::TableReference;
use datafusion::error::{DataFusionError, Result as DataFusionResult};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::sql::unparser::dialect::SqliteDialect;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::database::check_table_name;
use crate::error::{ConnectorError, Result};
use crate::files::allowed_path;
use crate::kind::{RawSource, Shared, SourceKind};
use crate::published::PublishedTable;
use crate::pushdown::{ColumnComparison, PushdownRules, SqlDialect};
use crate::sql::{BatchBuilder, Cell, RowReader, SqlTable, roundings};

/// A table of an SQLite database file inside the file roots.
pub(crate) struct SqliteTable<'a> {
    pub path: &'a str,
    pub table: &'a str,
}

/// SQLite files are opened read-only, with at most this many connections each.
const CONNECTIONS_PER_FILE: usize = 4;

#[async_trait]
impl SourceKind for SqliteTable<'_> {
    fn check(&self, shared: Shared<'_>) -> Result<()> {
        check_table_name(self.table)?;
        allowed_path(shared.settings, self.path).map(|_| ())
    }

    async fn open(
        &self,
        shared: Shared<'_>,
        contract: &Contract,
        _session: &dyn Session,
    ) -> Result<RawSource> {
        let source = open(self.database(shared).await?, self.table, contract).await?;
        Ok(RawSource {
            table: source.table,
            checked_schema: source.checked_schema,
            typing: SourceTyping::Loose,
            pushdown: Some(source.pushdown),
            stop: None,
        })
    }

    async fn estimate_rows(
        &self,
        shared: Shared<'_>,
        _table: &PublishedTable,
        _session: &dyn Session,
    ) -> Result<Option<u64>> {
        estimate_rows(self.database(shared).await?, self.table).await
    }

    fn advice(&self, location: &str) -> String {
        format!("that the database file and table ({location}) exist and the hub may read them")
    }
}

impl SqliteTable<'_> {
    async fn database(&self, shared: Shared<'_>) -> Result<Arc<SqliteDatabase>> {
        let path = allowed_path(shared.settings, self.path)?;
        let key = path.to_string_lossy().into_owned();
        shared
            .pools
            .get_or_open("sqlite", &key, || async move {
                Ok(SqliteDatabase::new(&path, CONNECTIONS_PER_FILE))
            })
            .await
    }
}

/// Why a statement could not run on a connection of the file.
#[derive(Debug, thiserror::Error)]
enum SqliteError {
    #[error("the SQLite connection pool is closed")]
    Closed,
    #[error("the SQLite task ended: {0}")]
    Task(#[source] tokio::task::JoinError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// One SQLite database file: connections are opened read-only, at most `max_connections`
/// at a time.
#[derive(Debug)]
struct SqliteDatabase {
    path: PathBuf,
    permits: Arc<Semaphore>,
}

impl SqliteDatabase {
    fn new(path: &Path, max_connections: usize) -> Self {
        Self {
            path: path.to_path_buf(),
            permits: Arc::new(Semaphore::new(max_connections)),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(Duration::from_secs(5))?;
        Ok(connection)
    }

    /// Runs `work` with an open connection on a blocking thread.
    async fn with_connection<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> std::result::Result<T, SqliteError> {
        let _permit = self.permits.acquire().await.map_err(|_| SqliteError::Closed)?;
        let database = Arc::clone(self);
        let result = tokio::task::spawn_blocking(move || {
            let connection = database.open()?;
            work(&connection)
        })
        .await
        .map_err(SqliteError::Task)?;
        Ok(result?)
    }
}

/// A SQLite source opened against its contract.
struct SqliteSource {
    pub table: Arc<SqlTable>,
    pub checked_schema: SchemaRef,
    /// Columns whose stored values compare in SQL as their contract type does in DataFusion
    /// are pushed; the others never.
    pub pushdown: PushdownRules,
}

async fn open(database: Arc<SqliteDatabase>, table: &str, contract: &Contract) -> Result<SqliteSource> {
    check_table_name(table)?;
    let (schema_name, table_name) = match table.split_once('.') {
        Some((schema, name)) => (schema.to_owned(), name.to_owned()),
        None => ("main".to_owned(), table.to_owned()),
    };
    let columns = database
        .with_connection(move |connection| {
            let mut statement =
                connection.prepare("SELECT name, type FROM pragma_table_info(?1, ?2) ORDER BY cid")?;
            let rows = statement.query_map([&table_name, &schema_name], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
        .map_err(|error| ConnectorError::unreadable("sqlite", database.path.display().to_string(), error))?;
    if columns.is_empty() {
        return Err(ConnectorError::NotFound(format!(
            "table {table} in {}",
            database.path.display()
        )));
    }
    let declared = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, declared)| Field::new(name, declared_type(declared), true))
            .collect::<Vec<_>>(),
    ));
    let read_schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, declared)| {
                let data_type = contract
                    .field(name)
                    .map_or_else(|| declared_type(declared), |field| field.data_type.clone());
                Field::new(name, data_type, true)
            })
            .collect::<Vec<_>>(),
    ));
    let pushdown = columns
        .iter()
        .filter(|(name, declared)| {
            !contract
                .field(name)
                .is_some_and(|field| compares_like_datafusion(&declared_type(declared), &field.data_type))
        })
        .fold(PushdownRules::exact(SqlDialect::Sqlite), |rules, (name, _)| {
            rules.with_column(name, ColumnComparison::Never)
        });
    Ok(SqliteSource {
        table: Arc::new(SqlTable::new(
            TableReference::from(table),
            read_schema,
            Arc::new(SqliteDialect {}),
            Arc::new(SqliteReader {
                database,
                rounding: roundings(contract),
            }),
        )),
        checked_schema: declared,
        pushdown,
    })
}

/// SQLite's affinity rules (<https://www.sqlite.org/datatype3.html>), refined by the common
/// type names, as the Arrow type a column most likely holds.
fn declared_type(declared: &str) -> DataType {
    let upper = declared.to_ascii_uppercase();
    if upper.contains("INT") {
        DataType::Int64
    } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
        DataType::Utf8
    } else if upper.contains("BLOB") {
        DataType::Binary
    } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
        DataType::Float64
    } else if let Some(decimal) = declared_decimal(&upper) {
        decimal
    } else if upper.starts_with("DATETIME") || upper.starts_with("TIMESTAMP") {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    } else if upper.starts_with("DATE") {
        DataType::Date32
    } else if upper.starts_with("BOOL") {
        DataType::Boolean
    } else {
        // No declared type, or NUMERIC without a precision: anything may be stored.
        DataType::Null
    }
}

fn declared_decimal(upper: &str) -> Option<DataType> {
    let inner = upper
        .strip_prefix("DECIMAL")
        .or_else(|| upper.strip_prefix("NUMERIC"))?
        .trim()
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let (precision, scale) = inner.split_once(',')?;
    Some(DataType::Decimal128(
        precision.trim().parse().ok()?,
        scale.trim().parse().ok()?,
    ))
}

/// Integers in INTEGER columns, reals in REAL columns and text in TEXT columns compare in
/// SQLite as in DataFusion; dates, decimals and mixed columns may not, so filters on them
/// stay in DataFusion.
fn compares_like_datafusion(declared: &DataType, contract: &DataType) -> bool {
    match declared {
        DataType::Int64 => contract.is_integer(),
        DataType::Float64 => contract.is_floating(),
        DataType::Utf8 => matches!(
            contract,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
        _ => false,
    }
}

/// Reads a query's rows on a blocking thread, handing batches over a small channel: the
/// reader stays two batches ahead of the consumer and stops when the consumer goes away.
#[derive(Debug)]
struct SqliteReader {
    database: Arc<SqliteDatabase>,
    /// The decimal fields the contract says to round.
    rounding: Arc<HashMap<String, Rounding>>,
}

impl RowReader for SqliteReader {
    fn plan_name(&self) -> &'static str {
        "SqliteScanExec"
    }

    fn read(&self, sql: String, schema: SchemaRef, batch_size: usize) -> SendableRecordBatchStream {
        let (sender, receiver) = mpsc::channel::<DataFusionResult<RecordBatch>>(2);
        let database = Arc::clone(&self.database);
        let rounding = Arc::clone(&self.rounding);
        let stream_schema = Arc::clone(&schema);
        tokio::spawn(async move {
            let Ok(permit) = Arc::clone(&database.permits).acquire_owned().await else {
                let _ = sender
                    .send(Err(sqlite_error("the connection pool is closed")))
                    .await;
                return;
            };
            let reader = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                if let Err(error) = read_rows(&database, &sql, &schema, &rounding, batch_size, &sender) {
                    let _ = sender.blocking_send(Err(error));
                }
            });
            let _ = reader.await;
        });
        Box::pin(RecordBatchStreamAdapter::new(
            stream_schema,
            ReceiverStream::new(receiver),
        ))
    }
}

fn read_rows(
    database: &SqliteDatabase,
    sql: &str,
    schema: &SchemaRef,
    rounding: &HashMap<String, Rounding>,
    batch_size: usize,
    sender: &mpsc::Sender<DataFusionResult<RecordBatch>>,
) -> DataFusionResult<()> {
    let failed = |error: rusqlite::Error| sqlite_error(error);
    let connection = database.open().map_err(failed)?;
    let mut statement = connection.prepare(sql).map_err(failed)?;
    let columns = statement.column_count();
    let mut rows = statement.query([]).map_err(failed)?;
    let mut builder = BatchBuilder::new(Arc::clone(schema), batch_size).with_rounding(rounding);
    while let Some(row) = rows.next().map_err(failed)? {
        let cells = (0..columns)
            .map(|index| row.get_ref(index).map(cell))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(failed)?;
        builder
            .append_row(cells)
            .map_err(|error| sqlite_error(error.message()))?;
        if builder.len() == batch_size && sender.blocking_send(builder.finish()).is_err() {
            return Ok(());
        }
    }
    if builder.len() > 0 || schema.fields().is_empty() {
        let _ = sender.blocking_send(builder.finish());
    }
    Ok(())
}

/// SQLite's storage classes as cells; text that is not UTF-8 is kept as bytes.
fn cell(value: ValueRef<'_>) -> Cell<'_> {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(number) => Cell::Integer(number),
        ValueRef::Real(number) => Cell::Real(number),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).map_or(Cell::Bytes(bytes), Cell::Text),
        ValueRef::Blob(bytes) => Cell::Bytes(bytes),
    }
}

/// The row count of a SQLite table (SQLite keeps no estimate, so this counts).
async fn estimate_rows(database: Arc<SqliteDatabase>, table: &str) -> Result<Option<u64>> {
    check_table_name(table)?;
    let sql = format!("SELECT count(*) FROM {table}");
    let rows = database
        .with_connection(move |connection| connection.query_row(&sql, [], |row| row.get::<_, i64>(0)))
        .await
        .map_err(|error| ConnectorError::unreadable("sqlite", table, error))?;
    Ok(u64::try_from(rows).ok())
}

fn sqlite_error(error: impl std::fmt::Display) -> DataFusionError {
    crate::error::SourceReadError::into_datafusion(format!("SQLite: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_follow_sqlite_affinity() {
        assert_eq!(declared_type("INTEGER"), DataType::Int64);
        assert_eq!(declared_type("bigint"), DataType::Int64);
        assert_eq!(declared_type("VARCHAR(18)"), DataType::Utf8);
        assert_eq!(declared_type("DOUBLE PRECISION"), DataType::Float64);
        assert_eq!(declared_type("DECIMAL(10, 2)"), DataType::Decimal128(10, 2));
        assert_eq!(declared_type("DATE"), DataType::Date32);
        assert_eq!(
            declared_type("DATETIME"),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(declared_type(""), DataType::Null);
    }

    #[test]
    fn only_consistent_columns_are_pushable() {
        assert!(compares_like_datafusion(&DataType::Int64, &DataType::Int32));
        assert!(compares_like_datafusion(&DataType::Utf8, &DataType::Utf8));
        assert!(!compares_like_datafusion(&DataType::Utf8, &DataType::Date32));
        assert!(!compares_like_datafusion(
            &DataType::Decimal128(10, 2),
            &DataType::Decimal128(10, 2)
        ));
    }
}
