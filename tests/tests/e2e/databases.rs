//! PostgreSQL and MySQL/MariaDB sources: their types as published, filters, projections and
//! limits pushed into the SQL the database receives, the rules that keep pushed filters from
//! changing results, contracts checked against the tables, and connection secrets kept out
//! of every answer and log line.

use mysql_async::prelude::Queryable;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Hub, MYSQL_URL, Mysql, POSTGRES_URL, Postgres, eventually};

/// The password in the connection URLs of the secrets test: it must never be shown.
const SECRET: &str = "Sup3rSecretPw";

/// A `[connectors.connections.NAME]` section for the machine's PostgreSQL, whose sessions
/// carry `application_name` so the server's view of them can be found.
fn postgres_connection(name: &str, application_name: &str) -> String {
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
fn spec(
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

/// Values of every common type, NULLs and extremes arrive exactly as the database holds
/// them: decimals as numbers with their scale, dates as `YYYY-MM-DD`, instants as ISO text.
/// One table `parcels` per dialect, in its own types, with the rows the hub must return.
async fn values_arrive_exactly_with_their_types(
    db: Database,
    ddl: &str,
    fields: &[(&str, &str)],
    expected: Vec<Value>,
) {
    db.execute(ddl).await;
    let hub = Hub::start(&db.connection("landdb")).await;
    let table = db.table("parcels");
    let published = hub
        .publish_ok(&spec(
            "land_registry",
            "parcels",
            db.kind(),
            "landdb",
            &table,
            fields,
        ))
        .await;
    assert_eq!(
        published["source"],
        json!({"kind": db.kind(), "location": format!("connection landdb table {table}")})
    );

    let sql = "SELECT * FROM land_registry.parcels ORDER BY id";
    assert_eq!(hub.rows(sql).await, expected);
    // A parsed JSON number has lost its trailing zeros; the text must keep the scale.
    let text = hub
        .query_raw(sql, "application/json")
        .await
        .text()
        .await
        .expect("body");
    for area in ["\"area\":99999999.99", "\"area\":12.50", "\"area\":-0.05"] {
        assert!(text.contains(area), "{area} in {text}");
    }
    drop(hub);
    db.cleanup().await;
}

/// PostgreSQL's bigint, text, numeric, date, timestamptz and boolean; instants in UTC.
#[tokio::test]
async fn postgres_values_arrive_exactly_with_their_types() {
    let Some(db) = Database::postgres().await else {
        return;
    };
    values_arrive_exactly_with_their_types(
        db,
        "CREATE TABLE parcels (id bigint NOT NULL, owner text, area numeric(10,2), registered date, \
                               surveyed timestamptz, disputed boolean);
         INSERT INTO parcels VALUES
           (1, 'Ann', 12.50, '1990-01-02', '2024-03-04 05:06:07.123456+02', true),
           (2, NULL, NULL, NULL, NULL, NULL),
           (9223372036854775807, '粤E-12345 \"q\" ''s', -0.05, '1900-01-01', '1969-12-31 23:59:59.5+00', false),
           (-9223372036854775808, '', 99999999.99, '2024-02-29', '2024-12-31 23:59:59+00', true);",
        &[
            ("id", "bigint"),
            ("owner", "string"),
            ("area", "decimal(10,2)"),
            ("registered", "date"),
            ("surveyed", "timestamptz"),
            ("disputed", "boolean"),
        ],
        vec![
            json!({"id": i64::MIN, "owner": "", "area": 99999999.99, "registered": "2024-02-29",
                   "surveyed": "2024-12-31T23:59:59Z", "disputed": true}),
            json!({"id": 1, "owner": "Ann", "area": 12.50, "registered": "1990-01-02",
                   "surveyed": "2024-03-04T03:06:07.123456Z", "disputed": true}),
            json!({"id": 2, "owner": null, "area": null, "registered": null, "surveyed": null, "disputed": null}),
            json!({"id": i64::MAX, "owner": "粤E-12345 \"q\" 's", "area": -0.05, "registered": "1900-01-01",
                   "surveyed": "1969-12-31T23:59:59.500Z", "disputed": false}),
        ],
    )
    .await;
}

/// PostgreSQL instants outside the years 1677 to 2262 (which nanoseconds cannot hold) are
/// returned as they are, or the query fails; they are never shown as another instant.
#[tokio::test]
async fn postgres_instants_beyond_nanosecond_range_are_never_shown_wrong() {
    let Some(pg) = Postgres::connect().await else {
        return;
    };
    pg.execute(
        "CREATE TABLE surveys (id bigint NOT NULL, surveyed timestamptz);
         INSERT INTO surveys VALUES (1, '1600-06-30 12:00:00+00'), (2, '2000-01-01 00:00:00+00'),
                                    (3, '2300-01-01 00:00:00+00');",
    )
    .await;
    let hub = Hub::start(&postgres_connection("landdb", &pg.schema)).await;
    hub.publish_ok(&spec(
        "land_registry",
        "surveys",
        "postgres",
        "landdb",
        &format!("{}.surveys", pg.schema),
        &[("id", "bigint"), ("surveyed", "timestamptz")],
    ))
    .await;
    let (status, body) = hub
        .query("SELECT id, surveyed FROM land_registry.surveys ORDER BY id")
        .await;
    drop(hub);
    pg.cleanup().await;
    if status == StatusCode::OK {
        assert_eq!(
            body["rows"],
            json!([
                {"id": 1, "surveyed": "1600-06-30T12:00:00Z"},
                {"id": 2, "surveyed": "2000-01-01T00:00:00Z"},
                {"id": 3, "surveyed": "2300-01-01T00:00:00Z"},
            ]),
            "a value the hub cannot represent must fail the query, not change"
        );
    } else {
        assert!(body["error"]["message"].is_string(), "{status}: {body}");
    }
}

/// A MariaDB/MySQL table's bigint, varchar, decimal, date, datetime and boolean values,
/// NULLs and extremes, arrive exactly. DATETIME is a timestamp without zone in microseconds
/// and BOOLEAN (MySQL's TINYINT(1)) an 8-bit integer, so contracts say `timestamp` and
/// `tinyint`.
#[tokio::test]
async fn mysql_values_arrive_exactly_with_their_types() {
    let Some(db) = Database::mysql().await else {
        return;
    };
    values_arrive_exactly_with_their_types(
        db,
        "CREATE TABLE parcels (id bigint NOT NULL, owner varchar(50), area decimal(10,2), registered date, \
                               surveyed datetime(6), disputed boolean);\n\
         INSERT INTO parcels VALUES \
           (1, 'Ann', 12.50, '1990-01-02', '2024-03-04 05:06:07.123456', true), \
           (2, NULL, NULL, NULL, NULL, NULL), \
           (9223372036854775807, '粤E-12345 \"q\" ''s', -0.05, '1000-01-01', '1969-12-31 23:59:59.5', false), \
           (-9223372036854775808, '', 99999999.99, '2024-02-29', '9999-12-31 23:59:59', true);\n",
        &[
            ("id", "bigint"),
            ("owner", "string"),
            ("area", "decimal(10,2)"),
            ("registered", "date"),
            ("surveyed", "timestamp"),
            ("disputed", "tinyint"),
        ],
        vec![
            json!({"id": i64::MIN, "owner": "", "area": 99999999.99, "registered": "2024-02-29",
                   "surveyed": "9999-12-31T23:59:59", "disputed": 1}),
            json!({"id": 1, "owner": "Ann", "area": 12.50, "registered": "1990-01-02",
                   "surveyed": "2024-03-04T05:06:07.123456", "disputed": 1}),
            json!({"id": 2, "owner": null, "area": null, "registered": null, "surveyed": null, "disputed": null}),
            json!({"id": i64::MAX, "owner": "粤E-12345 \"q\" 's", "area": -0.05, "registered": "1000-01-01",
                   "surveyed": "1969-12-31T23:59:59.500", "disputed": 0}),
        ],
    )
    .await;
}

/// Twenty rows of a table with more columns than a query needs.
fn wide_rows() -> String {
    (1..=20)
        .map(|i| format!("({i}, 'n{i}', {i} * 1.5, 'x', 'y', {i}, '2020-01-01')"))
        .collect::<Vec<_>>()
        .join(", ")
}

const WIDE_FIELDS: [(&str, &str); 7] = [
    ("id", "bigint"),
    ("name", "string"),
    ("area", "decimal(10,2)"),
    ("c1", "string"),
    ("c2", "string"),
    ("c3", "int"),
    ("c4", "date"),
];

const WIDE_QUERY: &str = "SELECT id, name FROM land_registry.wide WHERE area > 10 LIMIT 3";

/// Checks the rows of [`WIDE_QUERY`]: three of the rows whose area is over 10, two columns.
fn check_wide_rows(rows: &[Value]) {
    assert_eq!(rows.len(), 3, "{rows:?}");
    for row in rows {
        let id = row["id"].as_i64().expect("an id");
        assert!(id >= 7, "area = id * 1.5 > 10 only from id 7: {rows:?}");
        assert_eq!(*row, json!({"id": id, "name": format!("n{id}")}));
    }
}

/// A numeric filter, a projection of two of seven columns and a LIMIT all reach the SQL the
/// database receives, as the plan says and as the server itself saw it (PostgreSQL's
/// `pg_stat_activity`, MariaDB's general query log).
async fn receives_the_filter_projection_and_limit(db: Database) {
    let text = match db {
        Database::Postgres(_) => "text",
        Database::Mysql(_) => "varchar(20)",
    };
    db.execute(&format!(
        "CREATE TABLE wide (id bigint, name {text}, area decimal(10,2), c1 text, c2 text, c3 int, c4 date);\n\
         INSERT INTO wide VALUES {};\n",
        wide_rows()
    ))
    .await;
    db.watch_statements().await;
    let hub = Hub::start(&db.connection("landdb")).await;
    hub.publish_ok(&spec(
        "land_registry",
        "wide",
        db.kind(),
        "landdb",
        &db.table("wide"),
        &WIDE_FIELDS,
    ))
    .await;

    let plan = hub.physical_plan(WIDE_QUERY).await;
    let quoted = |name: &str| db.quote(name);
    let schema = db.schema();
    let expected = format!(
        "SELECT {w}.{id}, {w}.{name} FROM {schema}.{w} WHERE ({w}.{area} > 10.00) LIMIT 3",
        w = quoted("wide"),
        id = quoted("id"),
        name = quoted("name"),
        area = quoted("area"),
        schema = quoted(schema),
    );
    assert_eq!(sent_sql(&plan, db.exec()), expected, "{plan}");
    assert!(
        !plan.contains("FilterExec"),
        "the filter is left to the database alone: {plan}"
    );

    check_wide_rows(&hub.rows(WIDE_QUERY).await);
    let seen = db
        .statements_seen(&format!("{}.{}", quoted(schema), quoted("wide")))
        .await;
    assert!(seen.contains(&expected), "{} saw {seen:#?}", db.kind());
    drop(hub);
    db.cleanup().await;
}

#[tokio::test]
async fn postgres_receives_the_filter_projection_and_limit() {
    if let Some(db) = Database::postgres().await {
        receives_the_filter_projection_and_limit(db).await;
    }
}

#[tokio::test]
async fn mysql_receives_the_filter_projection_and_limit() {
    if let Some(db) = Database::mysql().await {
        receives_the_filter_projection_and_limit(db).await;
    }
}

/// PostgreSQL orders text by its collation, DataFusion by bytes: a text `<` stays out of
/// the SQL sent, so `name < 'b'` keeps DataFusion's answer even where the column's
/// collation would give another. Text equality, the same in both, is sent.
#[tokio::test]
async fn postgres_text_ordering_is_decided_by_datafusion() {
    let Some(pg) = Postgres::connect().await else {
        return;
    };
    pg.execute(
        "CREATE TABLE people (id bigint, name text COLLATE \"en-x-icu\");
         INSERT INTO people VALUES (1, 'a'), (2, 'B'), (3, 'b'), (4, 'Z'), (5, NULL);",
    )
    .await;
    let by_postgres: Vec<String> = pg
        .client
        .query(
            &format!(
                "SELECT name FROM {}.people WHERE name < 'b' ORDER BY name",
                pg.schema
            ),
            &[],
        )
        .await
        .expect("query")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        by_postgres,
        ["a"],
        "the column's collation orders 'B' and 'Z' after 'b'"
    );

    let hub = Hub::start(&postgres_connection("landdb", &pg.schema)).await;
    hub.publish_ok(&spec(
        "civil_affairs",
        "people",
        "postgres",
        "landdb",
        &format!("{}.people", pg.schema),
        &[("id", "bigint"), ("name", "string")],
    ))
    .await;

    let sql = "SELECT name FROM civil_affairs.people WHERE name < 'b' ORDER BY name";
    let plan = hub.physical_plan(sql).await;
    assert!(!sent_sql(&plan, "PostgresScanExec").contains("WHERE"), "{plan}");
    assert!(plan.contains("FilterExec"), "{plan}");
    assert_eq!(
        hub.rows(sql).await,
        vec![json!({"name": "B"}), json!({"name": "Z"}), json!({"name": "a"})],
        "byte order: 'B' < 'Z' < 'a' < 'b'"
    );
    assert_eq!(
        hub.rows("SELECT name FROM civil_affairs.people WHERE name >= 'b' ORDER BY name")
            .await,
        vec![json!({"name": "b"})]
    );

    let sql = "SELECT id FROM civil_affairs.people WHERE name = 'B'";
    let plan = hub.physical_plan(sql).await;
    assert!(
        sent_sql(&plan, "PostgresScanExec").ends_with("WHERE (\"people\".\"name\" = 'B')"),
        "{plan}"
    );
    assert_eq!(ids(&hub, sql).await, [json!(2)]);
    drop(hub);
    pg.cleanup().await;
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

async fn mysql_people_hub(my: &Mysql) -> Hub {
    let hub = Hub::start(&mysql_connection("registry")).await;
    hub.publish_ok(&spec(
        "civil_affairs",
        "people",
        "mysql",
        "registry",
        &format!("{}.people", my.database),
        &[("id", "bigint"), ("name", "string")],
    ))
    .await;
    hub
}

/// MariaDB's `=` ignores case and trailing spaces; the hub's does not. `name = 'ann'` may
/// narrow the rows in MariaDB but is checked again, and `<>` and `NOT IN`, which MariaDB
/// would answer with too few rows, are not sent at all.
#[tokio::test]
async fn mysql_text_equality_is_exact_despite_the_collation() {
    let Some(my) = Mysql::connect().await else { return };
    mysql_people(
        &my,
        &[(1, "ann"), (2, "Ann"), (3, "ann "), (4, "bob"), (5, "ANNA")],
    )
    .await;
    let mut connection = my.pool.get_conn().await.expect("mysql connection");
    let by_mariadb: Vec<i64> = connection
        .query(format!(
            "SELECT id FROM {}.people WHERE name = 'ann' ORDER BY id",
            my.database
        ))
        .await
        .expect("query");
    assert_eq!(by_mariadb, [1, 2, 3], "the collation matches all three");
    drop(connection);

    let hub = mysql_people_hub(&my).await;
    let sql = "SELECT id FROM civil_affairs.people WHERE name = 'ann' ORDER BY id";
    let plan = hub.physical_plan(sql).await;
    assert!(
        sent_sql(&plan, "MySQLSQLExec").ends_with("WHERE (`people`.`name` = 'ann')"),
        "{plan}"
    );
    assert!(plan.contains("FilterExec"), "checked again: {plan}");
    assert_eq!(ids(&hub, sql).await, [json!(1)]);

    let sql = "SELECT id FROM civil_affairs.people WHERE name <> 'ann' ORDER BY id";
    let plan = hub.physical_plan(sql).await;
    assert!(!sent_sql(&plan, "MySQLSQLExec").contains("WHERE"), "{plan}");
    assert_eq!(ids(&hub, sql).await, [json!(2), json!(3), json!(4), json!(5)]);

    for (sql, expected) in [
        (
            "SELECT id FROM civil_affairs.people WHERE name IN ('ann', 'BOB') ORDER BY id",
            json!([1]),
        ),
        (
            "SELECT id FROM civil_affairs.people WHERE name NOT IN ('ann', 'bob') ORDER BY id",
            json!([2, 3, 5]),
        ),
        (
            "SELECT id FROM civil_affairs.people WHERE NOT (name = 'Ann') ORDER BY id",
            json!([1, 3, 4, 5]),
        ),
        (
            "SELECT id FROM civil_affairs.people WHERE name LIKE 'ann%' ORDER BY id",
            json!([1, 3]),
        ),
        (
            "SELECT id FROM civil_affairs.people WHERE name NOT LIKE 'ann%' ORDER BY id",
            json!([2, 4, 5]),
        ),
    ] {
        assert_eq!(Value::from(ids(&hub, sql).await), expected, "{sql}");
    }
    drop(hub);
    my.cleanup().await;
}

/// The MySQL provider strips double quotes from the SQL it sends, string literals included;
/// a literal holding one is compared in DataFusion and still finds its row.
#[tokio::test]
async fn mysql_literals_with_double_quotes_find_their_rows() {
    let Some(my) = Mysql::connect().await else { return };
    mysql_people(&my, &[(1, "say \"hi\""), (2, "say hi"), (3, "\"")]).await;
    let hub = mysql_people_hub(&my).await;

    let sql = "SELECT id FROM civil_affairs.people WHERE name = 'say \"hi\"'";
    let plan = hub.physical_plan(sql).await;
    assert!(!sent_sql(&plan, "MySQLSQLExec").contains("WHERE"), "{plan}");
    assert_eq!(ids(&hub, sql).await, [json!(1)]);
    assert_eq!(
        ids(
            &hub,
            "SELECT id FROM civil_affairs.people WHERE name IN ('\"', 'x') ORDER BY id"
        )
        .await,
        [json!(3)]
    );
    assert_eq!(
        ids(
            &hub,
            "SELECT id FROM civil_affairs.people WHERE name LIKE 'say \"%' ORDER BY id"
        )
        .await,
        [json!(1)]
    );
    drop(hub);
    my.cleanup().await;
}

/// A string literal is compared as written, whatever quotes and backslashes it holds, and
/// can never end early and turn the rest of itself into SQL run by PostgreSQL (which
/// would, with a filter PostgreSQL alone evaluates, return rows the query excludes).
#[tokio::test]
async fn postgres_string_literals_never_escape_the_sql_sent() {
    let Some(db) = Database::postgres().await else {
        return;
    };
    let breakout = r"\') OR (1=1) -- ";
    string_literals_never_escape_the_sql_sent(
        db,
        breakout,
        vec![
            (
                people_with(&format!("name = {}", sql_literal(breakout))),
                json!([5]),
            ),
            (
                people_with(&format!(
                    "id = 1 AND name = {}",
                    sql_literal(r"\') OR (1=1)) -- ")
                )),
                json!([]),
            ),
        ],
    )
    .await;
}

/// The same for MariaDB/MySQL, where a backslash in a string literal is an escape
/// character unless it is doubled.
#[tokio::test]
async fn mysql_string_literals_never_escape_the_sql_sent() {
    let Some(db) = Database::mysql().await else { return };
    let breakout = r"\\') OR (1=1)) -- ";
    string_literals_never_escape_the_sql_sent(
        db,
        breakout,
        vec![
            (
                people_with(&format!("name IN ({}, 'x')", sql_literal(r"C:\new"))),
                json!([4]),
            ),
            (
                people_with(&format!("id = 1 AND name = {}", sql_literal(breakout))),
                json!([]),
            ),
        ],
    )
    .await;
}

/// The ids of `civil_affairs.people` where `filter` holds, in order.
fn people_with(filter: &str) -> String {
    format!("SELECT id FROM civil_affairs.people WHERE {filter} ORDER BY id")
}

/// Names with quotes and backslashes, and `breakout`, are found by equality, and the
/// dialect's own `cases` answer as expected.
async fn string_literals_never_escape_the_sql_sent(
    db: Database,
    breakout: &str,
    cases: Vec<(String, Value)>,
) {
    db.people(&[
        (1, "a"),
        (2, "a''b"),
        (3, r"tail\"),
        (4, r"C:\new"),
        (5, breakout),
    ])
    .await;
    let hub = Hub::start(&db.connection("registry")).await;
    hub.publish_ok(&spec(
        "civil_affairs",
        "people",
        db.kind(),
        "registry",
        &db.table("people"),
        &[("id", "bigint"), ("name", "string")],
    ))
    .await;

    let mut all = vec![
        (
            people_with(&format!("name = {}", sql_literal("a''b"))),
            json!([2]),
        ),
        (
            people_with(&format!("name = {}", sql_literal(r"tail\"))),
            json!([3]),
        ),
        (
            people_with(&format!("name = {}", sql_literal(r"C:\new"))),
            json!([4]),
        ),
    ];
    all.extend(cases);
    let wrong = wrong_answers(&hub, db.exec(), &all).await;
    drop(hub);
    db.cleanup().await;
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
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

/// How a dialect's table fails to match a contract: the table's DDL, the contract's fields,
/// the expected mismatch message, and a check of the refusal of a missing table.
struct Mismatch {
    ddl: &'static str,
    fields: [(&'static str, &'static str); 3],
    message: &'static str,
    missing: fn(&Value, &str),
}

/// A contract whose field has another type than the table's column, or names a column the
/// table lacks, is refused naming the field and both types; a missing table is refused too.
/// Nothing is published.
async fn tables_that_do_not_match_the_contract_are_refused(db: Database, case: Mismatch) {
    db.execute(case.ddl).await;
    let hub = Hub::start(&db.connection("landdb")).await;

    let table = db.table("parcels");
    let (status, body) = hub
        .publish(&spec(
            "land_registry",
            "parcels",
            db.kind(),
            "landdb",
            &table,
            &case.fields,
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"],
        json!({"code": "contract_mismatch", "message": case.message})
    );

    let missing = db.table("no_such_table");
    let (status, body) = hub
        .publish(&spec(
            "land_registry",
            "parcels",
            db.kind(),
            "landdb",
            &missing,
            &case.fields[..1],
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    (case.missing)(&body, &missing);

    let (status, _) = hub.get("/v1/datasets/land_registry/parcels").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    drop(hub);
    db.cleanup().await;
}

#[tokio::test]
async fn postgres_tables_that_do_not_match_the_contract_are_refused() {
    let Some(db) = Database::postgres().await else {
        return;
    };
    tables_that_do_not_match_the_contract_are_refused(
        db,
        Mismatch {
            ddl: "CREATE TABLE parcels (id bigint NOT NULL, area numeric(10,2));",
            fields: [("id", "bigint"), ("area", "bigint"), ("owner", "string")],
            message: "the source does not match the contract: \
                      field 'area' is Int64 in the contract but Decimal128(10, 2) in the source; \
                      field 'owner' (Utf8 in the contract) does not exist in the source",
            missing: |body, missing| {
                assert_eq!(body["error"]["code"], "source_not_found", "{body}");
                assert_eq!(
                    body["error"]["message"],
                    format!("table {missing} in connection landdb does not exist"),
                    "{body}"
                );
            },
        },
    )
    .await;
}

#[tokio::test]
async fn mysql_tables_that_do_not_match_the_contract_are_refused() {
    let Some(db) = Database::mysql().await else { return };
    tables_that_do_not_match_the_contract_are_refused(
        db,
        Mismatch {
            ddl: "CREATE TABLE parcels (id bigint NOT NULL, registered date);\n",
            fields: [("id", "bigint"), ("registered", "timestamp"), ("owner", "string")],
            message: "the source does not match the contract: \
                      field 'registered' is Timestamp(µs) in the contract but Date32 in the source; \
                      field 'owner' (Utf8 in the contract) does not exist in the source",
            missing: |body, missing| {
                assert_eq!(body["error"]["code"], "source_error", "{body}");
                let message = body["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    message.starts_with(&format!(
                        "cannot read mysql source connection landdb table {missing}: "
                    )),
                    "{message}"
                );
            },
        },
    )
    .await;
}

/// Passwords in connection URLs are never shown: not when the database refuses them, not
/// in a published dataset's description or the catalog, not in the hub's log. Datasets
/// show a connection by name only.
#[tokio::test]
async fn connection_passwords_never_show() {
    let Some(pg) = Postgres::connect().await else {
        return;
    };
    pg.execute("CREATE TABLE parcels (id bigint NOT NULL); INSERT INTO parcels VALUES (7);")
        .await;
    let unset = format!("CW_E2E_UNSET_{}", uuid::Uuid::new_v4().simple());
    // PostgreSQL trusts local connections, so `good` connects without using its password.
    let config = format!(
        "[connectors.connections.badpg]\nkind = \"postgres\"\n\
         url = \"postgres://nobody:{SECRET}@127.0.0.1:5432/test\"\ntls = \"disable\"\n\
         [connectors.connections.badmy]\nkind = \"mysql\"\n\
         url = \"mysql://nobody:{SECRET}@127.0.0.1:3306/test\"\ntls = \"disabled\"\n\
         [connectors.connections.good]\nkind = \"postgres\"\n\
         url = \"postgres://postgres:{SECRET}@127.0.0.1:5432/test\"\ntls = \"disable\"\n\
         [connectors.connections.fromenv]\nkind = \"postgres\"\n\
         url = \"postgres://postgres:${{env:{unset}}}@127.0.0.1:5432/test\"\ntls = \"disable\"\n"
    );
    let hub = Hub::start(&config).await;
    let table = format!("{}.parcels", pg.schema);
    let fields = [("id", "bigint")];
    let shows_a_secret = |text: &str| {
        ["Sup3rSecret", "postgres://", "mysql://", "nobody:"]
            .iter()
            .any(|s| text.contains(s))
    };

    for (kind, connection) in [("postgres", "badpg"), ("mysql", "badmy")] {
        let (status, body) = hub
            .publish(&spec(
                "land_registry",
                "parcels",
                kind,
                connection,
                &table,
                &fields,
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert_eq!(body["error"]["code"], "source_unavailable", "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("cannot connect to {kind} connection '{connection}': ")),
            "{message}"
        );
        assert!(!shows_a_secret(message), "{message}");
    }

    let (status, body) = hub
        .publish(&spec(
            "land_registry",
            "parcels",
            "postgres",
            "fromenv",
            &table,
            &fields,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        json!({"code": "invalid_source", "message": format!("environment variable {unset} is not set")})
    );

    let published = hub
        .publish_ok(&spec(
            "land_registry",
            "parcels",
            "postgres",
            "good",
            &table,
            &fields,
        ))
        .await;
    let location = json!({"kind": "postgres", "location": format!("connection good table {table}")});
    assert_eq!(published["source"], location);
    let (status, detail) = hub.get("/v1/datasets/land_registry/parcels").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["source"], location);
    assert_eq!(
        hub.rows("SELECT id FROM land_registry.parcels").await,
        [json!({"id": 7})]
    );
    for path in ["/v1/datasets/land_registry/parcels", "/v1/catalog", "/v1/health"] {
        let (_, body) = hub.get(path).await;
        assert!(!shows_a_secret(&body.to_string()), "{path}: {body}");
    }
    let log = hub.log();
    assert!(!shows_a_secret(&log), "{log}");
    drop(hub);
    pg.cleanup().await;
}

/// A source naming a connection the configuration lacks, or one of another kind, is a
/// client error naming the connection; nothing is connected to.
#[tokio::test]
async fn unknown_or_mismatched_connections_are_invalid_sources() {
    let hub = Hub::start(&postgres_connection("landdb", "unused")).await;
    let fields = [("id", "bigint")];

    let (status, body) = hub
        .publish(&spec(
            "land_registry",
            "parcels",
            "postgres",
            "nosuch",
            "public.parcels",
            &fields,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        json!({
            "code": "invalid_source",
            "message": "unknown connection 'nosuch': database connections are defined in the hub \
                        configuration under [connectors.connections.NAME]"
        })
    );

    let (status, body) = hub
        .publish(&spec(
            "land_registry",
            "parcels",
            "mysql",
            "landdb",
            "test.parcels",
            &fields,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        json!({
            "code": "invalid_source",
            "message": "connection 'landdb' is a postgres connection, but the source says mysql"
        })
    );
    let (_, catalog) = hub.get("/v1/catalog").await;
    assert_eq!(catalog["departments"], json!([]));
}

/// A statement still running in the database when the hub's timeout cuts its query short,
/// or when its client goes away, is stopped on the server (PostgreSQL: a cancel request;
/// MySQL: `KILL QUERY`): it is gone within two seconds, and the pooled session answers the
/// next query. The view sleeps a second a row, which a dropped connection alone does not
/// interrupt.
async fn statements_end_on_the_server_with_their_query(db: Database) {
    let sleep = match db {
        Database::Postgres(_) => "pg_sleep(1) IS NOT NULL",
        Database::Mysql(_) => "SLEEP(1) = 0",
    };
    db.execute(&format!(
        "CREATE TABLE slow_base (id bigint, name varchar(40));\n\
         INSERT INTO slow_base VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e'), (6, 'f'), (7, 'g'), (8, 'h');\n\
         CREATE VIEW slow AS SELECT id, name FROM slow_base WHERE {sleep};\n"
    ))
    .await;
    let hub = Hub::start(&format!(
        "{}[limits]\nquery_timeout = \"2s\"\n",
        db.connection("slowdb")
    ))
    .await;
    for (name, table) in [("slow", "slow"), ("quick", "slow_base")] {
        hub.publish_ok(&spec(
            "civil_affairs",
            name,
            db.kind(),
            "slowdb",
            &db.table(table),
            &[("id", "bigint"), ("name", "string")],
        ))
        .await;
    }
    let slow_view = format!("{}.{}", db.quote(db.schema()), db.quote("slow"));
    let running = async || db.statements_running(&slow_view).await;
    let query = |sql: &'static str| {
        let (http, url) = (hub.http.clone(), hub.url.clone());
        tokio::spawn(async move {
            let response = http
                .post(format!("{url}/v1/query"))
                .json(&json!({"sql": sql, "purpose": "testing"}))
                .send()
                .await
                .expect("query");
            crate::support::json_of(response).await
        })
    };
    let started = async || {
        eventually(
            "the statement runs on the server",
            std::time::Duration::from_secs(5),
            async || (running().await > 0).then_some(()),
        )
        .await;
        assert_eq!(running().await, 1, "the statement runs on the server");
    };
    let ended = async || {
        eventually(
            "the statement ends on the server",
            std::time::Duration::from_secs(2),
            async || (running().await == 0).then_some(()),
        )
        .await;
    };

    // Cut short by the timeout.
    let timed_out = query("SELECT name FROM civil_affairs.slow");
    started().await;
    let (status, body) = timed_out.await.expect("query");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "query_timeout", "{body}");
    ended().await;

    // Cut short by its client.
    let abandoned = query("SELECT id FROM civil_affairs.slow");
    started().await;
    abandoned.abort();
    ended().await;

    let rows = hub.rows("SELECT id FROM civil_affairs.quick ORDER BY id").await;
    assert_eq!(rows.len(), 8, "the pooled sessions answer the next query");
    drop(hub);
    db.cleanup().await;
}

#[tokio::test]
async fn postgres_statements_end_on_the_server_with_their_query() {
    if let Some(db) = Database::postgres().await {
        statements_end_on_the_server_with_their_query(db).await;
    }
}

#[tokio::test]
async fn mysql_statements_end_on_the_server_with_their_query() {
    if let Some(db) = Database::mysql().await {
        statements_end_on_the_server_with_their_query(db).await;
    }
}
