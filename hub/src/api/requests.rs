//! Access requests: filed by analysts, decided by the owning department's publisher and a
//! security officer, or approved at once when they meet the dataset's published conditions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use causeway_policies::{DatasetId, Principal};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::extract::ApiPath;
use super::recorded::audited;
use crate::access::requests::{AccessRequest, RequestTerms, ReviewInput};
use crate::audit::{Action, Event, Gate, Outcome};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequestBody {
    /// `department.name`.
    pub dataset: String,
    /// `read` (the default), or `verify` for a verify-only grant: records matched against
    /// the dataset (`POST /v1/verify`), nothing read.
    #[serde(default)]
    #[schema(value_type = String)]
    pub kind: causeway_policies::GrantKind,
    /// The columns wanted (for `verify`, those to match on, the dataset's subject key among
    /// them); `["*"]` for all.
    pub columns: Vec<String>,
    pub purpose: String,
    pub justification: String,
    pub days: u32,
    /// Columns asked for raw, lifting their classification's default mask.
    #[serde(default)]
    pub unmasked: Vec<String>,
    /// Columns asked for under a mask, e.g. `{"id_number": {"kind": "hash"}}`. Columns in
    /// neither are asked for as their classification shows them by default.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub masks: std::collections::BTreeMap<String, causeway_policies::Mask>,
}

/// A request as its readers see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestEntry {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub request: AccessRequest,
    /// Pending past its decision deadline.
    pub overdue: bool,
}

impl From<AccessRequest> for RequestEntry {
    fn from(request: AccessRequest) -> Self {
        Self {
            overdue: request.is_overdue(Utc::now()),
            request,
        }
    }
}

/// Asks for access to a dataset. Approved at once (201, state `approved`, `auto_approved`)
/// when it meets the dataset's published conditions; otherwise pending until the owning
/// department's publisher and a security administrator have both decided.
#[utoipa::path(post, operation_id = "create_access_request", path = "/v1/access-requests", tag = "access", request_body = NewRequestBody,
    responses((status = 201, body = RequestEntry), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<NewRequestBody>,
) -> Result<(StatusCode, Json<RequestEntry>), ApiError> {
    let mut record = Event::by(Action::RequestCreated, Outcome::Ok, &caller)
        .at_address(address)
        .on_dataset(&body.dataset);
    record.purpose = Some(body.purpose.clone());
    audited(&state, record, async |gate| {
        let request = file_request(&state, &caller, body, gate).await?;
        Ok((StatusCode::CREATED, Json(request.into())))
    })
    .await
}

async fn file_request(
    state: &AppState,
    caller: &Principal,
    body: NewRequestBody,
    gate: &mut Gate,
) -> Result<AccessRequest, ApiError> {
    let id: DatasetId = body
        .dataset
        .parse()
        .map_err(|message: String| ApiError::bad_request("invalid_request", message))?;
    let dataset = state
        .engine
        .dataset(&id)
        .ok_or_else(|| ApiError::not_found(format!("dataset {id} does not exist")))?;
    let published = state.registry.get(&id.department, &id.name).await?.record.access;
    let conditions = state.access.conditions(&id, published);
    let terms = RequestTerms {
        kind: body.kind,
        columns: body.columns,
        purpose: body.purpose,
        justification: body.justification,
        days: body.days,
        unmasked: body.unmasked,
        masks: body.masks,
    };
    let session = state.engine.session();
    let request = state
        .access
        .request(caller, &dataset, &conditions, terms, &session, gate)
        .await?;
    tracing::info!(request = %request.id, dataset = %id, by = %caller.id, auto_approved = request.auto_approved, "access requested");
    Ok(request)
}

/// The requests that concern the caller: security administrators see all, publishers those for
/// their department's datasets, everyone their own. Overdue ones say so.
#[utoipa::path(get, operation_id = "list_access_requests", path = "/v1/access-requests", tag = "access",
    responses((status = 200, body = Vec<RequestEntry>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
) -> Result<Json<Vec<RequestEntry>>, ApiError> {
    let requests = state.access.requests_for(&caller.0).await?;
    caller
        .record_reading(&state, "GET /v1/access-requests", requests.len(), address)
        .await?;
    Ok(Json(requests.into_iter().map(RequestEntry::from).collect()))
}

/// One request, if it concerns the caller.
#[utoipa::path(get, operation_id = "get_access_request", path = "/v1/access-requests/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 200, body = RequestEntry), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RequestEntry>, ApiError> {
    state
        .access
        .requests_for(&caller)
        .await?
        .into_iter()
        .find(|request| request.id == id)
        .map(|request| Json(request.into()))
        .ok_or_else(|| ApiError::not_found(format!("access request {id} does not exist")))
}

/// A reviewer's decision: `{"approve": true|false, "reason": ..., "masks": {...},
/// "row_filter": ...}`. A refusal needs a reason; masks and row filters the reviewers set
/// go into the grant.
#[utoipa::path(post, operation_id = "decide_access_request", path = "/v1/access-requests/{id}/decision", tag = "access", params(("id" = String, Path)),
    request_body(content = Object, description = "approve, reason, masks, row_filter", content_type = "application/json"),
    responses((status = 200, body = RequestEntry), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn decide(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<ReviewInput>,
) -> Result<Json<RequestEntry>, ApiError> {
    let record = Event::by(Action::RequestDecided, Outcome::Ok, &caller)
        .at_address(address)
        .with_detail(serde_json::json!({ "request": id, "approve": input.approve }));
    audited(&state, record, async |gate| {
        let decided = review(&state, &caller, &id, input, gate).await?;
        Ok(Json(decided.into()))
    })
    .await
}

async fn review(
    state: &AppState,
    caller: &Principal,
    id: &str,
    input: ReviewInput,
    gate: &mut Gate,
) -> Result<AccessRequest, ApiError> {
    let request = state
        .access
        .requests_for(caller)
        .await?
        .into_iter()
        .find(|request| request.id == id)
        .ok_or_else(|| ApiError::not_found(format!("access request {id} does not exist")))?;
    let dataset = state
        .engine
        .dataset(&request.dataset)
        .ok_or_else(|| ApiError::not_found(format!("dataset {} does not exist", request.dataset)))?;
    let session = state.engine.session();
    let decided = state
        .access
        .decide(caller, id, input, &dataset, &session, gate)
        .await?;
    tracing::info!(request = %id, by = %caller.id, state = decided.state.as_str(), "access request decided");
    Ok(decided)
}
