use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use causeway_policies::Principal;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody};
use super::recorded::audited;
use crate::audit::{Action, Event, Outcome};
use crate::identity::{ExchangeError, printable_client_id};

/// Who the hub takes the caller to be: the principal its token describes.
#[utoipa::path(get, path = "/v1/me", tag = "identity",
    responses((status = 200, description = "The caller's principal", content_type = "application/json"), (status = 401, body = ErrorBody)))]
pub async fn me(Caller(principal): Caller) -> Json<Principal> {
    Json(principal)
}

/// A person's own new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password the person signs in with now: proof that it is them, not whoever holds
    /// their token.
    pub current_password: String,
    /// At least 12 characters.
    pub new_password: String,
}

/// A person changes their own password. The current one must be given, and its failures
/// count like a sign-in's (the same limits). The new one needs no new approval. Every
/// sign-in made with the old one ends, this one included: the person signs in again with the
/// new password. Recorded as `client.secret_rotated` with `own_password`.
#[utoipa::path(post, path = "/v1/me/password", tag = "identity", request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; every sign-in made with the old password has ended"),
        (status = 400, description = "The new password is too short", body = ErrorBody),
        (status = 403, description = "The current password is wrong, or the caller is no person", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords", body = ErrorBody),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let body = super::clients::json_body(&body);
    let id = caller.0.id.clone();
    let record = Event::by(Action::ClientSecretRotated, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({ "client": printable_client_id(&id), "own_password": true }));
    audited(&state, record, async |gate| {
        // Read here, so that a malformed change is recorded as refused like any other.
        let change: PasswordChange = super::clients::parsed(&body)?;
        let person = state
            .identity
            .check_password(&id, &change.current_password, address.map(|address| address.ip()))
            .await
            .map_err(refused)?;
        gate.pass().await?;
        let changed_at = state
            .identity
            .clients
            .set_password(&person.id, change.new_password, person.approved_by.as_deref())
            .await?;
        // Tokens issued before now end on every door, this one's too.
        state.identity.secret_changed(&person.id, &changed_at);
        tracing::info!(person = %person.id, "a person changed their password");
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Why the current password was not taken, as the API says it.
fn refused(error: ExchangeError) -> ApiError {
    match error {
        ExchangeError::RateLimited(seconds) => {
            let mut refusal = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", error.to_string());
            refusal.retry_after = Some(seconds);
            refusal
        }
        ExchangeError::Store | ExchangeError::Signing | ExchangeError::NoIssuer => ApiError::internal(&error),
        // A wrong password, or an account that is no person (a service's token): one answer.
        _ => ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_password",
            "the current password is not right (or this account signs in with no password)",
        ),
    }
}
