//! `/console`: the web console, a Vue application built from `console/` into
//! `console/dist/` (committed; `.ci/run` checks that it matches its sources) and embedded in
//! the binary, so that one binary serves everything. The files are public: every piece of
//! data the console shows comes from the API under the signed-in person's token.
//!
//! Every answer carries a Content-Security-Policy that allows scripts, styles and calls to
//! this hub only (no inline script or style, no `eval`), and calls to the token endpoint of
//! the console's sign-in provider when that is another one (`[auth.console]`); it cannot be
//! framed and sends no referrer. Paths without a file extension are the application's own
//! routes and answer its page; the hashed assets are cached for a year, the page never.
//! `config.json` says where the console signs people in.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::AppState;
use super::error::ApiError;
use crate::identity::ConsoleProvider;

#[derive(rust_embed::Embed)]
#[folder = "../console/dist"]
struct Built;

/// The policy of every console answer: only this hub's own scripts, styles and API, and the
/// sign-in provider's origin (`{provider}`, empty for the built-in one) for its tokens.
fn content_security_policy(provider: Option<&str>) -> String {
    let provider = provider.map(|origin| format!(" {origin}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         font-src 'self' data:; connect-src 'self'{provider}; object-src 'none'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
}

/// Where the console signs people in: the provider's issuer, the console's client id there
/// and its endpoints (from its discovery document, for an external one). 404 when this hub
/// signs no one in; 503 when the external provider cannot be reached.
pub async fn config(State(state): State<AppState>) -> Result<Json<ConsoleProvider>, ApiError> {
    match state.identity.console_provider().await {
        Ok(Some(provider)) => Ok(Json(provider)),
        Ok(None) => Err(ApiError::not_found(
            "this hub signs no one in to its console: its built-in provider is off and auth.console names no other",
        )),
        Err(error) => {
            tracing::warn!(%error, "the console's sign-in provider cannot be reached");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                "the sign-in provider cannot be reached; try again in a minute",
            ))
        }
    }
}

/// `/console` without its slash: the application's base is `/console/`.
pub async fn root() -> Redirect {
    Redirect::permanent("/console/")
}

/// The application's page.
pub async fn index(State(state): State<AppState>) -> Response {
    file("index.html", &state)
}

/// A built file, or the page for one of the application's routes.
pub async fn asset(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    let last = path.rsplit('/').next().unwrap_or_default();
    if Built::get(&path).is_some() {
        file(&path, &state)
    } else if last.contains('.') {
        let mut response = (StatusCode::NOT_FOUND, "no such file").into_response();
        secure(response.headers_mut(), &state);
        response
    } else {
        file("index.html", &state)
    }
}

fn file(path: &str, state: &AppState) -> Response {
    let Some(content) = Built::get(path) else {
        // A binary built without the console's files (they are committed, so this is a
        // damaged checkout).
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the console's files are missing from this build",
        )
            .into_response();
    };
    let mut response = content.data.into_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    let cache = if path.starts_with("assets/") {
        // Their names carry a hash of their content.
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    secure(headers, state);
    response
}

fn secure(headers: &mut HeaderMap, state: &AppState) {
    let policy = content_security_policy(state.identity.console_provider_origin().as_deref());
    // An origin is ASCII (`Url::origin().ascii_serialization()`), so the value parses; were
    // it not to, the policy without the provider is sent rather than none.
    let policy = HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_str(&content_security_policy(None))
            .unwrap_or(HeaderValue::from_static("default-src 'none'"))
    });
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff2" => "font/woff2",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_console_is_embedded() {
        let page = Built::get("index.html").expect("console/dist/index.html is built and committed");
        let page = String::from_utf8_lossy(&page.data).into_owned();
        assert!(page.contains("/console/assets/"), "{page}");
        // No inline script: the policy allows none.
        assert!(!page.contains("<script>"), "{page}");
    }
}
