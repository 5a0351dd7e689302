use axum::Json;
use utoipa::OpenApi;

use super::{
    alerts, audit, catalog, clients, datasets, error, grants, health, keys, me, metrics, oauth, query,
    requests, wellknown,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Causeway",
        description = "Inter-departmental data-sharing hub: publish datasets where they live, query them together with SQL."
    ),
    paths(
        health::health,
        catalog::catalog,
        datasets::describe,
        datasets::publish,
        datasets::new_version,
        datasets::remove,
        datasets::refresh,
        metrics::metrics,
        query::query,
        me::me,
        grants::list,
        grants::create,
        grants::revoke,
        grants::due,
        grants::confirm,
        grants::explain,
        requests::create,
        requests::list,
        requests::get,
        requests::decide,
        clients::list,
        clients::create,
        clients::disable,
        clients::rotate_secret,
        clients::set_roles,
        clients::approve,
        keys::rotate,
        alerts::list,
        alerts::clear,
        audit::events,
        audit::verify_log,
        audit::reveal,
        oauth::token,
        wellknown::openid_configuration,
        wellknown::jwks,
        document,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

/// Every route but the token endpoint, discovery, health and this document takes a
/// bearer token.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "hub",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented() {
        let document = ApiDoc::openapi();
        let paths: Vec<&String> = document.paths.paths.keys().collect();
        for route in [
            "/v1/alerts",
            "/v1/alerts/{id}/clear",
            "/v1/audit/events",
            "/v1/audit/verify",
            "/v1/health",
            "/v1/catalog",
            "/v1/datasets",
            "/v1/datasets/{department}/{name}",
            "/v1/datasets/{department}/{name}/contract",
            "/v1/datasets/{department}/{name}/refresh",
            "/metrics",
            "/v1/query",
            "/v1/openapi.json",
            "/v1/me",
            "/v1/grants",
            "/v1/grants/{id}",
            "/v1/access/explain",
            "/v1/access-requests",
            "/v1/access-requests/{id}",
            "/v1/access-requests/{id}/decision",
            "/v1/clients",
            "/v1/clients/{id}/disable",
            "/v1/clients/{id}/rotate-secret",
            "/v1/clients/{id}/roles",
            "/v1/clients/{id}/approve",
            "/v1/keys/rotate",
            "/v1/audit/reveal",
            "/v1/grants/due",
            "/v1/grants/{id}/confirm",
            "/oauth/token",
            "/.well-known/openid-configuration",
            "/.well-known/jwks.json",
        ] {
            assert!(
                paths.iter().any(|path| path.as_str() == route),
                "{route} is not documented"
            );
        }
    }

    /// Client generators name a method after its operation id: two alike break them.
    #[test]
    fn operation_ids_are_unique() {
        let document = ApiDoc::openapi();
        let mut seen = std::collections::BTreeMap::new();
        for (path, item) in &document.paths.paths {
            let operations = [
                &item.get,
                &item.put,
                &item.post,
                &item.delete,
                &item.options,
                &item.head,
                &item.patch,
                &item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                let id = operation.operation_id.clone().unwrap_or_default();
                assert!(!id.is_empty(), "{path} has no operation id");
                if let Some(other) = seen.insert(id.clone(), path.clone()) {
                    panic!("operation id {id} is used by {other} and {path}");
                }
            }
        }
    }
}
