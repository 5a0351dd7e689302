//! Medians, spreads and percentiles of measured times.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A measurement, or why it could not be made ("unavailable: ...").
pub type Measured<T> = Result<T, String>;

/// The median and the range of repeated runs.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl Spread {
    pub fn of(times: &[Duration]) -> Option<Self> {
        let mut sorted = times.to_vec();
        sorted.sort();
        let middle = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) {
            (*sorted.get(middle.checked_sub(1)?)? + *sorted.get(middle)?) / 2
        } else {
            *sorted.get(middle)?
        };
        Some(Self {
            median,
            min: *sorted.first()?,
            max: *sorted.last()?,
        })
    }
}

/// Throughput and latencies of queries run for a while.
#[derive(Debug, Clone, Copy)]
pub struct Latencies {
    pub concurrency: usize,
    pub queries: usize,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl Latencies {
    pub fn of(concurrency: usize, mut latencies: Vec<Duration>, elapsed: Duration) -> Option<Self> {
        latencies.sort();
        Some(Self {
            concurrency,
            queries: latencies.len(),
            per_second: latencies.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
            p50: percentile(&latencies, 50.0)?,
            p99: percentile(&latencies, 99.0)?,
        })
    }
}

/// The nearest-rank percentile of sorted times.
fn percentile(sorted: &[Duration], percent: f64) -> Option<Duration> {
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

/// `warmup` unmeasured runs of `once`, then `runs` measured ones.
pub async fn repeat<F, Fut>(warmup: usize, runs: usize, mut once: F) -> Measured<Spread>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    for _ in 0..warmup {
        once().await?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        once().await?;
        times.push(started.elapsed());
    }
    Spread::of(&times).ok_or_else(|| "no measured runs".to_owned())
}

/// `concurrency` clients each sending one query after another for `window`, taking the
/// keys in turn from `keys`, after `warmup` queries one at a time.
pub async fn lookups<F, Fut>(
    concurrency: usize,
    window: Duration,
    warmup: usize,
    keys: Arc<Vec<String>>,
    once: F,
) -> Measured<Latencies>
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    if keys.is_empty() {
        return Err("no keys to look up".into());
    }
    for index in 0..warmup {
        once(keys[index % keys.len()].clone()).await?;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + window;
    // A set: when one client fails, the others are stopped rather than left running into
    // the next measurement.
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (once, keys, next) = (once.clone(), Arc::clone(&keys), Arc::clone(&next));
        clients.spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let key = keys[next.fetch_add(1, Ordering::Relaxed) % keys.len()].clone();
                let sent = Instant::now();
                once(key).await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, String>(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(client) = clients.join_next().await {
        latencies.extend(client.map_err(|error| error.to_string())??);
    }
    Latencies::of(concurrency, latencies, started.elapsed()).ok_or_else(|| "no query finished".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|value| Duration::from_millis(*value)).collect()
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let odd = Spread::of(&ms(&[5, 1, 3])).unwrap();
        assert_eq!(
            (odd.median, odd.min, odd.max),
            (
                Duration::from_millis(3),
                Duration::from_millis(1),
                Duration::from_millis(5)
            )
        );
        let even = Spread::of(&ms(&[4, 1, 3, 2])).unwrap();
        assert_eq!(even.median, Duration::from_micros(2500));
        assert!(Spread::of(&[]).is_none());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let times = ms(&(1..=100).collect::<Vec<_>>());
        let latencies = Latencies::of(1, times, Duration::from_secs(2)).unwrap();
        assert_eq!(latencies.p50, Duration::from_millis(50));
        assert_eq!(latencies.p99, Duration::from_millis(99));
        assert_eq!(latencies.per_second, 50.0);
        let one = Latencies::of(1, ms(&[7]), Duration::from_secs(1)).unwrap();
        assert_eq!(
            (one.p50, one.p99),
            (Duration::from_millis(7), Duration::from_millis(7))
        );
    }
}
