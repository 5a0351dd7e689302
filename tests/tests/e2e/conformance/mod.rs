//! SQL conformance: every query of `queries.sql` runs through the hub (on tables it reads
//! from PostgreSQL with filter push-down off, so the hub evaluates every expression itself)
//! and through PostgreSQL on the same tables, and the answers are compared row for row.
//! The queries where the hub is known to differ are listed in `known.rs`; the test fails on
//! a difference not listed there, and on a listed query that now agrees.

use std::time::Instant;

use futures::StreamExt;
use serde_json::json;

use crate::databases::{postgres_connection, spec};
use crate::support::{Hub, Postgres};
use compare::{Answer, agree, hub_answer, postgres_answer};

mod compare;
mod json;
mod known;

/// The tables, created by `setup.sql`.
const SETUP: &str = include_str!("setup.sql");

/// The queries: each starts with a line `-- id: what it checks`.
const QUERIES: &str = include_str!("queries.sql");

/// Queries run at once, each through both the hub and PostgreSQL.
const PARALLEL: usize = 4;

/// A table of `setup.sql` as the hub publishes it: the placeholder queries name it by,
/// its department and its contract's fields.
struct Table {
    name: &'static str,
    department: &'static str,
    fields: &'static [(&'static str, &'static str)],
}

const TABLES: [Table; 5] = [
    Table {
        name: "people",
        department: "civil_affairs",
        fields: &[
            ("id", "bigint"),
            ("name", "string"),
            ("district", "string"),
            ("birth", "date"),
            ("income", "decimal(12,2)"),
            ("household", "int"),
            ("score", "double"),
            ("active", "boolean"),
        ],
    },
    Table {
        name: "firms",
        department: "market_supervision",
        fields: &[
            ("id", "bigint"),
            ("name", "string"),
            ("registered", "date"),
            ("capital", "decimal(18,2)"),
            ("sector", "string"),
            ("employees", "int"),
            ("owner_id", "bigint"),
        ],
    },
    Table {
        name: "links",
        department: "market_supervision",
        fields: &[
            ("person_id", "bigint"),
            ("firm_id", "bigint"),
            ("role", "string"),
            ("since", "date"),
            ("share", "decimal(5,2)"),
        ],
    },
    Table {
        name: "numbers",
        department: "statistics",
        fields: &[
            ("id", "bigint"),
            ("big", "bigint"),
            ("small", "int"),
            ("tiny", "smallint"),
            ("dec", "decimal(38,10)"),
            ("amount", "decimal(12,2)"),
            ("f", "double"),
        ],
    },
    Table {
        name: "floats",
        department: "statistics",
        fields: &[("id", "bigint"), ("f", "double"), ("label", "string")],
    },
];

/// One query of `queries.sql`.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    what: String,
    sql: String,
}

/// The entries of `queries.sql`: a line `-- id: what` starts one, the lines up to the next
/// such line are its SQL (other comment lines and a final `;` left out).
fn entries(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("-- ") {
            let header = comment.split_once(": ").filter(|(id, _)| {
                !id.is_empty()
                    && id
                        .bytes()
                        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
            });
            if let Some((id, what)) = header {
                entries.push(Entry {
                    id: id.to_owned(),
                    what: what.to_owned(),
                    sql: String::new(),
                });
            }
            continue;
        }
        if line.trim().is_empty() || line.starts_with("--") {
            continue;
        }
        let entry = entries
            .last_mut()
            .unwrap_or_else(|| panic!("SQL before the first `-- id: what` line: {line}"));
        entry.sql.push_str(line);
        entry.sql.push('\n');
    }
    for entry in &mut entries {
        entry.sql = entry.sql.trim().trim_end_matches(';').trim_end().to_owned();
        assert!(!entry.sql.is_empty(), "query {} has no SQL", entry.id);
    }
    entries
}

/// `sql` with each `{table}` replaced by what `name` gives for it.
fn substitute(sql: &str, name: impl Fn(&Table) -> String) -> String {
    TABLES.iter().fold(sql.to_owned(), |sql, table| {
        sql.replace(&format!("{{{}}}", table.name), &name(table))
    })
}

/// Whether the outermost query has an ORDER BY (outside parentheses and string literals),
/// so that its rows compare in order.
fn ordered(sql: &str) -> bool {
    let mut depth = 0i32;
    let mut quoted = false;
    let upper = sql.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        match byte {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            _ if !quoted && depth == 0 && bytes[index..].starts_with(b"ORDER BY") => return true,
            _ => {}
        }
    }
    false
}

/// The outcome of one query.
struct Outcome {
    entry: Entry,
    hub_sql: String,
    postgres_sql: String,
    hub: Answer,
    postgres: Answer,
    agreed: bool,
}

impl Outcome {
    fn report(&self, label: &str) -> String {
        let difference = if self.agreed {
            None
        } else {
            compare::difference(&self.hub, &self.postgres)
        };
        let difference = difference.map(|text| format!("  {text}\n")).unwrap_or_default();
        format!(
            "[{label}] {id}: {what}\n  hub sql:  {hub_sql}\n  postgres: {pg_sql}\n  \
             hub answer:      {hub}\n  postgres answer: {pg}\n{difference}",
            id = self.entry.id,
            what = self.entry.what,
            hub_sql = self.hub_sql.replace('\n', " "),
            pg_sql = self.postgres_sql.replace('\n', " "),
            hub = self.hub.summary(8),
            pg = self.postgres.summary(8),
        )
    }
}

/// Every query of `queries.sql` gives the same answer through the hub as through PostgreSQL,
/// except the known differences, each of which must still differ.
#[tokio::test]
async fn hub_answers_as_postgres_does() {
    let started = Instant::now();
    let entries = entries(QUERIES);
    let mut ids: Vec<&str> = entries.iter().map(|entry| entry.id.as_str()).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "query ids must be unique");
    assert!(entries.len() >= 220, "{} queries", entries.len());
    let unlisted: Vec<&str> = known::KNOWN
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| ids.binary_search(id).is_err())
        .collect();
    assert!(unlisted.is_empty(), "known differences of no query: {unlisted:?}");

    let Some(pg) = Postgres::connect().await else {
        return;
    };
    pg.execute(SETUP).await;
    let config = format!(
        "{}filter_pushdown = false\n",
        postgres_connection("conformance", &pg.schema)
    );
    let hub = Hub::start(&config).await;
    let mut rows = 0i64;
    for table in &TABLES {
        let source = format!("{}.{}", pg.schema, table.name);
        hub.publish_ok(&spec(
            table.department,
            table.name,
            "postgres",
            "conformance",
            &source,
            table.fields,
        ))
        .await;
        rows += pg
            .client
            .query_one(&format!("SELECT count(*) FROM {source}"), &[])
            .await
            .expect("count rows")
            .get::<_, i64>(0);
    }
    let analyst = hub
        .caller_as("conformance-analyst", "statistics", &["analyst"])
        .await;
    for table in &TABLES {
        hub.grant_everything(
            &format!("{}.{}", table.department, table.name),
            json!({"client": "conformance-analyst"}),
        )
        .await;
    }

    let outcomes: Vec<Outcome> = futures::stream::iter(entries)
        .map(|entry| {
            let analyst = &analyst;
            let client = &pg.client;
            let schema = &pg.schema;
            async move {
                let hub_sql = substitute(&entry.sql, |table| format!("{}.{}", table.department, table.name));
                let postgres_sql = substitute(&entry.sql, |table| format!("{schema}.{}", table.name));
                let (hub, postgres) = tokio::join!(
                    hub_answer(analyst, &hub_sql),
                    postgres_answer(client, &postgres_sql)
                );
                let agreed = agree(&hub, &postgres, ordered(&entry.sql));
                Outcome {
                    entry,
                    hub_sql,
                    postgres_sql,
                    hub,
                    postgres,
                    agreed,
                }
            }
        })
        .buffered(PARALLEL)
        .collect()
        .await;
    drop(hub);
    pg.cleanup().await;

    let known = |id: &str| {
        known::KNOWN
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, why)| *why)
    };
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    for outcome in &outcomes {
        match (outcome.agreed, known(&outcome.entry.id)) {
            (false, Some(why)) => println!("{}", outcome.report(&format!("known: {why}"))),
            (false, None) => unexpected.push(outcome.report("NEW DIFFERENCE")),
            (true, Some(why)) => fixed.push(outcome.report(&format!("now agrees, was known: {why}"))),
            (true, None) => {
                if let (Answer::Error(hub), Answer::Error(postgres)) = (&outcome.hub, &outcome.postgres) {
                    println!(
                        "[both fail] {}: hub: {hub} | postgres: {postgres}",
                        outcome.entry.id
                    );
                }
            }
        }
    }
    // CONFORMANCE_SHOW=id,id prints those queries' answers whether or not they agree.
    let shown = std::env::var("CONFORMANCE_SHOW").unwrap_or_default();
    for outcome in &outcomes {
        if shown.split(',').any(|id| id == outcome.entry.id) {
            println!("{}", outcome.report("shown"));
        }
    }
    let agreed = outcomes.iter().filter(|outcome| outcome.agreed).count();
    println!(
        "conformance: {} tables, {rows} rows, {} queries, {agreed} agreed, {} known differences, \
         {} new differences, {} fixed, in {:.1?}",
        TABLES.len(),
        outcomes.len(),
        outcomes.len() - agreed - unexpected.len(),
        unexpected.len(),
        fixed.len(),
        started.elapsed(),
    );
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{} queries differ from PostgreSQL and are not in known.rs:\n{}\n\
         {} queries of known.rs now agree (remove them from the list):\n{}",
        unexpected.len(),
        unexpected.join("\n"),
        fixed.len(),
        fixed.join("\n"),
    );
}

#[test]
fn entries_and_order_are_read() {
    let parsed = entries("-- a_1: first\nSELECT 1;\n-- section\n\n-- b: second\nSELECT\n  2\n");
    assert_eq!(parsed.len(), 2);
    assert_eq!(
        (parsed[0].id.as_str(), parsed[0].sql.as_str()),
        ("a_1", "SELECT 1")
    );
    assert_eq!(
        (parsed[1].what.as_str(), parsed[1].sql.as_str()),
        ("second", "SELECT\n  2")
    );
    assert!(ordered("SELECT x FROM t ORDER BY x"));
    assert!(!ordered("SELECT * FROM (SELECT x FROM t ORDER BY x LIMIT 2) s"));
    assert!(!ordered(
        "SELECT row_number() OVER (ORDER BY x) FROM t WHERE y = 'ORDER BY'"
    ));
}
