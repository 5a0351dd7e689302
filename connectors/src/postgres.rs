//! PostgreSQL tables, read through `datafusion-table-providers`: each scan becomes one
//! SQL query with the projection, the pushable filters and the limit, streamed back in
//! batches over a bounded pool.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion_table_providers_common::sql::db_connection_pool::dbconnection::AsyncDbConnection;
use datafusion_table_providers_postgres::PostgresTableFactory;
use datafusion_table_providers_postgres::pool::PostgresConnectionPool;
use futures::TryStreamExt;

use crate::database::check_table_name;
use crate::error::{ConnectorError, Result};

pub(crate) async fn table(
    pool: Arc<PostgresConnectionPool>,
    connection: &str,
    table: &str,
) -> Result<Arc<dyn TableProvider>> {
    check_table_name(table)?;
    PostgresTableFactory::new(pool)
        .table_provider(TableReference::from(table))
        .await
        .map_err(|error| ConnectorError::Source {
            kind: "postgres",
            location: format!("connection {connection} table {table}"),
            message: error.to_string(),
        })
}

/// PostgreSQL's planner statistics (`pg_class.reltuples`), kept current by autovacuum;
/// unknown until the table has been analysed once.
pub(crate) async fn estimate_rows(pool: Arc<PostgresConnectionPool>, table: &str) -> Result<Option<u64>> {
    check_table_name(table)?;
    let sql =
        format!("SELECT CAST(reltuples AS BIGINT) AS rows FROM pg_class WHERE oid = to_regclass('{table}')");
    let error = |message: String| ConnectorError::Source {
        kind: "postgres",
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
