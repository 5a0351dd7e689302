//! File and SQLite sources: publish, query, join across kinds.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::Hub;

pub const PEOPLE_CSV: &str = "id,name,amount,born,note\n\
1,Ann,12.50,1990-01-02,\"a, b\"\n\
2,Bob,7.25,1985-06-30,\n\
3,Cy,,2001-12-31,x\n";

pub fn people_spec(path: &str) -> String {
    format!(
        r#"
contract:
  department: civil_affairs
  name: people
  title: People
  owner: {{ name: Desk, email: desk@example.gov }}
  primary_key: [id]
  fields:
    - {{ name: id, type: bigint, nullable: false }}
    - {{ name: name, type: string, classification: pii.name }}
    - {{ name: amount, type: "decimal(10,2)" }}
    - {{ name: born, type: date }}
source: {{ kind: csv, path: {path} }}
"#
    )
}

/// Publishes `land_registry.holdings` (person_id, kind) from a CSV of three rows: Ann's flat
/// and shop, Bob's field.
pub async fn publish_holdings_csv(hub: &Hub) {
    std::fs::write(
        hub.dir().join("holdings.csv"),
        "person_id,kind\n1,flat\n1,shop\n2,field\n",
    )
    .expect("csv");
    hub.publish_ok(
        "contract:\n  department: land_registry\n  name: holdings\n  title: Holdings\n  \
         owner: { name: Desk, email: desk@example.gov }\n  fields:\n    \
         - { name: person_id, type: bigint, nullable: false }\n    - { name: kind, type: string }\n\
         source: { kind: csv, path: holdings.csv }\n",
    )
    .await;
}

/// `people` joined with `holdings` on the person (name, kind), ordered, as the client
/// libraries' tests read it into their DataFrames.
pub fn people_and_holdings() -> serde_json::Value {
    json!([
        {"name": "Ann", "kind": "flat"},
        {"name": "Ann", "kind": "shop"},
        {"name": "Bob", "kind": "field"},
    ])
}

/// An SQLite database whose `holdings` table keeps dates and decimals as text, as SQLite
/// applications do.
pub fn write_sqlite(path: &std::path::Path) {
    let connection = rusqlite::Connection::open(path).expect("sqlite");
    connection
        .execute_batch(
            "CREATE TABLE holdings (person_id INTEGER, kind TEXT, value DECIMAL(12,2), since DATE, note TEXT);
             INSERT INTO holdings VALUES (1, 'house', '350000.10', '2015-03-01', 'x');
             INSERT INTO holdings VALUES (1, 'car', 42000, '2019-07-15', NULL);
             INSERT INTO holdings VALUES (3, 'shop', 1200000.5, NULL, 'y');",
        )
        .expect("sqlite rows");
}

pub const HOLDINGS_SPEC: &str = r#"
contract:
  department: land_registry
  name: holdings
  title: Holdings
  owner: { name: Desk, email: desk@example.gov }
  fields:
    - { name: person_id, type: bigint, nullable: false }
    - { name: kind, type: string }
    - { name: value, type: "decimal(12,2)" }
    - { name: since, type: date }
source: { kind: sqlite, path: holdings.db, table: holdings }
"#;

pub const CARS_NDJSON: &str = r#"{"person_id": 1, "plate": "粤E-12345", "registered": "2019-07-20", "power_kw": 110.5}
{"person_id": 2, "plate": "粤E-67890", "registered": "2021-01-05", "power_kw": null}
"#;

pub const CARS_SPEC: &str = r#"
contract:
  department: public_security
  name: vehicles
  title: Vehicles
  owner: { name: Desk, email: desk@example.gov }
  fields:
    - { name: person_id, type: bigint, nullable: false }
    - { name: plate, type: string }
    - { name: registered, type: date }
    - { name: power_kw, type: double }
source: { kind: ndjson, path: vehicles.ndjson }
"#;

#[tokio::test]
async fn csv_sources_are_read_with_the_contracts_types() {
    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    let published = hub.publish_ok(&people_spec("people.csv")).await;
    assert_eq!(published["source"]["kind"], "csv");
    assert_eq!(published["version"], 1);

    let rows = hub.rows("SELECT * FROM civil_affairs.people ORDER BY id").await;
    assert_eq!(
        rows,
        vec![
            json!({"id": 1, "name": "Ann", "amount": 12.50, "born": "1990-01-02"}),
            json!({"id": 2, "name": "Bob", "amount": 7.25, "born": "1985-06-30"}),
            json!({"id": 3, "name": "Cy", "amount": null, "born": "2001-12-31"}),
        ],
        "the unpublished column `note` stays hidden"
    );
    let (status, body) = hub.query("SELECT note FROM civil_affairs.people").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// A CSV or NDJSON decimal with more fraction digits than its field's scale fails the
/// query, naming the dataset and the column but not the value (Arrow's readers would drop
/// the digits); with `rounding: half_even` it is rounded ties-to-even.
#[tokio::test]
async fn csv_decimals_are_exact_rounded_as_the_contract_says_or_refused() {
    let hub = Hub::start("").await;
    let csv = "id,name,amount,born\n1,Ann,17.685,1990-01-02\n2,Bob,17.675,1985-06-30\n3,Cy,-0.125,\n";
    std::fs::write(hub.dir().join("people.csv"), csv).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    let (status, body) = hub.query("SELECT sum(amount) FROM civil_affairs.people").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    for part in ["civil_affairs.people", "'amount'", "fraction digits"] {
        assert!(message.contains(part), "{part} in {message}");
    }
    for value in ["17.68", "17685", "0.125"] {
        assert!(!message.contains(value), "the value {value} in {message}");
        assert!(!hub.log().contains(value), "the value {value} in the hub's log");
    }
    let rounded = people_spec("people.csv")
        .replace("name: people", "name: rounded")
        .replace(
            "type: \"decimal(10,2)\"",
            "type: \"decimal(10,2)\", rounding: half_even",
        );
    hub.publish_ok(&rounded).await;
    let rows = hub
        .rows("SELECT id, amount FROM civil_affairs.rounded ORDER BY id")
        .await;
    assert_eq!(
        rows,
        vec![
            json!({"id": 1, "amount": 17.68}),
            json!({"id": 2, "amount": 17.68}),
            json!({"id": 3, "amount": -0.12}),
        ]
    );

    // NDJSON numbers, which Arrow's JSON reader would truncate the same way.
    let ndjson = "{\"id\": 1, \"amount\": 17.685}\n{\"id\": 2, \"amount\": 2.5}\n";
    std::fs::write(hub.dir().join("amounts.ndjson"), ndjson).expect("ndjson");
    let amounts = |name: &str, rounding: &str| {
        format!(
            "contract:\n  department: finance\n  name: {name}\n  title: {name}\n\
             \x20 owner: {{ name: Desk, email: desk@example.gov }}\n  fields:\n\
             \x20   - {{ name: id, type: bigint }}\n\
             \x20   - {{ name: amount, type: \"decimal(10,2)\"{rounding} }}\n\
             source: {{ kind: ndjson, path: amounts.ndjson }}\n"
        )
    };
    hub.publish_ok(&amounts("exact", "")).await;
    let (status, body) = hub.query("SELECT sum(amount) FROM finance.exact").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.to_string().contains("'amount'"), "{body}");
    assert!(!body.to_string().contains("17.68"), "{body}");
    hub.publish_ok(&amounts("rounded", ", rounding: half_even")).await;
    let rows = hub
        .rows("SELECT id, amount FROM finance.rounded ORDER BY id")
        .await;
    assert_eq!(
        rows,
        vec![
            json!({"id": 1, "amount": 17.68}),
            json!({"id": 2, "amount": 2.50})
        ]
    );
}

#[tokio::test]
async fn parquet_directories_are_one_dataset() {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;

    let hub = Hub::start("").await;
    let dir = hub.dir().join("towns");
    std::fs::create_dir_all(&dir).expect("dir");
    let schema = Arc::new(Schema::new(vec![
        Field::new("town", DataType::Utf8, false),
        Field::new("households", DataType::Int64, false),
    ]));
    for (file, towns, counts) in [
        ("a.parquet", vec!["Guicheng", "Dali"], vec![5200, 4100]),
        ("b.parquet", vec!["Lishui"], vec![1900]),
    ] {
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(towns)),
                Arc::new(Int64Array::from(counts)),
            ],
        )
        .expect("batch");
        crate::support::write_parquet(&dir.join(file), &[batch]);
    }
    hub.publish_ok(
        r#"
contract:
  department: civil_affairs
  name: towns
  title: Towns
  owner: { name: Desk, email: desk@example.gov }
  fields:
    - { name: town, type: string, nullable: false, classification: public }
    - { name: households, type: bigint, nullable: false }
source: { kind: parquet, path: towns }
"#,
    )
    .await;
    let rows = hub
        .rows("SELECT sum(households) AS total, count(*) AS towns FROM civil_affairs.towns")
        .await;
    assert_eq!(rows, vec![json!({"total": 11200, "towns": 3})]);
    let (_, detail) = hub.get("/v1/datasets/civil_affairs/towns").await;
    assert_eq!(
        detail["row_count_estimate"], 3,
        "Parquet footers give the row count: {detail}"
    );
}

#[tokio::test]
async fn one_query_joins_csv_sqlite_and_ndjson_sources() {
    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    write_sqlite(&hub.dir().join("holdings.db"));
    std::fs::write(hub.dir().join("vehicles.ndjson"), CARS_NDJSON).expect("ndjson");
    hub.publish_ok(&people_spec("people.csv")).await;
    hub.publish_ok(HOLDINGS_SPEC).await;
    hub.publish_ok(CARS_SPEC).await;

    let rows = hub
        .rows(
            "SELECT p.name, count(h.kind) AS holdings, sum(h.value) AS total_value, \
                    max(v.plate) AS plate, min(h.since) AS first_since \
             FROM civil_affairs.people p \
             LEFT JOIN land_registry.holdings h ON h.person_id = p.id \
             LEFT JOIN public_security.vehicles v ON v.person_id = p.id \
             GROUP BY p.name ORDER BY p.name",
        )
        .await;
    assert_eq!(
        rows,
        vec![
            json!({"name": "Ann", "holdings": 2, "total_value": 392000.10, "plate": "粤E-12345", "first_since": "2015-03-01"}),
            json!({"name": "Bob", "holdings": 0, "total_value": null, "plate": "粤E-67890", "first_since": null}),
            json!({"name": "Cy", "holdings": 1, "total_value": 1200000.50, "plate": null, "first_since": null}),
        ]
    );
}

#[tokio::test]
async fn sqlite_filters_reach_the_sql_only_where_sqlite_agrees() {
    let hub = Hub::start("").await;
    write_sqlite(&hub.dir().join("holdings.db"));
    hub.publish_ok(HOLDINGS_SPEC).await;

    let plan = hub
        .physical_plan(
            "SELECT kind FROM land_registry.holdings WHERE person_id = 1 AND since > DATE '2016-01-01'",
        )
        .await;
    let sql_line = plan
        .lines()
        .find(|line| line.contains("SqliteScanExec"))
        .expect("a SQLite scan");
    assert!(sql_line.contains("WHERE (`holdings`.`person_id` = 1)"), "{plan}");
    assert!(
        !sql_line.contains("since >"),
        "dates kept as text are compared in DataFusion: {plan}"
    );
    let rows = hub
        .rows("SELECT kind FROM land_registry.holdings WHERE person_id = 1 AND since > DATE '2016-01-01'")
        .await;
    assert_eq!(rows, vec![json!({"kind": "car"})]);
}

#[tokio::test]
async fn datasets_survive_a_restart_and_a_broken_source_is_reported() {
    let mut hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    write_sqlite(&hub.dir().join("holdings.db"));
    hub.publish_ok(&people_spec("people.csv")).await;
    hub.publish_ok(HOLDINGS_SPEC).await;

    // The land registry drops a column the contract promises while the hub is down.
    let connection = rusqlite::Connection::open(hub.dir().join("holdings.db")).expect("sqlite");
    connection
        .execute_batch("ALTER TABLE holdings DROP COLUMN since")
        .expect("drop column");
    drop(connection);
    hub.restart().await;

    assert_eq!(
        hub.rows("SELECT count(*) AS n FROM civil_affairs.people").await,
        vec![json!({"n": 3})]
    );
    let (status, health) = hub.get("/v1/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["datasets_unavailable"], 1);
    let (_, detail) = hub.get("/v1/datasets/land_registry/holdings").await;
    assert_eq!(detail["available"], false);
    let reason = detail["unavailable_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("'since'"), "{reason}");
    let (status, body) = hub.query("SELECT * FROM land_registry.holdings").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn deleted_datasets_leave_the_catalog() {
    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    let (_, catalog) = hub.get("/v1/catalog").await;
    assert_eq!(catalog["departments"][0]["name"], "civil_affairs");
    assert_eq!(
        catalog["departments"][0]["datasets"][0]["table"],
        "civil_affairs.people"
    );
    assert_eq!(
        catalog["departments"][0]["datasets"][0]["fields"][1],
        json!({"name": "name", "type": "Utf8", "nullable": true, "classification": "pii.name"})
    );

    assert_eq!(
        hub.publisher("civil_affairs")
            .await
            .delete("/v1/datasets/civil_affairs/people")
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        hub.publisher("civil_affairs")
            .await
            .delete("/v1/datasets/civil_affairs/people")
            .await,
        StatusCode::NOT_FOUND
    );
    let (_, catalog) = hub.get("/v1/catalog").await;
    assert_eq!(catalog["departments"], json!([]));
    let (status, body) = hub.query("SELECT * FROM civil_affairs.people").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "unknown_table");
}

/// RFC 4180 at any size: a file of over 10 MB whose quoted fields hold line breaks (LF and
/// CRLF), doubled quotes and delimiters, with a byte-order mark before its header and CRLF
/// line ends, reads every row, as the file has them.
#[tokio::test]
async fn csv_files_follow_rfc_4180_at_any_size() {
    let hub = Hub::start("").await;
    let mut csv = String::from("\u{feff}id,name,amount,born,note\r\n");
    let rows: i64 = 60_000;
    for id in 1..=rows {
        csv.push_str(&format!(
            "{id},\"Line one\nline \"\"two\"\", {id}\r\nthree\",{}.25,1990-01-02,\"{}\"\r\n",
            id % 1000,
            "x".repeat(120)
        ));
    }
    assert!(csv.len() > 10 * 1024 * 1024, "{} bytes", csv.len());
    std::fs::write(hub.dir().join("people.csv"), &csv).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    let rows_read = hub
        .rows("SELECT count(*) AS n, sum(id) AS ids FROM civil_affairs.people")
        .await;
    assert_eq!(rows_read[0]["n"], rows);
    assert_eq!(rows_read[0]["ids"], rows * (rows + 1) / 2);
    let last = hub
        .rows("SELECT id, name FROM civil_affairs.people WHERE id = 59999")
        .await;
    assert_eq!(
        last,
        vec![json!({"id": 59999, "name": "Line one\nline \"two\", 59999\r\nthree"})]
    );
}
