//! Grants: who may read what. Security officers make and revoke them; publishers see and
//! revoke those on their department's datasets; everyone sees those made for them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use std::collections::BTreeMap;

use causeway_policies::{DatasetId, Grant, Mask, PolicyError, Role, authorize, default_masks};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody, ErrorParticulars};
use super::extract::ApiJson;
use super::extract::{ApiPath, ApiQuery, ReasonParams};
use super::recorded::audited;
use crate::access::{AccessError, may_see_grant, new_grant_id};
use crate::audit::{Action, Event, Gate, Outcome};
use crate::store::{GrantOrigin, GrantRecord};

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Forbidden(message) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            AccessError::NotFound(_) => ApiError::not_found(error.to_string()),
            AccessError::NotConfirmable(_) => {
                ApiError::new(StatusCode::CONFLICT, "not_confirmable", error.to_string())
            }
            AccessError::Invalid(ref invalid) => {
                let details = particulars_of(invalid);
                let answer = ApiError::bad_request("invalid_grant", error.to_string());
                match details {
                    Some(details) => answer.with_details(details),
                    None => answer,
                }
            }
            AccessError::Store(store) => store.into(),
            AccessError::Audit(audit) => audit.into(),
            AccessError::Key { .. } => ApiError::internal(&error),
        }
    }
}

/// A grant's column or row filter that names a column its dataset does not have: which, and
/// (for a row filter) the columns there are.
fn particulars_of(invalid: &PolicyError) -> Option<ErrorParticulars> {
    match invalid {
        PolicyError::UnknownColumn { dataset, column, .. } => Some(ErrorParticulars::unknown_column(
            column.clone(),
            Vec::new(),
            Some(dataset.clone()),
        )),
        PolicyError::RowFilter { source, .. } => crate::query::unknown_column(source)
            .map(|(column, columns)| ErrorParticulars::unknown_column(column, columns, None)),
        _ => None,
    }
}

/// A grant as listed: the record, and the masks its columns' classifications put on the
/// columns it neither masks by name nor lifts, so that a reader sees how every column is
/// shown without knowing the classification table.
#[derive(Debug, Serialize)]
pub struct ListedGrant {
    #[serde(flatten)]
    record: GrantRecord,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    default_masks: BTreeMap<String, Mask>,
}

/// Every grant the caller may see, revoked ones included, each with its `default_masks`
/// (column to mask; absent when none, or when the dataset is no longer published).
#[utoipa::path(get, operation_id = "list_grants", path = "/v1/grants", tag = "access",
    responses((status = 200, description = "Grants with their history", content_type = "application/json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
) -> Result<Json<Vec<ListedGrant>>, ApiError> {
    let grants: Vec<ListedGrant> = state
        .access
        .grants()
        .await?
        .into_iter()
        .filter(|record| may_see_grant(&caller.0, record))
        .map(|record| ListedGrant {
            default_masks: state
                .engine
                .dataset(&record.grant.dataset)
                .map(|dataset| default_masks(&record.grant, &dataset))
                .unwrap_or_default(),
            record,
        })
        .collect();
    caller
        .record_reading(&state, "GET /v1/grants", grants.len(), address)
        .await?;
    Ok(Json(grants))
}

/// The deny rules in force (from the policy files): what is never shown, to whom, and why.
/// Security administrators and auditors see every rule; a publisher the rules that cover
/// their department's datasets; anyone else the rules that apply to them.
#[utoipa::path(get, operation_id = "list_deny_rules", path = "/v1/deny-rules", tag = "access",
    responses((status = 200, description = "The deny rules", content_type = "application/json")))]
pub async fn deny_rules(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
) -> Result<Json<Vec<causeway_policies::DenyRule>>, ApiError> {
    let principal = &caller.0;
    let sees_all = principal.has_role(Role::SecurityAdmin) || principal.has_role(Role::Auditor);
    let rules: Vec<_> = state
        .access
        .snapshot()
        .denies
        .iter()
        .filter(|rule| {
            sees_all
                || (principal.has_role(Role::Publisher)
                    && covers_department(&rule.datasets, &principal.department))
                || rule
                    .subject
                    .as_ref()
                    .is_none_or(|subject| subject.matches(principal))
        })
        .cloned()
        .collect();
    caller
        .record_reading(&state, "GET /v1/deny-rules", rules.len(), address)
        .await?;
    Ok(Json(rules))
}

/// Whether a deny rule's `datasets` pattern (`*`, `department.*`, `department.name`) reaches
/// a dataset of `department`.
fn covers_department(pattern: &str, department: &str) -> bool {
    pattern == "*"
        || pattern
            .split_once('.')
            .is_some_and(|(owner, _)| owner == department)
}

/// Makes a grant (security administrators). The body is a grant without `id`: subject, dataset,
/// columns, masks, unmasked, row_filter, purposes, valid_from, expires_at, quotas.
#[utoipa::path(post, operation_id = "create_grant", path = "/v1/grants", tag = "access",
    request_body(content = Object, description = "A grant", content_type = "application/json"),
    responses(
        (status = 201, description = "The grant", content_type = "application/json"),
        (status = 400, description = "The grant does not fit its dataset", body = ErrorBody),
        (status = 403, description = "Not a security administrator", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<GrantRecord>), ApiError> {
    let mut record = Event::by(Action::GrantCreated, Outcome::Ok, &caller.0).at_address(address);
    if let Some(dataset) = body.get("dataset").and_then(Value::as_str) {
        record.datasets.push(dataset.to_owned());
    }
    // What was asked, so that a refused grant's record says what it would have been.
    record.detail = Some(body.to_string());
    audited(&state, record, async |gate| {
        make_grant(&state, &caller, body, gate).await
    })
    .await
}

async fn make_grant(
    state: &AppState,
    caller: &Caller,
    body: Value,
    gate: &mut Gate,
) -> Result<(StatusCode, Json<GrantRecord>), ApiError> {
    let officer = caller.require(Role::SecurityAdmin)?;
    let grant = grant_from(body, &officer.id)?;
    // The record keeps the grant as made, not as asked.
    gate.record().detail = None;
    let dataset = state
        .engine
        .dataset(&grant.dataset)
        .ok_or_else(|| ApiError::not_found(format!("dataset {} does not exist", grant.dataset)))?;
    let session = state.engine.session();
    let record = state
        .access
        .create_grant(
            grant,
            &dataset,
            GrantOrigin::Direct,
            None,
            officer,
            &session,
            gate,
        )
        .await?;
    tracing::info!(grant = %record.grant.id, dataset = %record.grant.dataset, by = %officer.id, "grant made");
    Ok((StatusCode::CREATED, Json(record)))
}

/// A grant from a request body: a new id, approved by the officer who makes it.
fn grant_from(mut body: Value, officer: &str) -> Result<Grant, ApiError> {
    let object = body
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("invalid_grant", "send the grant as a JSON object"))?;
    for (key, why) in [
        ("id", "the hub chooses grant ids"),
        ("requested_by", "only an approved request names who asked"),
        ("approved_by", "the hub names who approved"),
    ] {
        if object.contains_key(key) {
            return Err(ApiError::bad_request(
                "invalid_grant",
                format!("{why}; leave '{key}' out"),
            ));
        }
    }
    object.insert("id".into(), Value::from(new_grant_id()));
    object.insert("approved_by".into(), Value::from(vec![officer.to_owned()]));
    serde_json::from_value(body).map_err(|error| ApiError::bad_request("invalid_grant", error.to_string()))
}

/// Revokes a grant (security administrators, or publishers of the dataset's department); it stops
/// counting at the next query. `?reason=` says why: kept with the grant (`revoked_reason`) and
/// in the `grant.revoked` record.
#[utoipa::path(delete, path = "/v1/grants/{id}", tag = "access", params(("id" = String, Path), ReasonParams),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<String>,
    ApiQuery(reason): ApiQuery<ReasonParams>,
) -> Result<StatusCode, ApiError> {
    let reason = reason.given()?;
    let mut record = Event::by(Action::GrantRevoked, Outcome::Ok, &caller).at_address(address);
    record.grants.push(id.clone());
    audited(&state, record, async |gate| {
        state.access.revoke(&id, &caller, reason.as_deref(), gate).await?;
        tracing::info!(grant = %id, by = %caller.id, "grant revoked");
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DueParams {
    /// Grants whose recertification falls within this many days (default 30).
    #[serde(default = "default_due_days")]
    within_days: u32,
}

fn default_due_days() -> u32 {
    30
}

/// The grants in force that lapse within `within_days` unless their owner confirms them
/// (`recertify_by`), soonest first: for the owning department's publishers, who confirm
/// them, and for security administrators; each caller sees the grants it may see.
#[utoipa::path(get, path = "/v1/grants/due", tag = "access", params(DueParams),
    responses((status = 200, description = "Grants due for recertification", content_type = "application/json")))]
pub async fn due(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<DueParams>,
) -> Result<Json<Vec<GrantRecord>>, ApiError> {
    let within = chrono::Duration::days(i64::from(params.within_days.min(36_500)));
    Ok(Json(state.access.due(&caller, within).await?))
}

/// Confirms a grant for another recertification interval of its dataset (the owning
/// department's publishers): it stays in force, and its new `recertify_by` is returned.
/// Audited as `grant.confirmed`, with who confirmed it.
#[utoipa::path(post, path = "/v1/grants/{id}/confirm", tag = "access", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The grant with its new deadline", content_type = "application/json"),
        (status = 403, description = "Not a publisher of the owning department", body = ErrorBody),
        (status = 404, description = "No such grant in force in the store (policy-file grants are reviewed in their files)", body = ErrorBody),
        (status = 409, description = "The grant has lapsed", body = ErrorBody),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GrantRecord>, ApiError> {
    let mut record = Event::by(Action::GrantConfirmed, Outcome::Ok, &caller).at_address(address);
    record.grants.push(id.clone());
    audited(&state, record, async |gate| {
        let confirmed = state
            .access
            .recertify(&id, &|dataset| state.engine.dataset(dataset), &caller, gate)
            .await?;
        tracing::info!(grant = %id, by = %caller.id, "grant confirmed");
        Ok(Json(confirmed))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExplainParams {
    /// `department.name`.
    dataset: String,
    purpose: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Explanation {
    pub dataset: String,
    pub purpose: String,
    pub principal: String,
    /// Whether the caller may read the dataset at all for this purpose.
    pub allowed: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Each column: visible (through which grants, masked how) or denied (why); the grants
    /// that apply and their row filters.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub decision: Option<causeway_policies::Decision>,
    /// What the caller's verify-only grants for this purpose answer (`POST /v1/verify`):
    /// the columns records may match on under each, the rows matched against, whether the
    /// answer names the columns that match, and the daily limits. Absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub verify: Option<causeway_policies::VerifyDecision>,
}

/// What the caller would see of a dataset for a purpose, and why.
#[utoipa::path(get, path = "/v1/access/explain", tag = "access", params(ExplainParams),
    responses((status = 200, body = Explanation), (status = 404, body = ErrorBody)))]
pub async fn explain(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<ExplainParams>,
) -> Result<Json<Explanation>, ApiError> {
    let id: DatasetId = params
        .dataset
        .parse()
        .map_err(|message: String| ApiError::bad_request("invalid_request", message))?;
    let dataset = state
        .engine
        .dataset(&id)
        .ok_or_else(|| ApiError::not_found(format!("dataset {id} does not exist")))?;
    let decision = authorize(
        &caller,
        &params.purpose,
        &dataset,
        &state.access.snapshot(),
        chrono::Utc::now(),
    );
    let (allowed, reason, decision) = match decision {
        Ok(decision) => (true, None, Some(decision)),
        Err(denied) => (false, Some(denied.to_string()), None),
    };
    let verify = causeway_policies::authorize_verify(
        &caller,
        &params.purpose,
        &dataset,
        &state.access.snapshot(),
        chrono::Utc::now(),
    )
    .ok();
    Ok(Json(Explanation {
        dataset: id.to_string(),
        purpose: params.purpose,
        principal: caller.id,
        allowed,
        reason,
        decision,
        verify,
    }))
}

impl From<PolicyError> for ApiError {
    fn from(error: PolicyError) -> Self {
        ApiError::bad_request("invalid_grant", error.to_string())
    }
}
