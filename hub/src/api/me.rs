use axum::Json;
use causeway_policies::Principal;

use super::auth::Caller;
use super::error::ErrorBody;

/// Who the hub takes the caller to be: the principal its token describes.
#[utoipa::path(get, path = "/v1/me", tag = "identity",
    responses((status = 200, description = "The caller's principal", content_type = "application/json"), (status = 401, body = ErrorBody)))]
pub async fn me(Caller(principal): Caller) -> Json<Principal> {
    Json(principal)
}
