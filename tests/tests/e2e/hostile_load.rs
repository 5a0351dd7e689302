//! Eight clients of ordinary queries beside four hostile ones (deep expressions, CPU-bound
//! products, huge strings, idle and half-sent connections) for a minute: the hub stays up,
//! answers its health checks, and records every query. The ordinary queries' latencies are
//! printed here; `causeway bench` measures them on a release build for BENCHMARKS.md.
//! `CAUSEWAY_LOAD_SECONDS` shortens or lengthens the run.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Mutex;

use crate::support::{Hub, eventually, json_of};

const PEOPLE: &str = r#"
contract:
  department: statistics
  name: people
  title: People
  owner: { name: Desk, email: desk@example.gov }
  fields:
    - { name: id, type: bigint, nullable: false }
    - { name: name, type: string, nullable: false }
    - { name: town, type: string, nullable: false }
source: { kind: csv, path: people.csv }
"#;

/// Requests that got an answer, by principal.
#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    answered: AtomicU64,
}

async fn query(client: &reqwest::Client, url: &str, sql: &str) -> Option<(StatusCode, String)> {
    let response = client
        .post(format!("{url}/v1/query"))
        .json(&json!({"sql": sql, "purpose": "testing"}))
        .send()
        .await
        .ok()?;
    let (status, body) = json_of(response).await;
    Some((
        status,
        body["error"]["code"].as_str().unwrap_or_default().to_owned(),
    ))
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::test]
async fn under_hostile_load_the_hub_stays_up_and_records_every_query() {
    let seconds: u64 = std::env::var("CAUSEWAY_LOAD_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(60);
    let hub = Hub::start_with(|dir| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nclient_timeout = \"2s\"\nidle_timeout = \"2s\"\n\
             [storage]\ndata_dir = \"{}\"\n[limits]\nquery_timeout = \"2s\"\nquery_memory_mb = 256\n",
            dir.display()
        )
    })
    .await;
    let mut text = String::from("id,name,town\n");
    for id in 0..5_000 {
        text.push_str(&format!("{id},Person {id:05},Town {}\n", id % 7));
    }
    std::fs::write(hub.dir().join("people.csv"), text).expect("people");
    hub.publish_ok(PEOPLE).await;
    let mut clients = Vec::new();
    for id in ["load-normal", "load-hostile"] {
        let secret = hub.add_client(id, "statistics", &["analyst"], json!({})).await;
        hub.grant_everything("statistics.people", json!({"client": id}))
            .await;
        clients.push(hub.authorized(&hub.token(id, &secret).await));
    }
    let (normal, hostile) = (clients[0].clone(), clients[1].clone());
    let url = hub.url.clone();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let normal_tally = Arc::new(Tally::default());
    let hostile_tally = Arc::new(Tally::default());
    let mut tasks = Vec::new();

    for worker in 0..8u64 {
        let (client, url, latencies, failures, tally) = (
            normal.clone(),
            url.clone(),
            Arc::clone(&latencies),
            Arc::clone(&failures),
            Arc::clone(&normal_tally),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = worker;
            while Instant::now() < deadline {
                n += 8;
                let sql = match n % 3 {
                    0 => format!("SELECT name FROM statistics.people WHERE id = {}", n % 5_000),
                    1 => "SELECT town, count(*) AS n FROM statistics.people GROUP BY town".to_owned(),
                    _ => format!(
                        "SELECT count(*) AS n FROM statistics.people WHERE name LIKE 'Person {:02}%'",
                        n % 50
                    ),
                };
                let started = Instant::now();
                tally.sent.fetch_add(1, Ordering::Relaxed);
                let answer = query(&client, &url, &sql).await;
                let took = started.elapsed();
                if answer.is_some() {
                    tally.answered.fetch_add(1, Ordering::Relaxed);
                }
                match answer {
                    Some((StatusCode::OK, _)) => latencies.lock().await.push(took),
                    other => failures.lock().await.push(format!("{sql}: {other:?}")),
                }
            }
        }));
    }
    let hostile_queries = [
        format!("SELECT {} AS n", vec!["1"; 5_000].join("+")),
        "SELECT sum(length(a.name) + length(b.name) + length(c.name)) FROM statistics.people a, \
         statistics.people b, statistics.people c"
            .to_owned(),
        "SELECT repeat('x', 1000000000) AS v".to_owned(),
    ];
    for sql in hostile_queries {
        let (client, url, tally) = (hostile.clone(), url.clone(), Arc::clone(&hostile_tally));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                tally.sent.fetch_add(1, Ordering::Relaxed);
                if let Some((status, _)) = query(&client, &url, &sql).await {
                    tally.answered.fetch_add(1, Ordering::Relaxed);
                    assert!(status.is_client_error(), "a hostile query got {status}");
                }
            }
        }));
    }
    // Idle and half-sent connections, fifty at a time.
    let address = url.trim_start_matches("http://").to_owned();
    tasks.push(tokio::spawn(async move {
        while Instant::now() < deadline {
            let mut held = Vec::new();
            for n in 0..50 {
                if let Ok(mut stream) = std::net::TcpStream::connect(&address) {
                    if n % 2 == 0 {
                        let _ = stream.write_all(b"POST /v1/query HTTP/1.1\r\nHost: hub\r\nContent-Le");
                    }
                    held.push(stream);
                }
            }
            // Part of what is tested: the connections are held idle for three seconds.
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(held);
        }
    }));
    // Health, four times a second, throughout.
    let health = {
        let (client, url, stop) = (hub.anonymous(), url.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut down = 0;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let ok = client
                    .get(format!("{url}/v1/health"))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                    .is_ok_and(|response| response.status() == StatusCode::OK);
                slowest = slowest.max(started.elapsed());
                if !ok {
                    down += 1;
                }
                // Part of what is tested: health is asked four times a second.
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (slowest, down)
        })
    };
    for task in tasks {
        task.await.expect("a client task");
    }
    stop.store(true, Ordering::Relaxed);
    let (slowest_health, health_failures) = health.await.expect("health");

    let failures = failures.lock().await.clone();
    assert!(
        failures.is_empty(),
        "ordinary queries failed: {:?}",
        &failures[..failures.len().min(5)]
    );
    assert_eq!(health_failures, 0, "health failed {health_failures} times");
    let mut latencies = latencies.lock().await.clone();
    latencies.sort();
    eprintln!(
        "hostile load, {seconds} s: {} ordinary queries, p50 {:?}, p99 {:?}; {} hostile answers; slowest health {:?}",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        hostile_tally.answered.load(Ordering::Relaxed),
        slowest_health
    );

    // Every query that was answered is in the log, ended: `query.finished` or
    // `query.refused`, once each (and none that was never sent).
    for (principal, tally) in [("load-normal", &normal_tally), ("load-hostile", &hostile_tally)] {
        let (answered, sent) = (
            tally.answered.load(Ordering::Relaxed),
            tally.sent.load(Ordering::Relaxed),
        );
        let ended = eventually(
            &format!("{principal}: every answered query recorded as ended"),
            Duration::from_secs(20),
            async || {
                let rows = hub
                    .audit_rows(&format!(
                        "SELECT count(*) AS n FROM audit.events WHERE principal = '{principal}' \
                     AND action IN ('query.finished', 'query.refused')"
                    ))
                    .await;
                let ended = rows[0]["n"].as_u64().unwrap_or(0);
                (ended >= answered).then_some(ended)
            },
        )
        .await;
        assert!(
            answered <= ended && ended <= sent,
            "{principal}: {sent} sent, {answered} answered, {ended} recorded as ended"
        );
    }
}
