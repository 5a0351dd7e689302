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

/// Stops, on the server, the statements of this pool running `sql`: `KILL QUERY` for each
/// session whose statement is that text, found in the process list from a session of its
/// own. Statements the hub runs are told apart by their text only, so an identical one
/// running for another query at that moment is stopped too (it fails, never answers
/// wrongly).
pub(crate) fn stopper(pool: Arc<MySQLConnectionPool>) -> crate::published::StopStatement {
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

async fn stop(pool: &MySQLConnectionPool, sql: &str) -> Result<usize, String> {
    // The driver sends the SQL without double quotes.
    let sent = sql.replace('"', "").replace('\\', "\\\\").replace('\'', "''");
    let connection = pool.connect_direct().await.map_err(|error| error.to_string())?;
    let find = format!(
        "SELECT CAST(ID AS SIGNED) AS id FROM information_schema.PROCESSLIST \
         WHERE INFO = '{sent}' AND ID <> CONNECTION_ID() AND USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"
    );
    let batches: Vec<_> = connection
        .query_arrow(&find, &[], None)
        .await
        .map_err(|error| error.to_string())?
        .try_collect()
        .await
        .map_err(|error| error.to_string())?;
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
