//! `GET /metrics`: the hub's metrics in the OpenMetrics text format, which Prometheus reads.
//! On the API it needs a token, like every route; a scraper reads the same text without one
//! on `server.metrics_listen`, an address kept off the public network.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;
use super::auth::Caller;
use crate::registry::{Availability, Registry};
use crate::telemetry::metrics::{DatasetLabels, StateLabels, metrics as process_metrics};

/// The process's counters and histograms (HTTP requests, queries by front door and outcome,
/// their latency, rows and bytes returned, active queries, rejected tokens, alerts, audit
/// syncs, changes read from the shared store) and gauges sampled now (datasets by
/// availability; each accelerated copy's rows, bytes, age and refresh failures).
#[utoipa::path(get, path = "/metrics", tag = "hub",
    responses((status = 200, description = "OpenMetrics text format 1.0.0", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>, Caller(_caller): Caller) -> impl IntoResponse {
    exposition(&state.registry).await
}

/// The router of the scrape address: `GET /metrics` and nothing else, without a token.
pub fn scrape_router(registry: std::sync::Arc<Registry>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let registry = std::sync::Arc::clone(&registry);
            async move { exposition(&registry).await }
        }),
    )
}

async fn exposition(registry: &Registry) -> impl IntoResponse + use<> {
    sample(registry).await;
    (
        [(header::CONTENT_TYPE, crate::telemetry::metrics::CONTENT_TYPE)],
        process_metrics().encode(),
    )
}

/// Sets the gauges that describe the registry as it is now.
async fn sample(registry: &Registry) {
    let metrics = process_metrics();
    let datasets = registry.list().await;
    let unavailable = datasets
        .iter()
        .filter(|dataset| matches!(dataset.availability, Availability::Unavailable(_)))
        .count();
    let count = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
    metrics
        .datasets
        .get_or_create(&StateLabels { state: "available" })
        .set(count(datasets.len() - unavailable));
    metrics
        .datasets
        .get_or_create(&StateLabels { state: "unavailable" })
        .set(count(unavailable));
    let accelerations = registry.accelerations();
    metrics
        .acceleration_budget_bytes
        .set(count(accelerations.budget()));
    // A dataset removed since the last scrape leaves its series.
    for family in [
        &metrics.acceleration_bytes,
        &metrics.acceleration_rows,
        &metrics.acceleration_refresh_failures,
        &metrics.acceleration_refresh_failing,
    ] {
        family.clear();
    }
    metrics.acceleration_age.clear();
    let now = chrono::Utc::now();
    for (id, status) in accelerations.all() {
        let labels = DatasetLabels {
            dataset: id.to_string(),
        };
        metrics
            .acceleration_bytes
            .get_or_create(&labels)
            .set(count(status.bytes));
        metrics
            .acceleration_rows
            .get_or_create(&labels)
            .set(count(status.rows));
        let age = (now - status.refreshed_at).num_milliseconds() as f64 / 1000.0;
        metrics.acceleration_age.get_or_create(&labels).set(age);
        metrics
            .acceleration_refresh_failures
            .get_or_create(&labels)
            .set(i64::try_from(status.refresh_failures).unwrap_or(i64::MAX));
        metrics
            .acceleration_refresh_failing
            .get_or_create(&labels)
            .set(i64::from(status.last_error.is_some()));
    }
}
