//! MySQL and MariaDB tables, read through `datafusion-table-providers`: each scan becomes
//! one SQL query with the projection, the pushable filters and the limit, streamed back in
//! batches over a bounded pool.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion_table_providers_common::sql::db_connection_pool::dbconnection::AsyncDbConnection;
use datafusion_table_providers_mysql::MySQLTableFactory;
use datafusion_table_providers_mysql::pool::MySQLConnectionPool;
use futures::TryStreamExt;

use crate::database::check_table_name;
use crate::error::{ConnectorError, Result};

pub(crate) async fn table(
    pool: Arc<MySQLConnectionPool>,
    connection: &str,
    table: &str,
) -> Result<Arc<dyn TableProvider>> {
    check_table_name(table)?;
    MySQLTableFactory::new(pool)
        .table_provider(TableReference::from(table))
        .await
        .map_err(|error| ConnectorError::Source {
            kind: "mysql",
            location: format!("connection {connection} table {table}"),
            message: error.to_string(),
        })
}

/// The storage engine's row estimate from `information_schema.TABLES` (exact for MyISAM,
/// approximate for InnoDB).
pub(crate) async fn estimate_rows(pool: Arc<MySQLConnectionPool>, table: &str) -> Result<Option<u64>> {
    check_table_name(table)?;
    let (schema, name) = match table.split_once('.') {
        Some((schema, name)) => (format!("'{schema}'"), name),
        None => ("DATABASE()".to_owned(), table),
    };
    let sql = format!(
        "SELECT CAST(TABLE_ROWS AS SIGNED) AS table_rows FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = '{name}'"
    );
    let error = |message: String| ConnectorError::Source {
        kind: "mysql",
        location: table.to_owned(),
        message,
    };
    let connection = pool.connect_direct().await.map_err(|e| error(e.to_string()))?;
    let stream = connection
        .query_arrow(&sql, &[], None)
        .await
        .map_err(|e| error(e.to_string()))?;
    let batches: Vec<_> = stream.try_collect().await.map_err(|e| error(e.to_string()))?;
    Ok(crate::database::first_integer(&batches).and_then(|rows| u64::try_from(rows).ok()))
}
