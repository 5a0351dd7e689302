//! The layer every HTTP request passes: a span that its log lines carry (a request id, the
//! route as declared, and the principal once its token is read), and its count and time in
//! the metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::metrics::{RequestLabels, RouteLabels, metrics};

/// The route a request matched, as declared (`/v1/datasets/{department}/{name}`), never as
/// sent: a path's values are not labels.
fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned())
}

/// The method as a label: one of HTTP's own, or `other` (a client may send any token as a
/// method, and must not grow the metrics with it).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Counts and times `request`, inside a span named `request`.
pub async fn observe(request: Request, next: Next) -> Response {
    let route = route_of(&request);
    let method = method_label(request.method()).to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %uuid::Uuid::new_v4().simple(),
        method = %method,
        route = %route,
        principal = tracing::field::Empty,
        query_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span).await;
    let metrics = metrics();
    metrics
        .http_request_duration
        .get_or_create(&RouteLabels {
            route: route.clone(),
            method: method.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .http_requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Names the principal in the span of the request (or front-door call) being served.
pub fn record_principal(principal: &str) {
    tracing::Span::current().record("principal", principal);
}

/// Names the query in the span of the request (or front-door call) being served.
pub fn record_query(query_id: &str) {
    tracing::Span::current().record("query_id", query_id);
}

/// How a response with a server-error status is logged by tower-http's trace layer: a 503
/// is the hub saying it is not ready, stopping or full (the probes ask every few seconds,
/// and the causes are logged where they arise), so at DEBUG; any other
/// 5xx, or a failure below HTTP, at ERROR as tower-http logs it by default.
pub fn on_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: std::time::Duration,
    _span: &tracing::Span,
) {
    use tower_http::classify::ServerErrorsFailureClass;
    let latency_ms = latency.as_millis();
    match class {
        ServerErrorsFailureClass::StatusCode(status)
            if status == axum::http::StatusCode::SERVICE_UNAVAILABLE =>
        {
            tracing::debug!(%status, latency_ms, "service unavailable");
        }
        other => tracing::error!(classification = %other, latency_ms, "response failed"),
    }
}
