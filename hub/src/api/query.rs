use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use chrono::Utc;
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::audit::outcome_of;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use crate::audit::{Action, AuditLog, Event, Outcome};
use crate::query::output::{BatchEncoder, OutputFormat};
use crate::query::{BatchStream, QueryRequest};
use crate::store::AlertRecord;
use crate::supervision::{Alerts, QuotaExceeded, RowUsage};

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
        (status = 503, description = "Too many queries are running, or the audit log cannot be written", body = ErrorBody),
    ))]
pub async fn query(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    ApiJson(body): ApiJson<QueryBody>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let mut record = Event::by(Action::QueryStarted, Outcome::Ok, &caller).at_address(address);
    record.purpose = Some(body.purpose.clone());
    record.sql = Some(body.sql.clone());
    // A query that ends before sending anything: `query.refused` before it runs, or
    // `query.finished` with nothing sent once its `query.started` record is on its way.
    let ended_early = |mut record: Event, action: Action, error: ApiError| {
        if action == Action::QueryFinished {
            record.rows = Some(0);
            record.bytes = Some(0);
        }
        record.action = action;
        record.duration_ms = Some(elapsed_ms(started));
        state
            .audit
            .enqueue(record.failed(outcome_of(&error), error.code, &error.message));
        error
    };
    let refuse = |record: Event, error: ApiError| ended_early(record, Action::QueryRefused, error);

    let accept = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok());
    let format = match OutputFormat::from_accept(accept) {
        Ok(format) => format,
        Err(error) => return Err(refuse(record, error.into())),
    };
    if let Some(alert) = state.alerts.suspension(&caller.id) {
        return Err(refuse(record, suspended(&alert)));
    }
    let request = QueryRequest {
        sql: body.sql,
        purpose: body.purpose,
    };
    let mut running = match state.engine.run(&caller, &request).await {
        Ok(running) => running,
        Err(refused) => {
            record.query_id = Some(refused.id);
            record.datasets = refused.datasets;
            return Err(refuse(record, refused.error.into()));
        }
    };
    record.query_id = Some(running.id.clone());
    record.datasets = running.reads.datasets.clone();
    record.columns = running.reads.columns.clone();
    record.masks = running.reads.masks.clone();
    record.row_filters = running.reads.row_filters.clone();
    record.grants = running.reads.grants.clone();
    state.alerts.query_started(&caller, Utc::now()).await;
    if let Some(alert) = state.alerts.suspension(&caller.id) {
        return Err(refuse(record, suspended(&alert)));
    }
    let quota = match state
        .usage
        .allowance(&caller.id, &running.reads.quotas, Utc::now())
    {
        Ok(quota) => quota,
        Err(exceeded) => return Err(refuse(record, exceeded.into())),
    };
    // The record of the query goes to disk while its first batch is computed; nothing
    // leaves the hub before it is there.
    let durable = state.audit.submit(record.clone());
    let failed_before_sending =
        |record: Event, error: ApiError| ended_early(record, Action::QueryFinished, error);
    // The first batch is awaited before answering, so errors found while computing it still
    // get a proper status rather than a broken stream.
    let first = match running.batches.next().await.transpose() {
        Ok(first) => first,
        Err(error) => return Err(failed_before_sending(record, error.into())),
    };
    if let (Some(batch), Some((allowed, exceeded))) = (&first, &quota)
        && batch.num_rows() as u64 > *allowed
    {
        return Err(failed_before_sending(record, exceeded.clone().into()));
    }
    let mut encoder = format.encoder(&running.id, running.schema)?;
    let mut head = encoder.begin()?.to_vec();
    if let Some(batch) = &first {
        head.extend_from_slice(&encoder.batch(batch)?);
    }
    durable.await?;
    let charge = Charge {
        usage: Arc::clone(&state.usage),
        alerts: Arc::clone(&state.alerts),
        classifications: running.reads.classifications.clone(),
        principal: caller.id.clone(),
        datasets: running.reads.datasets.clone(),
        quota,
    };
    let mut finish = Finish::new(state.audit.clone(), charge, record, started);
    finish.sent(first.as_ref().map_or(0, RecordBatch::num_rows), head.len());
    let rest = if first.is_some() {
        running.batches
    } else {
        Box::pin(futures::stream::empty())
    };
    let body =
        futures::stream::once(async move { Ok(Bytes::from(head)) }).chain(encode(rest, encoder, finish));
    let mut response = Response::new(Body::from_stream(body));
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(id) = HeaderValue::from_str(&running.id) {
        response_headers.insert("x-causeway-query-id", id);
    }
    if let Ok(grants) = HeaderValue::from_str(&running.reads.grants.join(",")) {
        response_headers.insert("x-causeway-grants", grants);
    }
    Ok(response)
}

/// The refusal of a query of a principal an alert suspends.
fn suspended(alert: &AlertRecord) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "suspended",
        format!(
            "your access is suspended by alert {} ({}) until a security officer clears it",
            alert.id, alert.rule
        ),
    )
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Records `query.finished` when the response ends, however it ends: completed, failed
/// while streaming, or dropped because the client went away; and charges the rows sent to
/// the principal's daily quotas.
struct Finish {
    audit: AuditLog,
    charge: Charge,
    record: Option<Event>,
    started: Instant,
    rows: u64,
    bytes: u64,
    ended: Option<Result<(), ApiError>>,
}

/// Whom the rows a query sends are charged to, how many it may send, and the alert rules
/// that watch them.
struct Charge {
    usage: Arc<RowUsage>,
    alerts: Arc<Alerts>,
    /// The classifications of the columns the query read.
    classifications: BTreeSet<String>,
    principal: String,
    datasets: Vec<String>,
    /// The most rows the query may send, and the quota that says so.
    quota: Option<(u64, QuotaExceeded)>,
}

impl Finish {
    fn new(audit: AuditLog, charge: Charge, mut record: Event, started: Instant) -> Self {
        record.action = Action::QueryFinished;
        Self {
            audit,
            charge,
            record: Some(record),
            started,
            rows: 0,
            bytes: 0,
            ended: None,
        }
    }

    fn sent(&mut self, rows: usize, bytes: usize) {
        self.rows += rows as u64;
        self.bytes += bytes as u64;
    }

    /// The part of `batch` the quota still lets through, and whether it cut any.
    fn within_quota(&self, batch: RecordBatch) -> (RecordBatch, Option<QuotaExceeded>) {
        match &self.charge.quota {
            Some((allowed, exceeded)) if self.rows + batch.num_rows() as u64 > *allowed => {
                let left = usize::try_from(allowed.saturating_sub(self.rows)).unwrap_or(0);
                (batch.slice(0, left.min(batch.num_rows())), Some(exceeded.clone()))
            }
            _ => (batch, None),
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        let Some(mut record) = self.record.take() else {
            return;
        };
        let charge = &self.charge;
        let now = Utc::now();
        charge
            .usage
            .add(&charge.principal, &charge.datasets, self.rows, now);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (alerts, principal) = (Arc::clone(&charge.alerts), charge.principal.clone());
            let (classifications, rows) = (charge.classifications.clone(), self.rows);
            runtime.spawn(async move {
                alerts
                    .query_finished(&principal, &classifications, rows, now)
                    .await
            });
        }
        record.rows = Some(self.rows);
        record.bytes = Some(self.bytes);
        record.duration_ms = Some(elapsed_ms(self.started));
        let record = match self.ended.take() {
            Some(Ok(())) => record,
            Some(Err(error)) => record.failed(outcome_of(&error), error.code, &error.message),
            None => record.failed(
                Outcome::Error,
                "disconnected",
                "the client went away before the end of the result",
            ),
        };
        self.audit.enqueue(record);
    }
}

/// The remaining batches, encoded, then the format's ending. An error ends the stream
/// without the ending, so the client sees a broken transfer rather than a short result;
/// so does a quota reached, after the rows it still allowed.
fn encode(
    batches: BatchStream,
    encoder: Box<dyn BatchEncoder>,
    finish: Finish,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let state = Some((batches, encoder, finish, None::<ApiError>));
    futures::stream::unfold(state, |state| async move {
        let (mut batches, mut encoder, mut finish, cut_off) = state?;
        if let Some(error) = cut_off {
            let broken = std::io::Error::other(error.message.clone());
            finish.ended = Some(Err(error));
            return Some((Err(broken), None));
        }
        let failed = |finish: &mut Finish, error: ApiError| {
            let broken = std::io::Error::other(error.message.clone());
            finish.ended = Some(Err(error));
            Some((Err(broken), None))
        };
        match batches.next().await {
            Some(Ok(batch)) => {
                let (batch, exceeded) = finish.within_quota(batch);
                match encoder.batch(&batch) {
                    Ok(bytes) => {
                        finish.sent(batch.num_rows(), bytes.len());
                        let cut_off = exceeded.map(ApiError::from);
                        Some((Ok(bytes), Some((batches, encoder, finish, cut_off))))
                    }
                    Err(error) => failed(&mut finish, error.into()),
                }
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "query failed while streaming");
                failed(&mut finish, error.into())
            }
            None => match encoder.finish() {
                Ok(bytes) => {
                    finish.sent(0, bytes.len());
                    finish.ended = Some(Ok(()));
                    Some((Ok(bytes), None))
                }
                Err(error) => failed(&mut finish, error.into()),
            },
        }
    })
}
