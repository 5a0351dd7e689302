use axum::Json;
use utoipa::OpenApi;

use super::{
    alerts, audit, authorize, catalog, clients, datasets, error, grants, health, keys, me, metrics, oauth,
    query, requests, supervision, verify, versions, wellknown,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Causeway",
        description = "Inter-departmental data-sharing hub: publish datasets where they live, query them together with SQL."
    ),
    paths(
        health::health,
        health::ready,
        catalog::catalog,
        datasets::describe,
        datasets::publish,
        datasets::new_version,
        datasets::remove,
        datasets::refresh,
        versions::version,
        versions::diff,
        metrics::metrics,
        query::query,
        verify::verify,
        me::me,
        me::change_password,
        grants::list,
        grants::create,
        grants::revoke,
        grants::due,
        grants::confirm,
        grants::explain,
        grants::deny_rules,
        requests::create,
        requests::list,
        requests::get,
        requests::decide,
        requests::withdraw,
        requests::dry_run,
        clients::list,
        clients::create,
        clients::disable,
        clients::rotate_secret,
        clients::set_roles,
        clients::approve,
        clients::refuse,
        keys::rotate,
        alerts::list,
        alerts::clear,
        audit::events,
        audit::verify_log,
        audit::reveal,
        supervision::stream,
        supervision::activity,
        oauth::token,
        oauth::revoke,
        authorize::page,
        authorize::sign_in,
        wellknown::openid_configuration,
        wellknown::jwks,
        document,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&BearerAuth, &ErrorResponses),
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

/// Routes anyone may call without a token.
const PUBLIC: &[&str] = &[
    "/v1/health",
    "/v1/ready",
    "/v1/openapi.json",
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/authorize",
    "/.well-known/openid-configuration",
    "/.well-known/jwks.json",
];

/// The error answers every route may give, each with the error body, added where a route's
/// own annotation does not say more: 401, 403, 429 and 503 on every route that takes a token,
/// 404 on every route with a path parameter. Public routes are marked as needing no token.
struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let public = PUBLIC.contains(&path.as_str());
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let mut answers: Vec<(&str, &str)> = Vec::new();
                if public {
                    // An empty list: no token needed, overriding the document's default.
                    operation.security = Some(Vec::new());
                } else {
                    answers.extend([
                        (
                            "401",
                            "No bearer token, or one that is invalid, expired or revoked \
                             (`unauthenticated`, `invalid_token`); the WWW-Authenticate header says which",
                        ),
                        (
                            "403",
                            "The caller may not do this (`forbidden`, `separation_of_duties`, \
                             `suspended`, `access_denied`)",
                        ),
                        (
                            "429",
                            "Too many requests of this caller at once, or a row quota used up \
                             (`too_many_queries`, `row_quota_exceeded`); Retry-After says when to try again",
                        ),
                        (
                            "503",
                            "The audit log cannot be written, so nothing is done or served \
                             (`audit_unavailable`), or the hub is at capacity (`busy`); Retry-After is set",
                        ),
                    ]);
                }
                if path.contains('{') {
                    answers.push(("404", "No such resource (`not_found`)"));
                }
                for (status, description) in answers {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description).into());
                }
            }
        }
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
            "/v1/ready",
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
            "/v1/access-requests/{id}/dry-run",
            "/v1/verify",
            "/v1/clients",
            "/v1/clients/{id}/disable",
            "/v1/clients/{id}/rotate-secret",
            "/v1/clients/{id}/roles",
            "/v1/clients/{id}/approve",
            "/v1/clients/{id}/refuse",
            "/v1/keys/rotate",
            "/v1/audit/reveal",
            "/v1/grants/due",
            "/v1/deny-rules",
            "/v1/datasets/{department}/{name}/versions/{version}",
            "/v1/datasets/{department}/{name}/diff",
            "/v1/grants/{id}/confirm",
            "/oauth/token",
            "/oauth/revoke",
            "/oauth/authorize",
            "/.well-known/openid-configuration",
            "/.well-known/jwks.json",
        ] {
            assert!(
                paths.iter().any(|path| path.as_str() == route),
                "{route} is not documented"
            );
        }
    }

    #[test]
    fn routes_document_their_errors_and_public_routes_need_no_token() {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let grants = &document["paths"]["/v1/grants/{id}"]["delete"];
        for status in ["401", "403", "404", "429", "503"] {
            assert_eq!(
                grants["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "DELETE /v1/grants/{{id}} {status}"
            );
        }
        assert_eq!(
            document["paths"]["/v1/health"]["get"]["security"],
            serde_json::json!([])
        );
        assert_eq!(
            document["paths"]["/oauth/token"]["post"]["security"],
            serde_json::json!([])
        );
        assert!(document["paths"]["/v1/grants"]["get"].get("security").is_none());
        assert!(
            document["paths"]["/v1/health"]["get"]["responses"]
                .get("401")
                .is_none()
        );
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
