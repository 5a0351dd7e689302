//! Filters, projections and limits pushed into the SQL the database receives, and the rules
//! that keep them from changing results: text ordering, collations and string literals.

use super::*;

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
