//! The one query service every front door calls: HTTP today, Arrow Flight SQL, the
//! PostgreSQL wire protocol and the console next. Everything between "an authenticated
//! caller with SQL and a purpose" and "a stream of record batches" is here, and nothing of
//! any protocol: the suspension checks, planning under the caller's policies, row quotas,
//! the audit record of every query (`query.refused`, or `query.started` on disk before the
//! first batch is handed out and `query.finished` however it ends), the alert rules, and the
//! record of a caller that went away.
//!
//! A front door turns its request into a [`QueryCall`], calls [`QueryService::execute`],
//! encodes the batches of the [`Started`] query it gets back, and tells the service how many
//! bytes it sent and whether it got to the end ([`Results::sent`], [`Results::completed`],
//! [`Results::failed`]); dropping the results before that records that the client went away.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use causeway_policies::Principal;
use chrono::Utc;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::{CatalogTable, Described, QueryEngine, QueryError, QueryRequest};
use crate::audit::{Action, AuditError, AuditLog, Event, Outcome};
use crate::identity::OngoingWork;
use crate::store::AlertRecord;
use crate::supervision::{Alerts, QuotaExceeded, RowUsage};

/// The purpose a catalog listing is asked under when the caller names none: listing reads no
/// row, but what a caller may read of each dataset depends on the purpose.
pub const LISTING_PURPOSE: &str = "catalog-listing";

/// Which front door a query came through; recorded with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontDoor {
    Http,
    FlightSql,
    PostgresWire,
    Console,
}

impl FrontDoor {
    pub fn name(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::FlightSql => "flight_sql",
            Self::PostgresWire => "postgres_wire",
            Self::Console => "console",
        }
    }
}

/// One query as a front door hands it over.
#[derive(Debug, Clone)]
pub struct QueryCall {
    /// Who asks, as their token said.
    pub caller: Principal,
    pub sql: String,
    /// Why; a front door with sessions passes the session's default when the statement
    /// names none.
    pub purpose: String,
    pub door: FrontDoor,
    pub client_address: Option<SocketAddr>,
    /// The values of the statement's placeholders (`$1`, `$2`, ...), typed, in order; empty
    /// for a statement without any.
    pub parameters: Vec<ScalarValue>,
    /// Cancels the query from outside (a Flight SQL `CancelFlightInfo`, a PostgreSQL cancel
    /// request): its results end with `query_cancelled`, and its statements in the sources
    /// are stopped as when a client goes away.
    pub cancel: Option<CancellationToken>,
}

impl QueryCall {
    /// A call with no parameters and no cancellation handle.
    pub fn new(
        caller: Principal,
        sql: impl Into<String>,
        purpose: impl Into<String>,
        door: FrontDoor,
    ) -> Self {
        Self {
            caller,
            sql: sql.into(),
            purpose: purpose.into(),
            door,
            client_address: None,
            parameters: Vec::new(),
            cancel: None,
        }
    }
}

/// Why a query was refused or failed, for every front door to show in its own way.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("your access is suspended by alert {alert} ({rule}) until a security administrator clears it")]
    Suspended { alert: String, rule: String },
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Verify(VerifyError),
    /// Something the front door found (a format it cannot write, an encoding error),
    /// recorded with its code.
    #[error("{message}")]
    FrontDoor {
        code: &'static str,
        message: String,
        denied: bool,
    },
}

impl ServiceError {
    fn suspended(alert: &AlertRecord) -> Self {
        Self::Suspended {
            alert: alert.id.clone(),
            rule: alert.rule.clone(),
        }
    }

    /// The stable code callers and the audit log see, e.g. `column_not_granted`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Query(error) => error.code(),
            Self::Suspended { .. } => "suspended",
            Self::Quota(QuotaExceeded::Uncounted { .. }) => "quota_unavailable",
            Self::Quota(_) => "row_quota_exceeded",
            Self::Audit(_) => "audit_unavailable",
            Self::Verify(error) => error.code(),
            Self::FrontDoor { code, .. } => code,
        }
    }

    /// How the audit log records it: refusals of what the caller may do are `denied`, the
    /// rest `error`.
    pub fn outcome(&self) -> Outcome {
        let denied = match self {
            Self::Query(error) => error.is_denial(),
            Self::Suspended { .. } => true,
            Self::FrontDoor { denied, .. } => *denied,
            Self::Verify(error) => error.is_denial(),
            Self::Quota(_) | Self::Audit(_) => false,
        };
        if denied { Outcome::Denied } else { Outcome::Error }
    }

    /// The message callers see. The audit log's cannot-write reason stays in the hub's log.
    pub fn public_message(&self) -> String {
        match self {
            Self::Audit(_) => {
                "the audit log cannot be written, so nothing is served until it can; the hub's health and log say why"
                    .into()
            }
            other => other.to_string(),
        }
    }
}

/// The service's parts, shared by every front door.
#[derive(Clone)]
pub struct QueryService {
    engine: Arc<QueryEngine>,
    audit: AuditLog,
    alerts: Arc<Alerts>,
    usage: Arc<RowUsage>,
    /// Ends a caller's queries under way when their access ends (disabled, a new secret).
    ongoing: Arc<OngoingWork>,
}

/// A query whose `query.started` record is on disk and whose first batch is computed.
pub struct Started {
    pub id: String,
    pub schema: SchemaRef,
    /// The grants it is read under.
    pub grants: Vec<String>,
    pub results: Results,
}

impl QueryService {
    pub fn new(
        engine: Arc<QueryEngine>,
        audit: AuditLog,
        alerts: Arc<Alerts>,
        usage: Arc<RowUsage>,
        ongoing: Arc<OngoingWork>,
    ) -> Self {
        Self {
            engine,
            audit,
            alerts,
            usage,
            ongoing,
        }
    }

    /// Records `call` as refused by its front door before it ran (an output format it
    /// cannot write, say), and gives the error back.
    pub fn refuse(&self, call: &QueryCall, error: ServiceError) -> ServiceError {
        let record = self.record_of(call);
        self.ended_early(record, Action::QueryRefused, &error, call.door, Instant::now());
        error
    }

    /// What `sql` would return for `caller` under `purpose`, and the types of its
    /// parameters, without running it: for front doors that prepare statements. Refused as
    /// running it would be (a suspended caller, a dataset it may not read); nothing is
    /// recorded, since nothing is read.
    pub async fn describe(
        &self,
        caller: &Principal,
        sql: &str,
        purpose: &str,
    ) -> Result<Described, ServiceError> {
        if let Some(alert) = self.alerts.suspension(&caller.id) {
            return Err(ServiceError::suspended(&alert));
        }
        self.engine
            .describe(caller, sql, purpose)
            .await
            .map_err(|refused| refused.error.into())
    }

    /// [`Self::describe`] for a front door whose answer to a refused description is the
    /// statement's refusal (Flight SQL's `GetFlightInfo`): that is recorded as
    /// `query.refused`, naming the datasets and the controls, as a refused query is.
    pub async fn describe_recorded(&self, call: &QueryCall) -> Result<Described, ServiceError> {
        let started = Instant::now();
        let mut record = self.record_of(call);
        let refused = match self.alerts.suspension(&call.caller.id) {
            Some(alert) => ServiceError::suspended(&alert),
            None => match self.engine.describe(&call.caller, &call.sql, &call.purpose).await {
                Ok(described) => return Ok(described),
                Err(refused) => refused_record(&mut record, refused).into(),
            },
        };
        self.ended_early(record, Action::QueryRefused, &refused, call.door, started);
        Err(refused)
    }

    /// The caller's own view of the catalog under `purpose`: every dataset, with what the
    /// caller may read of it (columns, masks, row filters) or why nothing.
    pub fn catalog(&self, caller: &Principal, purpose: &str) -> Vec<CatalogTable> {
        self.engine.catalog_view(caller, purpose)
    }

    /// Runs `call`: its checks, its plan under the caller's policies, its `query.started`
    /// record (on disk when this returns) and its first batch.
    pub async fn execute(&self, call: QueryCall) -> Result<Started, ServiceError> {
        let cancel = call.cancel.clone().unwrap_or_default();
        // Cancelled when the caller's access ends while the query runs.
        let ended = self.ongoing.start(&call.caller.id);
        let started = Instant::now();
        // Counted as active from here; a query refused or failed early stops counting when
        // this is dropped.
        let active = crate::telemetry::metrics().query_running(call.door.name());
        let mut record = self.record_of(&call);
        let refuse = |record: Event, error: ServiceError| {
            self.ended_early(record, Action::QueryRefused, &error, call.door, started);
            error
        };
        if let Some(alert) = self.alerts.suspension(&call.caller.id) {
            return Err(refuse(record, ServiceError::suspended(&alert)));
        }
        let request = QueryRequest {
            sql: call.sql.clone(),
            purpose: call.purpose.clone(),
            parameters: call.parameters.clone(),
            policies: None,
        };
        let planned = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(refuse(record, QueryError::Cancelled.into())),
            () = ended.cancelled() => return Err(refuse(record, self.access_ended(&call.caller))),
            planned = self.engine.run(&call.caller, &request) => planned,
        };
        let mut running = match planned {
            Ok(running) => running,
            Err(refused) => {
                let error = refused_record(&mut record, refused);
                return Err(refuse(record, error.into()));
            }
        };
        record.query_id = Some(running.id.clone());
        crate::telemetry::http::record_query(&running.id);
        tracing::info!(
            query_id = %running.id,
            principal = %call.caller.id,
            front_door = call.door.name(),
            datasets = %running.reads.datasets.join(","),
            "query started"
        );
        record.datasets = running.reads.datasets.clone();
        record.columns = running.reads.columns.clone();
        record.masks = running.reads.masks.clone();
        record.row_filters = running.reads.row_filters.clone();
        record.grants = running.reads.grants.clone();
        name_controls(&mut record, &running.reads.subject_quotas);
        self.alerts.query_started(&call.caller, Utc::now()).await;
        if let Some(alert) = self.alerts.suspension(&call.caller.id) {
            return Err(refuse(record, ServiceError::suspended(&alert)));
        }
        let quota = match self
            .usage
            .allowance(&call.caller.id, &running.reads.quotas, Utc::now())
            .await
        {
            Ok(quota) => quota,
            Err(exceeded) => return Err(refuse(record, exceeded.into())),
        };
        // The record goes to disk while the first batch is computed; nothing is handed out
        // before it is there. A query failing from here on has begun: it ends `finished`.
        let durable = self.audit.submit(record.clone());
        let failed_early = |record: Event, error: ServiceError| {
            self.ended_early(record, Action::QueryFinished, &error, call.door, started);
            error
        };
        // The first batch with rows: a source that yields empty batches first (a CSV scan
        // whose first rows the conditions drop) must not start a response that a quota
        // would then break instead of refusing.
        let first = tokio::select! {
            biased;
            () = cancel.cancelled() => Err(QueryError::Cancelled),
            () = ended.cancelled() => Err(QueryError::AccessEnded),
            first = first_with_rows(&mut running.batches) => first,
        };
        let first = match first {
            Ok(first) => first,
            Err(QueryError::AccessEnded) => {
                return Err(failed_early(record, self.access_ended(&call.caller)));
            }
            Err(error) => return Err(failed_early(record, error.into())),
        };
        if let (Some(batch), Some((allowed, exceeded))) = (&first, &quota)
            && batch.num_rows() as u64 > *allowed
        {
            return Err(failed_early(record, exceeded.clone().into()));
        }
        if let Err(error) = durable.await {
            return Err(failed_early(record, error.into()));
        }
        let charge = Charge {
            usage: Arc::clone(&self.usage),
            alerts: Arc::clone(&self.alerts),
            classifications: running.reads.classifications.clone(),
            principal: call.caller.id.clone(),
            datasets: running.reads.datasets.clone(),
            daily: running
                .reads
                .quotas
                .iter()
                .filter(|(_, quota)| quota.per_day.is_some())
                .map(|(dataset, _)| dataset.clone())
                .collect(),
            quota,
        };
        let rest = first.is_some().then_some(running.batches);
        Ok(Started {
            id: running.id,
            schema: running.schema,
            grants: running.reads.grants,
            results: Results::new(
                first,
                rest,
                [cancel, ended],
                Finish::new(self.audit.clone(), charge, record, (call.door, active), started),
                self.engine.limits().client_read_timeout,
            ),
        })
    }

    /// Why a query stopped before its first row when its caller's access ended: the alert
    /// that suspends them, named as a refusal at the start would name it, or the end of
    /// access (disabled, a new secret).
    fn access_ended(&self, caller: &Principal) -> ServiceError {
        match self.alerts.suspension(&caller.id) {
            Some(alert) => ServiceError::suspended(&alert),
            None => QueryError::AccessEnded.into(),
        }
    }

    fn record_of(&self, call: &QueryCall) -> Event {
        let mut record =
            Event::by(Action::QueryStarted, Outcome::Ok, &call.caller).at_address(call.client_address);
        record.purpose = Some(call.purpose.clone());
        // What was asked for is part of the record, the values typed into it as keyed
        // pseudonyms, the originals sealed (see `audit::literals`).
        let values: Vec<String> = call.parameters.iter().map(ToString::to_string).collect();
        let protected = self.engine.audit_literals().protect(&call.sql, &values);
        record.sql = Some(protected.sql);
        record.redactions = protected.replaced;
        let mut detail = serde_json::Map::new();
        if call.door != FrontDoor::Http {
            detail.insert("front_door".into(), call.door.name().into());
        }
        if !values.is_empty() {
            detail.insert("parameters".into(), protected.parameters.into());
        }
        if let Some(sealed) = protected.sealed {
            detail.insert("sealed".into(), sealed.into());
        }
        if !detail.is_empty() {
            record.detail = Some(serde_json::Value::Object(detail).to_string());
        }
        record
    }

    /// Records a query that ends before handing anything out: `query.refused` before it
    /// runs, or `query.finished` with nothing sent once its `query.started` is on its way.
    fn ended_early(
        &self,
        mut record: Event,
        action: Action,
        error: &ServiceError,
        door: FrontDoor,
        started: Instant,
    ) {
        crate::telemetry::metrics().query_ended(door.name(), error.code(), started.elapsed(), 0, 0);
        if action == Action::QueryFinished {
            record.rows = Some(0);
            record.bytes = Some(0);
        }
        record.action = action;
        record.duration_ms = Some(elapsed_ms(started));
        self.audit
            .enqueue(record.failed(error.outcome(), error.code(), error.public_message()));
    }
}

/// Puts in `record` what a query refused before its first batch named (its id, the datasets,
/// and a distinct-person quota that closed one), and gives its error back.
fn refused_record(record: &mut Event, refused: crate::query::RefusedQuery) -> QueryError {
    record.query_id = Some(refused.id);
    record.datasets = refused.datasets;
    // A dataset closed for the day by its distinct-person quota: the record names the
    // control, as those of the queries it let through do.
    if let QueryError::SubjectQuota(crate::supervision::SubjectQuotaExceeded::Daily { dataset, limit }) =
        &refused.error
    {
        name_controls(record, &[(dataset.clone(), *limit)]);
    }
    refused.error
}

/// Names in `record`'s detail the controls that count people which the query reads under:
/// `{"max_subjects_per_day": {"department.name": limit}}`.
fn name_controls(record: &mut Event, subject_quotas: &[(String, u64)]) {
    if subject_quotas.is_empty() {
        return;
    }
    let mut detail = record
        .detail
        .as_deref()
        .and_then(|detail| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(detail).ok())
        .unwrap_or_default();
    let quotas: serde_json::Map<String, serde_json::Value> = subject_quotas
        .iter()
        .map(|(dataset, limit)| (dataset.clone(), (*limit).into()))
        .collect();
    detail.insert("max_subjects_per_day".into(), quotas.into());
    record.detail = Some(serde_json::Value::Object(detail).to_string());
}

/// The first batch of `batches` that has rows, the empty ones before it dropped; `None`
/// when the query ends without a row.
async fn first_with_rows(batches: &mut super::BatchStream) -> Result<Option<RecordBatch>, QueryError> {
    while let Some(batch) = batches.next().await.transpose()? {
        if batch.num_rows() > 0 {
            return Ok(Some(batch));
        }
    }
    Ok(None)
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

mod dry_run;
mod results;
mod verify;

pub use dry_run::{SAMPLE_ROWS, Sample};

pub use results::Results;
use results::{Charge, Finish};
pub use verify::{RecordAnswer, Verified, VerifyCall, VerifyError};

#[cfg(test)]
mod prepared_tests;
#[cfg(test)]
mod semantics_tests;
#[cfg(test)]
mod tests;
