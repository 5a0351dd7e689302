use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::registry::Availability;
use crate::replicas::STALE_AFTER;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`; `degraded` when a dependency fails, a dataset is unavailable, an accelerated
    /// dataset's refresh fails, or the changes other hubs made to the store have not been
    /// read for 15 s (`changes_read_seconds_ago`); `stopping` once the hub shuts down.
    pub status: &'static str,
    pub version: &'static str,
    /// `ok` or the metadata store's error.
    pub metadata_store: String,
    pub datasets_available: usize,
    pub datasets_unavailable: usize,
    /// `ok`, `off`, or why the audit log cannot be written (queries are refused then).
    pub audit_log: String,
    pub acceleration: AccelerationHealth,
    /// Decimal fields (`department.dataset.field`) over source columns of any scale whose
    /// contracts say no rounding: they serve, but a value with more fraction digits than
    /// the field's scale fails its query (the catalog marks them `needs_rounding`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields_needing_rounding: Vec<String>,
    /// Seconds since the hub last read the changes other hubs made to the store (every
    /// second while it can); not ready past 15.
    pub changes_read_seconds_ago: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccelerationHealth {
    /// Datasets served from in-memory copies.
    pub datasets: usize,
    /// Memory their copies take, and the budget they must fit in, in bytes.
    pub bytes: usize,
    pub budget_bytes: usize,
    /// Datasets whose latest refresh failed (each still serves its previous copy; the
    /// catalog entry says why).
    pub refresh_failing: usize,
}

/// Whether the hub lives, and how it is: always 200 while the process answers (a liveness
/// probe: restarting it would not mend a store or a disk), with `status` `degraded` and the
/// reason when a dependency fails. Whether it should be sent queries is [`ready`].
#[utoipa::path(get, path = "/v1/health", tag = "hub",
    responses((status = 200, description = "The hub lives; `status` says whether it is degraded", body = HealthResponse)))]
pub async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    inspect(&state).await.1
}

/// Whether the hub should be sent requests (a readiness probe, a load balancer's check):
/// 200 when its metadata store answers, its audit log can be written and its catalog is
/// loaded; 503 otherwise, and from the moment it begins to shut down.
#[utoipa::path(get, path = "/v1/ready", tag = "hub",
    responses(
        (status = 200, description = "The hub serves", body = HealthResponse),
        (status = 503, description = "The metadata store does not answer, the audit log cannot be written, or the hub is shutting down", body = HealthResponse),
    ))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<HealthResponse>) {
    let (ready, response) = inspect(&state).await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, response)
}

/// How long the health answers wait for the metadata store.
const STORE_PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The hub's state, and whether it should be sent requests.
async fn inspect(state: &AppState) -> (bool, Json<HealthResponse>) {
    // Under a probe's timeout: a store that hangs is a store that fails.
    let store = match tokio::time::timeout(STORE_PING_TIMEOUT, state.registry.store().ping()).await {
        Ok(answer) => answer.map_err(|error| error.to_string()),
        Err(_) => Err(format!("no answer within {} s", STORE_PING_TIMEOUT.as_secs())),
    };
    let datasets = state.registry.list().await;
    let unavailable = datasets
        .iter()
        .filter(|dataset| matches!(dataset.availability, Availability::Unavailable(_)))
        .count();
    let audit_log = match state.audit.status() {
        None => Ok("off".to_owned()),
        Some(status) => match status.failure {
            None => Ok("ok".to_owned()),
            Some(failure) => Err(failure),
        },
    };
    let healthy = store.is_ok() && audit_log.is_ok();
    let accelerations = state.registry.accelerations();
    let accelerated = accelerations.all();
    let acceleration = AccelerationHealth {
        datasets: accelerated.len(),
        bytes: accelerated.iter().map(|(_, status)| status.bytes).sum(),
        budget_bytes: accelerations.budget(),
        refresh_failing: accelerated
            .iter()
            .filter(|(_, status)| status.last_error.is_some())
            .count(),
    };
    let fields_needing_rounding = datasets
        .iter()
        .flat_map(|dataset| {
            let table = format!("{}.{}", dataset.record.department(), dataset.record.name());
            dataset
                .unbounded_decimals()
                .iter()
                .map(move |field| format!("{table}.{field}"))
        })
        .collect();
    let behind = state.following.behind();
    let current = behind < STALE_AFTER;
    let stopping = state.shutdown.is_cancelled();
    let response = HealthResponse {
        status: if stopping {
            "stopping"
        } else if healthy && current && unavailable == 0 && acceleration.refresh_failing == 0 {
            "ok"
        } else {
            "degraded"
        },
        version: env!("CARGO_PKG_VERSION"),
        metadata_store: store.map_or_else(|error| error, |()| "ok".to_owned()),
        datasets_available: datasets.len() - unavailable,
        datasets_unavailable: unavailable,
        audit_log: audit_log.unwrap_or_else(|failure| failure),
        acceleration,
        fields_needing_rounding,
        changes_read_seconds_ago: behind.as_secs(),
    };
    (healthy && current && !stopping, Json(response))
}
