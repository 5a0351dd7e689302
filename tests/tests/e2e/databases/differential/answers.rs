//! The answers compared: the hub's, through HTTP, and the database's own, to the same
//! `WHERE`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::*;

/// The ids a query answered, in order, or its failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    Ids(Vec<i64>),
    Failed(String),
}

impl Answer {
    /// Equal ids, or both failed.
    pub(super) fn agrees(&self, other: &Answer) -> bool {
        matches!((self, other), (Answer::Failed(_), Answer::Failed(_))) || self == other
    }

    /// The answer without the ids of rows the hub documents as reading otherwise.
    pub(super) fn without(self, left_out: &[i64]) -> Answer {
        match self {
            Answer::Ids(ids) => Answer::Ids(ids.into_iter().filter(|id| !left_out.contains(id)).collect()),
            failed @ Answer::Failed(_) => failed,
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Ids(ids) => write!(f, "{ids:?}"),
            Answer::Failed(message) => write!(f, "error: {message}"),
        }
    }
}

/// Where the tables live, and how the hub reads them without push-down.
pub(super) enum Source {
    /// PostgreSQL or MariaDB: datasets `pushed.*` on a connection with push-down, `kept.*`
    /// on one without.
    Server(Database),
    /// An SQLite file in the hub's data directory: datasets `pushed.*`, the filter wrapped
    /// in `IS TRUE` for the answer without push-down.
    Sqlite(PathBuf),
}

impl Source {
    pub(super) fn dialect(&self) -> Dialect {
        match self {
            Source::Server(Database::Postgres(_)) => Dialect::Postgres,
            Source::Server(Database::Mysql(_)) => Dialect::Mysql,
            Source::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The query for `filter` without push-down.
    pub(super) fn kept_sql(&self, filter: &Filter) -> String {
        match self {
            Source::Server(_) => format!(
                "SELECT id FROM kept.{} WHERE {} ORDER BY id",
                filter.table, filter.sql
            ),
            Source::Sqlite(_) => format!(
                "SELECT id FROM pushed.{} WHERE ({}) IS TRUE ORDER BY id",
                filter.table, filter.sql
            ),
        }
    }

    /// The database's own answer to `SELECT id FROM table WHERE filter ORDER BY id`.
    pub(super) async fn answer(&self, filter: &Filter) -> Answer {
        let clause = match (self, &filter.mysql) {
            (Source::Server(Database::Mysql(_)), Some(mysql)) => mysql,
            _ => &filter.sql,
        };
        match self {
            Source::Server(Database::Postgres(pg)) => {
                let sql = format!(
                    "SELECT id FROM {}.{} WHERE {clause} ORDER BY id",
                    pg.schema, filter.table
                );
                match pg.client.query(&sql, &[]).await {
                    Ok(rows) => Answer::Ids(rows.iter().map(|row| row.get::<_, i64>(0)).collect()),
                    Err(error) => Answer::Failed(format!("{error:?}")),
                }
            }
            Source::Server(Database::Mysql(my)) => {
                let sql = format!(
                    "SELECT id FROM {}.{} WHERE {clause} ORDER BY id",
                    my.database, filter.table
                );
                let mut connection = my.pool.get_conn().await.expect("mysql connection");
                match connection.query::<i64, _>(sql).await {
                    Ok(ids) => Answer::Ids(ids),
                    Err(error) => Answer::Failed(error.to_string()),
                }
            }
            Source::Sqlite(path) => {
                let sql = format!("SELECT id FROM {} WHERE {clause} ORDER BY id", filter.table);
                let path = path.clone();
                tokio::task::spawn_blocking(move || sqlite_ids(&path, &sql))
                    .await
                    .expect("sqlite query task")
            }
        }
    }
}

fn sqlite_ids(path: &Path, sql: &str) -> Answer {
    let answer = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|connection| {
            let mut statement = connection.prepare(sql)?;
            let ids = statement.query_map([], |row| row.get::<_, i64>(0))?;
            ids.collect::<rusqlite::Result<Vec<i64>>>()
        });
    answer.map_or_else(|error| Answer::Failed(error.to_string()), Answer::Ids)
}

/// The hub's answer to `sql`; a query turned away for want of a turn is sent again.
pub(super) async fn hub_answer(hub: &Hub, sql: &str) -> Answer {
    for _ in 0..500 {
        let (status, body) = hub.query(sql).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        }
        if status != StatusCode::OK {
            let message = body["error"]["message"].as_str().unwrap_or_default();
            return Answer::Failed(format!("{} {message}", status.as_u16()));
        }
        let rows = body["rows"].as_array().cloned().unwrap_or_default();
        return Answer::Ids(
            rows.iter()
                .map(|row| row["id"].as_i64().expect("an integer id"))
                .collect(),
        );
    }
    panic!("{sql}: no turn within 500 tries");
}

/// The SQL the hub sends the database for `sql`, from its plan (empty if it has none).
pub(super) async fn sent(hub: &Hub, dialect: Dialect, sql: &str) -> String {
    let (status, body) = hub.query(&format!("EXPLAIN {sql}")).await;
    let plan = body["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["plan_type"] == "physical_plan"))
        .and_then(|row| row["plan"].as_str())
        .unwrap_or_default();
    if status != StatusCode::OK || !plan.contains(dialect.exec()) {
        return String::new();
    }
    sent_sql(plan, dialect.exec())
}
