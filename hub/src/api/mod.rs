//! The HTTP API: one file per resource, every route in [`router`].

mod auth;
mod catalog;
mod datasets;
pub mod error;
mod extract;
mod health;
mod openapi;
mod query;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post, put};

use crate::query::QueryEngine;
use crate::registry::Registry;

pub use auth::local_operator;
pub use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub engine: Arc<QueryEngine>,
}

pub fn router(state: AppState, max_request_bytes: usize) -> Router {
    Router::new()
        .route("/v1/health", get(health::health))
        .route("/v1/catalog", get(catalog::catalog))
        .route("/v1/datasets", post(datasets::publish))
        .route(
            "/v1/datasets/{department}/{name}",
            get(datasets::describe).delete(datasets::remove),
        )
        .route(
            "/v1/datasets/{department}/{name}/contract",
            put(datasets::new_version),
        )
        .route("/v1/query", post(query::query))
        .route("/v1/openapi.json", get(openapi::document))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_request_bytes))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; the API is described at /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method; see /v1/openapi.json",
    )
}
