//! Request extractors whose rejections use the hub's error shape.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `axum::Json`, with errors as `{"error": ...}`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the request body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(rejection) => bytes_rejection(rejection),
        other => ApiError::bad_request("invalid_request", other.body_text()),
    }
}

fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than the hub accepts (limits.max_request_bytes)",
        )
    } else {
        ApiError::bad_request("invalid_request", rejection.body_text())
    }
}

/// A document sent as JSON or YAML, told apart by its content type.
pub enum Document {
    Json(String),
    Yaml(String),
}

impl<S: Send + Sync> FromRequest<S> for Document {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(bytes_rejection)?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::bad_request("invalid_request", "the request body is not UTF-8 text"))?;
        match content_type.as_str() {
            "application/json" => Ok(Self::Json(text)),
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => Ok(Self::Yaml(text)),
            _ => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the document as application/json or application/yaml",
            )),
        }
    }
}

/// `axum::extract::Query`, with errors as `{"error": ...}` (400 `invalid_request`).
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::bad_request(
                "invalid_request",
                format!("the query string is not understood: {}", rejection.body_text()),
            )),
        }
    }
}

/// `axum::extract::Path`, with errors as `{"error": ...}`: a path segment that is not of
/// its type (`/versions/abc`) names no resource, so 404.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::not_found(format!(
                "no such resource: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// The values of the cookie `name` in `headers` (the values of `Cookie` headers, each
/// `name=value` pairs separated by `;`, RFC 6265 §4.2), in order. HTTP's and gRPC's requests
/// both carry cookies this way.
pub fn cookies<'a>(
    headers: impl IntoIterator<Item = &'a str>,
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    headers
        .into_iter()
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// `?reason=...`: why an officer revokes a grant or clears an alert, kept with who did it and
/// when. Optional; at most [`REASON_CHARS`] characters.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReasonParams {
    /// Why, in a sentence.
    #[serde(default)]
    reason: Option<String>,
}

/// The longest reason kept.
pub const REASON_CHARS: usize = 500;

impl ReasonParams {
    /// The reason given, trimmed; none when blank.
    pub fn given(self) -> Result<Option<String>, ApiError> {
        let reason = self.reason.map(|reason| reason.trim().to_owned());
        match reason {
            Some(reason) if reason.chars().count() > REASON_CHARS => Err(ApiError::bad_request(
                "invalid_request",
                format!("a reason is at most {REASON_CHARS} characters"),
            )),
            Some(reason) if reason.is_empty() => Ok(None),
            reason => Ok(reason),
        }
    }
}
