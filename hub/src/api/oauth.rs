//! `POST /oauth/token`: the client-credentials grant of RFC 6749 §4.4 for services, and the
//! authorization-code (§4.1.3, with PKCE) and refresh-token (§6) grants for applications
//! people sign in to (`identity::sign_in`); `POST /oauth/revoke` ends a person's sign-in
//! (RFC 7009). Services authenticate with HTTP Basic or with `client_id` and
//! `client_secret` form fields; applications are public clients and send only their
//! `client_id`. Errors follow §5.2 (`{"error": ..., "error_description": ...}`), not the
//! API's own shape. A failure never tells whether the client id exists, and repeated
//! failures per client id or per address are refused for a while with 429.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::auth::PeerAddress;
use crate::audit::{Action, Event, Outcome};
use crate::identity::{ExchangeError, GrantError};

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// For a person: the OpenID Connect ID token, for the application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// For a person: the next refresh token, used once (each use answers a new one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
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
    request_body(content = String, description = "grant_type=client_credentials, with client_id and client_secret or HTTP Basic; grant_type=authorization_code with client_id, code, redirect_uri and code_verifier; grant_type=refresh_token with client_id and refresh_token", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A token", body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant or unsupported_grant_type (RFC 6749 §5.2)"),
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
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code" | "refresh_token") => {
            return person_grant(state, headers, &form, record).await;
        }
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "the grants are client_credentials, authorization_code and refresh_token",
            ));
        }
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
    }
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
        id_token: None,
        refresh_token: None,
    })
}

/// The authorization-code and refresh-token grants of an application people sign in to.
async fn person_grant(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    record: &mut Event,
) -> Result<TokenResponse, OAuthError> {
    if headers.contains_key(header::AUTHORIZATION) || form.contains_key("client_secret") {
        return Err(OAuthError::invalid_request(
            "applications people sign in to are public clients: send client_id, no secret",
        ));
    }
    let field = |name: &'static str| {
        form.get(name)
            .map(String::as_str)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))
    };
    let client_id = field("client_id")?;
    let grant = field("grant_type")?;
    record.detail = Some(json!({ "grant_type": grant, "application": client_id }).to_string());
    let granted = if grant == "authorization_code" {
        state
            .identity
            .redeem_code(
                client_id,
                field("code")?,
                field("redirect_uri")?,
                field("code_verifier")?,
            )
            .await
    } else {
        state.identity.refresh(client_id, field("refresh_token")?).await
    };
    let tokens = match granted {
        Ok(tokens) => tokens,
        Err(GrantError::Replayed { family, account }) => {
            // A code or refresh token used twice means one of the two holders is not the
            // person: the whole sign-in is ended, and that is recorded.
            let mut ended = Event::new(Action::SignInEnded, Outcome::Ok).with_detail(json!({
                "reason": "a code or refresh token was used twice",
                "application": client_id,
                "sign_in": family,
            }));
            ended.principal = Some(account.clone());
            ended.client_address = record.client_address.clone();
            state.audit.record_done(ended).await;
            record.principal = Some(account);
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the code or refresh token was already used; that sign-in is ended: sign in again",
            ));
        }
        Err(error) => {
            // Who the code or token was for: a stolen code tried with the wrong verifier is
            // on that person's record.
            if let GrantError::InvalidGrant {
                account: Some(account),
                ..
            } = &error
            {
                record.principal = Some(account.clone());
            }
            return Err(grant_error(error));
        }
    };
    issued_to(record, &tokens.person, state);
    Ok(TokenResponse {
        access_token: tokens.access.token,
        token_type: "Bearer",
        expires_in: tokens.access.expires_in,
        id_token: Some(tokens.id_token),
        refresh_token: Some(tokens.refresh_token),
    })
}

fn grant_error(error: GrantError) -> OAuthError {
    let description = error.to_string();
    match error {
        GrantError::InvalidGrant { .. } | GrantError::Replayed { .. } => {
            OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
        }
        GrantError::InvalidClient => OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description),
        GrantError::NoIssuer => OAuthError::new(StatusCode::NOT_FOUND, "invalid_request", description),
        GrantError::Store(_) | GrantError::Signing => {
            OAuthError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", description)
        }
    }
}

/// Ends the sign-in a refresh token belongs to (RFC 7009): its refresh tokens stop working
/// at once, and its access tokens expire within their short lifetime. A token that is
/// unknown, or another application's, is answered alike (§2.2).
#[utoipa::path(post, operation_id = "revoke_sign_in", path = "/oauth/revoke", tag = "identity",
    request_body(content = String, description = "token (a refresh token) and client_id", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "invalid_request"),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    peer: Option<Extension<PeerAddress>>,
    body: Bytes,
) -> Response {
    let form = match parse_form(&body) {
        Ok(form) => form,
        Err(error) => return error.into_response(),
    };
    let (Some(client_id), Some(token)) = (form.get("client_id"), form.get("token")) else {
        return OAuthError::invalid_request("send token and client_id").into_response();
    };
    match state.identity.sign_out(client_id, token).await {
        Ok(Some((account, family))) => {
            let mut ended = Event::new(Action::SignInEnded, Outcome::Ok)
                .at_address(peer.map(|peer| peer.0.0))
                .with_detail(json!({ "reason": "signed out", "application": client_id, "sign_in": family }));
            ended.principal = Some(account);
            state.audit.record_done(ended).await;
            no_store_ok()
        }
        Ok(None) => no_store_ok(),
        Err(error) => {
            tracing::error!(%error, "cannot revoke a sign-in");
            OAuthError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the sign-in could not be ended; try again",
            )
            .into_response()
        }
    }
}

fn no_store_ok() -> Response {
    let mut response = StatusCode::OK.into_response();
    no_store(response.headers_mut());
    response
}

/// Makes `record` the record of a token issued to `client` by the built-in issuer: HTTP's
/// token endpoint and the Flight SQL handshake record their exchanges alike.
pub fn issued_to(record: &mut Event, client: &crate::store::ClientRecord, state: &AppState) {
    record.action = Action::TokenIssued;
    record.outcome = Outcome::Ok;
    vouched_for(record, client, state);
}

/// Names in `record` the account the built-in issuer vouched for: who, of which department,
/// with which roles.
pub fn vouched_for(record: &mut Event, account: &crate::store::ClientRecord, state: &AppState) {
    record.principal = Some(account.id.clone());
    record.department = Some(account.department.clone());
    record.roles = account.roles.iter().map(ToString::to_string).collect();
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
    parameters(body)
        .map_err(|name| OAuthError::invalid_request(format!("the parameter {name} appears more than once")))
}

/// The parameters of a form or query of the authorization server, or the name of one that
/// appears more than once, which RFC 6749 (§3.1, §3.2) forbids.
pub(super) fn parameters(bytes: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut parameters = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(bytes) {
        if parameters.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(name.into_owned());
        }
    }
    Ok(parameters)
}

/// The `user-id:password` of an `Authorization: Basic` value (RFC 7617), its base64 with or
/// without the padding (ADBC's Flight SQL driver, among others, leaves the `=` out); `None`
/// when the value is not one.
pub(crate) fn basic_user_pass(value: &str) -> Option<String> {
    // RFC 4648's alphabet, padding optional on input.
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = LENIENT.decode(encoded.trim()).ok()?;
    String::from_utf8(decoded).ok()
}

/// Client id and secret from `Authorization: Basic`, each form-urlencoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let decoded = value
        .to_str()
        .ok()
        .and_then(basic_user_pass)
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
