use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use causeway_policies::{DatasetId, Principal, may_read_all_rows};
use causeway_schemas::Contract;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, ClientAddress};
use super::catalog::DatasetSummary;
use super::error::{ApiError, ErrorBody};
use super::extract::Document;
use super::extract::{ApiPath, ApiQuery};
use super::recorded::audited;
use crate::acceleration::AccelerationStatus;
use crate::audit::{Action, Event, Outcome};
use crate::registry::{DatasetSpec, DatasetState};
use crate::store::ContractVersion;

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetDetail {
    pub department: String,
    #[serde(flatten)]
    pub summary: DatasetSummary,
    pub source: SourceEntry,
    pub primary_key: Vec<String>,
    /// The fields that name the person or firm a row is about; empty when the contract
    /// names none.
    pub subject_key: Vec<String>,
    pub versions: Vec<VersionEntry>,
    /// The source's own estimate of its row count, when it keeps one, shown only to callers
    /// who may read every row (the owning department's publishers, and callers with a
    /// grant without a row filter): how many rows a row filter hides is itself a
    /// disclosure.
    pub row_count_estimate: Option<u64>,
    pub published_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// The current contract as published.
    #[schema(value_type = Object)]
    pub contract: Contract,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceEntry {
    /// `parquet`, `csv`, `ndjson`, `sqlite`, `postgres` or `mysql`.
    pub kind: &'static str,
    /// A path, or a connection name and table; never a secret.
    pub location: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionEntry {
    pub version: i64,
    pub created_by: String,
    pub created_at: String,
    pub forced: bool,
}

impl From<ContractVersion> for VersionEntry {
    fn from(version: ContractVersion) -> Self {
        Self {
            version: version.version,
            created_by: version.created_by,
            created_at: version.created_at,
            forced: version.forced,
        }
    }
}

async fn detail(
    state: &AppState,
    caller: &Principal,
    dataset: DatasetState,
) -> Result<DatasetDetail, ApiError> {
    let record = &dataset.record;
    let id = DatasetId::new(record.department(), record.name());
    let may_count = may_read_all_rows(caller, &id, &state.access.snapshot(), chrono::Utc::now());
    let row_count_estimate = if may_count {
        state.registry.estimate_rows(&dataset).await
    } else {
        None
    };
    let versions = state
        .registry
        .versions(record.department(), record.name())
        .await?
        .into_iter()
        .map(VersionEntry::from)
        .collect();
    Ok(DatasetDetail {
        department: record.department().to_owned(),
        summary: super::catalog::summary(state, &dataset),
        source: SourceEntry {
            kind: record.source.kind(),
            location: record.source.location(),
        },
        primary_key: record.contract.primary_key.clone(),
        subject_key: record.contract.subject_key.clone(),
        versions,
        row_count_estimate,
        published_by: record.published_by.clone(),
        created_at: record.created_at.clone(),
        updated_at: record.updated_at.clone(),
        contract: record.contract.clone(),
    })
}

/// A dataset's contract, versions, source kind and row count estimate.
#[utoipa::path(get, path = "/v1/datasets/{department}/{name}", tag = "datasets",
    params(("department" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, description = "The dataset", body = DatasetDetail),
        (status = 404, description = "No such dataset", body = ErrorBody),
    ))]
pub async fn describe(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath((department, name)): ApiPath<(String, String)>,
) -> Result<Json<DatasetDetail>, ApiError> {
    let dataset = state.registry.get(&department, &name).await?;
    Ok(Json(detail(&state, &caller, dataset).await?))
}

/// Publishes a dataset: `{"contract": {...}, "source": {...}}` as JSON or YAML. The
/// contract is checked against the source's real schema first.
#[utoipa::path(post, path = "/v1/datasets", tag = "datasets",
    request_body(content = Object, description = "A dataset spec: contract and source", content_type = "application/yaml"),
    responses(
        (status = 201, description = "Published", body = DatasetDetail),
        (status = 400, description = "The spec or contract is invalid", body = ErrorBody),
        (status = 403, description = "The caller may not publish for that department", body = ErrorBody),
        (status = 409, description = "The dataset exists already", body = ErrorBody),
        (status = 413, description = "The document is too large", body = ErrorBody),
        (status = 422, description = "The source does not match the contract", body = ErrorBody),
        (status = 502, description = "The source cannot be reached", body = ErrorBody),
    ))]
pub async fn publish(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    document: Document,
) -> Result<(StatusCode, Json<DatasetDetail>), ApiError> {
    // A document that is no dataset spec publishes nothing and is not recorded.
    let spec = match document {
        Document::Json(text) => DatasetSpec::from_json(&text)?,
        Document::Yaml(text) => DatasetSpec::from_yaml(&text)?,
    };
    // Nor does one whose permits make grants that could not be made.
    let declared = crate::registry::declared_info(&spec.contract, &spec.access);
    state
        .access
        .check_conditions(&spec.access, &declared, &state.engine.session())?;
    let record = Event::by(Action::DatasetPublished, Outcome::Ok, &caller)
        .at_address(address)
        .on_dataset(format!("{}.{}", spec.contract.department, spec.contract.name));
    audited(&state, record, async |gate| {
        let dataset = state.registry.publish(&caller, spec, gate).await?;
        Ok((StatusCode::CREATED, Json(detail(&state, &caller, dataset).await?)))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NewVersionParams {
    /// Accept a change that breaks backward compatibility (the owning department's publishers).
    #[serde(default)]
    force: bool,
}

/// Publishes a new version of a dataset's contract (JSON or YAML): the contract alone, or the
/// whole dataset spec with the source, access conditions and acceleration in force. It must be
/// backward compatible with the current version unless the owning department's publisher
/// forces it.
#[utoipa::path(put, path = "/v1/datasets/{department}/{name}/contract", tag = "datasets",
    params(("department" = String, Path), ("name" = String, Path), NewVersionParams),
    request_body(content = Object, description = "A contract, or the whole dataset spec", content_type = "application/yaml"),
    responses(
        (status = 200, description = "The new version is current", body = DatasetDetail),
        (status = 400, description = "The contract is invalid", body = ErrorBody),
        (status = 404, description = "No such dataset", body = ErrorBody),
        (status = 409, description = "The change is not backward compatible, or the spec's source differs", body = ErrorBody),
        (status = 422, description = "The source does not match the contract", body = ErrorBody),
    ))]
pub async fn new_version(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    ApiPath((department, name)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<NewVersionParams>,
    document: Document,
) -> Result<Json<DatasetDetail>, ApiError> {
    let contract = contract_of(&state, &department, &name, document).await?;
    let record = Event::by(Action::DatasetChanged, Outcome::Ok, &caller)
        .at_address(address)
        .on_dataset(format!("{department}.{name}"))
        .with_detail(serde_json::json!({ "forced": params.force }));
    audited(&state, record, async |gate| {
        let dataset = state
            .registry
            .update_contract(&caller, &department, &name, contract, params.force, gate)
            .await?;
        Ok(Json(detail(&state, &caller, dataset).await?))
    })
    .await
}

/// The contract a contract update sends: the contract alone, or the whole dataset spec as
/// published (so that a publisher may keep one file), whose source, access conditions and
/// acceleration must then be the ones in force: a contract update changes the contract only.
async fn contract_of(
    state: &AppState,
    department: &str,
    name: &str,
    document: Document,
) -> Result<Contract, ApiError> {
    let is_spec =
        |value: &serde_json::Value| value.get("contract").is_some() && value.get("source").is_some();
    let spec = match &document {
        Document::Json(text) => serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .filter(is_spec)
            .map(|_| DatasetSpec::from_json(text))
            .transpose()?,
        Document::Yaml(text) => serde_norway::from_str::<serde_json::Value>(text)
            .ok()
            .filter(is_spec)
            .map(|_| DatasetSpec::from_yaml(text))
            .transpose()?,
    };
    let Some(spec) = spec else {
        return match document {
            Document::Json(text) => Contract::from_json(&text),
            Document::Yaml(text) => Contract::from_yaml(&text),
        }
        .map_err(|error| ApiError::bad_request("invalid_contract", error.to_string()));
    };
    let current = state.registry.get(department, name).await?.record;
    let differs = [
        ("source", spec.source != current.source),
        ("access conditions", spec.access != current.access),
        ("acceleration", spec.acceleration != current.acceleration),
    ];
    if let Some((part, _)) = differs.iter().find(|(_, differs)| *differs) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "spec_differs",
            format!(
                "the spec changes the {part} {department}.{name} was published with; a contract \
                 update changes the contract only (send the contract alone, or remove the dataset and \
                 publish it again)"
            ),
        ));
    }
    Ok(spec.contract)
}

/// Removes a dataset from the hub (its source is left untouched).
#[utoipa::path(delete, path = "/v1/datasets/{department}/{name}", tag = "datasets",
    params(("department" = String, Path), ("name" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "The caller may not remove it", body = ErrorBody),
        (status = 404, description = "No such dataset", body = ErrorBody),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    ApiPath((department, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let record = Event::by(Action::DatasetRemoved, Outcome::Ok, &caller)
        .at_address(address)
        .on_dataset(format!("{department}.{name}"));
    audited(&state, record, async |gate| {
        state.registry.delete(&caller, &department, &name, gate).await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Rebuilds an accelerated dataset's in-memory copy from its source now and swaps it in;
/// queries see the old copy or the new, never a mix. On failure the old copy keeps serving.
#[utoipa::path(post, path = "/v1/datasets/{department}/{name}/refresh", tag = "datasets",
    params(("department" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, description = "The new copy is served", body = AccelerationStatus),
        (status = 403, description = "The caller may not refresh it", body = ErrorBody),
        (status = 404, description = "No such dataset", body = ErrorBody),
        (status = 409, description = "The dataset is not accelerated", body = ErrorBody),
        (status = 422, description = "The new copy would exceed the memory budget", body = ErrorBody),
        (status = 502, description = "The source could not be read", body = ErrorBody),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    ApiPath((department, name)): ApiPath<(String, String)>,
) -> Result<Json<AccelerationStatus>, ApiError> {
    let id = format!("{department}.{name}");
    state.registry.get(&department, &name).await?;
    let record = Event::by(Action::DatasetRefreshed, Outcome::Ok, &caller)
        .at_address(address)
        .on_dataset(id.clone());
    if !caller.may_publish_for(&department) {
        let refusal = ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("only the {department} department's publishers may refresh {id}"),
        );
        // Refused before the refresh would record itself: recorded here.
        return Err(super::recorded::refused(&state, record, refusal).await);
    }
    let record = Event::by(Action::DatasetRefreshed, Outcome::Ok, &caller).at_address(address);
    let status = state.registry.accelerations().refresh(&id, record).await?;
    Ok(Json(status))
}
