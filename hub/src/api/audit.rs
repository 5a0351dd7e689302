//! The audit log through the API: reading it (auditors and security administrators
//! everything, publishers what touches their datasets), verifying it and opening the values
//! sealed in its query records (auditors). Every reading is itself recorded as `audit.read`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use causeway_policies::{Principal, Role};
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
use crate::audit::read::{EventFilter, records_of};
use crate::audit::{
    Action, Event, NodeVerification, Outcome, Verification, VerifyOptions, verify, verify_node,
};
use crate::identity::public_keys;

/// Verifies the hub's audit log as `causeway audit verify` does, up to the last record
/// written, and also finds records removed from its end (auditors). Recorded as `audit.read`.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "What the verification found; `valid` says whether this hub's chain and every other node's are intact", body = LogVerification),
        (status = 403, description = "Not an auditor", body = ErrorBody),
        (status = 404, description = "The audit log is off", body = ErrorBody),
    ))]
pub async fn verify_log(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
) -> Result<Json<LogVerification>, ApiError> {
    let record = Event::by(Action::AuditRead, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({ "verified": true }));
    audited(&state, record, async |gate| {
        caller.require(Role::Auditor)?;
        let report = verify_now(&state).await?;
        gate.record().detail = Some(
            serde_json::json!({
                "verified": true,
                "valid": report.own.valid,
                "records": report.own.records,
                "other_nodes": report.other_nodes.len(),
            })
            .to_string(),
        );
        gate.pass().await?;
        Ok(Json(report))
    })
    .await
}

/// What `GET /v1/audit/verify` found: this hub's chain, checked up to the last record it
/// wrote, and with `audit.chains_root` every other node's chain there.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogVerification {
    /// This hub's own chain, its fields at the top level; its `valid` is true only when every
    /// other node's chain is whole too.
    #[serde(flatten)]
    pub own: Verification,
    /// The other nodes' chains under `audit.chains_root`, by node; empty without it.
    pub other_nodes: Vec<NodeVerification>,
}

async fn verify_now(state: &AppState) -> Result<LogVerification, ApiError> {
    let status = audit_status(state)?;
    let (chains, keys) = (state.audit_chains.clone(), state.keys_dir.clone());
    let report = tokio::task::spawn_blocking(move || {
        let keys = public_keys(&keys).map_err(|error| ApiError::internal(&error))?;
        let options = VerifyOptions {
            until: Some(status.last_seq),
            live: true,
            ..VerifyOptions::offline()
        };
        let own = verify(&chains.own().dir, &keys, &options).map_err(|error| ApiError::internal(&error))?;
        // Another node's chain is taken to be written now: a tail younger than its checkpoint
        // interval is no break (its lock is not probed, which could stop that hub starting).
        let other_nodes: Vec<NodeVerification> = chains
            .others()
            .iter()
            .map(|chain| verify_node(&chain.dir, &chain.node, &keys, false, true))
            .collect();
        let mut own = own;
        own.valid = own.valid && other_nodes.iter().all(|node| node.valid);
        Ok::<_, ApiError>(LogVerification { own, other_nodes })
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
    /// The node whose chain holds it (the record's `node`); default this hub.
    #[serde(default)]
    pub node: Option<String>,
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
    let node = body.node.unwrap_or_else(|| state.audit_chains.own().node.clone());
    let record = Event::by(Action::AuditRead, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({ "revealed": seq, "node": node }));
    audited(&state, record, async |gate| {
        caller.require(Role::Auditor)?;
        audit_status(&state)?;
        let chain = state
            .audit_chains
            .find(&node)
            .ok_or_else(|| ApiError::not_found(format!("no chain of node {node} is read by this hub")))?;
        let dir = chain.dir;
        let sealed = tokio::task::spawn_blocking(move || crate::audit::read::sealed_of(&dir, seq))
            .await
            .map_err(|error| ApiError::internal(&error))?
            .map_err(|error| ApiError::internal(&error))?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "record {seq} of node {node} keeps nothing sealed: no such record, or one whose statement held no typed-in value (only a query's values are sealed)"
                ))
            })?;
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
    /// Records of queries run for this purpose.
    purpose: Option<String>,
    /// Records of principals of this department (who acted, not whose data).
    department: Option<String>,
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

/// Audit records, oldest first, each with the `node` whose chain holds it (every node's under
/// `audit.chains_root`): every record for auditors and security administrators, the records
/// that touch their department's datasets for publishers.
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
    check_filters([
        ("principal", params.principal.as_ref()),
        ("dataset", params.dataset.as_ref()),
        ("action", params.action.as_ref()),
        ("outcome", params.outcome.as_ref()),
        ("purpose", params.purpose.as_ref()),
        ("department", params.department.as_ref()),
    ])?;
    // The filters go in the detail, not in `datasets`: an auditor's reading about a dataset
    // is not shown to that dataset's publisher, whom it may concern.
    let mut record = Event::by(Action::AuditRead, Outcome::Ok, &caller.0).at_address(address);
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
    let department_scope = reader_scope(&caller.0)?;
    audit_status(state)?;
    let filter = EventFilter {
        since: params.since,
        until: params.until,
        principal: params.principal,
        dataset: params.dataset,
        action: params.action,
        outcome: params.outcome,
        purpose: params.purpose,
        department: params.department,
        department_scope,
    };
    let limit = params.limit.unwrap_or(1000).clamp(1, MAX_EVENTS);
    let chains = state.audit_chains.list();
    let mut events = tokio::task::spawn_blocking(move || records_of(&chains, &filter, limit + 1))
        .await
        .map_err(|error| ApiError::internal(&error))?
        .map_err(|error| ApiError::internal(&error))?;
    let truncated = events.len() > limit;
    events.truncate(limit);
    Ok(EventsResponse { events, truncated })
}

/// The longest value a filter of the log takes: ids, dataset names and purposes are short,
/// and every reading records its filters.
const MAX_FILTER_CHARS: usize = 256;

/// Refuses (400, before anything is recorded) a filter value longer than any id.
pub(super) fn check_filters<'a>(
    values: impl IntoIterator<Item = (&'static str, Option<&'a String>)>,
) -> Result<(), ApiError> {
    for (name, value) in values {
        if value.is_some_and(|value| value.chars().count() > MAX_FILTER_CHARS) {
            return Err(ApiError::bad_request(
                "invalid_filter",
                format!("{name} is at most {MAX_FILTER_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

/// Which records `reader` may read: `None` every record (auditors and security
/// administrators), `Some(department)` those that touch that department's datasets
/// (publishers); anyone else is refused.
pub(super) fn reader_scope(reader: &Principal) -> Result<Option<String>, ApiError> {
    if reader.has_role(Role::Auditor) || reader.has_role(Role::SecurityAdmin) {
        Ok(None)
    } else if reader.has_role(Role::Publisher) {
        Ok(Some(reader.department.clone()))
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only auditors, security administrators, and publishers for their own datasets, may read the audit log",
        ))
    }
}

/// Where the log stands, or 404 when it is off.
pub(super) fn audit_status(state: &AppState) -> Result<crate::audit::Status, ApiError> {
    state
        .audit
        .status()
        .ok_or_else(|| ApiError::not_found("the audit log is off on this hub"))
}
