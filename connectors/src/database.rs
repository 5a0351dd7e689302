//! What the database connectors share: one bounded pool per database, created on first use
//! and reused by every dataset of that database, and the rules for table names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion_table_providers_mysql::pool::MySQLConnectionPool;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::error::{ConnectorError, Result};
use crate::postgres::PostgresPool;
use crate::secrets::{redact, resolve_env_references};
use crate::settings::{ConnectionSettings, ConnectorSettings, DatabaseKind};
use crate::sqlite::SqliteDatabase;

#[derive(Default)]
pub(crate) struct DatabasePools {
    sqlite: Mutex<HashMap<PathBuf, Arc<SqliteDatabase>>>,
    postgres: Mutex<HashMap<String, Arc<PostgresPool>>>,
    mysql: Mutex<HashMap<String, Arc<MySQLConnectionPool>>>,
}

impl std::fmt::Debug for DatabasePools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabasePools")
    }
}

impl DatabasePools {
    pub(crate) fn connection<'a>(
        &self,
        settings: &'a ConnectorSettings,
        name: &str,
        expected: DatabaseKind,
    ) -> Result<&'a ConnectionSettings> {
        let connection = settings
            .connections
            .get(name)
            .ok_or_else(|| ConnectorError::UnknownConnection(name.to_owned()))?;
        if connection.kind != expected {
            return Err(ConnectorError::WrongConnectionKind {
                name: name.to_owned(),
                actual: connection.kind.name(),
                expected: expected.name(),
            });
        }
        Ok(connection)
    }

    /// SQLite files are opened read-only, with at most this many connections each.
    const SQLITE_CONNECTIONS: usize = 4;

    pub(crate) async fn sqlite(&self, path: &Path) -> Arc<SqliteDatabase> {
        let mut databases = self.sqlite.lock().await;
        let database = databases
            .entry(path.to_path_buf())
            .or_insert_with(|| Arc::new(SqliteDatabase::new(path, Self::SQLITE_CONNECTIONS)));
        Arc::clone(database)
    }

    pub(crate) async fn postgres(
        &self,
        settings: &ConnectorSettings,
        name: &str,
    ) -> Result<Arc<PostgresPool>> {
        let connection = self.connection(settings, name, DatabaseKind::Postgres)?;
        let mut pools = self.postgres.lock().await;
        if let Some(pool) = pools.get(name) {
            return Ok(Arc::clone(pool));
        }
        let pool = Arc::new(PostgresPool::connect(name, connection).await?);
        pools.insert(name.to_owned(), Arc::clone(&pool));
        Ok(pool)
    }

    pub(crate) async fn mysql(
        &self,
        settings: &ConnectorSettings,
        name: &str,
    ) -> Result<Arc<MySQLConnectionPool>> {
        let connection = self.connection(settings, name, DatabaseKind::Mysql)?;
        let mut pools = self.mysql.lock().await;
        if let Some(pool) = pools.get(name) {
            return Ok(Arc::clone(pool));
        }
        let url = resolve_env_references(&connection.url)?;
        let params = mysql_params(&url, connection)?;
        let pool = MySQLConnectionPool::new(params)
            .await
            .map_err(|error| connect_error("mysql", name, &error.to_string(), &url))?;
        let pool = Arc::new(pool);
        pools.insert(name.to_owned(), Arc::clone(&pool));
        Ok(pool)
    }
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

/// Table names go into the SQL the hub sends, so they are kept to plain identifiers:
/// `table` or `schema.table`.
pub(crate) fn check_table_name(table: &str) -> Result<()> {
    let plain = |part: &str| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && part.len() <= 63
    };
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|part| plain(part)) {
        Ok(())
    } else {
        Err(ConnectorError::InvalidSource(format!(
            "invalid table name '{table}': use table or schema.table, with letters, digits and underscores"
        )))
    }
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

    #[test]
    fn table_names_are_plain_identifiers() {
        assert!(check_table_name("public.parcels").is_ok());
        assert!(check_table_name("parcels").is_ok());
        assert!(check_table_name("parcels; drop table x").is_err());
        assert!(check_table_name("a.b.c").is_err());
        assert!(check_table_name("\"quoted\"").is_err());
    }
}
