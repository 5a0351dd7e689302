//! PostgreSQL and MySQL/MariaDB sources: their types as published, filters, projections and
//! limits pushed into the SQL the database receives, the rules that keep pushed filters from
//! changing results, contracts checked against the tables, and connection secrets kept out
//! of every answer and log line.

use mysql_async::prelude::Queryable;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Hub, MYSQL_URL, Mysql, POSTGRES_URL, Postgres, eventually};

mod cancellation;
mod contracts;
mod differential;
mod edges;
mod planted;
mod pushdown;
mod values;

/// A `[connectors.connections.NAME]` section for the machine's PostgreSQL, whose sessions
/// carry `application_name` so the server's view of them can be found.
pub(crate) fn postgres_connection(name: &str, application_name: &str) -> String {
    format!(
        "[connectors.connections.{name}]\nkind = \"postgres\"\n\
         url = \"{POSTGRES_URL}?application_name={application_name}\"\n\
         tls = \"disable\"\npool_size = 2\n"
    )
}

fn mysql_connection(name: &str) -> String {
    format!(
        "[connectors.connections.{name}]\nkind = \"mysql\"\n\
         url = \"{MYSQL_URL}\"\ntls = \"disabled\"\npool_size = 2\n"
    )
}

/// A dataset spec over a database table; `fields` are (name, contract type) pairs.
pub(crate) fn spec(
    department: &str,
    name: &str,
    kind: &str,
    connection: &str,
    table: &str,
    fields: &[(&str, &str)],
) -> String {
    let fields: String = fields
        .iter()
        .map(|(field, data_type)| format!("    - {{ name: {field}, type: \"{data_type}\" }}\n"))
        .collect();
    format!(
        "contract:\n  department: {department}\n  name: {name}\n  title: {name}\n\
         \x20 owner: {{ name: Desk, email: desk@example.gov }}\n  fields:\n{fields}\
         source: {{ kind: {kind}, connection: {connection}, table: {table} }}\n"
    )
}

/// `text` as a DataFusion SQL string literal (a quote is doubled; a backslash is itself).
fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The SQL a database scan sends, from the physical plan line of `exec` (`PostgresScanExec`
/// for PostgreSQL, `MySQLSQLExec` for MySQL).
fn sent_sql(plan: &str, exec: &str) -> String {
    plan.lines()
        .find_map(|line| {
            let rest = line.trim_start().strip_prefix(exec)?;
            rest.strip_prefix(" sql=").or_else(|| rest.strip_prefix(": sql="))
        })
        .unwrap_or_else(|| panic!("no {exec} in the plan:\n{plan}"))
        .to_owned()
}

/// The `id` column of a query's rows.
async fn ids(hub: &Hub, sql: &str) -> Vec<Value> {
    hub.rows(sql).await.iter().map(|row| row["id"].clone()).collect()
}

/// Runs each `(sql, expected ids)` case and lists every case whose answer was wrong, with
/// the SQL the database was sent, so that one run shows all of them.
async fn wrong_answers(hub: &Hub, exec: &str, cases: &[(String, Value)]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (sql, expected) in cases {
        let (status, body) = hub.query(sql).await;
        let answer: Value = if status == StatusCode::OK {
            body["rows"]
                .as_array()
                .map(|rows| rows.iter().map(|row| row["id"].clone()).collect())
                .unwrap_or_default()
        } else {
            json!({ "status": status.as_u16(), "error": body["error"] })
        };
        if answer != *expected {
            let (_, explained) = hub.query(&format!("EXPLAIN {sql}")).await;
            let sent = explained["rows"]
                .as_array()
                .and_then(|rows| rows.iter().find(|row| row["plan_type"] == "physical_plan"))
                .and_then(|row| row["plan"].as_str())
                .map(|plan| sent_sql(plan, exec))
                .unwrap_or_default();
            wrong.push(format!(
                "{sql}\n  expected {expected}\n  got      {answer}\n  sent     {sent}"
            ));
        }
    }
    wrong
}

/// Creates a `people` table in `my` whose `name` column compares as MariaDB does by
/// default: without regard to case or trailing spaces.
async fn mysql_people(my: &Mysql, rows: &[(i64, &str)]) {
    my.execute(
        "CREATE TABLE people (id bigint, name varchar(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci);\n",
    )
    .await;
    let mut connection = my.pool.get_conn().await.expect("mysql connection");
    for (id, name) in rows {
        connection
            .exec_drop(
                format!("INSERT INTO {}.people VALUES (?, ?)", my.database),
                (*id, *name),
            )
            .await
            .expect("insert");
    }
}

/// A database the hub reads, one of its dialects: a schema of its own in the machine's
/// PostgreSQL, or a database of its own in its MariaDB/MySQL.
enum Database {
    Postgres(Postgres),
    Mysql(Mysql),
}

impl Database {
    async fn postgres() -> Option<Database> {
        Postgres::connect().await.map(Database::Postgres)
    }

    async fn mysql() -> Option<Database> {
        Mysql::connect().await.map(Database::Mysql)
    }

    /// The source kind a dataset spec names.
    fn kind(&self) -> &'static str {
        match self {
            Database::Postgres(_) => "postgres",
            Database::Mysql(_) => "mysql",
        }
    }

    /// The hub's configuration of a connection `name` to this database.
    fn connection(&self, name: &str) -> String {
        match self {
            Database::Postgres(pg) => postgres_connection(name, &pg.schema),
            Database::Mysql(_) => mysql_connection(name),
        }
    }

    /// This test's own schema (PostgreSQL) or database (MySQL).
    fn schema(&self) -> &str {
        match self {
            Database::Postgres(pg) => &pg.schema,
            Database::Mysql(my) => &my.database,
        }
    }

    /// `table` qualified with this test's schema or database.
    fn table(&self, table: &str) -> String {
        format!("{}.{table}", self.schema())
    }

    /// The plan's node that sends SQL to this database.
    fn exec(&self) -> &'static str {
        match self {
            Database::Postgres(_) => "PostgresScanExec",
            Database::Mysql(_) => "MySQLSQLExec",
        }
    }

    /// A table `people (id, name)` holding `rows`, the values sent as parameters.
    async fn people(&self, rows: &[(i64, &str)]) {
        match self {
            Database::Postgres(pg) => {
                pg.execute("CREATE TABLE people (id bigint, name text);").await;
                for (id, name) in rows {
                    pg.client
                        .execute(
                            &format!("INSERT INTO {}.people VALUES ($1, $2)", pg.schema),
                            &[id, name],
                        )
                        .await
                        .expect("insert");
                }
            }
            Database::Mysql(my) => mysql_people(my, rows).await,
        }
    }

    async fn execute(&self, sql: &str) {
        match self {
            Database::Postgres(pg) => pg.execute(sql).await,
            Database::Mysql(my) => my.execute(sql).await,
        }
    }

    /// An identifier quoted as the hub's SQL for this database quotes it.
    fn quote(&self, name: &str) -> String {
        match self {
            Database::Postgres(_) => format!("\"{name}\""),
            Database::Mysql(_) => format!("`{name}`"),
        }
    }

    /// Makes the server keep the statements it receives, where it does not already:
    /// PostgreSQL's idle sessions show their last statement; MariaDB needs its general log.
    async fn watch_statements(&self) {
        if let Database::Mysql(my) = self {
            let mut connection = my.pool.get_conn().await.expect("mysql connection");
            // Left on: a parallel run of this test may be reading the log too.
            connection
                .query_drop("SET GLOBAL log_output = 'TABLE'")
                .await
                .expect("log to a table");
            connection
                .query_drop("SET GLOBAL general_log = 1")
                .await
                .expect("general log");
        }
    }

    /// How many statements naming `text` are running on the server now (this one aside).
    async fn statements_running(&self, text: &str) -> usize {
        match self {
            Database::Postgres(pg) => {
                let running: i64 = pg
                    .client
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
                         AND state = 'active' AND strpos(query, $2) > 0",
                        &[&pg.schema, &text],
                    )
                    .await
                    .expect("pg_stat_activity")
                    .get(0);
                usize::try_from(running).unwrap_or_default()
            }
            Database::Mysql(my) => {
                let mut watcher = my.pool.get_conn().await.expect("watcher");
                let rows: Vec<i64> = watcher
                    .exec(
                        "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST \
                         WHERE INSTR(INFO, ?) > 0 AND INFO NOT LIKE '%PROCESSLIST%'",
                        (text,),
                    )
                    .await
                    .expect("processlist");
                rows.len()
            }
        }
    }

    /// The statements the server received from the hub that contain `text`.
    async fn statements_seen(&self, text: &str) -> Vec<String> {
        match self {
            // The schema's name is unique to the test and names the hub's sessions.
            Database::Postgres(pg) => pg
                .client
                .query(
                    "SELECT query FROM pg_stat_activity WHERE application_name = $1",
                    &[&pg.schema],
                )
                .await
                .expect("pg_stat_activity")
                .iter()
                .filter_map(|row| row.get::<_, Option<String>>(0))
                .filter(|query| query.contains(text))
                .collect(),
            Database::Mysql(my) => {
                let mut connection = my.pool.get_conn().await.expect("mysql connection");
                connection
                    .exec(
                        "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log \
                         WHERE command_type IN ('Query', 'Execute') AND INSTR(CONVERT(argument USING utf8mb4), ?) > 0",
                        (text,),
                    )
                    .await
                    .expect("general log")
            }
        }
    }

    async fn cleanup(self) {
        match self {
            Database::Postgres(pg) => pg.cleanup().await,
            Database::Mysql(my) => my.cleanup().await,
        }
    }
}
