//! The differential push-down suite: push-down never changes an answer.
//!
//! For PostgreSQL, MariaDB and SQLite, a table per type family holds the values where a
//! database and the hub are most likely to disagree (quotes, backslashes, `%` and `_`,
//! padding, case, non-ASCII text, collations; integers, decimals and doubles at their
//! extremes, NaN, the infinities and -0.0; dates from the year 1 to 9999, BC and zero dates;
//! booleans; NULL everywhere). Every operator is applied with every value as its literal, and
//! `SELECT id ... WHERE <filter> ORDER BY id` is run through the hub twice: on a dataset
//! read with push-down, and on the same table read without it (PostgreSQL and MariaDB: a
//! second connection with `filter_pushdown = false`; SQLite: the filter wrapped as
//! `(<filter>) IS TRUE`, which the hub never sends). The ids must be equal (both failing is
//! agreement). Where the hub documents the database's semantics as its own (integers,
//! decimals, dates in the years 1 to 9999, text equality in PostgreSQL's deterministic
//! collations), the database's own answer to the same `WHERE` must be the hub's too.
//!
//! Differences found today are listed in `differential/known.rs` with their causes; the test
//! fails on any other difference and on any listed one that now agrees.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Instant;

use futures::{StreamExt, stream};

use super::*;

mod answers;
mod filters;
mod known;
mod tables;

use answers::{Answer, Source, hub_answer, sent};
use filters::Filter;
use tables::{SQLITE_FLOATS, TEXTS, Table};

/// How many filters are checked at once (each runs its queries one after the other, well
/// within the hub's 16 concurrent queries per caller).
const CONCURRENCY: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

impl Dialect {
    fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// The plan node that sends SQL to the database.
    fn exec(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgresScanExec",
            Dialect::Mysql => "MySQLSQLExec",
            Dialect::Sqlite => "SqliteScanExec",
        }
    }
}

/// What is compared with the hub's answer with push-down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Check {
    /// The hub's answer without push-down.
    Pushdown,
    /// The database's own answer (compared with the hub's answer without push-down).
    Database,
}

/// One filter's answers.
struct Outcome {
    filter: Filter,
    pushed: Answer,
    kept: Answer,
    /// The database's answer and the hub's without push-down, where they are compared.
    database: Option<(Answer, Answer)>,
}

async fn check(hub: &Hub, source: &Source, table: &Table, filter: Filter) -> Outcome {
    let pushed_sql = format!(
        "SELECT id FROM pushed.{} WHERE {} ORDER BY id",
        filter.table, filter.sql
    );
    let pushed = hub_answer(hub, &pushed_sql).await;
    let kept = hub_answer(hub, &source.kept_sql(&filter)).await;
    // Rows the hub documents as reading otherwise are left out of both answers.
    let database = if filter.direct {
        let database = source.answer(&filter).await;
        Some((
            database.without(&table.unlike_database),
            kept.clone().without(&table.unlike_database),
        ))
    } else {
        None
    };
    Outcome {
        filter,
        pushed,
        kept,
        database,
    }
}

/// A filter whose answers differ.
struct Difference {
    check: Check,
    key: String,
    operator: &'static str,
    /// The hub's answer with push-down, or the database's.
    first: Answer,
    /// The hub's answer without push-down.
    second: Answer,
    /// The SQL the hub sent the database with push-down.
    sent: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = match self.check {
            Check::Pushdown => "with push-down   ",
            Check::Database => "database         ",
        };
        write!(
            f,
            "[{:?}] {}\n    {first}{}\n    without push-down {}\n    sent              {}",
            self.check, self.key, self.first, self.second, self.sent
        )
    }
}

/// Counts for the summary.
#[derive(Default)]
struct Counts {
    tables: usize,
    values: usize,
    operators: BTreeSet<&'static str>,
    filters: usize,
    queries: usize,
    /// Filters also answered by the database itself.
    direct: usize,
    /// Filters both datasets refused (agreement, but of no rows).
    both_failed: Vec<String>,
    agreed: usize,
}

/// Publishes every table of `source` in `hub` and checks every filter; returns the counts
/// and the differences.
async fn differences(hub: &Hub, source: &Source, tables: &[Table]) -> (Counts, Vec<Difference>) {
    let dialect = source.dialect();
    let mut counts = Counts {
        tables: tables.len(),
        ..Counts::default()
    };
    let mut work = Vec::new();
    for table in tables {
        counts.values += table
            .columns
            .iter()
            .map(|column| column.literals.len())
            .sum::<usize>();
        let mut filters = filters::table_filters(table.name, &table.columns);
        // Every row is read, by both datasets, as the database holds it.
        filters.push(Filter {
            table: table.name,
            sql: "id IS NOT NULL".to_owned(),
            mysql: None,
            operator: "IS NOT NULL",
            direct: true,
        });
        work.extend(filters.into_iter().map(|filter| (table, filter)));
    }
    let outcomes: Vec<Outcome> = stream::iter(work)
        .map(|(table, filter)| check(hub, source, table, filter))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut found = Vec::new();
    for outcome in outcomes {
        counts.filters += 1;
        counts.queries += 2 + usize::from(outcome.database.is_some());
        counts.direct += usize::from(outcome.database.is_some());
        if let (Answer::Failed(error), Answer::Failed(_)) = (&outcome.pushed, &outcome.kept) {
            counts
                .both_failed
                .push(format!("{}  ({error})", outcome.filter.key()));
        }
        counts.operators.insert(outcome.filter.operator);
        let mut agreed = true;
        let mut compare = |check, first: &Answer, second: &Answer| {
            if !first.agrees(second) {
                agreed = false;
                found.push(Difference {
                    check,
                    key: outcome.filter.key(),
                    operator: outcome.filter.operator,
                    first: first.clone(),
                    second: second.clone(),
                    sent: String::new(),
                });
            }
        };
        compare(Check::Pushdown, &outcome.pushed, &outcome.kept);
        if let Some((database, kept)) = &outcome.database {
            compare(Check::Database, database, kept);
        }
        counts.agreed += usize::from(agreed);
    }
    for difference in &mut found {
        let (table, filter) = difference.key.split_once(": ").expect("table: filter");
        difference.sent = sent(
            hub,
            dialect,
            &format!("SELECT id FROM pushed.{table} WHERE {filter} ORDER BY id"),
        )
        .await;
    }
    found.sort_by(|a, b| (a.check, &a.key).cmp(&(b.check, &b.key)));
    (counts, found)
}

/// Prints the summary and every difference, grouped by cause, and fails on differences not
/// in the known list and on listed ones that now agree.
fn judge(dialect: Dialect, counts: &Counts, found: &[Difference], started: Instant) {
    let known = known::known(dialect);
    let found_keys: BTreeSet<(Check, &str)> = found.iter().map(|d| (d.check, d.key.as_str())).collect();
    let mut by_cause: BTreeMap<&str, Vec<&Difference>> = BTreeMap::new();
    let mut unexpected = Vec::new();
    for difference in found {
        match known.get(&(difference.check, difference.key.as_str())) {
            Some(cause) => by_cause.entry(cause).or_default().push(difference),
            None => unexpected.push(difference),
        }
    }
    let fixed: Vec<String> = known
        .iter()
        .filter(|(key, _)| !found_keys.contains(key))
        .map(|((check, key), cause)| format!("[{check:?}] {key}  ({cause})"))
        .collect();

    println!(
        "differential {}: {} tables, {} values, {} operators, {} filters ({} also run on the \
         database, {} refused by both datasets), {} queries in {:.1} s: {} agreed, {} differences \
         ({} known, {} new, {} listed but now agreeing)",
        dialect.name(),
        counts.tables,
        counts.values,
        counts.operators.len(),
        counts.filters,
        counts.direct,
        counts.both_failed.len(),
        counts.queries,
        started.elapsed().as_secs_f64(),
        counts.agreed,
        found.len(),
        found.len() - unexpected.len(),
        unexpected.len(),
        fixed.len(),
    );
    // DIFFERENTIAL_REFUSED=1 lists the filters both datasets refused.
    if std::env::var_os("DIFFERENTIAL_REFUSED").is_some() {
        for refused in &counts.both_failed {
            println!("  refused by both: {refused}");
        }
    }
    for (cause, differences) in &by_cause {
        println!("  {} known, {cause}:", differences.len());
        for difference in differences {
            println!("    {difference}");
        }
    }
    let mut failures = Vec::new();
    if !unexpected.is_empty() {
        let listed: Vec<String> = unexpected.iter().map(|d| d.to_string()).collect();
        let paste: Vec<String> = unexpected
            .iter()
            .map(|d| format!("({:?}, {:?}), // {}", d.check, d.key, d.operator))
            .collect();
        failures.push(format!(
            "{} differences not in differential/known.rs:\n{}\n\nto list them:\n{}",
            unexpected.len(),
            listed.join("\n"),
            paste.join("\n")
        ));
    }
    if !fixed.is_empty() {
        failures.push(format!(
            "{} listed differences now agree; take them off differential/known.rs:\n{}",
            fixed.len(),
            fixed.join("\n")
        ));
    }
    assert!(
        failures.is_empty(),
        "{}: {}",
        dialect.name(),
        failures.join("\n\n")
    );
}

/// The hub's two connections to `db`, one with push-down and one without.
fn connections(db: &Database) -> String {
    let more = |section: String| section.replace("pool_size = 2", "pool_size = 4");
    format!(
        "{NO_AUDIT}{}{}filter_pushdown = false\n",
        more(db.connection("pushed")),
        more(db.connection("kept"))
    )
}

/// The suite's thousands of queries are not what the audit log is tested for; without it
/// each costs less.
const NO_AUDIT: &str = "[audit]\nenabled = false\n";

/// Whether `sql`'s plan sends a `WHERE` to the database.
async fn sends_where(hub: &Hub, dialect: Dialect, sql: &str) -> bool {
    let plan = hub.physical_plan(sql).await;
    sent_sql(&plan, dialect.exec()).contains("WHERE")
}

/// PostgreSQL and MariaDB: every table published twice, `pushed.*` and `kept.*`.
async fn server_differences(db: Database) {
    let started = Instant::now();
    let dialect = match db {
        Database::Postgres(_) => Dialect::Postgres,
        Database::Mysql(_) => Dialect::Mysql,
    };
    let tables = tables::tables(dialect);
    for table in &tables {
        db.execute(&table.setup).await;
    }
    insert_texts(&db).await;
    let hub = Hub::start(&connections(&db)).await;
    for table in &tables {
        for department in ["pushed", "kept"] {
            hub.publish_ok(&spec(
                department,
                table.name,
                db.kind(),
                department,
                &db.table(table.name),
                &table.fields,
            ))
            .await;
        }
    }
    let sql = |department: &str| format!("SELECT id FROM {department}.integers WHERE i64 = 0");
    assert!(sends_where(&hub, dialect, &sql("pushed")).await);
    assert!(
        !sends_where(&hub, dialect, &sql("kept")).await,
        "filter_pushdown = false sends no filter"
    );

    let source = Source::Server(db);
    let (counts, found) = differences(&hub, &source, &tables).await;
    drop(hub);
    if let Source::Server(db) = source {
        db.cleanup().await;
    }
    judge(dialect, &counts, &found, started);
}

/// The text table's rows, as parameters.
async fn insert_texts(db: &Database) {
    match db {
        Database::Postgres(pg) => {
            let sql = format!(
                "INSERT INTO {}.texts VALUES ($1, $2, left($2, 10), $2)",
                pg.schema
            );
            for (id, value) in TEXTS {
                pg.client
                    .execute(&sql, &[&id, &value])
                    .await
                    .expect("insert text");
            }
        }
        Database::Mysql(my) => {
            let sql = format!("INSERT INTO {}.texts VALUES (?, ?, ?)", my.database);
            let mut connection = my.pool.get_conn().await.expect("mysql connection");
            for (id, value) in TEXTS {
                connection
                    .exec_drop(&sql, (id, value, value))
                    .await
                    .expect("insert text");
            }
        }
    }
}

#[tokio::test]
async fn postgres_differential_pushdown() {
    if let Some(db) = Database::postgres().await {
        server_differences(db).await;
    }
}

#[tokio::test]
async fn mysql_differential_pushdown() {
    if let Some(db) = Database::mysql().await {
        server_differences(db).await;
    }
}

/// SQLite: one dataset per table; without push-down is `(<filter>) IS TRUE`.
#[tokio::test]
async fn sqlite_differential_pushdown() {
    let started = Instant::now();
    let tables = tables::tables(Dialect::Sqlite);
    let hub = Hub::start(NO_AUDIT).await;
    let path = hub.dir().join("differential.db");
    {
        let connection = rusqlite::Connection::open(&path).expect("sqlite file");
        for table in &tables {
            connection.execute_batch(&table.setup).expect("sqlite table");
        }
        for (id, value) in TEXTS {
            connection
                .execute("INSERT INTO texts VALUES (?1, ?2)", rusqlite::params![id, value])
                .expect("insert text");
        }
        for (id, value) in SQLITE_FLOATS {
            connection
                .execute("INSERT INTO floats VALUES (?1, ?2)", rusqlite::params![id, value])
                .expect("insert float");
        }
    }
    for table in &tables {
        // `spec` names a connection; an SQLite source names its file instead.
        let sqlite = spec(
            "pushed",
            table.name,
            "sqlite",
            "CONNECTION",
            table.name,
            &table.fields,
        )
        .replace("connection: CONNECTION", "path: differential.db");
        hub.publish_ok(&sqlite).await;
    }
    for filter in [
        "i64 = 0",
        "i64 = 0 OR i32 > 1",
        "s LIKE 'ab%'",
        "s = 'abc' AND id > 1",
    ] {
        let table = if filter.starts_with('s') {
            "texts"
        } else {
            "integers"
        };
        let pushed = format!("SELECT id FROM pushed.{table} WHERE {filter}");
        assert!(sends_where(&hub, Dialect::Sqlite, &pushed).await, "{pushed}");
        let kept = format!("SELECT id FROM pushed.{table} WHERE ({filter}) IS TRUE");
        assert!(
            !sends_where(&hub, Dialect::Sqlite, &kept).await,
            "IS TRUE keeps the filter in the hub: {kept}"
        );
    }

    let source = Source::Sqlite(path);
    let (counts, found) = differences(&hub, &source, &tables).await;
    drop(hub);
    judge(Dialect::Sqlite, &counts, &found, started);
}
