//! Alerts of the supervision rules, for security administrators: list them, clear them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use causeway_policies::Role;
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery, ReasonParams};
use crate::audit::Action;
use crate::store::AlertRecord;
use crate::supervision::AlertError;

impl From<AlertError> for ApiError {
    fn from(error: AlertError) -> Self {
        match error {
            AlertError::NotFound(_) => ApiError::not_found(error.to_string()),
            AlertError::Store(store) => store.into(),
            AlertError::Audit(audit) => audit.into(),
            AlertError::InvalidRule { .. } | AlertError::InvalidClassification { .. } => {
                ApiError::internal(&error)
            }
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsParams {
    /// Only alerts not yet cleared.
    #[serde(default)]
    open: bool,
}

/// The alerts raised, oldest first (security administrators).
#[utoipa::path(get, operation_id = "list_alerts", path = "/v1/alerts", tag = "audit", params(AlertsParams),
    responses(
        (status = 200, description = "The alerts", body = Vec<AlertRecord>),
        (status = 403, description = "Not a security administrator", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    ApiQuery(params): ApiQuery<AlertsParams>,
) -> Result<Json<Vec<AlertRecord>>, ApiError> {
    caller
        .require_recorded(
            &state,
            &[Role::SecurityAdmin, Role::Auditor],
            Action::DutyRefused,
            "GET /v1/alerts",
            address,
        )
        .await?;
    let alerts: Vec<AlertRecord> = state
        .alerts
        .list()
        .await?
        .into_iter()
        .filter(|alert| !params.open || alert.cleared_at.is_none())
        .collect();
    caller
        .record_reading(&state, "GET /v1/alerts", alerts.len(), address)
        .await?;
    Ok(Json(alerts))
}

/// Clears an open alert (security administrators); a suspension it caused ends at once.
/// `?reason=` says why: kept with the alert (`cleared_reason`) and in the `alert.cleared`
/// record.
#[utoipa::path(post, path = "/v1/alerts/{id}/clear", tag = "audit", params(("id" = String, Path), ReasonParams),
    responses(
        (status = 200, description = "The alert, cleared", body = AlertRecord),
        (status = 403, description = "Not a security administrator", body = ErrorBody),
        (status = 404, description = "No open alert of that id", body = ErrorBody),
    ))]
pub async fn clear(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<String>,
    ApiQuery(reason): ApiQuery<ReasonParams>,
) -> Result<(StatusCode, Json<AlertRecord>), ApiError> {
    let reason = reason.given()?;
    let officer = caller
        .require_recorded(&state, &[Role::SecurityAdmin], Action::AlertCleared, &id, address)
        .await?;
    let alert = state
        .alerts
        .clear(&id, officer, reason.as_deref(), chrono::Utc::now())
        .await?;
    Ok((StatusCode::OK, Json(alert)))
}
