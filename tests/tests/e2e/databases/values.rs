//! Values of every common type, NULLs and extremes, as each database holds them.

use super::*;

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
