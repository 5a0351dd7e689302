//! The versions of a dataset's contract, and what changed between two of them.

use axum::Json;
use axum::extract::State;
use causeway_schemas::{Change, Contract, contract_changes};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Caller;
use super::datasets::VersionEntry;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub version: VersionEntry,
    /// The contract as that version published it.
    #[schema(value_type = Object)]
    pub contract: Contract,
}

/// One version of a dataset's contract.
#[utoipa::path(get, path = "/v1/datasets/{department}/{name}/versions/{version}", tag = "datasets",
    operation_id = "get_contract_version",
    params(("department" = String, Path), ("name" = String, Path), ("version" = i64, Path)),
    responses(
        (status = 200, description = "The version and its contract", body = VersionDetail),
        (status = 404, description = "No such dataset or version", body = ErrorBody),
    ))]
pub async fn version(
    State(state): State<AppState>,
    Caller(_caller): Caller,
    ApiPath((department, name, version)): ApiPath<(String, String, i64)>,
) -> Result<Json<VersionDetail>, ApiError> {
    // The dataset must be published now: removed datasets' histories are not served.
    state.registry.get(&department, &name).await?;
    let (entry, contract) = state.registry.contract_at(&department, &name, version).await?;
    Ok(Json(VersionDetail {
        version: entry.into(),
        contract,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffParams {
    /// The earlier version; default the one before `to`.
    from: Option<i64>,
    /// The later version; default the current one.
    to: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContractDiff {
    pub from: i64,
    pub to: i64,
    /// Whether readers of `from` break on `to`: any change below is breaking.
    pub breaking: bool,
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<Change>,
}

/// What changed in a dataset's contract from one version to another: every field added,
/// removed or changed (type, nullability, classification, description), and the dataset's
/// title, owner and primary key, each marked breaking or not by the rules of contract
/// updates.
#[utoipa::path(get, path = "/v1/datasets/{department}/{name}/diff", tag = "datasets",
    operation_id = "diff_contract_versions",
    params(("department" = String, Path), ("name" = String, Path), DiffParams),
    responses(
        (status = 200, description = "The changes", body = ContractDiff),
        (status = 404, description = "No such dataset or version", body = ErrorBody),
    ))]
pub async fn diff(
    State(state): State<AppState>,
    Caller(_caller): Caller,
    ApiPath((department, name)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<DiffParams>,
) -> Result<Json<ContractDiff>, ApiError> {
    let current = state.registry.get(&department, &name).await?.record.version;
    let to = params.to.unwrap_or(current);
    let from = params.from.unwrap_or(to - 1).max(1);
    let (_, earlier) = state.registry.contract_at(&department, &name, from).await?;
    let (_, later) = state.registry.contract_at(&department, &name, to).await?;
    let changes = contract_changes(&earlier, &later);
    Ok(Json(ContractDiff {
        from,
        to,
        breaking: changes.iter().any(|change| change.breaking),
        changes,
    }))
}
