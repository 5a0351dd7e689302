//! The store's rows as plain JSON, for `causeway backup` and `restore`: every table the
//! migrations made, read in one snapshot and written back in one transaction, so that a
//! backup of an SQLite store restores into PostgreSQL and the other way round.
//!
//! The migrations keep to two column types (`TEXT` and `BIGINT`, see `0001_datasets.sql`),
//! which JSON holds exactly: a string, an integer, or `null`. A column of any other type is
//! refused rather than guessed at.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use super::{MIGRATIONS, MetadataStore, Result, StoreError};

/// The table that records the applied migrations; the backup carries its version instead.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";
/// Tables other tables refer to, written first (`datasets.department` references
/// `departments`); the rest follow in name order.
const PARENTS: [&str; 1] = ["departments"];
/// Tables the migrations fill, which an empty store already has rows in.
const SEEDED: [&str; 1] = ["changes"];

/// One table's rows, each an object of column name to value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableRows {
    pub table: String,
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// How a column's values are kept.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Integer,
    Text,
}

impl MetadataStore {
    /// The last migration this release knows.
    pub fn release_schema_version() -> i64 {
        MIGRATIONS
            .iter()
            .map(|migration| migration.version)
            .max()
            .unwrap_or(0)
    }

    /// The last migration applied to this store.
    pub async fn schema_version(&self) -> Result<i64> {
        let version: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT max(version) FROM {MIGRATIONS_TABLE} WHERE success"
        )))
        .fetch_one(&self.pool)
        .await?;
        Ok(version.unwrap_or(0))
    }

    /// Every table's rows, read in one snapshot: what a backup keeps of the store.
    pub async fn dump(&self) -> Result<Vec<TableRows>> {
        let mut transaction = self.pool.begin().await?;
        if self.is_postgres() {
            // One snapshot for every table, however long the reading takes.
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *transaction)
                .await?;
        }
        let mut dumped = Vec::new();
        for table in tables(&mut transaction, self.is_postgres()).await? {
            let columns = columns(&mut transaction, self.is_postgres(), &table).await?;
            let names: Vec<String> = columns.iter().map(|(name, _)| quoted(name)).collect();
            // In one order, whatever order the rows are stored in: the same store dumps the same.
            let order: Vec<String> = (1..=names.len()).map(|column| column.to_string()).collect();
            // Table and column names are the catalog's, checked by `plain_name`.
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM {} ORDER BY {}",
                names.join(", "),
                quoted(&table),
                order.join(", ")
            )))
            .fetch_all(&mut *transaction)
            .await?;
            let mut table_rows = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut object = serde_json::Map::new();
                for (index, (name, kind)) in columns.iter().enumerate() {
                    let value = match kind {
                        Kind::Integer => row
                            .try_get::<Option<i64>, _>(index)?
                            .map_or(serde_json::Value::Null, serde_json::Value::from),
                        Kind::Text => row
                            .try_get::<Option<String>, _>(index)?
                            .map_or(serde_json::Value::Null, serde_json::Value::from),
                    };
                    object.insert(name.clone(), value);
                }
                table_rows.push(object);
            }
            dumped.push(TableRows {
                table,
                rows: table_rows,
            });
        }
        transaction.commit().await?;
        Ok(dumped)
    }

    /// Whether the store holds nothing but what its migrations put there.
    pub async fn is_empty(&self) -> Result<bool> {
        let mut connection = self.pool.acquire().await?;
        for table in tables(&mut connection, self.is_postgres()).await? {
            if SEEDED.contains(&table.as_str()) {
                continue;
            }
            let any: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT CAST(1 AS BIGINT) FROM {} LIMIT 1",
                quoted(&table)
            )))
            .fetch_optional(&mut *connection)
            .await?;
            if any.is_some() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Writes `dumped` into this store, in one transaction: the rows of tables the
    /// migrations seeded are replaced, the others added. The store is expected empty
    /// ([`Self::is_empty`]) and at the schema version the rows were read at.
    pub async fn load(&self, dumped: &[TableRows]) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        let present = tables(&mut transaction, self.is_postgres()).await?;
        let mut ordered: Vec<&TableRows> = dumped.iter().collect();
        ordered.sort_by_key(|table| (!PARENTS.contains(&table.table.as_str()), table.table.clone()));
        for table in ordered {
            if !present.contains(&table.table) {
                return Err(StoreError::Corrupt(format!(
                    "the backup has a table {} this store does not",
                    table.table
                )));
            }
            let columns = columns(&mut transaction, self.is_postgres(), &table.table).await?;
            if SEEDED.contains(&table.table.as_str()) {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {}",
                    quoted(&table.table)
                )))
                .execute(&mut *transaction)
                .await?;
            }
            for row in &table.rows {
                let mut names = Vec::with_capacity(row.len());
                let mut placeholders = Vec::with_capacity(row.len());
                let mut values = Vec::with_capacity(row.len());
                for (name, value) in row {
                    let Some((_, kind)) = columns.iter().find(|(column, _)| column == name) else {
                        return Err(StoreError::Corrupt(format!(
                            "the backup has a column {}.{name} this store does not",
                            table.table
                        )));
                    };
                    names.push(quoted(name));
                    placeholders.push(format!("${}", names.len()));
                    values.push((*kind, value));
                }
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    quoted(&table.table),
                    names.join(", "),
                    placeholders.join(", ")
                );
                // Names checked against the store's own catalog above; values bound.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (kind, value) in values {
                    query = match (kind, value) {
                        (Kind::Integer, serde_json::Value::Null) => query.bind(None::<i64>),
                        (Kind::Text, serde_json::Value::Null) => query.bind(None::<String>),
                        (Kind::Integer, serde_json::Value::Number(number)) if number.is_i64() => {
                            query.bind(number.as_i64())
                        }
                        (Kind::Text, serde_json::Value::String(text)) => query.bind(text.clone()),
                        (_, other) => {
                            return Err(StoreError::Corrupt(format!(
                                "{} holds {other} where the store keeps {}",
                                table.table,
                                if kind == Kind::Integer {
                                    "an integer"
                                } else {
                                    "text"
                                }
                            )));
                        }
                    };
                }
                query.execute(&mut *transaction).await?;
            }
        }
        transaction.commit().await?;
        Ok(())
    }
}

/// The store's tables, but the migrations' own.
async fn tables(connection: &mut AnyConnection, postgres: bool) -> Result<Vec<String>> {
    let sql = if postgres {
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    };
    let names: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *connection).await?;
    names
        .into_iter()
        .filter(|name| name != MIGRATIONS_TABLE)
        .map(|name| plain_name(name, "table"))
        .collect()
}

/// A table's columns in their declared order, with how each is kept.
async fn columns(connection: &mut AnyConnection, postgres: bool, table: &str) -> Result<Vec<(String, Kind)>> {
    let sql = if postgres {
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
    } else {
        "SELECT name, type FROM pragma_table_info($1) ORDER BY cid"
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql)
        .bind(table)
        .fetch_all(&mut *connection)
        .await?;
    rows.into_iter()
        .map(|(name, declared)| {
            let declared = declared.to_ascii_lowercase();
            let kind = if matches!(
                declared.as_str(),
                "bigint" | "integer" | "int" | "int8" | "smallint"
            ) {
                Kind::Integer
            } else if declared == "text" {
                Kind::Text
            } else {
                return Err(StoreError::Corrupt(format!(
                    "{table}.{name} is of type {declared}, which a backup cannot keep"
                )));
            };
            Ok((plain_name(name, "column")?, kind))
        })
        .collect()
}

/// A name the migrations gave, which is always lower-case letters, digits and `_`: anything
/// else is not of ours, and is refused before it is put into SQL.
fn plain_name(name: String, what: &str) -> Result<String> {
    if !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
    {
        Ok(name)
    } else {
        Err(StoreError::Corrupt(format!(
            "the store has a {what} named {name:?}"
        )))
    }
}

fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}
