//! The audit log: what handlers record, and verification online for security officers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use causeway_policies::Role;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use crate::audit::{Event, Outcome, Verification, verify};
use crate::identity::public_keys;

/// Verifies the hub's audit log as `causeway audit verify` does, up to the last record
/// written, and also finds records removed from its end (security officers).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "What the verification found; `valid` says whether the log is intact", body = Verification),
        (status = 403, description = "Not a security officer", body = ErrorBody),
        (status = 404, description = "The audit log is off", body = ErrorBody),
    ))]
pub async fn verify_log(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Verification>, ApiError> {
    caller.require(Role::SecurityOfficer)?;
    let status = state
        .audit
        .status()
        .ok_or_else(|| ApiError::not_found("the audit log is off on this hub"))?;
    let (dir, keys) = (state.audit_dir.clone(), state.keys_dir.clone());
    let report = tokio::task::spawn_blocking(move || {
        let keys = public_keys(&keys).map_err(|error| ApiError::internal(&error))?;
        verify(&dir, &keys, Some(status.last_seq)).map_err(|error| ApiError::internal(&error))
    })
    .await
    .map_err(|error| ApiError::internal(&error))??;
    Ok(Json(report))
}

/// Records how an action ended, then passes its result on.
pub(super) async fn recorded<T>(
    state: &AppState,
    record: Event,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    let record = match &result {
        Ok(_) => record,
        Err(error) => record.failed(outcome_of(error), error.code, &error.message),
    };
    state.audit.record_done(record).await;
    result
}

/// Refusals of who the caller is or what they may do are `denied`; the rest `error`.
pub(super) fn outcome_of(error: &ApiError) -> Outcome {
    if matches!(error.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        Outcome::Denied
    } else {
        Outcome::Error
    }
}
