//! Row quotas of grants: per query and per day, across queries and restarts.

use std::fmt::Write;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Hub, eventually};

const SPEC: &str = r#"
contract:
  department: civil_affairs
  name: households
  title: Households
  owner: { name: Desk, email: desk@example.gov }
  fields:
    - { name: household_id, type: bigint, nullable: false, classification: public }
    - { name: town, type: string, classification: public }
source: { kind: csv, path: households.csv }
"#;

const PURPOSE: &str = "survey";

/// A hub whose `households` has `rows` rows, and an analyst whose grant allows
/// `per_query` rows a query and `per_day` a day.
/// Returns the hub, the analyst's client and its secret.
async fn setup(rows: usize, per_query: u64, per_day: u64) -> (Hub, reqwest::Client, String) {
    let hub = Hub::start("").await;
    let mut csv = String::from("household_id,town\n");
    for id in 0..rows {
        let _ = writeln!(csv, "{id},Guicheng");
    }
    std::fs::write(hub.dir().join("households.csv"), csv).expect("csv");
    hub.publish_ok(SPEC).await;
    let secret = hub
        .add_client("surveyor", "statistics", &["analyst"], json!({}))
        .await;
    hub.grant(json!({
        "subject": {"client": "surveyor"},
        "dataset": "civil_affairs.households",
        "purposes": [PURPOSE],
        "max_rows_per_query": per_query,
        "max_rows_per_day": per_day,
    }))
    .await;
    let analyst = hub.authorized(&hub.token("surveyor", &secret).await);
    (hub, analyst, secret)
}

/// A query for the purpose these tests' grants name.
async fn ask(hub: &Hub, client: &reqwest::Client, sql: &str) -> (StatusCode, Value) {
    hub.caller(client).query(sql, PURPOSE).await
}

#[tokio::test]
async fn queries_stay_within_the_grants_quotas_for_the_day() {
    let (mut hub, analyst, secret) = setup(10, 2, 5).await;
    let limit = |n: usize| {
        format!("SELECT household_id FROM civil_affairs.households ORDER BY household_id LIMIT {n}")
    };

    let (status, body) = ask(&hub, &analyst, &limit(2)).await;
    assert_eq!(status, StatusCode::OK, "2 of 5 rows: {body}");
    let (status, body) = ask(
        &hub,
        &analyst,
        "SELECT household_id FROM civil_affairs.households",
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "row_quota_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("2 rows of civil_affairs.households one query")),
        "{body}"
    );
    let (status, body) = ask(
        &hub,
        &analyst,
        "SELECT count(*) AS n FROM civil_affairs.households",
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an aggregate sends one row, 3 of 5: {body}"
    );
    let (status, body) = ask(&hub, &analyst, &limit(1)).await;
    assert_eq!(status, StatusCode::OK, "4 of 5: {body}");
    let (status, body) = ask(&hub, &analyst, &limit(2)).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "2 more would pass 5: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("daily quota of 5 rows")),
        "{body}"
    );

    // The day's count survives a crash: it is read back from the audit log.
    hub.restart().await;
    let analyst = hub.authorized(&hub.token("surveyor", &secret).await);
    let (status, body) = ask(&hub, &analyst, &limit(1)).await;
    assert_eq!(status, StatusCode::OK, "the fifth row: {body}");
    let (status, body) = ask(&hub, &analyst, &limit(1)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Asking again helps only once the quota renews at midnight UTC, and the answer says so.
    let refused = hub.caller(&analyst).query_response(&limit(1), PURPOSE).await;
    let wait: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or_default();
    let now = chrono::Utc::now();
    let until_midnight = 86_400 - u64::from(chrono::Timelike::num_seconds_from_midnight(&now));
    assert!(
        wait.abs_diff(until_midnight) <= 5,
        "Retry-After {wait}, midnight in {until_midnight} s"
    );
}

/// A result larger than the quota is cut off mid-stream after the rows the quota allows:
/// the transfer breaks, so no client mistakes it for a complete result.
#[tokio::test]
async fn a_streamed_result_breaks_at_the_quota() {
    let (hub, analyst, _) = setup(20_000, 10_000, 1_000_000).await;
    let response = analyst
        .post(format!("{}/v1/query", hub.url))
        .header("accept", "application/x-ndjson")
        .json(&json!({"sql": "SELECT household_id FROM civil_affairs.households", "purpose": PURPOSE}))
        .send()
        .await;
    // The hub may break the connection before the client has read the head.
    if let Ok(mut response) = response {
        assert_eq!(response.status(), StatusCode::OK);
        let mut lines = 0;
        let complete = loop {
            match response.chunk().await {
                Ok(Some(chunk)) => lines += chunk.iter().filter(|byte| **byte == b'\n').count(),
                Ok(None) => break true,
                Err(_) => break false,
            }
        };
        assert!(!complete, "the transfer must not end as if complete");
        assert!(lines <= 10_000, "{lines} rows");
    }
    let (status, body) = eventually(
        "the query's finished record",
        std::time::Duration::from_secs(10),
        async || {
            let (status, body) = hub
                .auditor()
                .await
                .get("/v1/audit/events?action=query.finished&principal=surveyor")
                .await;
            (status != StatusCode::OK || body["events"][0].is_object()).then_some((status, body))
        },
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let finished = &body["events"][0];
    assert_eq!(finished["rows"], 10_000, "{finished}");
    assert_eq!(finished["error_class"], "row_quota_exceeded", "{finished}");
}

/// Parcels, several to an owner: the rows are about the person of `owner_id_number`.
const PARCELS_SPEC: &str = r#"
contract:
  department: land_registry
  name: parcels
  title: Land parcels
  owner: { name: Desk, email: desk@example.gov }
  primary_key: [parcel_id]
  subject_key: [owner_id_number]
  fields:
    - { name: parcel_id, type: bigint, nullable: false, classification: public }
    - { name: owner_id_number, type: string, nullable: false, classification: pii.national_id }
    - { name: area, type: bigint, classification: public }
source: { kind: csv, path: parcels.csv }
"#;

/// A distinct-person quota counts people, not rows: a person read again does not count
/// again, a harvest is cut off at the quota's next person, and the day's people survive a
/// restart; the cut-off raises an alert.
#[tokio::test]
async fn a_distinct_person_quota_cuts_off_a_harvest_across_queries_and_restarts() {
    let mut hub = Hub::start("").await;
    let mut csv = String::from("parcel_id,owner_id_number,area\n");
    for parcel in 0..20 {
        // Owners P0 to P9, two parcels each, in owner order.
        let _ = writeln!(csv, "{parcel},P{},{}", parcel / 2, 100 + parcel);
    }
    std::fs::write(hub.dir().join("parcels.csv"), csv).expect("csv");
    hub.publish_ok(PARCELS_SPEC).await;
    let secret = hub
        .add_client("grid-worker", "civil_affairs", &["analyst"], json!({}))
        .await;
    let (status, refused) = hub
        .security()
        .await
        .post(
            "/v1/grants",
            json!({"subject": {"client": "grid-worker"}, "dataset": "land_registry.parcels",
                   "purposes": [PURPOSE], "kind": "verify", "columns": ["owner_id_number"],
                   "max_subjects_per_day": 4}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a verify grant counts records, not people read: {refused}"
    );
    // The grant's id would be generated: the error names the grant being made instead.
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("grant being made: ")),
        "{refused}"
    );
    hub.grant(json!({
        "subject": {"client": "grid-worker"},
        "dataset": "land_registry.parcels",
        "purposes": [PURPOSE],
        "unmasked": ["owner_id_number"],
        "max_subjects_per_day": 4,
    }))
    .await;
    let worker = hub.caller_of("grid-worker", &secret).await;
    let parcels = |owners: &str| {
        format!(
            "SELECT parcel_id FROM land_registry.parcels WHERE owner_id_number IN ({owners}) ORDER BY parcel_id"
        )
    };

    // One person, two rows, twice: one person counted.
    for _ in 0..2 {
        let (status, body) = worker.query(&parcels("'P0'"), PURPOSE).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["rows"].as_array().map(Vec::len), Some(2), "{body}");
    }
    let (status, body) = worker
        .query(
            "SELECT count(*) AS n, sum(area) AS area FROM land_registry.parcels WHERE owner_id_number = 'P0'",
            PURPOSE,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"][0]["n"], 2);
    // Two more people: three of four.
    let (status, body) = worker.query(&parcels("'P0', 'P1', 'P2'"), PURPOSE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"].as_array().map(Vec::len), Some(6), "{body}");

    // The day's people are the store's: after a restart the three are still read, and
    // counted, and P3 is the fourth.
    hub.restart().await;
    let worker = hub.caller_of("grid-worker", &secret).await;
    let (status, body) = worker.query(&parcels("'P0', 'P2', 'P3'"), PURPOSE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"].as_array().map(Vec::len), Some(6), "{body}");

    // The harvest: P4 would be the fifth.
    let (status, body) = worker
        .query("SELECT * FROM land_registry.parcels ORDER BY parcel_id", PURPOSE)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "subject_quota_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("4 people in land_registry.parcels"),
        "{body}"
    );
    // The cut-off raises the alert about its caller (written before the restart below).
    let alert = eventually(
        "the quota's alert",
        std::time::Duration::from_secs(10),
        async || {
            let (_, alerts) = hub.security().await.get("/v1/alerts").await;
            alerts.as_array().and_then(|alerts| {
                alerts
                    .iter()
                    .find(|alert| alert["rule"] == "subject-quota" && alert["principal"] == "grid-worker")
                    .cloned()
            })
        },
    )
    .await;
    assert_eq!(alert["detail"]["dataset"], "land_registry.parcels", "{alert}");

    // A quota that cut a query off closes the dataset for the day, known people too: else
    // every query would answer, by being cut off or not, whether someone unread meets its
    // conditions. On every hub, and after a restart.
    for owners in ["'P4'", "'P0'"] {
        let (status, body) = worker.query(&parcels(owners), PURPOSE).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{owners}: {body}");
    }
    hub.restart().await;
    let worker = hub.caller_of("grid-worker", &secret).await;
    let (status, body) = worker.query(&parcels("'P0'"), PURPOSE).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");

    // A condition that fails on a row tells something of it: every row it was evaluated
    // on counts as read.
    let prober_secret = hub
        .add_client("prober", "civil_affairs", &["analyst"], json!({}))
        .await;
    hub.grant(json!({
        "subject": {"client": "prober"},
        "dataset": "land_registry.parcels",
        "purposes": [PURPOSE],
        "unmasked": ["owner_id_number"],
        "max_subjects_per_day": 4,
    }))
    .await;
    let prober = hub.caller_of("prober", &prober_secret).await;
    let (status, body) = prober
        .query(
            "SELECT parcel_id FROM land_registry.parcels \
             WHERE 1 / (CASE WHEN owner_id_number = 'P7' THEN 0 ELSE 1 END) = 2",
            PURPOSE,
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "subject_quota_exceeded", "{body}");

    // The audit records name the control, and the cut-off's code: those of the queries it
    // let through or cut off, and those of the queries refused once it closed the dataset.
    let records = hub
        .audit_rows(
            "SELECT action, error_class, detail FROM audit.events \
             WHERE action IN ('query.finished', 'query.refused') AND principal = 'grid-worker' \
             ORDER BY seq",
        )
        .await;
    assert!(
        records
            .iter()
            .any(|record| record["action"] == "query.refused"
                && record["error_class"] == "subject_quota_exceeded"),
        "{records:?}"
    );
    assert!(
        records.iter().all(|record| record["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains(r#""max_subjects_per_day":{"land_registry.parcels":4}"#))),
        "{records:?}"
    );
    assert!(
        records
            .iter()
            .any(|record| record["error_class"] == "subject_quota_exceeded"),
        "{records:?}"
    );
}

/// A caller's people of a dataset are one count, whatever the purpose: reads under a grant
/// without a quota count too (up to the largest quota), each quota closes at its own limit
/// and says so, and a grant without a quota still reads. On a CSV file whose first batch
/// holds none of the rows asked for, the query that would pass the quota is refused (429),
/// not cut off mid-transfer.
#[tokio::test]
async fn people_count_per_caller_and_dataset_across_purposes() {
    let hub = Hub::start("").await;
    let mut csv = String::from("parcel_id,owner_id_number,area\n");
    // Owners P0 to P4999, two parcels each: P4999's are past the CSV reader's first batch.
    for parcel in 0..10_000 {
        let _ = writeln!(csv, "{parcel},P{},{}", parcel / 2, 100 + parcel);
    }
    std::fs::write(hub.dir().join("parcels.csv"), csv).expect("csv");
    hub.publish_ok(PARCELS_SPEC).await;
    let secret = hub
        .add_client("case-worker", "civil_affairs", &["analyst"], json!({}))
        .await;
    for (purpose, quota) in [
        ("grid-management", json!(3)),
        ("case-review", json!(5)),
        ("audit-sample", Value::Null),
    ] {
        hub.grant(json!({
            "subject": {"client": "case-worker"},
            "dataset": "land_registry.parcels",
            "purposes": [purpose],
            "unmasked": ["owner_id_number"],
            "max_subjects_per_day": quota,
        }))
        .await;
    }
    let worker = hub.caller_of("case-worker", &secret).await;
    let lookup = async |owners: &str, purpose: &str| {
        worker
            .query(
                &format!("SELECT parcel_id FROM land_registry.parcels WHERE owner_id_number IN ({owners})"),
                purpose,
            )
            .await
    };
    let refusal = |body: &Value| body["error"]["message"].as_str().unwrap_or_default().to_owned();

    // Two people read without a quota count: the quota of 3 has one left.
    let (status, body) = lookup("'P0', 'P1'", "audit-sample").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = lookup("'P2'", "grid-management").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = lookup("'P4999'", "grid-management").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "refused, not a broken transfer: {body}"
    );
    assert_eq!(body["error"]["code"], "subject_quota_exceeded", "{body}");
    assert!(refusal(&body).contains("3 people"), "{body}");
    let (status, body) = lookup("'P0'", "grid-management").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "closed for the day: {body}"
    );
    assert!(
        refusal(&body).contains("3 people"),
        "its own limit, not another grant's: {body}"
    );

    // The quota of 5 is not reached: P4999 is the fourth.
    let (status, body) = lookup("'P4999'", "case-review").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"].as_array().map(Vec::len), Some(2), "{body}");

    // Without a quota the caller still reads, and the fifth and later people count until
    // the largest quota is passed: then it is closed as well.
    let (status, body) = lookup("'P10', 'P11', 'P12'", "audit-sample").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"].as_array().map(Vec::len), Some(6), "{body}");
    let (status, body) = lookup("'P0'", "case-review").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(refusal(&body).contains("5 people"), "{body}");
}

/// Counting people sits in the scan, yet the query's own conditions still reach the
/// Parquet reader (a lookup by owner reads the pages whose statistics can hold them, not
/// the whole file), beside the row filter; and the meter still applies them to every row
/// itself, so a lookup counts the people it selects and no one else on those pages.
#[tokio::test]
async fn a_metered_lookup_still_prunes_the_parquet_scan() {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    let hub = Hub::start("").await;
    let schema = Arc::new(Schema::new(vec![
        Field::new("parcel_id", DataType::Int64, false),
        Field::new("owner_id_number", DataType::Utf8, false),
        Field::new("area", DataType::Int64, true),
    ]));
    let parcels: Vec<i64> = (0..40).collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(parcels.clone())),
            Arc::new(StringArray::from_iter_values(
                parcels.iter().map(|parcel| format!("P{:02}", parcel / 2)),
            )),
            Arc::new(Int64Array::from_iter_values(
                parcels.iter().map(|parcel| 100 + parcel),
            )),
        ],
    )
    .expect("batch");
    crate::support::write_parquet(&hub.dir().join("parcels.parquet"), &[batch]);
    hub.publish_ok(&PARCELS_SPEC.replace(
        "kind: csv, path: parcels.csv",
        "kind: parquet, path: parcels.parquet",
    ))
    .await;
    let secret = hub
        .add_client("grid-worker", "civil_affairs", &["analyst"], json!({}))
        .await;
    hub.grant(json!({
        "subject": {"client": "grid-worker"},
        "dataset": "land_registry.parcels",
        "purposes": [PURPOSE],
        "unmasked": ["owner_id_number"],
        "row_filter": "area >= 100",
        "max_subjects_per_day": 2,
    }))
    .await;
    let worker = hub.caller_of("grid-worker", &secret).await;
    let lookup = |owner: &str| {
        format!(
            "SELECT parcel_id FROM land_registry.parcels WHERE owner_id_number = '{owner}' ORDER BY parcel_id"
        )
    };

    let (status, body) = worker.query(&format!("EXPLAIN {}", lookup("P07")), PURPOSE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let plan = crate::support::physical_plan_of(&body);
    let scan = crate::support::source_scan(&plan);
    assert!(
        scan.contains("predicate=") && scan.contains("P07") && scan.contains("100"),
        "the lookup and the row filter reach the Parquet reader: {plan}"
    );
    assert!(plan.contains("SubjectMeterExec"), "{plan}");

    // Two people a day: each lookup counts its own owner only.
    for owner in ["P07", "P11", "P07"] {
        let (status, body) = worker.query(&lookup(owner), PURPOSE).await;
        assert_eq!(status, StatusCode::OK, "{owner}: {body}");
        assert_eq!(body["rows"].as_array().map(Vec::len), Some(2), "{owner}: {body}");
    }
    let (status, body) = worker.query(&lookup("P12"), PURPOSE).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the third person: {body}");
}
