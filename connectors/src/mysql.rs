//! MySQL and MariaDB tables, read through `datafusion-table-providers`: each scan becomes
//! one SQL query with the projection, the pushable filters and the limit, streamed back in
//! batches over a bounded pool.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use causeway_schemas::{Contract, SourceTyping};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::TableReference;
use datafusion_table_providers_common::sql::db_connection_pool::dbconnection::AsyncDbConnection;
use datafusion_table_providers_mysql::MySQLTableFactory;
use datafusion_table_providers_mysql::pool::MySQLConnectionPool;
use futures::TryStreamExt;
use secrecy::{ExposeSecret, SecretString};

use crate::database::{check_table, check_table_name, connection, table_advice};
use crate::error::{ConnectorError, Result};
use crate::kind::{RawSource, Shared, SourceKind};
use crate::published::{PublishedTable, StopStatement};
use crate::pushdown::{ColumnComparison, PushdownRules, SqlDialect};
use crate::secrets::{redact, resolve_env_references};
use crate::settings::{ConnectionSettings, DatabaseKind};

/// A table of a MySQL or MariaDB connection named in the configuration.
pub(crate) struct MysqlTable<'a> {
    pub connection: &'a str,
    pub table: &'a str,
}

#[async_trait]
impl SourceKind for MysqlTable<'_> {
    fn check(&self, shared: Shared<'_>) -> Result<()> {
        check_table(shared.settings, self.connection, self.table, DatabaseKind::Mysql)
    }

    async fn open(
        &self,
        shared: Shared<'_>,
        _contract: &Contract,
        _session: &dyn Session,
    ) -> Result<RawSource> {
        let pool = self.pool(shared).await?;
        let table = table(Arc::clone(&pool), self.connection, self.table).await?;
        Ok(RawSource {
            checked_schema: table.schema(),
            pushdown: Some(pushdown_rules(&table.schema())),
            table,
            typing: SourceTyping::Declared,
            stop: Some(stopper(pool)),
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

impl MysqlTable<'_> {
    async fn pool(&self, shared: Shared<'_>) -> Result<Arc<MySQLConnectionPool>> {
        let settings = connection(shared.settings, self.connection, DatabaseKind::Mysql)?;
        let name = self.connection;
        shared
            .pools
            .get_or_open(DatabaseKind::Mysql.name(), name, || async move {
                let url = resolve_env_references(&settings.url)?;
                let params = mysql_params(&url, settings)?;
                MySQLConnectionPool::new(params)
                    .await
                    .map_err(|error| connect_error("mysql", name, &error.to_string(), &url))
            })
            .await
    }
}

/// MySQL may hold the zero date `0000-00-00` (and zero days or months) in `DATE`,
/// `DATETIME` and `TIMESTAMP` columns whatever its `sql_mode` says now, since the mode may
/// have been laxer when they were written. The driver returns such a value as NULL, while
/// MySQL compares it as a date smaller than every other: comparisons that hold for the hub
/// hold in MySQL too, but not the other way round, and `IS NULL` differs outright. So
/// those columns narrow rows in MySQL and the hub checks every filter on them again.
fn pushdown_rules(schema: &SchemaRef) -> PushdownRules {
    schema
        .fields()
        .iter()
        .filter(|field| {
            matches!(
                field.data_type(),
                DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
            )
        })
        .fold(PushdownRules::exact(SqlDialect::Mysql), |rules, field| {
            rules.with_column(field.name(), ColumnComparison::Narrowing)
        })
}

async fn table(
    pool: Arc<MySQLConnectionPool>,
    connection: &str,
    table: &str,
) -> Result<Arc<dyn TableProvider>> {
    check_table_name(table)?;
    MySQLTableFactory::new(pool)
        .table_provider(TableReference::from(table))
        .await
        .map_err(|error| {
            ConnectorError::unreadable("mysql", format!("connection {connection} table {table}"), error)
        })
}

/// Stops, on the server, the statements of this pool running `sql`: `KILL QUERY` for each
/// session whose statement is that text, found in the process list from a session of its
/// own. Statements the hub runs are told apart by their text only, so an identical one
/// running for another query at that moment is stopped too (it fails, never answers
/// wrongly).
fn stopper(pool: Arc<MySQLConnectionPool>) -> StopStatement {
    Arc::new(move |sql: String| {
        let pool = Arc::clone(&pool);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            match stop(&pool, &sql).await {
                Ok(stopped) => {
                    tracing::debug!(stopped, "stopped MySQL statements of a query that ended early")
                }
                Err(error) => tracing::warn!(%error, "a MySQL statement was not stopped"),
            }
        });
    })
}

/// What went wrong stopping a statement: the driver's own error, kept for the log.
type DriverError = Box<dyn std::error::Error + Send + Sync>;

async fn stop(pool: &MySQLConnectionPool, sql: &str) -> Result<usize, DriverError> {
    // The driver sends the SQL without double quotes.
    let sent = sql.replace('"', "").replace('\\', "\\\\").replace('\'', "''");
    let connection = pool.connect_direct().await?;
    let find = format!(
        "SELECT CAST(ID AS SIGNED) AS id FROM information_schema.PROCESSLIST \
         WHERE INFO = '{sent}' AND ID <> CONNECTION_ID() AND USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"
    );
    let batches: Vec<_> = connection
        .query_arrow(&find, &[], None)
        .await?
        .try_collect()
        .await?;
    let mut stopped = 0;
    for batch in &batches {
        let Some(ids) = batch
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
        else {
            continue;
        };
        for id in ids.iter().flatten() {
            // KILL answers with no result set, which the driver's Arrow reader reports as an
            // error; the statement is stopped all the same.
            let _ = connection
                .query_arrow(&format!("KILL QUERY {id}"), &[], None)
                .await;
            stopped += 1;
        }
    }
    Ok(stopped)
}

/// The storage engine's row estimate from `information_schema.TABLES` (exact for MyISAM,
/// approximate for InnoDB).
async fn estimate_rows(pool: Arc<MySQLConnectionPool>, table: &str) -> Result<Option<u64>> {
    check_table_name(table)?;
    let (schema, name) = match table.split_once('.') {
        Some((schema, name)) => (format!("'{schema}'"), name),
        None => ("DATABASE()".to_owned(), table),
    };
    let sql = format!(
        "SELECT CAST(TABLE_ROWS AS SIGNED) AS table_rows FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = '{name}'"
    );
    let error = |error: DriverError| ConnectorError::unreadable("mysql", table, error);
    let connection = pool.connect_direct().await.map_err(|e| error(e.into()))?;
    let stream = connection.query_arrow(&sql, &[], None).await.map_err(error)?;
    let batches: Vec<_> = stream.try_collect().await.map_err(|e| error(e.into()))?;
    Ok(first_integer(&batches).and_then(|rows| u64::try_from(rows).ok()))
}

fn connect_error(kind: &'static str, name: &str, message: &str, url: &SecretString) -> ConnectorError {
    let secrets = url_secrets(url.expose_secret());
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    ConnectorError::Connect {
        kind,
        name: name.to_owned(),
        message: redact(message, &secrets),
    }
}

/// The parts of a URL that must never be shown: the password, and the whole URL.
fn url_secrets(url: &str) -> Vec<String> {
    let mut secrets = vec![url.to_owned()];
    if let Ok(parsed) = url::Url::parse(url)
        && let Some(password) = parsed.password()
    {
        secrets.push(password.to_owned());
        secrets.push(decode(password));
    }
    secrets
}

fn parse_url(url: &SecretString, scheme: &[&str]) -> Result<url::Url> {
    let parsed = url::Url::parse(url.expose_secret())
        .map_err(|_| ConnectorError::Settings("the connection URL does not parse".into()))?;
    if !scheme.contains(&parsed.scheme()) {
        return Err(ConnectorError::Settings(format!(
            "the connection URL must start with {}://",
            scheme[0]
        )));
    }
    Ok(parsed)
}

/// The parameters `datafusion-table-providers` expects, taken apart from a URL.
fn mysql_params(
    url: &SecretString,
    connection: &ConnectionSettings,
) -> Result<HashMap<String, SecretString>> {
    let parsed = parse_url(url, &["mysql", "mariadb"])?;
    let mut params: HashMap<String, SecretString> = HashMap::new();
    let mut put = |key: &str, value: String| {
        params.insert(key.to_owned(), SecretString::from(value));
    };
    put("host", parsed.host_str().unwrap_or("localhost").to_owned());
    put("tcp_port", parsed.port().unwrap_or(3306).to_string());
    put("user", decode(parsed.username()));
    put("db", decode(parsed.path().trim_start_matches('/')));
    if let Some(password) = parsed.password() {
        put("pass", decode(password));
    }
    put("pool_min", "1".into());
    put("pool_max", connection.pool_size.max(1).to_string());
    put(
        "sslmode",
        connection.tls.clone().unwrap_or_else(|| "preferred".into()),
    );
    if let Some(root) = &connection.tls_root_cert {
        put("sslrootcert", root.to_string_lossy().into_owned());
    }
    if let Some((key, _)) = parsed.query_pairs().next() {
        return Err(ConnectorError::Settings(format!(
            "unsupported MySQL URL parameter '{key}'"
        )));
    }
    Ok(params)
}

/// URL parts are percent-encoded; the database wants them as they are.
fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The first value of the first column, as an integer, of a one-value query's result.
pub(crate) fn first_integer(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> Option<i64> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Int64Type};

    let batch = batches.iter().find(|batch| batch.num_rows() > 0)?;
    let column = cast(batch.column(0), &DataType::Int64).ok()?;
    let values = column.as_primitive::<Int64Type>();
    (!values.is_null(0)).then(|| values.value(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(kind: DatabaseKind, url: &str) -> ConnectionSettings {
        ConnectionSettings {
            kind,
            url: SecretString::from(url.to_owned()),
            pool_size: 4,
            tls: None,
            tls_root_cert: None,
            filter_pushdown: true,
        }
    }

    #[test]
    fn mysql_urls_become_provider_parameters() {
        let connection = settings(DatabaseKind::Mysql, "mysql://app:p%40ss@db.internal:3307/market");
        let params = mysql_params(&connection.url, &connection).unwrap();
        let get = |key: &str| params[key].expose_secret().to_owned();
        assert_eq!(get("host"), "db.internal");
        assert_eq!(get("tcp_port"), "3307");
        assert_eq!(get("user"), "app");
        assert_eq!(get("pass"), "p@ss");
        assert_eq!(get("db"), "market");
        assert_eq!(get("pool_max"), "4");
    }

    #[test]
    fn wrong_schemes_and_unknown_parameters_are_refused() {
        let connection = settings(DatabaseKind::Mysql, "postgres://x@h/db");
        assert!(mysql_params(&connection.url, &connection).is_err());
        let connection = settings(DatabaseKind::Mysql, "mysql://x@h/db?ssl=1");
        assert!(mysql_params(&connection.url, &connection).is_err());
    }

    #[test]
    fn connect_errors_never_show_the_password() {
        let url = SecretString::from("mysql://root:hunter2@db/x".to_owned());
        let error = connect_error("mysql", "registry", "Access denied (password: hunter2)", &url);
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
