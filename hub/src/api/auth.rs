//! Who is calling: every handler that acts for someone takes a [`Caller`], the principal of
//! the request's bearer token. Missing and invalid tokens get 401 with a `WWW-Authenticate`
//! challenge as RFC 6750 describes; a principal without a needed role gets 403.

use std::net::SocketAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use causeway_policies::{Principal, Role};

use super::AppState;
use super::error::ApiError;
use crate::audit::{Action, Event, Outcome};
use crate::identity::Refusal;

pub struct Caller(pub Principal);

/// The subject of the client certificate a connection presented (under mutual TLS).
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub String);

/// The address a connection came from.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddress(pub SocketAddr);

/// The address of the connection, when the server knows it; for the audit log.
pub struct ClientAddress(pub Option<SocketAddr>);

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
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().unwrap_or(""));
        let peer = parts.extensions.get::<PeerAddress>().map(|peer| peer.0);
        let certificate = parts
            .extensions
            .get::<PeerCertificate>()
            .map(|certificate| certificate.0.clone());
        authenticate(state, authorization, peer, certificate)
            .await
            .map(Caller)
    }
}

/// The caller of a request on any front door: the principal of its bearer token
/// ([`bearer_principal`]), with the subject of the client certificate it came with under
/// mutual TLS. A refused token is counted per address for the log.
pub async fn authenticate(
    state: &AppState,
    authorization: Option<&str>,
    peer: Option<SocketAddr>,
    certificate: Option<String>,
) -> Result<Principal, ApiError> {
    match bearer_principal(state, authorization).await {
        Ok(mut principal) => {
            principal.certificate_subject = certificate;
            crate::telemetry::http::record_principal(&principal.id);
            Ok(principal)
        }
        Err(error) => {
            crate::telemetry::metrics()
                .rejected_tokens
                .get_or_create(&crate::telemetry::metrics::ReasonLabels { reason: error.code })
                .inc();
            if matches!(error.code, "invalid_token" | "separation_of_duties") {
                state.refusals.refused(peer.map(|peer| peer.ip()), &error.message);
            }
            Err(error)
        }
    }
}

/// The principal of an `Authorization: Bearer` value, as every front door admits it: the
/// token verified (built-in issuer or a trusted one), a revoked client refused, the roles
/// held narrowed to the stored ones and separation of duties checked. HTTP's header and
/// Flight SQL's `authorization` metadata both come here.
pub(super) async fn bearer_principal(
    state: &AppState,
    authorization: Option<&str>,
) -> Result<Principal, ApiError> {
    let Some(value) = authorization else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send a bearer token: Authorization: Bearer <token> (get one from POST /oauth/token)",
        )
        .with_challenge(format!("Bearer realm=\"{REALM}\"")));
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| invalid_token("the Authorization header must be 'Bearer <token>'"))?;
    let principal = state
        .identity
        .authenticator
        .verify(token)
        .await
        .map_err(|error| invalid_token(&error.to_string()))?;
    state.identity.admit(principal).map_err(|refusal| match refusal {
        Refusal::Disabled | Refusal::SecretChanged => invalid_token(&refusal.to_string()),
        Refusal::RolesConflict(_) => {
            ApiError::new(StatusCode::FORBIDDEN, "separation_of_duties", refusal.to_string())
        }
    })
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
        self.require_one_of(&[role])
    }

    /// Like [`Caller::require_one_of`], for routes that record nothing when they succeed (a
    /// reading, or an action that records itself): a refusal is recorded as `action`
    /// `denied` with `what` as its detail, so that every attempt at another's duty is on the
    /// record.
    pub async fn require_recorded(
        &self,
        state: &AppState,
        roles: &[Role],
        action: Action,
        what: &str,
        address: Option<SocketAddr>,
    ) -> Result<&Principal, ApiError> {
        match self.require_one_of(roles) {
            Ok(principal) => Ok(principal),
            Err(refusal) => {
                let record = Event::by(action, Outcome::Denied, &self.0)
                    .at_address(address)
                    .with_detail(serde_json::json!({ "asked": what }));
                Err(super::recorded::refused(state, record, refusal).await)
            }
        }
    }

    /// Records what an administrator reads of the hub's own lists (accounts, grants, access
    /// requests, alerts) before it is answered, as `admin.read`: every action of the three
    /// administrators is on the record. Others' readings of what concerns them are not.
    pub async fn record_reading(
        &self,
        state: &AppState,
        what: &str,
        entries: usize,
        address: Option<SocketAddr>,
    ) -> Result<(), ApiError> {
        if self.0.administrative_role().is_none() {
            return Ok(());
        }
        let mut record = Event::by(Action::AdminRead, Outcome::Ok, &self.0)
            .at_address(address)
            .with_detail(serde_json::json!({ "read": what }));
        record.rows = Some(entries as u64);
        state.audit.record(record).await?;
        Ok(())
    }

    /// Refuses with 403 unless the caller has one of `roles`.
    pub fn require_one_of(&self, roles: &[Role]) -> Result<&Principal, ApiError> {
        if roles.iter().any(|role| self.0.has_role(*role)) {
            Ok(&self.0)
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this needs the {} role",
                    causeway_policies::role_names(roles, " or ")
                ),
            )
            .with_challenge(format!("Bearer realm=\"{REALM}\", error=\"insufficient_scope\"")))
        }
    }
}
