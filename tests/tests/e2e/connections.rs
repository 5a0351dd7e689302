//! Connections that send nothing, or stop sending or reading, are closed or stopped in time,
//! and no number of them crowds out the callers that ask.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::resilience::alive;
use crate::support::{ADMIN, Hub};

fn silent_connection(hub: &Hub) -> TcpStream {
    let address = hub.url.trim_start_matches("http://");
    let stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

/// Whether the server closed `stream` (within its read timeout).
fn closed_by_server(mut stream: TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(error) => {
                return matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                );
            }
        }
    }
}

/// Connections that never ask, HTTP/1 keep-alive and HTTP/2 connections left idle are
/// closed; at the per-address cap the idlest gives way, so health is still served.
#[tokio::test]
async fn idle_connections_are_closed_and_cannot_crowd_out_callers() {
    let hub = Hub::start_with(|dir| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nclient_timeout = \"1s\"\nidle_timeout = \"1s\"\n\
             max_connections_per_address = 20\n[storage]\ndata_dir = \"{}\"\n",
            dir.display()
        )
    })
    .await;
    let started = Instant::now();
    assert!(
        closed_by_server(silent_connection(&hub)),
        "a silent connection is closed"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // HTTP/1.1 keep-alive: a request, then nothing.
    let mut stream = silent_connection(&hub);
    stream
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: hub\r\n\r\n")
        .expect("request");
    assert!(
        closed_by_server(stream),
        "an idle keep-alive connection is closed"
    );

    // HTTP/2 with prior knowledge: the preface and settings, then nothing.
    let mut stream = silent_connection(&hub);
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .expect("preface");
    assert!(closed_by_server(stream), "an idle HTTP/2 connection is closed");

    // Many silent connections from one address: the newest still get served.
    let crowd: Vec<TcpStream> = (0..100).map(|_| silent_connection(&hub)).collect();
    alive(&hub).await;
    drop(crowd);
}

/// Clients that ask for an endless result and then stop reading, keeping their connections
/// open, do not keep the hub's query slots: each such query is stopped after
/// `limits.client_read_timeout`, recorded as `client_stalled`, and other callers run.
#[tokio::test]
async fn clients_that_stop_reading_give_their_query_slots_back() {
    let hub = Hub::start(
        "[limits]\nmax_concurrent_queries = 2\nquery_timeout = \"10m\"\nclient_read_timeout = \"1s\"\n",
    )
    .await;
    let token = hub.token(ADMIN, &hub.admin_secret).await;
    let body = r#"{"sql": "SELECT x FROM generate_series(1, 100000000000) AS t(x)", "purpose": "testing"}"#;
    let request = format!(
        "POST /v1/query HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: text/csv\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Three times the hub's query slots, each asked for and never read past the headers.
    let stalled: Vec<TcpStream> = (0..6)
        .map(|_| {
            let mut stream = silent_connection(&hub);
            stream.write_all(request.as_bytes()).expect("request");
            stream
        })
        .collect();
    let caller = hub.caller(&hub.http);
    let (status, answer) = tokio::time::timeout(
        Duration::from_secs(30),
        caller.query("SELECT 1 AS one", "testing"),
    )
    .await
    .expect("answered long before the stalled queries' timeout");
    assert_eq!(status, StatusCode::OK, "{answer}");
    let auditor = hub.auditor().await;
    let finished = crate::support::eventually(
        "six stalled queries recorded",
        Duration::from_secs(30),
        async || {
            let (_, events) = auditor
                .get("/v1/audit/events?action=query.finished&limit=100")
                .await;
            let stalled = events["events"].as_array().map_or(0, |events| {
                events
                    .iter()
                    .filter(|event| event["error_class"] == "client_stalled")
                    .count()
            });
            (stalled == 6).then_some(stalled)
        },
    )
    .await;
    assert_eq!(finished, 6);
    drop(stalled);
    alive(&hub).await;
}
