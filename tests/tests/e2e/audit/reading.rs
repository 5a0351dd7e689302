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
    let officer = hub.client_as("officer", "security", &["security_admin"]).await;
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

/// The values typed into a query (an ID number in its SQL, another bound as a parameter, one
/// in a query that fails) reach the log only as keyed pseudonyms: no reader of the log, over
/// the API, with SQL or in its files, finds them; the hub's machine opens them with the
/// hub's key (`causeway audit reveal`), and that reading is recorded.
#[tokio::test]
async fn values_typed_into_queries_are_pseudonyms_in_the_log() {
    let (hub, analyst, _) = setup().await;
    let typed = "440605199001011234";
    let bound = "440605197703033456";
    let failing = "440605198502022345";
    let ask_with = |sql: String, parameters: Value| {
        analyst
            .post(format!("{}/v1/query", hub.url))
            .json(&json!({"sql": sql, "purpose": PURPOSE, "parameters": parameters}))
            .send()
    };
    let typed_sql = format!("SELECT name FROM civil_affairs.residents WHERE id_number = '{typed}'");
    let (status, body) = json_of(ask_with(typed_sql.clone(), json!([])).await.expect("query")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let bound_sql = "SELECT name FROM civil_affairs.residents WHERE id_number = $1".to_owned();
    let (status, body) = json_of(ask_with(bound_sql, json!([bound])).await.expect("query")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let broken = format!("SELECT name FROM civil_affairs.residents WHERE id_number = '{failing}' AND");
    let (status, body) = json_of(ask_with(broken, json!([])).await.expect("query")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let officer = hub.client_as("officer", "security", &["security_admin"]).await;
    let steward = hub
        .client_as("cad-steward", "civil_affairs", &["publisher"])
        .await;
    let records = eventually(
        "the three queries' records",
        Duration::from_secs(10),
        async || {
            let (_, body) = json_of(
                officer
                    .get(format!("{}/v1/audit/events?limit=1000", hub.url))
                    .send()
                    .await
                    .expect("events"),
            )
            .await;
            let text = body.to_string();
            (text.matches("query.refused").count() >= 1 && text.matches("query.finished").count() >= 2)
                .then_some(body)
        },
    )
    .await;
    let mut read = vec![records.to_string()];
    for client in [&officer, &steward] {
        let (_, events) = json_of(
            client
                .get(format!("{}/v1/audit/events?limit=1000", hub.url))
                .send()
                .await
                .expect("events"),
        )
        .await;
        read.push(events.to_string());
        let (_, rows) = json_of(
            client
                .post(format!("{}/v1/query", hub.url))
                .json(
                    &json!({"sql": "SELECT sql, detail, error FROM audit.events", "purpose": "supervision"}),
                )
                .send()
                .await
                .expect("query"),
        )
        .await;
        read.push(rows.to_string());
    }
    read.push(
        std::fs::read_dir(audit_dir(&hub))
            .expect("audit dir")
            .filter_map(|entry| std::fs::read_to_string(entry.expect("entry").path()).ok())
            .collect(),
    );
    for text in &read {
        for value in [typed, bound, failing] {
            assert!(!text.contains(value), "{value} in what a reader of the log reads");
        }
    }
    assert!(records.to_string().contains("#p:"), "{records}");

    // The hub's machine opens the typed values, and says so in the log.
    let started = records["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|record| {
            record["action"] == "query.started"
                && record["detail"].as_str().is_some_and(|d| d.contains("sealed"))
        })
        .cloned()
        .unwrap_or_default();
    let seq = started["seq"].as_u64().unwrap_or_default().to_string();
    let output = causeway(&[
        "audit",
        "reveal",
        "--config",
        &hub.dir().join("causeway.toml").to_string_lossy(),
        "--seq",
        &seq,
    ]);
    let revealed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{revealed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(revealed.contains(typed) || revealed.contains(bound), "{revealed}");
    let read_again = eventually(
        "the reveal's audit.read record",
        Duration::from_secs(10),
        async || {
            let (_, body) = hub
                .auditor()
                .await
                .get("/v1/audit/events?action=audit.read&limit=1000")
                .await;
            body["events"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|record| {
                    record["detail"]
                        .as_str()
                        .is_some_and(|detail| detail.contains("revealed"))
                })
                .cloned()
        },
    )
    .await;
    assert!(
        read_again["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains(&seq)),
        "{read_again}"
    );
}
