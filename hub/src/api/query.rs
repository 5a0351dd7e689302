use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use crate::query::output::{BatchEncoder, OutputFormat};
use crate::query::{QueryError, QueryRequest};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    /// One read query: SELECT, WITH, VALUES or EXPLAIN.
    pub sql: String,
    /// Why the query is run, e.g. `housing-subsidy-review`.
    pub purpose: String,
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
        (status = 503, description = "Too many queries are running", body = ErrorBody),
    ))]
pub async fn query(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<QueryBody>,
) -> Result<Response, ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok());
    let format = OutputFormat::from_accept(accept)?;
    let request = QueryRequest {
        sql: body.sql,
        purpose: body.purpose,
    };
    let mut running = state.engine.run(&caller, &request).await?;
    // The first batch is awaited before answering, so errors found while computing it still
    // get a proper status rather than a broken stream.
    let first = running.batches.next().await.transpose()?;
    let mut encoder = format.encoder(&running.id, running.schema)?;
    let mut head = encoder.begin()?.to_vec();
    if let Some(batch) = &first {
        head.extend_from_slice(&encoder.batch(batch)?);
    }
    let rest = if first.is_some() {
        running.batches
    } else {
        Box::pin(futures::stream::empty())
    };
    let body = futures::stream::once(async move { Ok(Bytes::from(head)) }).chain(encode(rest, encoder));
    let mut response = Response::new(Body::from_stream(body));
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(id) = HeaderValue::from_str(&running.id) {
        response_headers.insert("x-causeway-query-id", id);
    }
    let grants: Vec<&str> = running
        .decisions
        .iter()
        .flat_map(|decision| decision.grants.iter().map(|grant| grant.id.as_str()))
        .collect();
    if let Ok(grants) = HeaderValue::from_str(&grants.join(",")) {
        response_headers.insert("x-causeway-grants", grants);
    }
    Ok(response)
}

/// The remaining batches, encoded, then the format's ending. An error ends the stream
/// without the ending, so the client sees a broken transfer rather than a short result.
fn encode(
    batches: std::pin::Pin<
        Box<
            dyn futures::Stream<Item = Result<datafusion::arrow::record_batch::RecordBatch, QueryError>>
                + Send,
        >,
    >,
    encoder: Box<dyn BatchEncoder>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures::stream::unfold(Some((batches, encoder)), |state| async move {
        let (mut batches, mut encoder) = state?;
        match batches.next().await {
            Some(Ok(batch)) => match encoder.batch(&batch) {
                Ok(bytes) => Some((Ok(bytes), Some((batches, encoder)))),
                Err(error) => Some((Err(std::io::Error::other(error.to_string())), None)),
            },
            Some(Err(error)) => {
                tracing::warn!(%error, "query failed while streaming");
                Some((Err(std::io::Error::other(error.to_string())), None))
            }
            None => match encoder.finish() {
                Ok(bytes) => Some((Ok(bytes), None)),
                Err(error) => Some((Err(std::io::Error::other(error.to_string())), None)),
            },
        }
    })
}
