//! The HTTP API: one file per resource, every route in [`router`].

mod alerts;
mod audit;
mod auth;
mod authorize;
mod catalog;
mod clients;
mod console;
mod cors;
mod datasets;
pub mod error;
pub mod extract;
pub mod forwarded;
mod grants;
mod health;
mod keys;
mod me;
pub mod metrics;
pub mod oauth;
mod openapi;
mod query;
mod recorded;
mod requests;
mod supervision;
mod verify;
mod versions;
mod wellknown;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post, put};

use crate::access::Access;
use crate::audit::AuditLog;
use crate::identity::Identity;
use crate::query::QueryEngine;
use crate::query::service::QueryService;
use crate::registry::Registry;
use crate::supervision::{Alerts, Refusals, RowUsage};

pub use auth::{PeerAddress, PeerCertificate, authenticate};
pub use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub engine: Arc<QueryEngine>,
    /// The query service every front door calls.
    pub queries: QueryService,
    pub identity: Arc<Identity>,
    pub access: Arc<Access>,
    pub audit: AuditLog,
    /// Rows taken out today, for the grants' quotas.
    pub usage: Arc<RowUsage>,
    pub alerts: Arc<Alerts>,
    /// Requests refused for their bearer token, counted per address for the log.
    pub refusals: Arc<Refusals>,
    /// Where the audit log and the keys that sign its checkpoints are, for verification.
    /// The audit chains this hub reads: its own, and every node's under `audit.chains_root`.
    pub audit_chains: crate::audit::Chains,
    pub keys_dir: std::path::PathBuf,
    /// Cancelled when the hub begins to shut down: `/v1/ready` answers 503 from then on.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Whether the hub keeps up with the changes other hubs make to the store.
    pub following: Arc<crate::replicas::Following>,
}

pub fn router(state: AppState, max_request_bytes: usize, proxies: forwarded::TrustedProxies) -> Router {
    Router::new()
        .route("/v1/health", get(health::health))
        .route("/v1/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics))
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
        .route(
            "/v1/datasets/{department}/{name}/refresh",
            post(datasets::refresh),
        )
        .route(
            "/v1/datasets/{department}/{name}/versions/{version}",
            get(versions::version),
        )
        .route("/v1/datasets/{department}/{name}/diff", get(versions::diff))
        .route("/v1/query", post(query::query))
        .route("/v1/verify", post(verify::verify))
        .route("/v1/me", get(me::me))
        .route("/v1/me/password", post(me::change_password))
        .route("/v1/grants", get(grants::list).post(grants::create))
        .route("/v1/grants/due", get(grants::due))
        .route("/v1/grants/{id}", axum::routing::delete(grants::revoke))
        .route("/v1/grants/{id}/confirm", axum::routing::post(grants::confirm))
        .route("/v1/access/explain", get(grants::explain))
        .route("/v1/deny-rules", get(grants::deny_rules))
        .route("/v1/access-requests", get(requests::list).post(requests::create))
        .route("/v1/access-requests/{id}", get(requests::get))
        .route("/v1/access-requests/{id}/decision", post(requests::decide))
        .route("/v1/access-requests/{id}/withdraw", post(requests::withdraw))
        .route("/v1/access-requests/{id}/dry-run", post(requests::dry_run))
        .route("/v1/clients", get(clients::list).post(clients::create))
        .route("/v1/clients/{id}/disable", post(clients::disable))
        .route("/v1/clients/{id}/rotate-secret", post(clients::rotate_secret))
        .route("/v1/clients/{id}/roles", axum::routing::put(clients::set_roles))
        .route("/v1/clients/{id}/approve", post(clients::approve))
        .route("/v1/clients/{id}/refuse", post(clients::refuse))
        .route("/v1/keys/rotate", post(keys::rotate))
        .route("/v1/alerts", get(alerts::list))
        .route("/v1/alerts/{id}/clear", post(alerts::clear))
        .route("/v1/audit/events", get(audit::events))
        .route("/v1/audit/verify", get(audit::verify_log))
        .route("/v1/audit/stream", get(supervision::stream))
        .route("/v1/audit/activity", get(supervision::activity))
        .route("/v1/audit/reveal", post(audit::reveal))
        .route("/v1/openapi.json", get(openapi::document))
        .route(
            "/oauth/token",
            post(oauth::token)
                .options(cors::preflight)
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    cors::registered_origins,
                )),
        )
        .route(
            "/oauth/revoke",
            post(oauth::revoke)
                .options(cors::preflight)
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    cors::registered_origins,
                )),
        )
        .route("/oauth/authorize", get(authorize::page).post(authorize::sign_in))
        .route(
            "/.well-known/openid-configuration",
            get(wellknown::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(wellknown::jwks))
        .route("/console/config.json", get(console::config))
        .route("/console", get(console::root))
        .route("/console/", get(console::index))
        .route("/console/{*path}", get(console::asset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_request_bytes))
        .layer(axum::middleware::from_fn(crate::telemetry::http::observe))
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(proxies),
            forwarded::client_address,
        ))
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
