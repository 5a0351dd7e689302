//! The hub's Prometheus metrics, kept with `prometheus-client` and written in the
//! OpenMetrics text format (which Prometheus reads).
//!
//! One set per process ([`metrics`]): the counters are the process's since it started, as
//! Prometheus expects of them, and a replica's are its own (a dashboard sums them over the
//! `instance` label Prometheus adds). Labels take values from small fixed sets (routes as
//! declared, front doors, outcome codes, alert rule names), never from a request's values:
//! a label of a caller's id or of a path as sent would let callers grow the set without end.

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The OpenMetrics text format's media type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An HTTP request: the route as declared (`/v1/datasets/{department}/{name}`, or
/// `unmatched`), its method and the status answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

/// A route and method, for the latency of requests.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: String,
}

/// A query's front door (`http`, `flight_sql`, `postgres_wire`, `console`) and how it ended:
/// `ok`, or the code a caller sees (`column_not_granted`, `row_quota_exceeded`, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryLabels {
    pub front_door: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DoorLabels {
    pub front_door: &'static str,
}

/// Why a token was refused: the code the caller got (`invalid_token`, `unauthenticated`,
/// `client_disabled`, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DatasetLabels {
    pub dataset: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
}

/// A kind of state read again from the store (`datasets`, `grants`, `clients`, `alerts`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChangeLabels {
    pub kind: &'static str,
}

type GaugeF64 = Gauge<f64, AtomicU64>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds, from a millisecond to about nine minutes: a point lookup to the longest query
/// the default timeout lets run.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

/// Disk syncs: from 50 µs (a fast SSD's cache) to about 3.3 s (a disk in trouble).
fn sync_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 17))
}

/// Everything the hub counts.
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<RequestLabels, Counter>,
    pub http_request_duration: Histograms<RouteLabels>,
    pub queries: Family<QueryLabels, Counter>,
    pub query_duration: Histograms<DoorLabels>,
    pub rows_returned: Family<DoorLabels, Counter>,
    pub bytes_returned: Family<DoorLabels, Counter>,
    pub active_queries: Family<DoorLabels, Gauge>,
    pub rejected_tokens: Family<ReasonLabels, Counter>,
    pub alerts_raised: Family<RuleLabels, Counter>,
    pub audit_sync_duration: Histogram,
    pub changes_applied: Family<ChangeLabels, Counter>,
    /// Sampled when scraped, from the registry (see `api::metrics`).
    pub datasets: Family<StateLabels, Gauge>,
    pub acceleration_budget_bytes: Gauge,
    pub acceleration_bytes: Family<DatasetLabels, Gauge>,
    pub acceleration_rows: Family<DatasetLabels, Gauge>,
    pub acceleration_age: Family<DatasetLabels, GaugeF64>,
    pub acceleration_refresh_failures: Family<DatasetLabels, Gauge>,
    pub acceleration_refresh_failing: Family<DatasetLabels, Gauge>,
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("causeway");
        let http_requests = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status.",
            http_requests.clone(),
        );
        let http_request_duration = Histograms::new_with_constructor(seconds as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, to its response's head (a query's rows stream after it).",
            Unit::Seconds,
            http_request_duration.clone(),
        );
        let queries = Family::default();
        registry.register(
            "queries",
            "Queries ended, by front door and outcome (ok, or the error code the caller got).",
            queries.clone(),
        );
        let query_duration = Histograms::new_with_constructor(seconds as fn() -> Histogram);
        registry.register_with_unit(
            "query_duration",
            "Time from a query's arrival to its end, its last row sent or its refusal, by front door.",
            Unit::Seconds,
            query_duration.clone(),
        );
        let rows_returned = Family::default();
        registry.register(
            "query_rows_returned",
            "Rows handed to callers, by front door.",
            rows_returned.clone(),
        );
        let bytes_returned = Family::default();
        registry.register_with_unit(
            "query_returned",
            "Bytes of results sent to callers, as each front door encoded them.",
            Unit::Bytes,
            bytes_returned.clone(),
        );
        let active_queries = Family::default();
        registry.register(
            "active_queries",
            "Queries running or waiting for their caller to read, by front door.",
            active_queries.clone(),
        );
        let rejected_tokens = Family::default();
        registry.register(
            "rejected_tokens",
            "Requests refused for their bearer token, by reason.",
            rejected_tokens.clone(),
        );
        let alerts_raised = Family::default();
        registry.register("alerts_raised", "Alerts raised, by rule.", alerts_raised.clone());
        let audit_sync_duration = sync_seconds();
        registry.register_with_unit(
            "audit_sync_duration",
            "Time from handing a record to the audit log to its being on disk.",
            Unit::Seconds,
            audit_sync_duration.clone(),
        );
        let changes_applied = Family::default();
        registry.register(
            "store_changes_applied",
            "Reads of one kind of state from the store after it changed (through this hub or another) or at a periodic full read, by kind.",
            changes_applied.clone(),
        );
        let datasets = Family::default();
        registry.register(
            "datasets",
            "Published datasets, by whether they can be queried now.",
            datasets.clone(),
        );
        let acceleration_budget_bytes = Gauge::default();
        registry.register_with_unit(
            "acceleration_budget",
            "Memory the in-memory copies of accelerated datasets may take together.",
            Unit::Bytes,
            acceleration_budget_bytes.clone(),
        );
        let acceleration_bytes = Family::default();
        registry.register_with_unit(
            "acceleration",
            "Memory an accelerated dataset's copy takes.",
            Unit::Bytes,
            acceleration_bytes.clone(),
        );
        let acceleration_rows = Family::default();
        registry.register(
            "acceleration_rows",
            "Rows in an accelerated dataset's copy.",
            acceleration_rows.clone(),
        );
        let acceleration_age = Family::default();
        registry.register_with_unit(
            "acceleration_age",
            "How long ago the copy being served was read from its source.",
            Unit::Seconds,
            acceleration_age.clone(),
        );
        let acceleration_refresh_failures = Family::default();
        registry.register(
            "acceleration_refresh_failures",
            "Refreshes of an accelerated dataset that failed since the hub started.",
            acceleration_refresh_failures.clone(),
        );
        let acceleration_refresh_failing = Family::default();
        registry.register(
            "acceleration_refresh_failing",
            "1 while the latest refresh of an accelerated dataset has failed.",
            acceleration_refresh_failing.clone(),
        );
        Self {
            registry,
            http_requests,
            http_request_duration,
            queries,
            query_duration,
            rows_returned,
            bytes_returned,
            active_queries,
            rejected_tokens,
            alerts_raised,
            audit_sync_duration,
            changes_applied,
            datasets,
            acceleration_budget_bytes,
            acceleration_bytes,
            acceleration_rows,
            acceleration_age,
            acceleration_refresh_failures,
            acceleration_refresh_failing,
        }
    }

    /// Every metric in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    /// A query has ended through `front_door`, `outcome` being `ok` or its error code.
    pub fn query_ended(
        &self,
        front_door: &'static str,
        outcome: &'static str,
        took: Duration,
        rows: u64,
        bytes: u64,
    ) {
        self.queries
            .get_or_create(&QueryLabels { front_door, outcome })
            .inc();
        let door = DoorLabels { front_door };
        self.query_duration
            .get_or_create(&door)
            .observe(took.as_secs_f64());
        if rows > 0 {
            self.rows_returned.get_or_create(&door).inc_by(rows);
        }
        if bytes > 0 {
            self.bytes_returned.get_or_create(&door).inc_by(bytes);
        }
    }

    /// Counts a query as running through `front_door` until the guard is dropped.
    pub fn query_running(&'static self, front_door: &'static str) -> Running {
        self.active_queries
            .get_or_create(&DoorLabels { front_door })
            .inc();
        Running { front_door }
    }
}

/// A query counted in `causeway_active_queries` while it lives.
#[derive(Debug)]
pub struct Running {
    front_door: &'static str,
}

impl Drop for Running {
    fn drop(&mut self) {
        metrics()
            .active_queries
            .get_or_create(&DoorLabels {
                front_door: self.front_door,
            })
            .dec();
    }
}
