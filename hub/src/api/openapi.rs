use axum::Json;
use utoipa::OpenApi;

use super::{catalog, datasets, error, health, query};

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
        query::query,
        document,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail))
)]
struct ApiDoc;

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
            "/v1/health",
            "/v1/catalog",
            "/v1/datasets",
            "/v1/datasets/{department}/{name}",
            "/v1/datasets/{department}/{name}/contract",
            "/v1/query",
            "/v1/openapi.json",
        ] {
            assert!(
                paths.iter().any(|path| path.as_str() == route),
                "{route} is not documented"
            );
        }
    }
}
