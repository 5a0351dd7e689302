//! Cross-origin calls to the built-in provider's token and revocation endpoints, for the
//! pages of applications registered with it (another hub's console signing people in here):
//! an answer names the caller's origin (`Access-Control-Allow-Origin`, Fetch standard §3.2)
//! only when a registered redirect URI has that origin; no credentials (cookies) are
//! allowed, since both endpoints take everything in the form. Any other origin gets answers
//! its browser will not hand to its page.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Names the caller's origin on the answer when it is a registered application's.
pub async fn registered_origins(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origin = allowed_origin(&state, request.headers());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}

/// Answers a CORS preflight (`OPTIONS`): a page may `POST` forms here from a registered
/// application's origin. Browsers send none for plain form posts, but a client library that
/// adds a header does.
pub async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let answer = response.headers_mut();
    answer.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed_origin(&state, &headers) {
        answer.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        answer.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        answer.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        answer.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    response
}

fn allowed_origin(state: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    state.identity.registered_origin(text).then(|| origin.clone())
}
