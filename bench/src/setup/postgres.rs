//! What a run keeps in PostgreSQL: the benefit payments (a department's source), and a
//! metadata store such as replicas share. Each in a schema unique to the run, dropped after.

use causeway_demo_data::{self as generate, GenerateOptions};
use std::path::Path;

/// The benefit payments of the district, loaded into a schema of their own.
#[derive(Debug, Clone)]
pub struct PostgresTable {
    pub url: String,
    pub schema: String,
    pub rows: usize,
}

impl PostgresTable {
    pub fn qualified_name(&self) -> String {
        format!("{}.benefit_payments", self.schema)
    }
}

/// Loads the benefit payments at `scale` into a new schema, unique to this run.
pub async fn load_payments(url: &str, scale: u32, data_dir: &Path) -> Result<PostgresTable, String> {
    let schema = format!(
        "causeway_bench_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp()
    );
    let options = GenerateOptions {
        dir: data_dir.to_path_buf(),
        scale,
    };
    let table = tokio::task::spawn_blocking(move || generate::benefit_payments_sql(&options))
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())?;
    let loaded = PostgresTable {
        url: url.to_owned(),
        schema,
        rows: table.rows,
    };
    if let Err(error) = causeway_hub::demo::load_postgres(url, &loaded.schema, &table).await {
        drop_payments(&loaded).await;
        return Err(error.to_string());
    }
    Ok(loaded)
}

/// Drops the run's schema; a failure is only reported.
pub async fn drop_payments(table: &PostgresTable) {
    drop_schema(&table.url, &table.schema).await;
}

/// A metadata store of its own in PostgreSQL, as replicas share one: a schema unique to the
/// run.
#[derive(Debug, Clone)]
pub struct SharedStore {
    pub url: String,
    pub schema: String,
}

impl SharedStore {
    /// Makes the schema.
    pub async fn create(url: &str) -> Result<Self, String> {
        use sqlx::Connection;
        let store = Self {
            url: url.to_owned(),
            schema: format!(
                "causeway_bench_store_{}_{}",
                std::process::id(),
                chrono::Utc::now().timestamp()
            ),
        };
        let created = async {
            let mut connection = sqlx::PgConnection::connect(url).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {}", store.schema)))
                .execute(&mut connection)
                .await?;
            connection.close().await
        };
        created.await.map_err(|error| error.to_string())?;
        Ok(store)
    }

    /// The hub's `metadata_url`: the server, with the schema first on the search path.
    pub fn metadata_url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.url, self.schema
        )
    }

    /// Drops the schema; a failure is only reported.
    pub async fn drop(&self) {
        drop_schema(&self.url, &self.schema).await;
    }
}

async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection;
    let dropped = async {
        let mut connection = sqlx::PgConnection::connect(url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&mut connection)
        .await?;
        connection.close().await
    };
    if let Err(error) = dropped.await {
        eprintln!("warning: cannot drop the PostgreSQL schema {schema}: {error}");
    }
}
