//! `POST /v1/verify`: whether records match a dataset's rows, under verify-only grants.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use crate::query::service::{FrontDoor, Verified, VerifyCall};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// `department.name`.
    pub dataset: String,
    /// Why, e.g. `benefit-eligibility`; a verify grant serves its purposes only.
    #[serde(default)]
    pub purpose: String,
    /// The records to match, each an object of column name to value (a string, a number or
    /// a boolean, read as the column's type), all giving the same columns, the dataset's
    /// subject key among them: `[{"id_number": "...", "name": "..."}]`. At most
    /// `limits.max_records_per_verification` (1000 by default).
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<Map<String, Value>>,
}

/// Answers, per record, whether a row of the record's subject has every value it gives
/// (and, when the grant allows, which of them), never a value. Each record counts against
/// the caller's daily limit and its subject's; a record past its subject's limit is
/// answered `refused`. Recorded as `verification.answered` before the answer is sent.
#[utoipa::path(post, path = "/v1/verify", tag = "query",
    request_body = VerifyBody,
    responses(
        (status = 200, description = "One answer per record, in order", body = Object),
        (status = 400, description = "No purpose, malformed records, too many records, or no subject key in them", body = ErrorBody),
        (status = 403, description = "No verify grant for this purpose covers these columns", body = ErrorBody),
        (status = 429, description = "The caller's daily limit of records is used up", body = ErrorBody),
        (status = 503, description = "Attempts cannot be counted, or the audit log cannot be written", body = ErrorBody),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Json<Verified>, ApiError> {
    let call = VerifyCall {
        caller,
        dataset: body.dataset,
        purpose: body.purpose,
        records: body.records,
        door: FrontDoor::Http,
        client_address: address,
    };
    Ok(Json(state.queries.verify(call).await?))
}
