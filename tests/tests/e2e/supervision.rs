//! Supervision: the audit log as it is written (`GET /v1/audit/stream`, server-sent events)
//! and activity per department per day (`GET /v1/audit/activity`), each given to a reader as
//! `GET /v1/audit/events` would be, and a stream that ends when its reader's token no longer
//! admits them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Caller, Hub};

const RESIDENTS_CSV: &str = "id_number,name,town\n\
440605199001011234,Chen Wei,Guicheng\n\
440605198502022345,Li Na,Dali\n";

/// An open `text/event-stream` answer, read event by event.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(caller: &Caller, query: &str) -> Result<Self, (StatusCode, Value)> {
        let response = caller
            .http
            .get(format!("{}/v1/audit/stream{query}", caller.url))
            .send()
            .await
            .expect("open the stream");
        if response.status() != StatusCode::OK {
            let status = response.status();
            return Err((status, response.json().await.unwrap_or(Value::Null)));
        }
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Ok(Self {
            response,
            buffer: String::new(),
        })
    }

    /// The next event's name and data (comments skipped); `None` when the stream ended.
    async fn next(&mut self, within: Duration) -> Option<(String, Value)> {
        tokio::time::timeout(within, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let mut name = "message".to_owned();
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(value) = line.strip_prefix("event:") {
                            name = value.trim().to_owned();
                        } else if let Some(value) = line.strip_prefix("data:") {
                            data.push_str(value.trim_start());
                        }
                    }
                    if data.is_empty() {
                        continue;
                    }
                    return Some((name, serde_json::from_str(&data).expect("JSON data")));
                }
                let chunk = self.response.chunk().await.expect("read the stream")?;
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an event in time")
    }

    /// The next `record` event that passes `wanted`.
    async fn record(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let (name, data) = self
                .next(Duration::from_secs(10))
                .await
                .expect("the stream is open");
            if name == "record" && wanted(&data) {
                return data;
            }
        }
    }
}

async fn hub_with_readers() -> (Hub, Caller) {
    let hub = Hub::start("").await;
    hub.publish_residents(RESIDENTS_CSV, "").await;
    crate::files::publish_holdings_csv(&hub).await;
    for dataset in ["civil_affairs.residents", "land_registry.holdings"] {
        hub.grant(
            json!({"subject": {"client": "town-analyst"}, "dataset": dataset, "columns": ["*"],
                         "purposes": ["housing-review", "elderly-care"]}),
        )
        .await;
    }
    let analyst = hub.caller_as("town-analyst", "town_office", &["analyst"]).await;
    (hub, analyst)
}

#[tokio::test]
async fn security_officers_watch_queries_as_they_happen_filtered_and_publishers_only_their_own() {
    let (hub, analyst) = hub_with_readers().await;
    let officer = hub.security().await;
    let mut everything = EventStream::open(&officer, "")
        .await
        .expect("the officer's stream");
    let mut elderly_care = EventStream::open(&officer, "?purpose=elderly-care&action=query.finished")
        .await
        .expect("a filtered stream");
    let mut land = EventStream::open(&hub.publisher("land_registry").await, "")
        .await
        .expect("the land publisher's stream");
    // An auditor's reading about the publisher's dataset is not shown to the publisher.
    let (status, read) = hub
        .auditor()
        .await
        .get("/v1/audit/events?dataset=land_registry.holdings&limit=1")
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");

    let (status, rows) = analyst
        .query("SELECT name FROM civil_affairs.residents", "housing-review")
        .await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    let (status, rows) = analyst
        .query("SELECT kind FROM land_registry.holdings", "elderly-care")
        .await;
    assert_eq!(status, StatusCode::OK, "{rows}");

    // The officer sees both queries, in order, as they are written, each with its node.
    let first = everything
        .record(|record| record["action"] == "query.finished")
        .await;
    assert_eq!(first["principal"], "town-analyst", "{first}");
    assert_eq!(first["purpose"], "housing-review", "{first}");
    assert_eq!(first["rows"], 2, "{first}");
    assert!(first["node"].is_string(), "{first}");
    let second = everything
        .record(|record| record["action"] == "query.finished")
        .await;
    assert_eq!(second["datasets"], json!(["land_registry.holdings"]), "{second}");

    // The filtered stream skips the first purpose; its first record is the second query.
    let filtered = elderly_care.record(|_| true).await;
    assert_eq!(filtered["purpose"], "elderly-care", "{filtered}");
    assert_eq!(filtered["action"], "query.finished", "{filtered}");

    // The land registry's publisher sees the query of its holdings and never the residents'.
    let seen = land.record(|_| true).await;
    assert_eq!(seen["datasets"], json!(["land_registry.holdings"]), "{seen}");
    assert_eq!(seen["action"], "query.started", "{seen}");

    // No stream for an analyst or a system administrator, and their attempts are on record.
    for (who, caller) in [
        ("an analyst", &analyst),
        ("a system administrator", &hub.system().await),
    ] {
        let refused = EventStream::open(caller, "").await.err();
        assert_eq!(
            refused.as_ref().map(|(status, _)| *status),
            Some(StatusCode::FORBIDDEN),
            "{who}: {refused:?}"
        );
    }
    let refusals = hub
        .audit_rows("SELECT principal FROM audit.events WHERE action = 'audit.read' AND outcome = 'denied'")
        .await;
    assert!(
        refusals.iter().any(|row| row["principal"] == "town-analyst"),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn streams_are_capped_per_reader_and_filters_are_short() {
    let hub = Hub::start("").await;
    let officer = hub.security().await;
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(EventStream::open(&officer, "").await.expect("a stream"));
    }
    let refused = EventStream::open(&officer, "").await.err();
    assert_eq!(
        refused
            .as_ref()
            .map(|(status, body)| (*status, body["error"]["code"].clone())),
        Some((StatusCode::TOO_MANY_REQUESTS, json!("too_many_streams"))),
        "{refused:?}"
    );
    // A stream closed gives its place back.
    drop(open.pop());
    let reopened = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(stream) = EventStream::open(&officer, "").await {
                return stream;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("a place again");
    drop(reopened);
    // Another reader has places of their own.
    let auditor = hub.auditor().await;
    let _theirs = EventStream::open(&auditor, "")
        .await
        .expect("the auditor's stream");

    for query in [
        format!("?purpose={}", "p".repeat(300)),
        "?since=2026-01-01T00:00:00Z".to_owned(),
    ] {
        let refused = EventStream::open(&auditor, &query).await.err();
        assert_eq!(
            refused.as_ref().map(|(status, _)| *status),
            Some(StatusCode::BAD_REQUEST),
            "{query}: {refused:?}"
        );
    }
    let (status, body) = auditor
        .get(&format!("/v1/audit/events?purpose={}", "p".repeat(300)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_stream_ends_when_its_readers_account_is_disabled() {
    let hub = Hub::start("").await;
    hub.publish_residents(RESIDENTS_CSV, "").await;
    let secret = hub
        .add_client("watching-publisher", "civil_affairs", &["publisher"], json!({}))
        .await;
    let publisher = hub.caller_of("watching-publisher", &secret).await;
    let mut stream = EventStream::open(&publisher, "")
        .await
        .expect("the publisher's stream");
    let (status, body) = hub
        .system()
        .await
        .post("/v1/clients/watching-publisher/disable", json!({}))
        .await;
    assert!(status.is_success(), "{body}");
    // Within one re-check of its token, the stream says why it ends, and ends.
    let ending = loop {
        match stream.next(Duration::from_secs(20)).await {
            Some((name, data)) if name == "end" => break data,
            Some(_) => {}
            None => panic!("the stream ended without saying why"),
        }
    };
    assert!(
        ending["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("disabled")),
        "{ending}"
    );
    assert_eq!(
        stream.next(Duration::from_secs(5)).await,
        None,
        "then it is closed"
    );
}

#[tokio::test]
async fn activity_counts_queries_refusals_and_rows_per_department_and_day() {
    let (hub, analyst) = hub_with_readers().await;
    for _ in 0..3 {
        let (status, rows) = analyst
            .query("SELECT name FROM civil_affairs.residents", "housing-review")
            .await;
        assert_eq!(status, StatusCode::OK, "{rows}");
    }
    let (status, refused) = analyst
        .query(
            "SELECT name FROM civil_affairs.residents",
            "not-a-granted-purpose",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    // A query that is not SQL failed; nothing refused it.
    let (status, failed) = analyst
        .query("SELEC name FROM civil_affairs.residents", "housing-review")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{failed}");
    let (status, verified) = hub.auditor().await.get("/v1/audit/verify").await;
    assert_eq!(status, StatusCode::OK, "{verified}");

    let (status, activity) = hub
        .security()
        .await
        .get("/v1/audit/activity?days=7&utc_offset_minutes=480")
        .await;
    assert_eq!(status, StatusCode::OK, "{activity}");
    let today = (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string();
    let town_office = activity["days"]
        .as_array()
        .expect("days")
        .iter()
        .find(|day| day["department"] == "town_office")
        .unwrap_or_else(|| panic!("the analyst's department: {activity}"));
    assert_eq!(
        town_office,
        &json!({"day": today, "department": "town_office", "queries": 3, "refused": 1, "failed": 1, "rows": 6}),
        "{activity}"
    );
    let verification = &activity["last_verification"];
    assert_eq!(verification["valid"], true, "{activity}");
    assert_eq!(verification["principal"], crate::support::AUDITOR, "{activity}");

    // Publishers count the queries of their datasets only; no verification is theirs.
    let (status, land) = hub
        .publisher("land_registry")
        .await
        .get("/v1/audit/activity")
        .await;
    assert_eq!(status, StatusCode::OK, "{land}");
    assert_eq!(land["days"], json!([]), "{land}");
    assert_eq!(land["last_verification"], Value::Null, "{land}");

    for (path, expected) in [
        ("/v1/audit/activity?days=0", StatusCode::BAD_REQUEST),
        ("/v1/audit/activity?days=93", StatusCode::BAD_REQUEST),
        (
            "/v1/audit/activity?utc_offset_minutes=1440",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, body) = hub.security().await.get(path).await;
        assert_eq!(status, expected, "{path}: {body}");
    }
    let (status, body) = analyst.get("/v1/audit/activity").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}
