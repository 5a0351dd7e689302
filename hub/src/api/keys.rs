//! The built-in issuer's signing keys, rotated by the system administrator.

use axum::Json;
use axum::extract::State;
use causeway_policies::Role;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody};
use super::recorded::audited;
use crate::audit::{Action, Event, Outcome};
use crate::identity::KeyRing;

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedKey {
    /// The new key's id (`kid`): new tokens carry it; earlier tokens stay valid until they
    /// expire.
    pub kid: String,
}

/// Adds a signing key, as `causeway keys rotate` does on the hub's machine (the system
/// administrator). Recorded as `keys.rotated` before the key exists.
#[utoipa::path(post, path = "/v1/keys/rotate", tag = "identity",
    responses((status = 200, body = RotatedKey), (status = 403, body = ErrorBody)))]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
) -> Result<Json<RotatedKey>, ApiError> {
    let record = Event::by(Action::KeysRotated, Outcome::Ok, &caller.0).at_address(address);
    audited(&state, record, async |gate| {
        caller.require(Role::SystemAdmin)?;
        gate.pass().await?;
        let dir = state.keys_dir.clone();
        let kid = tokio::task::spawn_blocking(move || KeyRing::rotate(&dir))
            .await
            .map_err(|error| ApiError::internal(&error))?
            .map_err(|error| ApiError::internal(&error))?;
        tracing::info!(%kid, by = %caller.0.id, "signing key added");
        Ok(Json(RotatedKey { kid }))
    })
    .await
}
