use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use causeway_policies::{AccessConditions, GrantKind};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Caller;
use crate::acceleration::AccelerationStatus;
use crate::registry::{Availability, DatasetState};

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogResponse {
    pub departments: Vec<DepartmentEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentEntry {
    /// The department, which is also the SQL schema of its datasets.
    pub name: String,
    pub datasets: Vec<DatasetSummary>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetSummary {
    pub name: String,
    /// How to name it in SQL: `department.name`.
    pub table: String,
    pub title: String,
    pub description: String,
    pub owner: OwnerEntry,
    pub source_kind: &'static str,
    pub version: i64,
    pub available: bool,
    /// Why the dataset cannot be queried now, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable_reason: Option<String>,
    pub fields: Vec<FieldEntry>,
    /// The fields that name the person or firm a row is about; absent when the contract
    /// names none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_key: Vec<String>,
    /// The kinds of grant that may be asked for: `read` always, `verify` (match records,
    /// read nothing) when the contract names a subject key. The permit list below says
    /// which are approved at once, and on what terms.
    pub offers: Vec<&'static str>,
    /// How to get access: the owner's decision time in working days, and the conditions
    /// under which a request is approved at once (the permit list).
    #[schema(value_type = Object)]
    pub access_conditions: AccessConditions,
    /// Whether queries read an in-memory copy instead of the source.
    pub accelerated: bool,
    /// The in-memory copy: size, when it was last refreshed, and why the latest refresh
    /// failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acceleration: Option<AccelerationStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerEntry {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldEntry {
    pub name: String,
    /// The Arrow type, e.g. `Utf8`, `Int64`, `Decimal128(12, 2)`, `Date32`.
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
    pub classification: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `half_even` where the contract rounds values with more fraction digits than the
    /// field's scale; absent where such a value fails its query.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub rounding: Option<causeway_schemas::Rounding>,
    /// True for a decimal field over a source column of any scale that says no rounding
    /// (published before such fields were refused): a value with more fraction digits fails
    /// the query until the contract says `rounding: half_even` or the source declares the
    /// column's scale.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub needs_rounding: bool,
}

impl DatasetSummary {
    /// The summary of a dataset whose access conditions, with those of policy files, are
    /// `conditions`.
    pub fn from_state(
        state: &DatasetState,
        conditions: AccessConditions,
        acceleration: Option<AccelerationStatus>,
    ) -> Self {
        let contract = &state.record.contract;
        let unavailable_reason = match &state.availability {
            Availability::Available => None,
            Availability::Unavailable(reason) => Some(reason.clone()),
        };
        Self {
            name: contract.name.clone(),
            table: format!("{}.{}", contract.department, contract.name),
            title: contract.title.clone(),
            description: contract.description.clone(),
            owner: OwnerEntry {
                name: contract.owner.name.clone(),
                email: contract.owner.email.clone(),
            },
            source_kind: state.record.source.kind(),
            version: state.record.version,
            available: unavailable_reason.is_none(),
            unavailable_reason,
            fields: contract
                .fields
                .iter()
                .map(|field| FieldEntry {
                    name: field.name.clone(),
                    data_type: field.data_type.to_string(),
                    nullable: field.nullable,
                    classification: field.classification.to_string(),
                    description: field.description.clone(),
                    rounding: field.rounding,
                    needs_rounding: state.unbounded_decimals().contains(&field.name),
                })
                .collect(),
            subject_key: contract.subject_key.clone(),
            offers: if contract.subject_key.is_empty() {
                vec![GrantKind::Read.as_str()]
            } else {
                vec![GrantKind::Read.as_str(), GrantKind::Verify.as_str()]
            },
            access_conditions: conditions,
            accelerated: acceleration.is_some(),
            acceleration,
        }
    }
}

pub fn summary(state: &AppState, dataset: &DatasetState) -> DatasetSummary {
    let id = causeway_policies::DatasetId::new(dataset.record.department(), dataset.record.name());
    let conditions = state.access.conditions(&id, dataset.record.access.clone());
    let acceleration = state.registry.accelerations().status(&id.to_string());
    DatasetSummary::from_state(dataset, conditions, acceleration)
}

/// Every department and its datasets, with their fields.
#[utoipa::path(get, path = "/v1/catalog", tag = "catalog",
    responses((status = 200, description = "The catalog", body = CatalogResponse)))]
pub async fn catalog(State(state): State<AppState>, Caller(_caller): Caller) -> Json<CatalogResponse> {
    let mut departments: BTreeMap<String, Vec<DatasetSummary>> = BTreeMap::new();
    for dataset in state.registry.list().await {
        departments
            .entry(dataset.record.department().to_owned())
            .or_default()
            .push(summary(&state, &dataset));
    }
    Json(CatalogResponse {
        departments: departments
            .into_iter()
            .map(|(name, datasets)| DepartmentEntry { name, datasets })
            .collect(),
    })
}
