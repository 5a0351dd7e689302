//! Alert rules: bulk reading of personal data within a window suspends the reader until a
//! security officer clears the alert; queries outside office hours are flagged; every alert
//! reaches the webhook and the audit log.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::{Hub, eventually, json_of};

const RESIDENTS_CSV: &str = "id_number,name,town\n\
440605199001011234,Chen Wei,Guicheng\n\
440605198502022345,Li Na,Dali\n\
440605197703033456,Wang Fang,Guicheng\n";

/// A web hook receiver: every request body it gets, as JSON.
async fn webhook() -> (String, mpsc::UnboundedReceiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/alerts", listener.local_addr().expect("address"));
    let (bodies, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Ok(read) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request);
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length = head
                        .lines()
                        .find_map(|line| {
                            let (name, value) = line.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        let _ = bodies.send(serde_json::from_str(body).unwrap_or(Value::Null));
                        let _ = stream
                            .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                            .await;
                        return;
                    }
                }
            });
        }
    });
    (url, received)
}

/// A query for the purpose these tests' grants name.
async fn ask(hub: &Hub, client: &reqwest::Client, sql: &str) -> (StatusCode, Value) {
    hub.caller(client).query(sql, "survey").await
}

#[tokio::test]
async fn bulk_personal_data_suspends_until_cleared_and_reaches_the_webhook() {
    let (url, mut posted) = webhook().await;
    let hub = Hub::start(&format!(
        r#"
[alerts]
webhook = "{url}"

[[alerts.rules]]
name = "bulk-personal-data"
suspend = true
when = {{ kind = "classified_rows", classification = "pii.*", threshold = 4, window = "1h" }}

[[alerts.rules]]
name = "never-office-hours"
when = {{ kind = "outside_hours", start = "00:00:00", end = "00:00:00" }}
"#
    ))
    .await;
    hub.publish_residents(RESIDENTS_CSV, "").await;
    let secret = hub
        .add_client("reader", "statistics", &["analyst"], json!({}))
        .await;
    hub.grant(json!({
        "subject": {"client": "reader"},
        "dataset": "civil_affairs.residents",
        "purposes": ["survey"],
    }))
    .await;
    let reader = hub.authorized(&hub.token("reader", &secret).await);
    let officer = hub.client_as("officer", "security", &["security_admin"]).await;

    // A long read of a public column is under way when the alert is raised: 3^13 rows.
    let tables: Vec<String> = (0..13)
        .map(|index| format!("civil_affairs.residents t{index}"))
        .collect();
    let streamed_rows = 3_usize.pow(13);
    let mut streaming = reader
        .post(format!("{}/v1/query", hub.url))
        .header("Accept", "text/csv")
        .json(&json!({"sql": format!("SELECT t0.town FROM {}", tables.join(", ")), "purpose": "survey"}))
        .send()
        .await
        .expect("query");
    assert_eq!(streaming.status(), StatusCode::OK);
    let first = streaming.chunk().await.expect("read").expect("a first chunk");
    let mut streamed = first.iter().filter(|byte| **byte == b'\n').count();

    // Public columns are not watched; personal ones are, masked or not.
    for _ in 0..3 {
        let (status, body) = ask(&hub, &reader, "SELECT town FROM civil_affairs.residents").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = ask(&hub, &reader, "SELECT name FROM civil_affairs.residents").await;
    assert_eq!(status, StatusCode::OK, "3 rows of 4 allowed: {body}");
    let (status, body) = ask(&hub, &reader, "SELECT name FROM civil_affairs.residents").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the query that passes the threshold still ran: {body}"
    );

    let alert = eventually("the reader suspended", Duration::from_secs(10), async || {
        let (status, body) = ask(&hub, &reader, "SELECT town FROM civil_affairs.residents").await;
        if status == StatusCode::FORBIDDEN {
            assert_eq!(body["error"]["code"], "suspended", "{body}");
            let (_, alerts) = json_of(
                officer
                    .get(format!("{}/v1/alerts?open=true", hub.url))
                    .send()
                    .await
                    .expect("alerts"),
            )
            .await;
            return Some(
                alerts
                    .as_array()
                    .and_then(|alerts| alerts.iter().find(|alert| alert["rule"] == "bulk-personal-data"))
                    .cloned()
                    .unwrap_or(Value::Null),
            );
        }
        None
    })
    .await;
    assert_eq!(alert["principal"], "reader", "{alert}");
    assert_eq!(alert["suspends"], true);
    assert_eq!(alert["detail"]["rows"], 6, "{alert}");
    // The suspension stopped the read under way: what the connection held arrives, then
    // the stream ends short, recorded as ended with the reader's access.
    let rest = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match streaming.chunk().await {
                Ok(Some(chunk)) => streamed += chunk.iter().filter(|byte| **byte == b'\n').count(),
                Ok(None) | Err(_) => return,
            }
        }
    })
    .await;
    assert!(rest.is_ok(), "the read still ran 30 s after the suspension");
    assert!(streamed < streamed_rows, "all {streamed} rows were sent");
    let ended = eventually(
        "the read recorded as ended",
        Duration::from_secs(10),
        async || {
            let (_, body) = json_of(
                officer
                    .get(format!(
                        "{}/v1/audit/events?action=query.finished&principal=reader&limit=100",
                        hub.url
                    ))
                    .send()
                    .await
                    .expect("audit"),
            )
            .await;
            body["events"].as_array().and_then(|events| {
                events
                    .iter()
                    .find(|event| event["error_class"] == "access_ended")
                    .cloned()
            })
        },
    )
    .await;
    assert!(
        ended["rows"]
            .as_u64()
            .is_some_and(|rows| rows < streamed_rows as u64),
        "{ended}"
    );

    let mut hooked = Vec::new();
    while hooked.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), posted.recv()).await {
            Ok(Some(body)) => hooked.push(body),
            _ => break,
        }
    }
    let rules: Vec<&Value> = hooked.iter().map(|body| &body["rule"]).collect();
    assert!(rules.contains(&&json!("bulk-personal-data")), "{hooked:?}");
    assert!(
        rules.contains(&&json!("never-office-hours")),
        "the hours rule fires once while its alert is open: {hooked:?}"
    );

    let analyst_clear = reader
        .post(format!(
            "{}/v1/alerts/{}/clear",
            hub.url,
            alert["id"].as_str().unwrap_or_default()
        ))
        .send()
        .await
        .expect("clear");
    assert_eq!(analyst_clear.status(), StatusCode::FORBIDDEN);
    let (status, cleared) = json_of(
        officer
            .post(format!(
                "{}/v1/alerts/{}/clear?reason=the%20monthly%20census%20export%2C%20agreed%20by%20phone",
                hub.url,
                alert["id"].as_str().unwrap_or_default()
            ))
            .send()
            .await
            .expect("clear"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["cleared_by"], "officer");
    assert_eq!(
        cleared["cleared_reason"],
        "the monthly census export, agreed by phone"
    );
    let (status, body) = ask(&hub, &reader, "SELECT town FROM civil_affairs.residents").await;
    assert_eq!(status, StatusCode::OK, "cleared, the reader reads again: {body}");

    let (_, events) = hub
        .auditor()
        .await
        .get("/v1/audit/events?action=alert.raised")
        .await;
    assert_eq!(events["events"].as_array().map(Vec::len), Some(2), "{events}");
    let (_, events) = hub
        .auditor()
        .await
        .get("/v1/audit/events?action=alert.cleared&outcome=ok")
        .await;
    assert_eq!(events["events"][0]["principal"], "officer", "{events}");
    assert!(
        events["events"][0]["detail"]
            .to_string()
            .contains("agreed by phone"),
        "the reason is in the record: {events}"
    );
    let (_, refused) = hub
        .auditor()
        .await
        .get("/v1/audit/events?action=query.refused&principal=reader")
        .await;
    assert_eq!(refused["events"][0]["error_class"], "suspended", "{refused}");
}

#[tokio::test]
async fn a_broken_rule_stops_the_hub_from_starting() {
    let dir = tempfile::Builder::new()
        .prefix("causeway-e2e")
        .tempdir()
        .expect("tempdir");
    let config = dir.path().join("causeway.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\ndata_dir = \"{}\"\n[[alerts.rules]]\nname = \"late\"\nwhen = {{ kind = \"outside_hours\", start = \"08:00:00\", end = \"18:00:00\", utc_offset = \"Beijing\" }}\n",
            dir.path().display()
        ),
    )
    .expect("config");
    let output = crate::support::causeway(&["serve", "--config", &config.to_string_lossy()]);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("alert rule late: 'Beijing' is no UTC offset"),
        "{error}"
    );
}

/// SIGHUP reads the configuration's alert rules again: a rule added to the file is in force
/// at the next query, without a restart; a broken file leaves the rules as they were.
#[tokio::test]
async fn alert_rules_are_read_again_on_sighup() {
    let mut hub = Hub::start("").await;
    hub.publish_residents(RESIDENTS_CSV, "").await;
    let config = hub.dir().join("causeway.toml");
    let sql = "SELECT town FROM civil_affairs.residents";
    let (status, body) = hub.query(sql).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let original = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{original}\n[[alerts.rules]]\nname = \"broken\"\nwhen = {{ kind = \"outside_hours\", start = \"00:00:00\", end = \"00:00:00\", utc_offset = \"noon\" }}\n"))
        .expect("config");
    hub.hangup();
    eventually(
        "the broken rules are refused",
        Duration::from_secs(5),
        async || hub.log().contains("alert rules not reloaded").then_some(()),
    )
    .await;
    let (status, body) = hub.query(sql).await;
    assert_eq!(status, StatusCode::OK, "the rules before stay in force: {body}");

    std::fs::write(
        &config,
        format!("{original}\n[[alerts.rules]]\nname = \"never-office-hours\"\nsuspend = true\nwhen = {{ kind = \"outside_hours\", start = \"00:00:00\", end = \"00:00:00\" }}\n"),
    )
    .expect("config");
    hub.hangup();
    eventually("the new rule is in force", Duration::from_secs(5), async || {
        hub.log().contains("alert rules read again").then_some(())
    })
    .await;
    let _ = hub.query(sql).await;
    let (status, body) = hub.query(sql).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "suspended", "{body}");
    hub.stop();
}
