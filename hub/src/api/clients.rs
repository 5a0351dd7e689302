//! Clients of the built-in authorization server, managed by admins.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use causeway_policies::{AttributeValue, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::audit::audited;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use crate::audit::{Action, Event, Outcome};
use crate::identity::{ClientError, ClientSpec};
use crate::store::{ClientRecord, StoreError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    pub id: String,
    pub department: String,
    #[schema(value_type = Vec<String>)]
    pub roles: BTreeSet<Role>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, AttributeValue>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientEntry {
    pub id: String,
    pub department: String,
    #[schema(value_type = Vec<String>)]
    pub roles: BTreeSet<Role>,
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, AttributeValue>,
    pub disabled: bool,
    pub created_at: String,
    pub secret_rotated_at: String,
}

impl From<ClientRecord> for ClientEntry {
    fn from(record: ClientRecord) -> Self {
        Self {
            id: record.id,
            department: record.department,
            roles: record.roles,
            attributes: record.attributes,
            disabled: record.disabled,
            created_at: record.created_at,
            secret_rotated_at: record.secret_rotated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewSecret {
    pub client_id: String,
    /// Shown this once: the hub keeps only its hash.
    pub client_secret: String,
}

impl From<ClientError> for ApiError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::InvalidId(_) | ClientError::InvalidDepartment(_) => {
                ApiError::bad_request("invalid_client", error.to_string())
            }
            ClientError::NotFound(_) => ApiError::not_found(error.to_string()),
            ClientError::Store(StoreError::AlreadyExists(_)) => {
                ApiError::new(StatusCode::CONFLICT, "already_exists", error.to_string())
            }
            ClientError::Store(store) => store.into(),
            ClientError::Hash(_) => ApiError::internal(&error),
        }
    }
}

/// Every client (admins only).
#[utoipa::path(get, path = "/v1/clients", tag = "identity",
    responses((status = 200, body = Vec<ClientEntry>), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<ClientEntry>>, ApiError> {
    caller.require(Role::Admin)?;
    let clients = state.identity.clients.list().await?;
    Ok(Json(clients.into_iter().map(ClientEntry::from).collect()))
}

/// Creates a client and answers with its secret, once (admins only).
#[utoipa::path(post, path = "/v1/clients", tag = "identity", request_body = NewClientBody,
    responses((status = 201, body = NewSecret), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<NewClientBody>,
) -> Result<(StatusCode, Json<NewSecret>), ApiError> {
    let record = Event::by(Action::ClientCreated, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({
            "client": body.id,
            "department": body.department,
            "roles": body.roles,
            "attributes": body.attributes,
        }));
    audited(&state, record, async |gate| {
        caller.require(Role::Admin)?;
        let spec = ClientSpec {
            id: body.id,
            department: body.department,
            roles: body.roles,
            attributes: body.attributes,
        };
        state.identity.clients.check_new(&spec).await?;
        gate.pass().await?;
        let (record, secret) = state.identity.clients.create(spec).await?;
        tracing::info!(client = %record.id, by = %caller.0.id, "client created");
        Ok((
            StatusCode::CREATED,
            Json(NewSecret {
                client_id: record.id,
                client_secret: secret,
            }),
        ))
    })
    .await
}

#[utoipa::path(post, path = "/v1/clients/{id}/disable", tag = "identity", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let record = Event::by(Action::ClientDisabled, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({ "client": id }));
    audited(&state, record, async |gate| {
        caller.require(Role::Admin)?;
        state.identity.clients.check_exists(&id).await?;
        gate.pass().await?;
        // Its tokens are refused from now on, before the store says so.
        state.identity.revoke(&id);
        state.identity.clients.disable(&id).await?;
        tracing::info!(client = %id, by = %caller.0.id, "client disabled");
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Gives a client a new secret, answered once; the old one stops working (admins only).
#[utoipa::path(post, path = "/v1/clients/{id}/rotate-secret", tag = "identity", params(("id" = String, Path)),
    responses((status = 200, body = NewSecret), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    Path(id): Path<String>,
) -> Result<Json<NewSecret>, ApiError> {
    let record = Event::by(Action::ClientSecretRotated, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({ "client": id }));
    audited(&state, record, async |gate| {
        caller.require(Role::Admin)?;
        state.identity.clients.check_exists(&id).await?;
        gate.pass().await?;
        let secret = state.identity.clients.rotate_secret(&id).await?;
        tracing::info!(client = %id, by = %caller.0.id, "client secret rotated");
        Ok(Json(NewSecret {
            client_id: id,
            client_secret: secret,
        }))
    })
    .await
}
