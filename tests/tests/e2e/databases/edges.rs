//! Values at the edges of what a source holds, as the hub returns and compares them:
//! padded `char(n)`, case-insensitive collations, dates before Christ and MySQL's zero
//! dates, numbers with more digits than the contract, NaN and infinities; and errors
//! about such values that never carry them.

use super::*;

/// The ids `sql` returns, as numbers.
async fn id_list(hub: &Hub, sql: &str) -> Vec<i64> {
    ids(hub, sql).await.iter().filter_map(Value::as_i64).collect()
}

/// PostgreSQL: a `char(10)` is returned without its padding and compared as returned, in
/// the database and in the hub; a case-insensitive collation's `=` finds only the exact
/// string; a date of 44 BC is that date; NaN and infinities are strings in JSON.
#[tokio::test]
async fn postgres_edges_compare_as_they_are_returned() {
    let Some(Database::Postgres(pg)) = Database::postgres().await else {
        return;
    };
    pg.execute(
        "CREATE COLLATION IF NOT EXISTS public.cw_case_insensitive \
           (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
         CREATE TABLE edges (id bigint, seg char(10), category text COLLATE public.cw_case_insensitive,
                             born date, reading double precision);
         INSERT INTO edges VALUES
           (1, 'BUILDING', 'Electronics', '0044-03-15 BC', 'NaN'),
           (2, 'MACHINERY', 'electronics', '2000-02-29', 'Infinity'),
           (3, NULL, 'Toys', '0001-01-01', '-Infinity'),
           (4, 'BUILDING  ', 'ELECTRONICS', NULL, -0.0);",
    )
    .await;
    let hub = Hub::start(&postgres_connection("statsdb", &pg.schema)).await;
    hub.publish_ok(&spec(
        "statistics",
        "edges",
        "postgres",
        "statsdb",
        &format!("{}.edges", pg.schema),
        &[
            ("id", "bigint"),
            ("seg", "string"),
            ("category", "string"),
            ("born", "date"),
            ("reading", "double"),
        ],
    ))
    .await;
    let q = |condition: &str| format!("SELECT id FROM statistics.edges WHERE {condition} ORDER BY id");
    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("seg = 'BUILDING'", vec![1, 4]),
        ("seg = 'BUILDING  '", vec![]),
        ("seg <> 'BUILDING'", vec![2]),
        ("seg IN ('BUILDING', 'X')", vec![1, 4]),
        ("seg LIKE 'BUILD%'", vec![1, 4]),
        ("category = 'Electronics'", vec![1]),
        ("category <> 'Electronics'", vec![2, 3, 4]),
        ("category IN ('electronics', 'Toys')", vec![2, 3]),
        ("category NOT IN ('electronics')", vec![1, 3, 4]),
        ("category LIKE 'Elec%'", vec![1]),
        ("born > DATE '0040-01-01'", vec![2]),
        ("born < DATE '0001-01-01'", vec![1]),
        ("born < DATE '0001-01-02'", vec![1, 3]),
        ("reading = CAST('NaN' AS DOUBLE)", vec![1]),
        ("reading = CAST('Infinity' AS DOUBLE)", vec![2]),
        ("reading < CAST('-1e308' AS DOUBLE)", vec![3]),
        ("reading > 1e308", vec![1, 2]),
    ];
    let mut wrong = Vec::new();
    for (condition, expected) in &cases {
        let (status, body) = hub.query(&q(condition)).await;
        let got: Vec<i64> = body["rows"]
            .as_array()
            .map(|rows| rows.iter().filter_map(|row| row["id"].as_i64()).collect())
            .unwrap_or_default();
        if status != StatusCode::OK || got != *expected {
            wrong.push(format!(
                "{condition}: expected {expected:?}, got {status} {got:?} {body}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let joined = id_list(
        &hub,
        "SELECT e.id FROM statistics.edges e JOIN (VALUES ('BUILDING')) v(s) ON e.seg = v.s ORDER BY e.id",
    )
    .await;
    assert_eq!(joined, [1, 4], "a join compares the returned, unpadded values");

    let rows = hub
        .rows("SELECT id, seg, born, reading FROM statistics.edges ORDER BY id")
        .await;
    assert_eq!(
        rows[0],
        json!({"id": 1, "seg": "BUILDING", "born": "-0043-03-15", "reading": "NaN"}),
        "44 BC is the proleptic year -43"
    );
    assert_eq!(rows[1]["reading"], "Infinity");
    assert_eq!(rows[2]["reading"], "-Infinity");
    let lines = hub
        .query_raw(
            "SELECT reading FROM statistics.edges ORDER BY id",
            "application/x-ndjson",
        )
        .await
        .text()
        .await
        .expect("body");
    assert!(
        lines.starts_with("{\"reading\":\"NaN\"}\n{\"reading\":\"Infinity\"}"),
        "{lines}"
    );
    drop(hub);
    pg.cleanup().await;
}

/// A `numeric` without a declared scale can hold values a `decimal(10,2)` cannot: such a
/// contract is refused at publish, naming the field, unless it says how to round; with
/// `rounding: half_even` each value is rounded ties-to-even, and a wider contract with
/// the same rounding reads the values exactly (PostgreSQL's own sum).
#[tokio::test]
async fn numbers_with_more_digits_than_the_contract_are_refused_not_rounded() {
    let Some(Database::Postgres(pg)) = Database::postgres().await else {
        return;
    };
    pg.execute(
        "CREATE TABLE amounts (id bigint, amount numeric);
         INSERT INTO amounts VALUES (1, 17.685), (2, 17.667), (3, 17.667);",
    )
    .await;
    let hub = Hub::start(&postgres_connection("fin", &pg.schema)).await;
    let table = format!("{}.amounts", pg.schema);
    let (status, body) = hub
        .publish(&spec(
            "finance",
            "unsaid",
            "postgres",
            "fin",
            &table,
            &[("id", "bigint"), ("amount", "decimal(10,2)")],
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    for part in ["'amount'", "any scale", "rounding: half_even"] {
        assert!(message.contains(part), "{part} in {message}");
    }
    let half_even = "\", rounding: \"half_even";
    for (name, scale) in [
        ("narrow", format!("decimal(10,2){half_even}")),
        ("wide", format!("decimal(12,3){half_even}")),
    ] {
        hub.publish_ok(&spec(
            "finance",
            name,
            "postgres",
            "fin",
            &table,
            &[("id", "bigint"), ("amount", &scale)],
        ))
        .await;
    }
    let total = |body: String| {
        body.split("\"total\":")
            .nth(1)
            .and_then(|rest| rest.split(['}', ',']).next())
            .unwrap_or_default()
            .to_owned()
    };
    let narrow = hub
        .query_raw(
            "SELECT sum(amount) AS total FROM finance.narrow",
            "application/json",
        )
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(
        total(narrow),
        "53.02",
        "17.68 + 17.67 + 17.67, each rounded ties-to-even"
    );
    let wide = hub
        .query_raw(
            "SELECT sum(amount) AS total FROM finance.wide",
            "application/json",
        )
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(total(wide), "53.019", "PostgreSQL's sum is 53.019");
    let (_, catalog) = hub.get("/v1/datasets/finance/narrow").await;
    assert_eq!(catalog["fields"][1]["rounding"], "half_even", "{catalog}");
    drop(hub);
    pg.cleanup().await;
}

/// A dataset published over a `numeric(10,2)` column whose scale is later dropped (or
/// published before such columns needed a rounding) keeps serving after a restart, and its
/// catalog entry and the health check name the field that needs one.
#[tokio::test]
async fn a_served_dataset_over_a_numeric_of_any_scale_is_named_not_dropped() {
    let Some(Database::Postgres(pg)) = Database::postgres().await else {
        return;
    };
    pg.execute(
        "CREATE TABLE payments (id bigint, amount numeric(10,2));
         INSERT INTO payments VALUES (1, 17.68), (2, 2.50);",
    )
    .await;
    let mut hub = Hub::start(&postgres_connection("pay", &pg.schema)).await;
    hub.publish_ok(&spec(
        "finance",
        "payments",
        "postgres",
        "pay",
        &format!("{}.payments", pg.schema),
        &[("id", "bigint"), ("amount", "decimal(10,2)")],
    ))
    .await;
    let (_, health) = hub.get("/v1/health").await;
    assert!(health.get("fields_needing_rounding").is_none(), "{health}");
    pg.execute("ALTER TABLE payments ALTER COLUMN amount TYPE numeric;")
        .await;
    hub.restart().await;
    let (_, entry) = hub.get("/v1/datasets/finance/payments").await;
    assert_eq!(entry["available"], true, "{entry}");
    assert_eq!(entry["fields"][1]["needs_rounding"], true, "{entry}");
    assert!(entry["fields"][0].get("needs_rounding").is_none(), "{entry}");
    let (_, health) = hub.get("/v1/health").await;
    assert_eq!(
        health["fields_needing_rounding"],
        json!(["finance.payments.amount"]),
        "{health}"
    );
    let rows = hub
        .rows("SELECT sum(amount) AS total FROM finance.payments")
        .await;
    assert_eq!(rows, vec![json!({"total": 20.18})]);
    // A value the field cannot hold now fails its query, naming the column.
    pg.execute("INSERT INTO payments VALUES (3, 0.125);").await;
    let (status, body) = hub.query("SELECT sum(amount) FROM finance.payments").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.to_string().contains("'amount'"), "{body}");
    assert!(!body.to_string().contains("0.125"), "{body}");
    drop(hub);
    pg.cleanup().await;
}

/// MariaDB's zero date (written under a lax `sql_mode`) is returned as NULL, and every
/// filter treats it as the NULL it is returned as; an invalid date such as `2025-01-00`
/// fails the read with a message that carries neither the value nor another row's.
#[tokio::test]
async fn mysql_zero_dates_are_null_everywhere_and_bad_dates_fail_without_their_value() {
    let Some(Database::Mysql(my)) = Database::mysql().await else {
        return;
    };
    let mut connection = my.pool.get_conn().await.expect("mysql connection");
    connection
        .query_drop(format!(
            "SET SESSION sql_mode = ''; \
             CREATE TABLE {db}.visits (id bigint, day date NOT NULL); \
             INSERT INTO {db}.visits VALUES (1, '0000-00-00'), (2, '1999-12-31'), (3, '2024-06-01'); \
             CREATE TABLE {db}.broken (id bigint, day date, note varchar(40)); \
             INSERT INTO {db}.broken VALUES (1, '2025-01-00', 'Couldn''t say ’secret’');",
            db = my.database
        ))
        .await
        .expect("lax inserts");
    drop(connection);
    let hub = Hub::start(&mysql_connection("health")).await;
    for name in ["visits", "broken"] {
        let fields: &[(&str, &str)] = if name == "visits" {
            &[("id", "bigint"), ("day", "date")]
        } else {
            &[("id", "bigint"), ("day", "date"), ("note", "string")]
        };
        hub.publish_ok(&spec(
            "health",
            name,
            "mysql",
            "health",
            &format!("{}.{name}", my.database),
            fields,
        ))
        .await;
    }
    let q = |condition: &str| format!("SELECT id FROM health.visits WHERE {condition} ORDER BY id");
    assert_eq!(id_list(&hub, &q("day IS NULL")).await, [1]);
    assert_eq!(id_list(&hub, &q("day IS NOT NULL")).await, [2, 3]);
    assert_eq!(id_list(&hub, &q("day < DATE '2000-01-01'")).await, [2]);
    assert_eq!(id_list(&hub, &q("day <> DATE '1999-12-31'")).await, [3]);
    assert_eq!(id_list(&hub, &q("NOT (day >= DATE '2000-01-01')")).await, [2]);

    let (status, body) = hub.query("SELECT id, day, note FROM health.broken").await;
    let message = body.to_string();
    if status == StatusCode::OK {
        assert_eq!(body["rows"][0]["day"], Value::Null, "{body}");
    } else {
        for value in ["2025-01-00", "secret", "Couldn"] {
            assert!(!message.contains(value), "the value {value} in {message}");
        }
    }
    for value in ["2025-01-00", "secret"] {
        assert!(!hub.log().contains(value), "the value {value} in the hub's log");
    }
    drop(hub);
    my.cleanup().await;
}
