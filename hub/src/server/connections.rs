//! Connection hygiene: every open connection is known, with its address, whether a request
//! is in flight and when it was last busy. Connections idle too long are closed (one that
//! never sent a request after the client timeout, a keep-alive one after the idle
//! timeout), and the number open is capped per address and in all, below the process's
//! file-descriptor limit. When a cap is reached, the connection idle longest gives way to
//! the new one, so that a flood of idle connections cannot keep health checks and signed-in
//! callers out; only when every connection is busy is the new one refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

/// File descriptors kept for everything but client connections: sources, the audit log,
/// spill files, database pools.
const RESERVED_DESCRIPTORS: u64 = 256;

/// How many connections may be open, in all and per address.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_per_address: usize,
    /// How long a connection may stay open without a request in flight once it has sent
    /// one.
    pub idle_timeout: Duration,
    /// How long a new connection may take to send its first request.
    pub first_request_timeout: Duration,
}

impl ConnectionLimits {
    /// `max_connections` 0 means: three quarters of the descriptors the process may open,
    /// after those reserved; `max_per_address` 0 means half of that.
    pub fn new(
        max_connections: usize,
        max_per_address: usize,
        idle: Duration,
        first_request: Duration,
    ) -> Self {
        let max_connections = if max_connections == 0 {
            let descriptors = raise_descriptor_limit();
            usize::try_from(descriptors.saturating_sub(RESERVED_DESCRIPTORS) * 3 / 4)
                .unwrap_or(usize::MAX)
                .max(16)
        } else {
            max_connections
        };
        let max_per_address = if max_per_address == 0 {
            (max_connections / 2).max(1)
        } else {
            max_per_address
        };
        Self {
            max_connections,
            max_per_address,
            idle_timeout: idle,
            first_request_timeout: first_request,
        }
    }
}

/// Raises the soft limit of open files to the hard limit, and returns it.
fn raise_descriptor_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot read or raise the open-file limit; assuming 1024");
            1024
        }
    }
}

/// One open connection's state, shared by its task, its requests and the table.
#[derive(Debug)]
pub struct Connection {
    id: u64,
    address: IpAddr,
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds from `opened` to the end of its last request; 0 before any.
    last_busy_ms: AtomicU64,
    served: AtomicBool,
    /// Woken to close the connection: it gave way to a new one.
    close: Notify,
}

impl Connection {
    fn idle_since(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_busy_ms.load(Ordering::Relaxed))
    }

    /// How long the connection may stay idle from now, or `None` if it is past its time.
    pub fn idle_left(&self, limits: &ConnectionLimits) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Some(limits.idle_timeout.max(limits.first_request_timeout));
        }
        let allowed = if self.served.load(Ordering::Relaxed) {
            limits.idle_timeout
        } else {
            limits.first_request_timeout
        };
        allowed.checked_sub(self.idle_since().elapsed())
    }

    pub async fn evicted(&self) {
        self.close.notified().await;
    }

    /// Marks a request as begun; the returned guard ends it.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.served.store(true, Ordering::Relaxed);
        InFlight {
            connection: Arc::clone(self),
        }
    }
}

/// A request in flight on a connection, until its response body is done or dropped.
pub struct InFlight {
    connection: Arc<Connection>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let connection = &self.connection;
        let elapsed = u64::try_from(connection.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        connection.last_busy_ms.store(elapsed, Ordering::Relaxed);
        connection.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Every open connection.
#[derive(Debug)]
pub struct Connections {
    limits: ConnectionLimits,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
}

/// A connection's place in the table, given up when it closes.
pub struct Admitted {
    pub connection: Arc<Connection>,
    table: Arc<Connections>,
}

impl Admitted {
    pub fn limits(&self) -> &ConnectionLimits {
        self.table.limits()
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.remove(&self.connection.id);
    }
}

impl Connections {
    /// The table of one listener, `door` naming it in the log (`http`, `flight_sql`,
    /// `postgres`, `metrics`).
    pub fn new(door: &'static str, limits: ConnectionLimits) -> Arc<Self> {
        tracing::info!(
            door,
            max_connections = limits.max_connections,
            max_per_address = limits.max_per_address,
            "connection limits"
        );
        Arc::new(Self {
            limits,
            next_id: AtomicU64::new(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    /// Admits a connection from `address`, closing the longest-idle one that stands in its
    /// way; `None` when every connection in its way is busy.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let from_address = open
            .values()
            .filter(|connection| connection.address == address)
            .count();
        if from_address >= self.limits.max_per_address {
            evict_idlest(&mut open, |connection| connection.address == address)?;
        } else if open.len() >= self.limits.max_connections {
            evict_idlest(&mut open, |_| true)?;
        }
        let connection = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            address,
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_busy_ms: AtomicU64::new(0),
            served: AtomicBool::new(false),
            close: Notify::new(),
        });
        open.insert(connection.id, Arc::clone(&connection));
        Some(Admitted {
            connection,
            table: Arc::clone(self),
        })
    }

    #[cfg(test)]
    fn count(&self) -> usize {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// Closes the connection idle longest among those `eligible`; `None` if all are busy.
fn evict_idlest(
    open: &mut HashMap<u64, Arc<Connection>>,
    eligible: impl Fn(&Connection) -> bool,
) -> Option<()> {
    let idlest = open
        .values()
        .filter(|connection| eligible(connection) && connection.in_flight.load(Ordering::Acquire) == 0)
        .min_by_key(|connection| connection.idle_since())?
        .id;
    let evicted = open.remove(&idlest)?;
    evicted.close.notify_one();
    Some(())
}

/// A response body that ends its request's time in flight when it is done or dropped.
pub struct TrackedBody {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl TrackedBody {
    pub fn new(inner: axum::body::Body, in_flight: InFlight) -> Self {
        Self {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_address: usize) -> ConnectionLimits {
        ConnectionLimits::new(
            total,
            per_address,
            Duration::from_secs(30),
            Duration::from_secs(10),
        )
    }

    #[test]
    fn an_idle_connection_gives_way_and_a_busy_one_does_not() {
        let table = Connections::new("test", limits(100, 2));
        let address: IpAddr = "127.0.0.1".parse().unwrap();
        let first = table.admit(address).unwrap();
        let second = table.admit(address).unwrap();
        let _busy = second.connection.begin();
        // The idle first connection is closed for the third.
        let third = table.admit(address).unwrap();
        assert_eq!(table.count(), 2);
        let _also_busy = third.connection.begin();
        // Both open ones are busy now: the fourth is refused.
        assert!(table.admit(address).is_none());
        // Another address is not held back by this one's cap.
        assert!(table.admit("10.0.0.1".parse().unwrap()).is_some());
        drop(first);
    }

    #[test]
    fn the_total_cap_evicts_across_addresses() {
        let table = Connections::new("test", limits(3, 3));
        let kept: Vec<Admitted> = (1..=3u8)
            .map(|n| table.admit(IpAddr::from([10, 0, 0, n])).unwrap())
            .collect();
        let newcomer = table.admit("10.0.0.9".parse().unwrap());
        assert!(newcomer.is_some());
        assert_eq!(table.count(), 3);
        drop(kept);
    }

    #[test]
    fn a_connection_that_never_asks_runs_out_of_time_first() {
        let limits = ConnectionLimits::new(10, 10, Duration::from_secs(60), Duration::from_millis(0));
        let table = Connections::new("test", limits);
        let silent = table.admit("127.0.0.1".parse().unwrap()).unwrap();
        assert!(silent.connection.idle_left(&limits).is_none());
        let busy = table.admit("127.0.0.1".parse().unwrap()).unwrap();
        let request = busy.connection.begin();
        assert!(busy.connection.idle_left(&limits).is_some());
        drop(request);
        assert!(
            busy.connection.idle_left(&limits).is_some(),
            "60 s once it has been served"
        );
    }
}
