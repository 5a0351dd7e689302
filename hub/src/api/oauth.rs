//! `POST /oauth/token`: the client-credentials grant of RFC 6749 §4.4. Clients
//! authenticate with HTTP Basic or with `client_id` and `client_secret` form fields; errors
//! follow §5.2 (`{"error": ..., "error_description": ...}`), not the API's own shape. A
//! failure never tells whether the client id exists, and repeated failures per client id
//! or per address are refused for a while with 429.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::auth::PeerAddress;
use crate::audit::{Action, Event, Outcome};
use crate::identity::ExchangeError;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic_challenge: bool,
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// The one answer to every failed client authentication.
    fn invalid_client(basic: bool) -> Self {
        Self {
            basic_challenge: basic,
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        no_store(headers);
        if self.basic_challenge || self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"causeway\""),
            );
        }
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Issues an access token to a client of the built-in authorization server.
#[utoipa::path(post, path = "/oauth/token", tag = "identity",
    request_body(content = String, description = "grant_type=client_credentials, with client_id and client_secret or HTTP Basic", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A token", body = TokenResponse),
        (status = 400, description = "invalid_request or unsupported_grant_type (RFC 6749 §5.2)"),
        (status = 401, description = "invalid_client"),
        (status = 429, description = "Too many failed attempts; see Retry-After"),
    ))]
pub async fn token(
    State(state): State<AppState>,
    peer: Option<Extension<PeerAddress>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let peer = peer.map(|peer| peer.0);
    let mut record = Event::new(Action::TokenRefused, Outcome::Denied).at_address(peer.map(|peer| peer.0));
    let result = issue(&state, peer, &headers, &body, &mut record).await;
    match result {
        // The token leaves the hub only once its issue is on disk.
        Ok(token) => match state.audit.record(record).await {
            Ok(_) => {
                let mut response = axum::Json(token).into_response();
                no_store(response.headers_mut());
                response
            }
            Err(error) => {
                tracing::error!(%error, "no token issued: the audit log cannot be written");
                OAuthError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the audit log cannot be written, so no token is issued until it can",
                )
                .into_response()
            }
        },
        Err(error) => {
            let outcome = if error.status.is_server_error() {
                Outcome::Error
            } else {
                Outcome::Denied
            };
            state
                .audit
                .record_done(record.failed(outcome, error.error, &error.description))
                .await;
            error.into_response()
        }
    }
}

async fn issue(
    state: &AppState,
    peer: Option<PeerAddress>,
    headers: &HeaderMap,
    body: &[u8],
    record: &mut Event,
) -> Result<TokenResponse, OAuthError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(OAuthError::invalid_request(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    let form = parse_form(body)?;
    let basic = basic_credentials(headers)?;
    let (client_id, secret, used_basic) = match (basic, form.get("client_id"), form.get("client_secret")) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "authenticate with HTTP Basic or with client_secret, not both",
            ));
        }
        (Some((id, secret)), _, None) => (id, secret, true),
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone(), false),
        (None, _, _) => return Err(OAuthError::invalid_client(false)),
    };
    // The id as claimed: a refusal records which client someone tried to be.
    record.principal = Some(crate::identity::printable_client_id(&client_id));
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the client_credentials grant is supported",
            ));
        }
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
    }

    let address = peer.map(|peer| peer.0.ip());
    let (client, token) = state
        .identity
        .exchange(&client_id, &secret, address)
        .await
        .map_err(|error| exchange_error(error, used_basic))?;
    issued_to(record, &client, state);
    Ok(TokenResponse {
        access_token: token.token,
        token_type: "Bearer",
        expires_in: token.expires_in,
    })
}

/// Makes `record` the record of a token issued to `client` by the built-in issuer: HTTP's
/// token endpoint and the Flight SQL handshake record their exchanges alike.
pub fn issued_to(record: &mut Event, client: &crate::store::ClientRecord, state: &AppState) {
    record.action = Action::TokenIssued;
    record.outcome = Outcome::Ok;
    record.department = Some(client.department.clone());
    record.roles = client.roles.iter().map(ToString::to_string).collect();
    record.issuer = state.identity.issuer().map(|issuer| issuer.url.clone());
}

/// Why a sign-in with a client id and secret outside the token endpoint (the Flight SQL
/// handshake, a PostgreSQL password) gave no token.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Refused(#[from] ExchangeError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// Exchanges a client id and secret for a token of the built-in issuer, as the token
/// endpoint does (the same rate limits): recorded as `token.refused`, or as `token.issued`
/// on disk before the token is handed out.
pub async fn sign_in(
    state: &AppState,
    client_id: &str,
    secret: &str,
    address: Option<std::net::SocketAddr>,
) -> Result<String, SignInError> {
    let mut record = Event::new(Action::TokenRefused, Outcome::Denied).at_address(address);
    record.principal = Some(crate::identity::printable_client_id(client_id));
    let exchanged = state
        .identity
        .exchange(client_id, secret, address.map(|address| address.ip()))
        .await;
    let (client, token) = match exchanged {
        Ok(exchanged) => exchanged,
        Err(error) => {
            let outcome = match error {
                ExchangeError::Store | ExchangeError::Signing => Outcome::Error,
                _ => Outcome::Denied,
            };
            state
                .audit
                .record_done(record.failed(outcome, "invalid_client", error.to_string()))
                .await;
            return Err(error.into());
        }
    };
    issued_to(&mut record, &client, state);
    state.audit.record(record).await?;
    Ok(token.token)
}

/// A refused exchange as RFC 6749 §5.2 answers it.
fn exchange_error(error: ExchangeError, used_basic: bool) -> OAuthError {
    let description = error.to_string();
    match error {
        ExchangeError::NoIssuer => OAuthError::new(StatusCode::NOT_FOUND, "invalid_request", description),
        ExchangeError::RateLimited(seconds) => OAuthError {
            retry_after: Some(seconds),
            ..OAuthError::new(StatusCode::TOO_MANY_REQUESTS, "invalid_request", description)
        },
        ExchangeError::InvalidClient => OAuthError::invalid_client(used_basic),
        ExchangeError::Unapproved(_) | ExchangeError::Separation(_) => {
            OAuthError::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
        }
        ExchangeError::Store | ExchangeError::Signing => {
            OAuthError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", description)
        }
    }
}

/// The form's parameters; each may appear once (RFC 6749 §3.2).
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut form = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if form.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(OAuthError::invalid_request(format!(
                "the parameter {name} appears more than once"
            )));
        }
    }
    Ok(form)
}

/// Client id and secret from `Authorization: Basic`, each form-urlencoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let encoded = value
        .to_str()
        .ok()
        .and_then(|value| {
            value
                .strip_prefix("Basic ")
                .or_else(|| value.strip_prefix("basic "))
        })
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    let decode = |text: &str| {
        url::form_urlencoded::parse(format!("x={text}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((decode(id), decode(secret))))
}
