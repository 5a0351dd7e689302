//! The built-in issuer's OpenID Connect discovery document and its signing keys.

use axum::Json;
use axum::extract::State;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;

/// The issuer's metadata (OpenID Connect Discovery 1.0; RFC 8414), enough for services,
/// applications people sign in to and other hubs to find its endpoints and keys.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "identity",
    responses((status = 200, description = "Discovery document", content_type = "application/json")))]
pub async fn openid_configuration(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let issuer = state
        .identity
        .issuer()
        .ok_or_else(|| ApiError::not_found("this hub does not issue tokens"))?;
    let url = &issuer.url;
    Ok(Json(json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/oauth/authorize"),
        "token_endpoint": format!("{url}/oauth/token"),
        "revocation_endpoint": format!("{url}/oauth/revoke"),
        "jwks_uri": format!("{url}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["openid", "profile"],
        "subject_types_supported": ["public"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "name", "department", "roles", "attributes"],
    })))
}

/// The issuer's public signing keys, current and previous.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "identity",
    responses((status = 200, description = "JSON Web Key Set", content_type = "application/json")))]
pub async fn jwks(State(state): State<AppState>) -> Result<Json<JwkSet>, ApiError> {
    let issuer = state
        .identity
        .issuer()
        .ok_or_else(|| ApiError::not_found("this hub does not issue tokens"))?;
    Ok(Json(issuer.keys.jwks()))
}
