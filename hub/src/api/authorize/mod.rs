//! `GET` and `POST /oauth/authorize`: the built-in provider's sign-in page for people (the
//! authorization endpoint of RFC 6749 §3.1, with PKCE S256 required, RFC 7636).
//!
//! An unknown application or a redirect URI that is not registered exactly is answered on
//! the page itself and never redirected to (RFC 6749 §4.1.2.1); any other fault of the
//! request is sent back to the application's redirect URI as `error=...`. The form carries
//! a one-time value that must match a cookie set with the page (`SameSite=Strict`), so that
//! no other site can sign a browser in. Names and passwords are checked like client secrets
//! (the same failure limits); every attempt is recorded (`sign_in.succeeded`,
//! `sign_in.refused`). A successful sign-in is redirected (303) to the redirect URI with
//! `code`, `state` and `iss` (RFC 9207).

use std::collections::HashMap;
use std::fmt::Write;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::PeerAddress;
use crate::audit::{Action, Event, Outcome};
use crate::identity::{AuthorizationRequest, ExchangeError, valid_challenge};

mod texts;

use texts::Language;

/// The cookie that carries the sign-in form's one-time value.
const FORM_COOKIE: &str = "causeway_sign_in";
const TWICE: &str = "a parameter appears more than once";
/// The longest `state` or `nonce` an application may send (both are echoed or signed).
const MAX_PARAMETER_BYTES: usize = 512;

/// The sign-in page for an authorization request.
#[utoipa::path(get, operation_id = "sign_in_page", path = "/oauth/authorize", tag = "identity",
    params(
        ("response_type" = String, Query, description = "code"),
        ("client_id" = String, Query, description = "a registered application, e.g. console"),
        ("redirect_uri" = String, Query, description = "one of its registered redirect URIs, exactly"),
        ("code_challenge" = String, Query, description = "BASE64URL(SHA256(code_verifier)), RFC 7636"),
        ("code_challenge_method" = String, Query, description = "S256"),
        ("state" = Option<String>, Query),
        ("nonce" = Option<String>, Query),
        ("scope" = String, Query, description = "openid, and optionally profile"),
    ),
    responses(
        (status = 200, description = "The sign-in page", content_type = "text/html"),
        (status = 303, description = "Back to the application with error=... (RFC 6749 §4.1.2.1)"),
        (status = 400, description = "Unknown application or redirect URI: a page that says so"),
    ))]
pub async fn page(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let language = Language::of(&headers);
    let parameters = super::oauth::parameters(query.as_deref().unwrap_or_default().as_bytes());
    match parameters
        .map_err(|_| Refusal::Page(TWICE))
        .and_then(|parameters| checked_request(&state, &parameters))
    {
        Ok(request) => match crate::identity::random_token() {
            Some(form_value) => sign_in_page(
                &state,
                &request,
                &form_value,
                language,
                None,
                None,
                StatusCode::OK,
            ),
            None => message_page(language, StatusCode::SERVICE_UNAVAILABLE, language.unavailable()),
        },
        Err(refusal) => refusal.respond(&state, language),
    }
}

/// Checks a name and password and, when right, redirects back with a code.
#[utoipa::path(post, operation_id = "sign_in", path = "/oauth/authorize", tag = "identity",
    request_body(content = String, description = "the sign-in form: the authorization request's parameters, username, password, form", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Back to the application with code, state and iss"),
        (status = 401, description = "The page again: wrong name or password"),
        (status = 429, description = "The page again: too many failed attempts"),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    peer: Option<Extension<PeerAddress>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let language = Language::of(&headers);
    let Ok(form) = super::oauth::parameters(&body) else {
        return Refusal::Page(TWICE).respond(&state, language);
    };
    let username = form.get("username").map(|name| name.trim()).unwrap_or_default();
    let address = peer.map(|peer| peer.0.0);
    let mut record = Event::new(Action::SignInRefused, Outcome::Denied)
        .at_address(address)
        .with_detail(serde_json::json!({
            "application": form.get("client_id").map(|id| crate::identity::printable_client_id(id)),
        }));
    record.principal = Some(crate::identity::printable_client_id(username));
    let request = match checked_request(&state, &form) {
        Ok(request) => request,
        Err(refusal) => {
            state
                .audit
                .record_done(record.failed(Outcome::Denied, "invalid_request", refusal.reason()))
                .await;
            return refusal.respond(&state, language);
        }
    };
    let sent = form.get("form").map(String::as_str).unwrap_or_default();
    let cookie = super::extract::cookies(
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok()),
        FORM_COOKIE,
    )
    .next();
    if sent.is_empty() || cookie != Some(sent) {
        // Another site's form, or this one's from a tab whose cookie was replaced.
        let reason = "the sign-in form's one-time value does not match its cookie";
        state
            .audit
            .record_done(record.failed(Outcome::Denied, "invalid_request", reason))
            .await;
        return message_page(language, StatusCode::BAD_REQUEST, language.form_expired());
    }
    let password = form.get("password").map(String::as_str).unwrap_or_default();
    let checked = state
        .identity
        .check_password(username, password, address.map(|address| address.ip()))
        .await;
    let person = match checked {
        Ok(person) => person,
        Err(error) => {
            let (status, message, outcome) = match &error {
                ExchangeError::RateLimited(seconds) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    language.rate_limited(*seconds),
                    Outcome::Denied,
                ),
                ExchangeError::Unapproved(_) => {
                    (StatusCode::FORBIDDEN, language.unapproved(), Outcome::Denied)
                }
                ExchangeError::Separation(_) => {
                    (StatusCode::FORBIDDEN, language.separation(), Outcome::Denied)
                }
                ExchangeError::Store | ExchangeError::Signing | ExchangeError::NoIssuer => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    language.unavailable().to_owned(),
                    Outcome::Error,
                ),
                ExchangeError::InvalidClient => (
                    StatusCode::UNAUTHORIZED,
                    language.wrong_password().to_owned(),
                    Outcome::Denied,
                ),
            };
            // People type passwords into the name field: a name that is no account's is not
            // kept, lest it be someone's password (nor typed back into the form).
            let known = state.identity.clients.check_exists(username).await.is_ok();
            if !known {
                record.principal = Some("(no such account)".to_owned());
            }
            state
                .audit
                .record_done(record.failed(outcome, "access_denied", error.to_string()))
                .await;
            let Some(form_value) = crate::identity::random_token() else {
                return message_page(language, StatusCode::SERVICE_UNAVAILABLE, language.unavailable());
            };
            let again = known.then_some(username);
            return sign_in_page(
                &state,
                &request,
                &form_value,
                language,
                again,
                Some(&message),
                status,
            );
        }
    };
    record.action = Action::SignInSucceeded;
    record.outcome = Outcome::Ok;
    super::oauth::vouched_for(&mut record, &person, &state);
    // The code leaves the hub only once the sign-in is on disk.
    if let Err(error) = state.audit.record(record).await {
        tracing::error!(%error, "no sign-in: the audit log cannot be written");
        return message_page(language, StatusCode::SERVICE_UNAVAILABLE, language.unavailable());
    }
    let code = match state.identity.issue_code(&person, &request).await {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(%error, "cannot keep an authorization code");
            return message_page(language, StatusCode::SERVICE_UNAVAILABLE, language.unavailable());
        }
    };
    let mut answer = vec![("code", code.as_str())];
    if let Some(state) = &request.state {
        answer.push(("state", state));
    }
    let issuer = state.identity.issuer().map(|issuer| issuer.url.clone());
    if let Some(issuer) = &issuer {
        answer.push(("iss", issuer));
    }
    let mut response = redirect(&request.redirect_uri, &answer);
    // The one-time value is used: its cookie goes.
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "causeway_sign_in=; Path=/oauth/authorize; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}

/// What is wrong with an authorization request, and where to say it.
enum Refusal {
    /// On the page: the application or its redirect URI cannot be trusted.
    Page(&'static str),
    /// Back to the application's redirect URI (RFC 6749 §4.1.2.1).
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: &'static str,
        state: Option<String>,
    },
}

impl Refusal {
    fn reason(&self) -> &'static str {
        match self {
            Refusal::Page(reason) => reason,
            Refusal::Redirect { description, .. } => description,
        }
    }

    fn respond(self, app: &AppState, language: Language) -> Response {
        match self {
            Refusal::Page(reason) => {
                message_page(language, StatusCode::BAD_REQUEST, &language.bad_request(reason))
            }
            Refusal::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => {
                let mut answer = vec![("error", error), ("error_description", description)];
                if let Some(state) = &state {
                    answer.push(("state", state));
                }
                // RFC 9207: error answers name their issuer too.
                let issuer = app.identity.issuer().map(|issuer| issuer.url.clone());
                if let Some(issuer) = &issuer {
                    answer.push(("iss", issuer));
                }
                redirect(&redirect_uri, &answer)
            }
        }
    }
}

/// The request, if its application and redirect URI are registered and it asks for a code
/// with an S256 challenge.
fn checked_request(
    state: &AppState,
    parameters: &HashMap<String, String>,
) -> Result<AuthorizationRequest, Refusal> {
    if state.identity.issuer().is_none() {
        return Err(Refusal::Page(
            "this hub does not sign people in; use its identity provider",
        ));
    }
    let client_id = parameters
        .get("client_id")
        .ok_or(Refusal::Page("client_id is missing"))?;
    let application = state
        .identity
        .application(client_id)
        .ok_or(Refusal::Page("the application is not registered with this hub"))?;
    let redirect_uri = parameters
        .get("redirect_uri")
        .ok_or(Refusal::Page("redirect_uri is missing"))?;
    if !application
        .redirect_uris
        .iter()
        .any(|registered| crate::identity::redirect_matches(registered, redirect_uri))
    {
        return Err(Refusal::Page(
            "the redirect_uri is not one registered for the application",
        ));
    }
    let state_parameter = parameters.get("state").cloned();
    if state_parameter
        .as_ref()
        .is_some_and(|state| state.len() > MAX_PARAMETER_BYTES)
    {
        return Err(Refusal::Page("the state is too long"));
    }
    let refuse = |error, description| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description,
        state: state_parameter.clone(),
    };
    if parameters.get("response_type").map(String::as_str) != Some("code") {
        return Err(refuse(
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    if !parameters
        .get("scope")
        .is_some_and(|scope| scope.split(' ').any(|scope| scope == "openid"))
    {
        return Err(refuse("invalid_scope", "the scope must include openid"));
    }
    if parameters
        .get("nonce")
        .is_some_and(|nonce| nonce.len() > MAX_PARAMETER_BYTES)
    {
        return Err(refuse("invalid_request", "the nonce is too long"));
    }
    if parameters.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return Err(refuse(
            "invalid_request",
            "PKCE is required: code_challenge_method=S256 and a code_challenge",
        ));
    }
    let code_challenge = parameters
        .get("code_challenge")
        .filter(|challenge| valid_challenge(challenge))
        .ok_or_else(|| refuse("invalid_request", "code_challenge is not an S256 challenge"))?;
    Ok(AuthorizationRequest {
        client_id: client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        state: state_parameter,
        code_challenge: code_challenge.clone(),
        nonce: parameters.get("nonce").cloned(),
    })
}

/// A 303 to `uri` with `parameters` added to its query.
fn redirect(uri: &str, parameters: &[(&str, &str)]) -> Response {
    let mut target = match url::Url::parse(uri) {
        Ok(target) => target,
        // Registered URIs are checked when the hub starts; this is not reached.
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    target.query_pairs_mut().extend_pairs(parameters);
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(target.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    secure_headers(response.headers_mut(), None);
    response
}

/// The sign-in form, with the request's parameters hidden in it and a new one-time value in
/// the form and its cookie; after a failed try, with the account's name filled in again
/// (`username`, only an existing account's) and the password to type.
fn sign_in_page(
    state: &AppState,
    request: &AuthorizationRequest,
    form_value: &str,
    language: Language,
    username: Option<&str>,
    message: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut hidden = String::new();
    let fields = [
        ("response_type", Some("code")),
        ("client_id", Some(request.client_id.as_str())),
        ("redirect_uri", Some(request.redirect_uri.as_str())),
        ("code_challenge", Some(request.code_challenge.as_str())),
        ("code_challenge_method", Some("S256")),
        ("scope", Some("openid")),
        ("state", request.state.as_deref()),
        ("nonce", request.nonce.as_deref()),
        ("form", Some(form_value)),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            let _ = write!(
                hidden,
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(value)
            );
        }
    }
    let alert = message.map_or_else(String::new, |message| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape(message))
    });
    let body = format!(
        "<h1>{title}</h1><p>{intro}</p>{alert}\
         <form method=\"post\" action=\"/oauth/authorize\">{hidden}\
         <label for=\"username\">{user}</label>\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required{name_value}>\
         <label for=\"password\">{password}</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{password_focus}>\
         <button type=\"submit\">{submit}</button></form>",
        title = language.title(),
        intro = escape(&language.intro(&request.client_id)),
        user = language.username(),
        name_value = username.map_or_else(
            || " autofocus".to_owned(),
            |name| format!(" value=\"{}\"", escape(name))
        ),
        password_focus = if username.is_some() { " autofocus" } else { "" },
        password = language.password(),
        submit = language.submit(),
    );
    let mut response = html(language, status, &body, Some(&request.redirect_uri));
    let secure = state
        .identity
        .issuer()
        .is_some_and(|issuer| issuer.url.starts_with("https://"));
    let cookie = format!(
        "{FORM_COOKIE}={form_value}; Path=/oauth/authorize; HttpOnly; SameSite=Strict; Max-Age=1800{}",
        if secure { "; Secure" } else { "" }
    );
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn message_page(language: Language, status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p>",
        language.title(),
        escape(message)
    );
    html(language, status, &body, None)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem;color:#1b1b1b}\
label{display:block;margin-top:1rem}input{display:block;width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}\
button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}.error{color:#a00000}";

/// A page of the provider: no script, styles only from the page itself, forms only to this
/// hub and (for the redirect that follows a sign-in) the application's origin.
fn html(language: Language, status: StatusCode, body: &str, redirect_uri: Option<&str>) -> Response {
    let nonce = crate::identity::random_token().unwrap_or_default();
    let page = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style nonce=\"{nonce}\">{STYLE}</style></head><body>{body}</body></html>",
        language.tag(),
        language.title(),
    );
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(headers, Some((&nonce, redirect_uri)));
    response
}

/// No caching, no framing, no referrer; for pages, a Content-Security-Policy that allows no
/// script at all.
fn secure_headers(headers: &mut HeaderMap, page: Option<(&str, Option<&str>)>) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some((nonce, redirect_uri)) = page {
        // Browsers check form-action on the redirect a form's answer makes too.
        let origin = redirect_uri
            .and_then(|uri| url::Url::parse(uri).ok())
            .map(|uri| uri.origin().ascii_serialization())
            .filter(|origin| origin != "null")
            .map(|origin| format!(" {origin}"))
            .unwrap_or_default();
        let policy = format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'{origin}; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        if let Ok(policy) = HeaderValue::from_str(&policy) {
            headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
}

/// Text made safe for HTML content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_for_content_and_attributes() {
        assert_eq!(
            escape("\"><script>alert('x')</script>&"),
            "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
    }
}
