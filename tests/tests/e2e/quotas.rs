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
