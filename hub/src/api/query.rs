use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use datafusion::common::ScalarValue;
use futures::StreamExt;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use crate::query::output::{BatchEncoder, OutputFormat};
use crate::query::service::{FrontDoor, QueryCall, Results, ServiceError, Started};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    /// One read query: SELECT, WITH, VALUES or EXPLAIN.
    pub sql: String,
    /// Why the query is run, e.g. `housing-subsidy-review`. Required: a query without one
    /// is refused with 400 `missing_purpose` (and recorded as refused).
    #[serde(default)]
    pub purpose: String,
    /// Values for the query's placeholders `$1`, `$2`, ..., in order: a JSON string is text,
    /// an integer a 64-bit integer, any other number a double, `true`/`false` a boolean and
    /// `null` a null. Arrays and objects are refused.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub parameters: Vec<serde_json::Value>,
}

/// A JSON parameter as the typed value it is bound as.
fn parameter(value: &serde_json::Value) -> Result<ScalarValue, ApiError> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => ScalarValue::Null,
        Value::Bool(value) => ScalarValue::Boolean(Some(*value)),
        Value::String(text) => ScalarValue::Utf8(Some(text.clone())),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => ScalarValue::Int64(Some(integer)),
            None => ScalarValue::Float64(number.as_f64()),
        },
        Value::Array(_) | Value::Object(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                "query parameters are strings, numbers, booleans or null",
            ));
        }
    })
}

/// Runs a read query across departments. The `Accept` header chooses the format: JSON
/// (default), NDJSON, CSV, Arrow IPC stream or Parquet; every format streams as batches
/// arrive. The response's `X-Causeway-Query-Id` header names the query, and
/// `X-Causeway-Grants` the grants it was read under.
#[utoipa::path(post, path = "/v1/query", tag = "query",
    request_body = QueryBody,
    responses(
        (status = 200, description = "The result", content(
            (Object = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.apache.arrow.stream"),
            (Vec<u8> = "application/vnd.apache.parquet"),
        )),
        (status = 400, description = "Bad SQL, not a read query, unknown table or no purpose", body = ErrorBody),
        (status = 406, description = "No supported format in Accept", body = ErrorBody),
        (status = 413, description = "The request is too large", body = ErrorBody),
        (status = 422, description = "The query hit its time or memory limit", body = ErrorBody),
        (status = 503, description = "Too many queries are running, or the audit log cannot be written", body = ErrorBody),
    ))]
pub async fn query(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    ApiJson(body): ApiJson<QueryBody>,
) -> Result<Response, ApiError> {
    let parameters = body
        .parameters
        .iter()
        .map(parameter)
        .collect::<Result<Vec<_>, _>>()?;
    let call = QueryCall {
        client_address: address,
        parameters,
        ..QueryCall::new(caller, body.sql, body.purpose, FrontDoor::Http)
    };
    let accept = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok());
    let format = match OutputFormat::from_accept(accept) {
        Ok(format) => format,
        Err(unsupported) => {
            let error = ApiError::from(unsupported);
            state.queries.refuse(&call, front_door_error(&error));
            return Err(error);
        }
    };
    let Started {
        id,
        schema,
        grants,
        mut results,
    } = state.queries.execute(call).await?;
    let mut encoder = format
        .encoder(&id, schema)
        .map_err(|error| failed(&mut results, error))?;
    // The first batch is computed already: errors found while computing it got a proper
    // status above, rather than a broken stream.
    let mut head = encoder
        .begin()
        .map_err(|error| failed(&mut results, error))?
        .to_vec();
    let first = results.next().await;
    let ended = first.is_none();
    if let Some(first) = first {
        let batch = first.map_err(|error| failed(&mut results, error))?;
        let bytes = encoder
            .batch(&batch)
            .map_err(|error| failed(&mut results, error))?;
        head.extend_from_slice(&bytes);
    }
    results.sent(head.len());
    let body =
        futures::stream::once(async move { Ok(Bytes::from(head)) }).chain(encode(results, encoder, ended));
    let mut response = Response::new(Body::from_stream(body));
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(id) = HeaderValue::from_str(&id) {
        response_headers.insert("x-causeway-query-id", id);
    }
    if let Ok(grants) = HeaderValue::from_str(&grants.join(",")) {
        response_headers.insert("x-causeway-grants", grants);
    }
    Ok(response)
}

/// An error the HTTP door found, as the query's record gives it: a 403 is a denial.
fn front_door_error(error: &ApiError) -> ServiceError {
    ServiceError::FrontDoor {
        code: error.code,
        message: error.message.clone(),
        denied: error.status == StatusCode::FORBIDDEN,
    }
}

/// Ends `results` with `error`, recorded as the caller is answered with it.
fn failed(results: &mut Results, error: impl Into<ApiError>) -> ApiError {
    let error = error.into();
    results.failed(front_door_error(&error));
    error
}

/// The remaining batches, encoded, then the format's ending. An error ends the stream
/// without the ending, so the client sees a broken transfer rather than a short result;
/// so does a quota reached, after the rows it still allowed.
fn encode(
    results: Results,
    encoder: Box<dyn BatchEncoder>,
    ended: bool,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let state = Some((results, encoder, ended));
    futures::stream::unfold(state, |state| async move {
        let (mut results, mut encoder, ended) = state?;
        let next = if ended { None } else { results.next().await };
        match next {
            Some(Ok(batch)) => match encoder.batch(&batch) {
                Ok(bytes) => {
                    results.sent(bytes.len());
                    Some((Ok(bytes), Some((results, encoder, false))))
                }
                Err(error) => {
                    let error = failed(&mut results, error);
                    Some((Err(std::io::Error::other(error.message)), None))
                }
            },
            Some(Err(error)) => {
                tracing::warn!(error = %error.public_message(), "query failed while streaming");
                let broken = std::io::Error::other(error.public_message());
                results.failed(error);
                Some((Err(broken), None))
            }
            None => match encoder.finish() {
                Ok(bytes) => {
                    results.sent(bytes.len());
                    results.completed();
                    Some((Ok(bytes), None))
                }
                Err(error) => {
                    let error = failed(&mut results, error);
                    Some((Err(std::io::Error::other(error.message)), None))
                }
            },
        }
    })
}
