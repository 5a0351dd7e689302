//! Connections that send nothing, or stop sending, are closed in time, and no number of
//! them crowds out the callers that ask.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::resilience::alive;
use crate::support::Hub;

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
