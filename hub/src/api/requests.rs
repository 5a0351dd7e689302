//! Access requests: filed by analysts, decided by the owning department's publisher and a
//! security officer, or approved at once when they meet the dataset's published conditions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use causeway_policies::{DatasetId, GrantKind, Principal};
use chrono::Utc;
use datafusion::sql::sqlparser::ast::Ident;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::extract::ApiPath;
use super::recorded::audited;
use crate::access::requests::{AccessRequest, RequestTerms, ReviewInput};
use crate::access::review::Proposal;
use crate::audit::{Action, Event, Gate, Outcome};
use crate::query::service::SAMPLE_ROWS;

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
    /// For `verify`: the terms asked for, each optional, e.g. `{"column_matches": true,
    /// "max_attempts_per_subject": 3, "max_records_per_day": 10000}`. Those left out are a
    /// verify permit's when the request is within it (approved at once), else the defaults
    /// (`column_matches` false, 3, 10000); reviewers may narrow them.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub verify: Option<causeway_policies::PartialVerifyTerms>,
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
        verify: body.verify,
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
    Ok(Json(request_for(&state, &caller, &id).await?.into()))
}

/// Request `id`, if it concerns `caller`.
async fn request_for(state: &AppState, caller: &Principal, id: &str) -> Result<AccessRequest, ApiError> {
    state
        .access
        .requests_for(caller)
        .await?
        .into_iter()
        .find(|request| request.id == id)
        .ok_or_else(|| ApiError::not_found(format!("access request {id} does not exist")))
}

/// The dataset `request` is for, as the engine has it.
fn dataset_of(state: &AppState, request: &AccessRequest) -> Result<causeway_policies::DatasetInfo, ApiError> {
    state
        .engine
        .dataset(&request.dataset)
        .ok_or_else(|| ApiError::not_found(format!("dataset {} does not exist", request.dataset)))
}

/// A reviewer's decision: `{"approve": true|false, "reason": ..., "masks": {...},
/// "row_filter": ..., "verify": {...}}`. A refusal needs a reason; masks and row filters the
/// reviewers set go into the grant. For a verify request, `verify` narrows the terms asked
/// for (`{"column_matches": false, "max_attempts_per_subject": 1, "max_records_per_day":
/// 500}`, each optional, none looser than asked); the grant keeps the stricter of the two
/// reviewers' terms.
#[utoipa::path(post, operation_id = "decide_access_request", path = "/v1/access-requests/{id}/decision", tag = "access", params(("id" = String, Path)),
    request_body(content = Object, description = "approve, reason, masks, row_filter, verify", content_type = "application/json"),
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

/// The requester takes back a request that still waits for a decision (state `withdrawn`):
/// neither reviewer can decide it afterwards. Only the requester may; a decided request
/// cannot be withdrawn (403): revoke its grant instead.
#[utoipa::path(post, operation_id = "withdraw_access_request", path = "/v1/access-requests/{id}/withdraw", tag = "access", params(("id" = String, Path)),
    responses((status = 200, body = RequestEntry), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn withdraw(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RequestEntry>, ApiError> {
    let record = Event::by(Action::RequestWithdrawn, Outcome::Ok, &caller)
        .at_address(address)
        .with_detail(serde_json::json!({ "request": id }));
    audited(&state, record, async |gate| {
        let withdrawn = state.access.withdraw(&caller, &id, gate).await?;
        tracing::info!(request = %id, by = %caller.id, "access request withdrawn");
        Ok(Json(withdrawn.into()))
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
    let request = state.access.reviewable(caller, id).await?;
    let dataset = dataset_of(state, &request)?;
    let session = state.engine.session();
    let decided = state
        .access
        .decide(caller, request, input, &dataset, &session, gate)
        .await?;
    tracing::info!(request = %id, by = %caller.id, state = decided.state.as_str(), "access request decided");
    Ok(decided)
}

/// What a reviewer's dry run shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRun {
    pub request: String,
    /// Who the rows are read as: the requester, with the attributes they filed the request
    /// with.
    #[schema(value_type = Object)]
    pub read_as: Principal,
    /// The grant approving with the proposal would make (with the other reviewer's decision,
    /// if given), as it would be stored.
    #[schema(value_type = Object)]
    pub grant: causeway_policies::Grant,
    /// The masks the dataset's column classifications put on columns the grant neither
    /// masks by name nor lifts (as `GET /v1/grants` gives them), by column: with the
    /// grant's own masks, every mask the sample was read under.
    #[schema(value_type = Object)]
    pub default_masks: std::collections::BTreeMap<String, causeway_policies::Mask>,
    /// For a read grant, the first rows (at most 20) exactly as the requester would receive
    /// them: `{"query_id", "columns": [{"name", "type"}], "rows": [...]}`. Nothing is counted
    /// against the requester's quotas.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub sample: Option<serde_json::Value>,
    /// For a verify grant, what each record given to `POST /v1/verify` is answered with:
    /// never a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub verify: Option<serde_json::Value>,
}

/// A reviewer's dry run of a pending request: the grant approving it with the given masks
/// and row filter would make, and the first 20 rows the requester would then receive (read
/// through the real policy path as the requester, with that grant alone; deny rules apply),
/// or, for a verify grant, what its answers hold. Only for whoever could decide the request
/// now; recorded as `request.dry_run`, with what it read, before the rows are sent.
#[utoipa::path(post, operation_id = "dry_run_access_request", path = "/v1/access-requests/{id}/dry-run", tag = "access", params(("id" = String, Path)),
    request_body(content = Object, description = "masks, row_filter, verify: the decision to try", content_type = "application/json"),
    responses((status = 200, body = DryRun), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn dry_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<String>,
    ApiJson(proposal): ApiJson<Proposal>,
) -> Result<Json<DryRun>, ApiError> {
    let record = Event::by(Action::RequestDryRun, Outcome::Ok, &caller)
        .at_address(address)
        .with_detail(serde_json::json!({ "request": id }));
    audited(&state, record, async |gate| {
        let request = state.access.reviewable(&caller, &id).await?;
        let dataset = dataset_of(&state, &request)?;
        let record = gate.record();
        record.datasets = vec![request.dataset.to_string()];
        record.purpose = Some(request.terms.purpose.clone());
        // The values a reviewer types into a row filter are kept as keyed pseudonyms, the
        // originals sealed, as a query's literals are.
        let literals = state.engine.audit_literals();
        let filter = proposal
            .row_filter
            .as_deref()
            .map(|filter| literals.protect(filter, &[]));
        let tried = serde_json::json!({
            "request": id,
            "masks": proposal.masks,
            "row_filter": filter.as_ref().map(|filter| &filter.sql),
            "sealed": filter.and_then(|filter| filter.sealed),
        });
        record.detail = Some(tried.to_string());
        let session = state.engine.session();
        let proposed = state
            .access
            .proposed_grant(&caller, &request, proposal, &dataset, &session)?;
        let requester = request.requester_principal();
        let mut detail = tried;
        if let Some(detail) = detail.as_object_mut() {
            detail.insert("read_as".into(), requester.id.clone().into());
        }
        let mut answer = DryRun {
            request: id.clone(),
            read_as: requester.clone(),
            grant: proposed.grant.clone(),
            default_masks: causeway_policies::default_masks(&proposed.grant, &dataset),
            sample: None,
            verify: None,
        };
        if proposed.grant.kind == GrantKind::Verify {
            answer.verify = Some(verify_answer(&proposed.grant));
        } else {
            let sql = sample_sql(&request);
            let sample = state
                .queries
                .sample(
                    &caller,
                    &requester,
                    &sql,
                    &request.terms.purpose,
                    proposed.policies,
                )
                .await?;
            let record = gate.record();
            record.query_id = Some(sample.id);
            record.columns = sample.reads.columns;
            record.masks = sample.reads.masks;
            record.row_filters = sample
                .reads
                .row_filters
                .iter()
                .map(|filter| literals.protect(filter, &[]).sql)
                .collect();
            record.rows = Some(sample.rows as u64);
            answer.sample = Some(sample.body);
        }
        gate.record().detail = Some(detail.to_string());
        gate.pass().await?;
        tracing::info!(request = %id, by = %caller.id, "access request tried");
        Ok(Json(answer))
    })
    .await
}

/// What a verify grant answers each record with, shown with every column matching.
fn verify_answer(grant: &causeway_policies::Grant) -> serde_json::Value {
    let column_matches = grant.verify.as_ref().is_some_and(|terms| terms.column_matches);
    let example: serde_json::Map<String, serde_json::Value> = grant
        .columns
        .iter()
        .map(|column| (column.clone(), true.into()))
        .collect();
    serde_json::json!({
        "matched_on": grant.columns,
        // A grant that states no terms has the defaults.
        "terms": grant.verify.clone().unwrap_or_default(),
        "answer": if column_matches {
            serde_json::json!({ "match": true, "columns": example })
        } else {
            serde_json::json!({ "match": true })
        },
    })
}

/// The first rows of the columns `request` asks for.
fn sample_sql(request: &AccessRequest) -> String {
    let quoted = |name: &str| Ident::with_quote('"', name).to_string();
    let columns = if request.terms.columns.iter().any(|column| column == "*") {
        "*".to_owned()
    } else {
        request
            .terms
            .columns
            .iter()
            .map(|column| quoted(column))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "SELECT {columns} FROM {}.{} LIMIT {SAMPLE_ROWS}",
        quoted(&request.dataset.department),
        quoted(&request.dataset.name)
    )
}
