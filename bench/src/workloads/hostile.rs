//! Point lookups beside hostile clients, and the same lookups alone.

use super::*;

/// Point lookups beside hostile clients, and the same lookups alone.
pub struct HostileResults {
    /// The analyst's lookups at `COMPARED_CONCURRENCY` while nobody else asks.
    pub calm: Measured<Latencies>,
    /// The same lookups while four hostile clients send deep expressions, CPU-bound
    /// products, huge strings and idle, half-sent connections.
    pub beside_hostile: Measured<Latencies>,
    /// The slowest health answer during the hostile window.
    pub slowest_health: Option<Duration>,
    /// Answers the hostile clients got (refusals and errors).
    pub hostile_answers: usize,
}

/// The hostile clients' queries: refused for depth, running until cut off, refused for size.
fn hostile_queries(residents: &str) -> [String; 3] {
    [
        format!("SELECT {} AS n", vec!["1"; 5_000].join("+")),
        format!(
            "SELECT sum(length(a.name) + length(b.name)) AS n FROM {residents} a, {residents} b, {residents} c"
        ),
        "SELECT repeat('x', 1000000000) AS v".to_owned(),
    ]
}

pub async fn hostile(settings: &Settings, hub: &HubUnderTest<'_>, ids: &Arc<Vec<String>>) -> HostileResults {
    let endpoint = &hub.process.endpoint;
    let calm = hub_lookups(
        settings,
        endpoint,
        &hub.analyst,
        RESIDENTS,
        COMPARED_CONCURRENCY,
        ids,
    )
    .await;
    let deadline = Instant::now() + settings.lookup_window + Duration::from_secs(1);
    let answers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut hostile = Vec::new();
    for sql in hostile_queries(RESIDENTS) {
        let (endpoint, token, answers) = (endpoint.clone(), hub.admin.clone(), Arc::clone(&answers));
        hostile.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                // A query still running at the end is dropped, as a client going away.
                let query = endpoint.query(&token, &sql, PURPOSE);
                if tokio::time::timeout_at(deadline.into(), query).await.is_ok() {
                    answers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    let address = endpoint.address();
    hostile.push(tokio::spawn(async move {
        while Instant::now() < deadline {
            let mut held = Vec::new();
            for n in 0..50 {
                if let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await {
                    if n % 2 == 0 {
                        use tokio::io::AsyncWriteExt;
                        let _ = stream
                            .write_all(b"POST /v1/query HTTP/1.1\r\nHost: hub\r\nContent-Le")
                            .await;
                    }
                    held.push(stream);
                }
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
    }));
    let health = {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let mut slowest = None::<Duration>;
            while Instant::now() < deadline {
                let started = Instant::now();
                if endpoint.health().await.is_ok() {
                    slowest = Some(slowest.unwrap_or_default().max(started.elapsed()));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            slowest
        })
    };
    // The hostile clients get a second's start.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let beside_hostile = hub_lookups(
        settings,
        endpoint,
        &hub.analyst,
        RESIDENTS,
        COMPARED_CONCURRENCY,
        ids,
    )
    .await;
    for task in hostile {
        let _ = task.await;
    }
    HostileResults {
        calm,
        beside_hostile,
        slowest_health: health.await.ok().flatten(),
        hostile_answers: answers.load(std::sync::atomic::Ordering::Relaxed),
    }
}
