//! Who may read the log, with SQL, over the API and as an export.

use super::*;

const PARCELS_SPEC: &str = r#"
contract:
  department: land_registry
  name: parcels
  title: Parcels
  owner: { name: Desk, email: land@example.gov }
  fields:
    - { name: parcel_id, type: string, classification: public }
    - { name: owner_id_number, type: string, classification: pii.national_id }
source: { kind: csv, path: parcels.csv }
"#;

/// Security officers read the whole log with SQL and over the API, their own reading
/// included; publishers only the records that touch their department's datasets; analysts
/// nothing. The export writes the same records to a Parquet file.
#[tokio::test]
async fn officers_read_everything_publishers_their_own_datasets_analysts_nothing() {
    let (hub, analyst, _) = setup().await;
    std::fs::write(
        hub.dir().join("parcels.csv"),
        "parcel_id,owner_id_number\nP-1,440605199001011234\n",
    )
    .expect("csv");
    hub.publish_ok(PARCELS_SPEC).await;
    assert_eq!(
        ask(&hub, &analyst, "SELECT name FROM civil_affairs.residents")
            .await
            .status(),
        StatusCode::OK
    );
    hub.rows("SELECT parcel_id FROM land_registry.parcels").await;
    let officer = hub.client_as("officer", "security", &["security_officer"]).await;
    let steward = hub
        .client_as("cad-steward", "civil_affairs", &["publisher"])
        .await;
    let sql_as = |client: &reqwest::Client, sql: &str| {
        client
            .post(format!("{}/v1/query", hub.url))
            .json(&json!({"sql": sql, "purpose": "supervision"}))
            .send()
    };
    // A query of the log may find its own `query.started` record (written while it runs):
    // the records of reading the log itself are left out here.
    let touched = "SELECT DISTINCT unnest(datasets) AS dataset FROM audit.events \
                   WHERE NOT array_has(datasets, 'audit.events') ORDER BY dataset";

    let (status, body) = json_of(sql_as(&officer, touched).await.expect("query")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rows"],
        json!([
            {"dataset": "civil_affairs.residents"},
            {"dataset": "land_registry.parcels"},
        ]),
        "the officer sees every record"
    );
    let (status, body) = json_of(
        sql_as(
            &officer,
            "SELECT principal, rows FROM audit.events WHERE action = 'query.finished' AND principal = 'grid-worker'",
        )
        .await
        .expect("query"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{"principal": "grid-worker", "rows": 2}]));

    let (status, body) = json_of(sql_as(&steward, touched).await.expect("query")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rows"],
        json!([{"dataset": "civil_affairs.residents"}]),
        "the steward sees only the records of civil affairs datasets"
    );
    let (status, body) = json_of(
        sql_as(
            &steward,
            "SELECT count(*) AS n FROM audit.events WHERE array_has(datasets, 'land_registry.parcels')",
        )
        .await
        .expect("query"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{"n": 0}]));

    let (status, body) = json_of(
        sql_as(&analyst, "SELECT count(*) FROM audit.events")
            .await
            .expect("query"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "access_denied");

    let api = |client: &reqwest::Client, query: &str| {
        client.get(format!("{}/v1/audit/events?{query}", hub.url)).send()
    };
    let (status, body) = json_of(
        api(&officer, "action=query.started&principal=grid-worker")
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["sql"], "SELECT name FROM civil_affairs.residents");
    let (status, body) = json_of(api(&steward, "dataset=land_registry.parcels").await.expect("get")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["events"], json!([]));
    let (status, _) = json_of(api(&analyst, "").await.expect("get")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Reading the log is itself recorded.
    let records = eventually(
        "the officer's and the steward's reads of the log",
        Duration::from_secs(10),
        async || {
            let records = records(&audit_dir(&hub));
            let officer = records.iter().any(|record| {
                record["principal"] == "officer"
                    && record["action"] == "query.started"
                    && record["datasets"] == json!(["audit.events"])
            });
            let steward = records
                .iter()
                .any(|record| record["action"] == "audit.read" && record["principal"] == "cad-steward");
            (officer && steward).then_some(records)
        },
    )
    .await;
    let officer_reads: Vec<&Value> = records
        .iter()
        .filter(|record| record["principal"] == "officer" && record["action"] == "query.started")
        .collect();
    assert!(
        officer_reads
            .iter()
            .any(|record| record["datasets"] == json!(["audit.events"])),
        "{officer_reads:?}"
    );
    assert!(
        records
            .iter()
            .any(|record| record["action"] == "audit.read" && record["principal"] == "cad-steward")
    );

    let until = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // Part of what is tested, not a wait: the export's own records fall after `until`.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = hub.dir().join("export.parquet");
    let output = causeway(&[
        "audit",
        "export",
        "--config",
        &hub.dir().join("causeway.toml").to_string_lossy(),
        "--until",
        &until,
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = records
        .iter()
        .filter(|record| record["time"].as_str().is_some_and(|time| time < until.as_str()))
        .count();
    let context = datafusion::prelude::SessionContext::new();
    let frame = context
        .read_parquet(out.to_string_lossy().as_ref(), Default::default())
        .await
        .expect("read the export");
    let exported = frame.count().await.expect("count");
    assert_eq!(exported, expected);
}
