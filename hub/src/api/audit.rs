//! The audit log through the API: reading it (auditors and security administrators
//! everything, publishers what touches their datasets), verifying it and opening the values
//! sealed in its query records (auditors). Every reading is itself recorded as `audit.read`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use causeway_policies::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::extract::ApiQuery;
use super::recorded::audited;
use crate::audit::read::{EventFilter, records};
use crate::audit::{Action, Event, Outcome, Verification, VerifyOptions, verify};
use crate::identity::public_keys;

/// Verifies the hub's audit log as `causeway audit verify` does, up to the last record
/// written, and also finds records removed from its end (auditors). Recorded as `audit.read`.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "What the verification found; `valid` says whether the log is intact", body = Verification),
        (status = 403, description = "Not an auditor", body = ErrorBody),
        (status = 404, description = "The audit log is off", body = ErrorBody),
    ))]
pub async fn verify_log(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
) -> Result<Json<Verification>, ApiError> {
    let record = Event::by(Action::AuditRead, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({ "verified": true }));
    audited(&state, record, async |gate| {
        caller.require(Role::Auditor)?;
        let report = verify_now(&state).await?;
        gate.record().detail = Some(
            serde_json::json!({ "verified": true, "valid": report.valid, "records": report.records })
                .to_string(),
        );
        gate.pass().await?;
        Ok(Json(report))
    })
    .await
}

async fn verify_now(state: &AppState) -> Result<Verification, ApiError> {
    let status = audit_status(state)?;
    let (dir, keys) = (state.audit_dir.clone(), state.keys_dir.clone());
    let report = tokio::task::spawn_blocking(move || {
        let keys = public_keys(&keys).map_err(|error| ApiError::internal(&error))?;
        let options = VerifyOptions {
            until: Some(status.last_seq),
            live: true,
            ..VerifyOptions::offline()
        };
        verify(&dir, &keys, &options).map_err(|error| ApiError::internal(&error))
    })
    .await
    .map_err(|error| ApiError::internal(&error))??;
    Ok(report)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealBody {
    /// The `seq` of a query record.
    pub seq: u64,
}

/// Opens the values typed into the query of one record, which every reader sees only as
/// keyed pseudonyms (`'#p:…'`), for an auditor; the opening is recorded as `audit.read`
/// before the values leave the hub.
#[utoipa::path(post, path = "/v1/audit/reveal", tag = "audit", request_body = RevealBody,
    responses(
        (status = 200, description = "The values, by pseudonym", body = Object),
        (status = 403, description = "Not an auditor", body = ErrorBody),
        (status = 404, description = "No such record, or it keeps nothing sealed", body = ErrorBody),
    ))]
pub async fn reveal(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<RevealBody>,
) -> Result<Json<Value>, ApiError> {
    let seq = body.seq;
    let record = Event::by(Action::AuditRead, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({ "revealed": seq }));
    audited(&state, record, async |gate| {
        caller.require(Role::Auditor)?;
        audit_status(&state)?;
        let dir = state.audit_dir.clone();
        let sealed = tokio::task::spawn_blocking(move || crate::audit::read::sealed_of(&dir, seq))
            .await
            .map_err(|error| ApiError::internal(&error))?
            .map_err(|error| ApiError::internal(&error))?
            .ok_or_else(|| ApiError::not_found(format!("record {seq} keeps nothing sealed")))?;
        let opened = state
            .access
            .audit_literals()
            .open(&sealed)
            .ok_or_else(|| ApiError::internal(&"the sealed values do not open with this hub's key"))?;
        gate.pass().await?;
        Ok(Json(opened))
    })
    .await
}

/// Most records one answer holds.
const MAX_EVENTS: usize = 10_000;

#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// Records at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Records before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// Records of this principal.
    principal: Option<String>,
    /// Records that touch this dataset (`department.name`).
    dataset: Option<String>,
    /// Records of this action, e.g. `query.started`.
    action: Option<String>,
    /// `ok`, `denied` or `error`.
    outcome: Option<String>,
    /// At most this many records (default 1000, at most 10000), oldest first.
    limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsResponse {
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Map<String, Value>>,
    /// More records matched than the limit let through; ask again from the last one's time.
    pub truncated: bool,
}

/// Audit records, oldest first: every record for auditors and security administrators, the records that touch
/// their department's datasets for publishers.
#[utoipa::path(get, path = "/v1/audit/events", tag = "audit", params(EventsParams),
    responses(
        (status = 200, description = "The records", body = EventsResponse),
        (status = 403, description = "Neither a security administrator nor a publisher", body = ErrorBody),
        (status = 404, description = "The audit log is off", body = ErrorBody),
    ))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    ApiQuery(params): ApiQuery<EventsParams>,
) -> Result<Json<EventsResponse>, ApiError> {
    let mut record = Event::by(Action::AuditRead, Outcome::Ok, &caller.0).at_address(address);
    record.datasets.extend(params.dataset.clone());
    record.detail = serde_json::to_string(&params).ok();
    audited(&state, record, async |gate| {
        let answer = read_events(&state, &caller, params).await?;
        // What was read is recorded before it leaves the hub.
        gate.record().rows = Some(answer.events.len() as u64);
        gate.pass().await?;
        Ok(Json(answer))
    })
    .await
}

async fn read_events(
    state: &AppState,
    caller: &Caller,
    params: EventsParams,
) -> Result<EventsResponse, ApiError> {
    let department_scope = if caller.0.has_role(Role::Auditor) || caller.0.has_role(Role::SecurityAdmin) {
        None
    } else if caller.0.has_role(Role::Publisher) {
        Some(caller.0.department.clone())
    } else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only auditors, security administrators, and publishers for their own datasets, may read the audit log",
        ));
    };
    audit_status(state)?;
    let filter = EventFilter {
        since: params.since,
        until: params.until,
        principal: params.principal,
        dataset: params.dataset,
        action: params.action,
        outcome: params.outcome,
        department_scope,
    };
    let limit = params.limit.unwrap_or(1000).clamp(1, MAX_EVENTS);
    let dir = state.audit_dir.clone();
    let mut events = tokio::task::spawn_blocking(move || records(&dir, &filter, limit + 1))
        .await
        .map_err(|error| ApiError::internal(&error))?
        .map_err(|error| ApiError::internal(&error))?;
    let truncated = events.len() > limit;
    events.truncate(limit);
    Ok(EventsResponse { events, truncated })
}

/// Where the log stands, or 404 when it is off.
fn audit_status(state: &AppState) -> Result<crate::audit::Status, ApiError> {
    state
        .audit
        .status()
        .ok_or_else(|| ApiError::not_found("the audit log is off on this hub"))
}
