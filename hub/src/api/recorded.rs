//! How handlers record what they do in the audit log: an action is recorded before it takes
//! effect, a refusal as `denied`, a failure as `error`.

use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use crate::audit::{Event, Gate, Outcome};

/// Runs an audited action. `act` makes its checks, then passes the gate (its record on
/// disk) before anything takes effect; a refusal is recorded as such, and an action that
/// fails after its record was written gets a second record saying so.
pub(super) async fn audited<T>(
    state: &AppState,
    record: Event,
    act: impl AsyncFnOnce(&mut Gate) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut gate = Gate::new(&state.audit, record);
    let result = act(&mut gate).await;
    let ending = result
        .as_ref()
        .err()
        .map(|error| (outcome_of(error), error.code, error.message.as_str()));
    let closed = gate.close(ending).await;
    match (result, closed) {
        (Ok(value), Ok(())) => Ok(value),
        // Nothing was recorded, and the action had not passed its gate: refused.
        (Ok(_), Err(audit)) => Err(audit.into()),
        (Err(error), closed) => {
            if let Err(audit) = closed {
                tracing::error!(error = %audit, "a refused action could not be recorded");
            }
            Err(error)
        }
    }
}

/// Records a refusal made before an action that records itself could run, and gives it back.
pub(super) async fn refused(state: &AppState, record: Event, refusal: ApiError) -> ApiError {
    let record = record.failed(outcome_of(&refusal), refusal.code, &refusal.message);
    state.audit.record_done(record).await;
    refusal
}

/// Refusals of who the caller is or what they may do are `denied`; the rest `error`.
pub(super) fn outcome_of(error: &ApiError) -> Outcome {
    if matches!(error.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        Outcome::Denied
    } else {
        Outcome::Error
    }
}
