//! What an operator runs the hub with: Prometheus metrics on their own address, liveness and
//! readiness, and a shutdown on SIGTERM that lets running queries finish and seals the audit
//! log.

use std::fmt::Write;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;

use crate::files::{PEOPLE_CSV, people_spec};
use crate::postgres_wire::wire_address;
use crate::support::{ADMIN, Hub};

/// The address of `/metrics` the hub logged.
fn metrics_url(hub: &Hub) -> String {
    format!(
        "http://{}/metrics",
        hub.logged_address("Prometheus metrics", "metrics")
    )
}

/// The value of the sample `series` (name and labels as written) in a scrape, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    response.text().await.expect("metrics text")
}

#[tokio::test]
async fn metrics_count_each_front_door_and_need_no_token_on_their_own_address() {
    let hub = Hub::start_with(|dir| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\npostgres_listen = \"127.0.0.1:0\"\n\
             flight_listen = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\n\
             [storage]\ndata_dir = \"{}\"\n",
            dir.display()
        )
    })
    .await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    let url = metrics_url(&hub);
    let before = scrape(&url).await;

    let (status, body) = hub.query("SELECT id, name FROM civil_affairs.people").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = hub.query("SELECT nothing FROM civil_affairs.people").await;
    assert!(status.is_client_error(), "{body}");
    let refused = hub
        .anonymous()
        .get(format!("{}/v1/catalog", hub.url))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let (host, port) = wire_address(&hub);
    let (client, connection) = tokio_postgres::Config::new()
        .host(&host)
        .port(port)
        .user(ADMIN)
        .password(&hub.admin_secret)
        .dbname("causeway")
        .options("-c causeway.purpose=testing")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("wire session");
    tokio::spawn(connection);
    client
        .simple_query("SELECT id FROM civil_affairs.people")
        .await
        .expect("a query over the wire protocol");

    let mut flight = crate::flight::signed_in(&hub, ADMIN, &hub.admin_secret, "testing").await;
    let info = flight
        .execute("SELECT id FROM civil_affairs.people".to_owned(), None)
        .await
        .expect("a query over Flight SQL");
    let batches = crate::flight::fetch(&mut flight, info).await;
    assert_eq!(batches.iter().map(|batch| batch.num_rows()).sum::<usize>(), 3);

    let after = scrape(&url).await;
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(
        moved("causeway_queries_total{front_door=\"http\",outcome=\"ok\"}"),
        1.0,
        "{after}"
    );
    assert_eq!(
        moved("causeway_queries_total{front_door=\"postgres_wire\",outcome=\"ok\"}"),
        1.0,
        "{after}"
    );
    assert_eq!(
        moved("causeway_queries_total{front_door=\"flight_sql\",outcome=\"ok\"}"),
        1.0,
        "{after}"
    );
    assert_eq!(
        moved("causeway_query_rows_returned_total{front_door=\"flight_sql\"}"),
        3.0,
        "{after}"
    );
    assert!(
        after.lines().any(
            |line| line.starts_with("causeway_queries_total{front_door=\"http\",outcome=")
                && !line.contains("outcome=\"ok\"")
        ),
        "the refused query is counted by its code: {after}"
    );
    assert_eq!(
        moved("causeway_query_rows_returned_total{front_door=\"http\"}"),
        3.0,
        "{after}"
    );
    assert!(
        moved("causeway_query_returned_bytes_total{front_door=\"http\"}") > 0.0,
        "{after}"
    );
    assert!(
        moved("causeway_query_duration_seconds_count{front_door=\"postgres_wire\"}") >= 1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, "causeway_active_queries{front_door=\"http\"}"),
        0.0,
        "{after}"
    );
    assert!(
        moved("causeway_rejected_tokens_total{reason=\"invalid_token\"}") >= 1.0,
        "{after}"
    );
    assert!(
        moved("causeway_http_requests_total{route=\"/v1/query\",method=\"POST\",status=\"200\"}") >= 1.0,
        "requests are labelled by their declared route: {after}"
    );
    assert!(
        sample(&after, "causeway_audit_sync_duration_seconds_count") > 0.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, "causeway_datasets{state=\"available\"}"),
        1.0,
        "{after}"
    );
    assert!(after.trim_end().ends_with("# EOF"), "{after}");
    // No request's values become labels: the path as sent is not one.
    assert!(
        !after.contains("not-a-token") && !after.contains("Ann"),
        "{after}"
    );

    // The API's /metrics still needs a token.
    let anonymous = hub
        .anonymous()
        .get(format!("{}/metrics", hub.url))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sigterm_lets_a_running_query_finish_then_seals_the_audit_log() {
    let hub = Hub::start("").await;
    let mut csv = String::from("id,name,amount,born,note\n");
    for id in 0..200_000 {
        let _ = writeln!(csv, "{id},Person {id},1.50,1990-01-02,");
    }
    std::fs::write(hub.dir().join("people.csv"), csv).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    let (status, ready) = hub.get("/v1/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");

    // A large result, read slowly: the query is still sending when the hub is told to stop.
    let response = hub
        .http
        .post(format!("{}/v1/query", hub.url))
        .header("accept", "application/x-ndjson")
        // Five copies of each row: more than the socket buffers hold, so the hub is still
        // sending while the client waits.
        .json(&serde_json::json!({
            "sql": "SELECT p.id, p.name FROM civil_affairs.people p \
                    CROSS JOIN (VALUES (1), (2), (3), (4), (5)) AS copies(n)",
            "purpose": "testing"
        }))
        .send()
        .await
        .expect("query");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.bytes_stream();
    let mut received = body.next().await.expect("a first chunk").expect("bytes").to_vec();
    // SIGTERM while the result is being read (the query has not finished: no
    // `query.finished` yet), and the rest read afterwards, slowly.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        audit_records(&hub.dir().join("audit"))
            .iter()
            .filter(|record| record["action"] == "query.finished")
            .count(),
        0,
        "the query is still running"
    );
    let address = hub.url.trim_start_matches("http://").to_owned();
    let reader = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The listener is closed at once: a new connection is refused, not left waiting.
        assert!(
            tokio::net::TcpStream::connect(&address).await.is_err(),
            "a new connection is refused once the hub stops"
        );
        // A reader slower than any per-connection grace: the rows keep coming for the whole
        // drain time (30 s).
        tokio::time::sleep(Duration::from_secs(11)).await;
        while let Some(chunk) = body.next().await {
            received.extend_from_slice(&chunk.expect("the rest of the result"));
        }
        received
    });
    let mut hub = hub;
    let exited = tokio::task::spawn_blocking(move || {
        let status = hub.terminate();
        (hub, status)
    });
    let received = reader.await.expect("reader");
    let lines = String::from_utf8(received).expect("utf-8");
    assert_eq!(
        lines.lines().count(),
        1_000_000,
        "every row arrives after SIGTERM"
    );
    let (hub, status) = exited.await.expect("terminate");
    assert!(status.success(), "{}", hub.log());
    let records = audit_records(&hub.dir().join("audit"));
    let finished = records
        .iter()
        .rposition(|record| record["action"] == "query.finished")
        .expect("query.finished recorded");
    assert_eq!(records[finished]["outcome"], "ok", "{}", records[finished]);
    assert_eq!(records[finished]["rows"], 1_000_000, "{}", records[finished]);
    assert_eq!(
        records.last().map(|record| record["action"].clone()),
        Some(serde_json::json!("audit.checkpoint")),
        "the log ends with a signed checkpoint"
    );
}

/// Every record of the audit log in `dir`, in order.
fn audit_records(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut segments: Vec<_> = std::fs::read_dir(dir)
        .expect("audit dir")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    segments.sort();
    segments
        .iter()
        .flat_map(|segment| {
            std::fs::read_to_string(segment)
                .expect("segment")
                .lines()
                .filter(|line| !line.is_empty())
                .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a record"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `causeway serve` with `config`, which must stop at once: its exit status and stderr.
fn refused_start(config: &str, dir: &std::path::Path) -> String {
    let path = dir.join("causeway.toml");
    std::fs::write(&path, config).expect("config");
    let mut child = std::process::Command::new(crate::support::causeway_binary())
        .args(["serve", "--config"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start causeway");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the hub started with {config}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("stderr");
    assert!(!status.success(), "{stderr}");
    stderr
}

#[test]
fn startup_refuses_an_unusable_audit_directory_key_or_tls_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndata_dir = \"{}\"\n",
        dir.path().display()
    );
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "x").expect("file");

    let audit = format!("{base}audit_dir = \"{}\"\n", file.display());
    let stderr = refused_start(&audit, dir.path());
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");

    let key = format!("{base}pseudonym_key = \"{}\"\n", dir.path().display());
    let stderr = refused_start(&key, dir.path());
    assert!(stderr.contains("pseudonym key"), "{stderr}");

    let short = dir.path().join("short.key");
    std::fs::write(&short, "too short").expect("key");
    let key = format!("{base}pseudonym_key = \"{}\"\n", short.display());
    let stderr = refused_start(&key, dir.path());
    assert!(stderr.contains("shorter than 32 bytes"), "{stderr}");

    let tls = format!(
        "{base}[server.tls]\ncert = \"{0}/missing.pem\"\nkey = \"{0}/missing-key.pem\"\n",
        dir.path().display()
    );
    let stderr = refused_start(&tls, dir.path());
    assert!(stderr.contains("missing.pem"), "{stderr}");
}

#[tokio::test]
async fn json_logs_name_each_request_and_its_principal_and_never_a_secret_or_a_value() {
    let hub = Hub::start("[log]\nformat = \"json\"\n").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    let (status, body) = hub
        .query("SELECT id, name FROM civil_affairs.people WHERE name = 'Ann'")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let log = crate::support::eventually("the query's log line", Duration::from_secs(5), async || {
        let log = hub.log();
        log.contains("query started").then_some(log)
    })
    .await;
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let started = lines
        .iter()
        .find(|line| line["fields"]["message"] == "query started")
        .expect("a query started line");
    let request = started["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|span| span["name"] == "request"))
        .unwrap_or_else(|| panic!("the line is in its request's span: {started}"));
    assert_eq!(request["route"], "/v1/query", "{started}");
    assert_eq!(request["principal"], ADMIN, "{started}");
    assert!(
        request["request_id"].as_str().is_some_and(|id| id.len() == 32),
        "{started}"
    );
    assert_eq!(started["fields"]["principal"], ADMIN, "{started}");
    assert!(started["fields"]["query_id"].is_string(), "{started}");
    for secret in [hub.admin_secret.as_str(), "'Ann'", "Bob"] {
        assert!(!log.contains(secret), "the log holds {secret}:\n{log}");
    }
}

/// A replica pointed at another replica's audit directory (stopped, so not locked) refuses to
/// go on with that node's chain.
#[tokio::test]
async fn a_hub_refuses_the_audit_chain_of_another_node() {
    let mut hub = Hub::start("[audit]\nnode = \"hub-a\"\n").await;
    assert!(hub.terminate().success(), "{}", hub.log());
    let config = std::fs::read_to_string(hub.dir().join("causeway.toml")).expect("config");
    let other = config.replace("node = \"hub-a\"", "node = \"hub-b\"");
    let stderr = refused_start(&other, hub.dir());
    assert!(
        stderr.contains("is the chain of node hub-a, and this hub is node hub-b"),
        "{stderr}"
    );
}
