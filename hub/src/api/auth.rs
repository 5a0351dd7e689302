//! Who is calling: every handler that acts for someone takes a [`Caller`], the principal of
//! the request's bearer token. Missing and invalid tokens get 401 with a `WWW-Authenticate`
//! challenge as RFC 6750 describes; a principal without a needed role gets 403.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use causeway_policies::{Principal, Role};

use super::AppState;
use super::error::ApiError;

pub struct Caller(pub Principal);

/// The subject of the client certificate a connection presented (under mutual TLS).
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub String);

/// The address a connection came from.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddress(pub std::net::SocketAddr);

/// The address of the connection, when the server knows it; for the audit log.
pub struct ClientAddress(pub Option<std::net::SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<PeerAddress>().map(|peer| peer.0)))
    }
}

const REALM: &str = "causeway";

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let result = caller(parts, state).await;
        if let Err(error) = &result
            && error.code == "invalid_token"
        {
            let address = parts.extensions.get::<PeerAddress>().map(|peer| peer.0.ip());
            state.refusals.refused(address, &error.message);
        }
        result
    }
}

async fn caller(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send a bearer token: Authorization: Bearer <token> (get one from POST /oauth/token)",
        )
        .with_challenge(format!("Bearer realm=\"{REALM}\"")));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| invalid_token("the Authorization header must be 'Bearer <token>'"))?;
    let mut principal = state
        .identity
        .authenticator
        .verify(token)
        .await
        .map_err(|error| invalid_token(&error.to_string()))?;
    if state.identity.is_revoked(&principal) {
        return Err(invalid_token("the token's client is disabled"));
    }
    principal.certificate_subject = parts
        .extensions
        .get::<PeerCertificate>()
        .map(|certificate| certificate.0.clone());
    Ok(Caller(principal))
}

fn invalid_token(description: &str) -> ApiError {
    let description = description.replace('"', "'");
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", description.clone()).with_challenge(format!(
        "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{description}\""
    ))
}

impl Caller {
    /// Refuses with 403 unless the caller has `role`.
    pub fn require(&self, role: Role) -> Result<&Principal, ApiError> {
        if self.0.has_role(role) {
            Ok(&self.0)
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this needs the {role} role"),
            )
            .with_challenge(format!("Bearer realm=\"{REALM}\", error=\"insufficient_scope\"")))
        }
    }
}
