//! `GET /metrics`: the hub's gauges in the Prometheus text format.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use super::auth::Caller;
use crate::registry::Availability;

/// Datasets available and unavailable, and each accelerated dataset's copy: rows, bytes,
/// last refresh, failed refreshes and whether the latest one failed.
#[utoipa::path(get, path = "/metrics", tag = "hub",
    responses((status = 200, description = "Prometheus text format, version 0.0.4", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>, Caller(_caller): Caller) -> impl IntoResponse {
    let datasets = state.registry.list().await;
    let unavailable = datasets
        .iter()
        .filter(|dataset| matches!(dataset.availability, Availability::Unavailable(_)))
        .count();
    let accelerations = state.registry.accelerations();
    let accelerated = accelerations.all();
    let mut text = String::new();
    let mut gauge = |name: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(text, "{name}{labels} {value}");
        }
    };
    let per_dataset = |value: &dyn Fn(&crate::acceleration::AccelerationStatus) -> f64| {
        accelerated
            .iter()
            .map(|(id, status)| (format!("{{dataset=\"{id}\"}}"), value(status)))
            .collect::<Vec<_>>()
    };
    gauge(
        "causeway_datasets",
        "Published datasets, by whether they can be queried now.",
        vec![
            (
                "{state=\"available\"}".into(),
                (datasets.len() - unavailable) as f64,
            ),
            ("{state=\"unavailable\"}".into(), unavailable as f64),
        ],
    );
    gauge(
        "causeway_acceleration_budget_bytes",
        "Memory the in-memory copies of accelerated datasets may take together.",
        vec![(String::new(), accelerations.budget() as f64)],
    );
    gauge(
        "causeway_acceleration_bytes",
        "Memory an accelerated dataset's copy takes.",
        per_dataset(&|status| status.bytes as f64),
    );
    gauge(
        "causeway_acceleration_rows",
        "Rows in an accelerated dataset's copy.",
        per_dataset(&|status| status.rows as f64),
    );
    gauge(
        "causeway_acceleration_refreshed_timestamp_seconds",
        "When the copy being served was read from the source (Unix time).",
        per_dataset(&|status| status.refreshed_at.timestamp() as f64),
    );
    gauge(
        "causeway_acceleration_refresh_failures",
        "Refreshes of an accelerated dataset that failed since the hub started.",
        per_dataset(&|status| status.refresh_failures as f64),
    );
    gauge(
        "causeway_acceleration_refresh_failing",
        "1 while the latest refresh of an accelerated dataset has failed.",
        per_dataset(&|status| f64::from(u8::from(status.last_error.is_some()))),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
