//! Clients of the built-in authorization server, managed by the system administrator
//! within the limits of separation of duties ([`crate::identity::check_account_change`]).

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use causeway_policies::{AttributeValue, Role};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, ClientAddress};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiPath;
use super::recorded::audited;
use crate::audit::{Action, Event, Outcome};
use crate::identity::{
    AccountChange, ClientError, ClientSpec, DutyRefusal, PersonSpec, check_account_change,
    printable_client_id,
};
use crate::store::{AccountKind, ClientRecord, Refusal, StoreError};

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
    /// A person's name: the account is then a person's, who signs in to the console with a
    /// password (the answer's `client_secret` is the first one, shown once), not a service's.
    #[serde(default)]
    pub person_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientEntry {
    pub id: String,
    /// `service` (client credentials) or `person` (signs in to the console).
    #[schema(value_type = String)]
    pub kind: AccountKind,
    /// A person's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub department: String,
    #[schema(value_type = Vec<String>)]
    pub roles: BTreeSet<Role>,
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, AttributeValue>,
    pub disabled: bool,
    pub created_at: String,
    pub secret_rotated_at: String,
    /// Who approved its secret and roles; `null` while they wait for a security
    /// administrator (`POST /v1/clients/{id}/approve`), and until then it gets no token.
    pub approved_by: Option<String>,
    /// The security administrator who last refused what it waited with (`POST
    /// /v1/clients/{id}/refuse`), and why; absent unless refused. A refused account is
    /// disabled, unless what it waited with was roles added to approved ones: then it is
    /// enabled, with the approved roles back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<RefusedEntry>,
    /// While it waits for roles added to approved ones: the roles it held approved (what a
    /// refusal gives back). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub approved_roles: Option<BTreeSet<Role>>,
}

/// Who refused an account's approval, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedEntry {
    pub by: String,
    pub reason: String,
}

impl From<ClientRecord> for ClientEntry {
    fn from(record: ClientRecord) -> Self {
        Self {
            id: record.id,
            kind: record.kind,
            name: record.name,
            department: record.department,
            roles: record.roles,
            attributes: record.attributes,
            disabled: record.disabled,
            created_at: record.created_at,
            secret_rotated_at: record.secret_rotated_at,
            approved_by: record.approved_by,
            refused: record.refused.map(|refused| RefusedEntry {
                by: refused.by,
                reason: refused.reason,
            }),
            approved_roles: record.approved_roles,
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
            ClientError::InvalidId(_)
            | ClientError::InvalidDepartment(_)
            | ClientError::Password
            | ClientError::PersonName => ApiError::bad_request("invalid_client", error.to_string()),
            ClientError::RolesConflict(_) => ApiError::bad_request("separation_of_duties", error.to_string()),
            ClientError::NotFound(_) => ApiError::not_found(error.to_string()),
            ClientError::Store(StoreError::AlreadyExists(_)) => {
                ApiError::new(StatusCode::CONFLICT, "already_exists", error.to_string())
            }
            ClientError::Store(store) => store.into(),
            ClientError::Hash(_) => ApiError::internal(&error),
        }
    }
}

/// What a body asked of client `id` (from the path, else the body's `id`), for the record of
/// a refusal too: what it says of the account, the id only when it is one.
fn asked(body: &Value, id: Option<&str>) -> Value {
    let mut detail = serde_json::json!({});
    for key in ["department", "roles", "attributes"] {
        if let Some(value) = body.get(key) {
            detail[key] = value.clone();
        }
    }
    if let Some(id) = id.or_else(|| body.get("id").and_then(Value::as_str)) {
        detail["client"] = Value::from(printable_client_id(id));
    }
    detail
}

/// A request's body as JSON, or why it is not: read before the audited action only to
/// describe the request in its record; refused inside it ([`parsed`]), so that a body that
/// is not JSON is recorded like any other refusal, after the caller's role is checked.
pub(super) fn json_body(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|error| error.to_string())
}

/// Refuses a change to a disabled account (a refused one included), which nothing makes
/// work again: 409 `disabled`, rather than a success that changes nothing.
fn still_enabled(account: &ClientRecord) -> Result<(), ApiError> {
    if account.disabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "disabled",
            format!("client {} is disabled; make a new account", account.id),
        ));
    }
    Ok(())
}

/// The body read as `T`, inside the audited action so that a malformed request is recorded
/// as refused like any other.
pub(super) fn parsed<T: serde::de::DeserializeOwned>(body: &Result<Value, String>) -> Result<T, ApiError> {
    let body = body.clone().map_err(|error| {
        ApiError::bad_request("invalid_request", format!("the body is not JSON: {error}"))
    })?;
    serde_json::from_value(body).map_err(|error| ApiError::bad_request("invalid_request", error.to_string()))
}

impl From<DutyRefusal> for ApiError {
    fn from(refusal: DutyRefusal) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "separation_of_duties", refusal.to_string())
    }
}

/// Every client (the system administrator; the security administrator, who approves them;
/// the auditor, who reads and changes nothing).
#[utoipa::path(get, operation_id = "list_clients", path = "/v1/clients", tag = "identity",
    responses((status = 200, body = Vec<ClientEntry>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
) -> Result<Json<Vec<ClientEntry>>, ApiError> {
    caller
        .require_recorded(
            &state,
            &[Role::SystemAdmin, Role::SecurityAdmin, Role::Auditor],
            Action::DutyRefused,
            "GET /v1/clients",
            address,
        )
        .await?;
    let clients = state.identity.clients.list().await?;
    caller
        .record_reading(&state, "GET /v1/clients", clients.len(), address)
        .await?;
    Ok(Json(clients.into_iter().map(ClientEntry::from).collect()))
}

/// Creates a client of a department's work (publisher, analyst) and answers with its secret,
/// once (the system administrator). Administrative accounts are made on the hub's machine.
#[utoipa::path(post, operation_id = "create_client", path = "/v1/clients", tag = "identity", request_body = NewClientBody,
    responses((status = 201, body = NewSecret), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<NewSecret>), ApiError> {
    let body = json_body(&body);
    let record = Event::by(Action::ClientCreated, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(asked(body.as_ref().unwrap_or(&Value::Null), None));
    audited(&state, record, async |gate| {
        let admin = caller.require(Role::SystemAdmin)?;
        let body: NewClientBody = parsed(&body)?;
        check_account_change(admin, &AccountChange::Create { roles: &body.roles })?;
        let spec = ClientSpec {
            id: body.id,
            department: body.department,
            roles: body.roles,
            attributes: body.attributes,
            person: body.person_name.map(|name| PersonSpec { name, password: None }),
        };
        state.identity.clients.check_new(&spec).await?;
        gate.pass().await?;
        // Used only once a security administrator approves it.
        let (record, secret) = state.identity.clients.create(spec, None).await?;
        state.identity.holds(&record.id, record.roles.clone());
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
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let record = Event::by(Action::ClientDisabled, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({ "client": printable_client_id(&id) }));
    audited(&state, record, async |gate| {
        let admin = caller.require(Role::SystemAdmin)?;
        let account = state.identity.clients.check_exists(&id).await?;
        check_account_change(admin, &AccountChange::Disable { account: &account })?;
        gate.pass().await?;
        // Its tokens are refused from now on, before the store says so.
        state.identity.revoke(&id);
        state.identity.clients.disable(&id).await?;
        tracing::info!(client = %id, by = %caller.0.id, "client disabled");
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Gives a client a new secret, answered once; the old one stops working (the system
/// administrator, for the accounts it manages and its own).
#[utoipa::path(post, path = "/v1/clients/{id}/rotate-secret", tag = "identity", params(("id" = String, Path)),
    responses((status = 200, body = NewSecret), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<NewSecret>, ApiError> {
    let record = Event::by(Action::ClientSecretRotated, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({ "client": printable_client_id(&id) }));
    audited(&state, record, async |gate| {
        let admin = caller.require(Role::SystemAdmin)?;
        let account = state.identity.clients.check_exists(&id).await?;
        still_enabled(&account)?;
        check_account_change(admin, &AccountChange::RotateSecret { account: &account })?;
        gate.pass().await?;
        // A new secret of another account waits for a security administrator's approval;
        // the administrator's own keeps its approval.
        let approval = (account.id == caller.0.id)
            .then(|| account.approved_by.clone())
            .flatten();
        let rotated = state
            .identity
            .clients
            .rotate_secret(&id, approval.as_deref())
            .await?;
        // Tokens issued with the old secret end now, the caller's own included.
        state.identity.secret_changed(&id, &rotated.changed_at);
        tracing::info!(client = %id, by = %caller.0.id, "client secret rotated");
        Ok(Json(NewSecret {
            client_id: id,
            client_secret: rotated.secret,
        }))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesBody {
    #[schema(value_type = Vec<String>)]
    pub roles: BTreeSet<Role>,
}

/// Replaces the roles of an account of a department's work (the system administrator; never
/// its own roles, and never an administrative role). Roles taken away stop counting at the
/// account's next request; roles added come with its next token.
#[utoipa::path(put, path = "/v1/clients/{id}/roles", tag = "identity", params(("id" = String, Path)), request_body = RolesBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_roles(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let body = json_body(&body);
    let record = Event::by(Action::ClientRolesChanged, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(asked(body.as_ref().unwrap_or(&Value::Null), Some(&id)));
    audited(&state, record, async |gate| {
        let admin = caller.require(Role::SystemAdmin)?;
        let body: RolesBody = parsed(&body)?;
        let account = state.identity.clients.check_exists(&id).await?;
        still_enabled(&account)?;
        check_account_change(
            admin,
            &AccountChange::SetRoles {
                account: &account,
                roles: &body.roles,
            },
        )?;
        gate.record().detail = Some(
            serde_json::json!({ "client": id, "roles": body.roles, "before": account.roles }).to_string(),
        );
        gate.pass().await?;
        // Roles taken away count no more at once; a role added waits for a security
        // administrator's approval, and so the account's next token does.
        let approval = if body.roles.is_subset(&account.roles) {
            account.approved_by.clone()
        } else {
            None
        };
        state
            .identity
            .clients
            .set_roles(&id, &body.roles, approval.as_deref())
            .await?;
        state.identity.holds(&id, body.roles.clone());
        tracing::info!(client = %id, by = %caller.0.id, "client roles changed");
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// What an approver saw of the account it approves.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    pub department: String,
    #[schema(value_type = Vec<String>)]
    pub roles: BTreeSet<Role>,
}

/// Approves the secret and roles a client waits with (the security administrator): what the
/// system administrator hands out through the API is used only once a second official has
/// approved it, so that neither alone can make an account that reads data.
/// The body names the department and roles the approver saw; an account changed since is
/// refused with 409 `changed`.
#[utoipa::path(post, path = "/v1/clients/{id}/approve", tag = "identity", params(("id" = String, Path)), request_body = ApprovalBody,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, description = "No client of that id waits", body = ErrorBody),
        (status = 409, description = "The account changed since the approver saw it", body = ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let body = json_body(&body);
    let record = Event::by(Action::ClientApproved, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(asked(body.as_ref().unwrap_or(&Value::Null), Some(&id)));
    audited(&state, record, async |gate| {
        let officer = caller.require(Role::SecurityAdmin)?;
        let seen: ApprovalBody = parsed(&body)?;
        let account = state.identity.clients.check_exists(&id).await?;
        // A disabled account (a refused one included) waits for nothing.
        if account.approved_by.is_some() || account.disabled {
            return Err(ApiError::not_found(format!("client {id} waits for no approval")));
        }
        // The approval is of what the approver saw: an account changed since is looked at
        // again.
        if seen.department != account.department || seen.roles != account.roles {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "changed",
                format!(
                    "client {id} is now of {} with the roles [{}]: look at it again before approving",
                    account.department,
                    causeway_policies::role_names(&account.roles, ", ")
                ),
            ));
        }
        gate.record().detail = Some(
            serde_json::json!({ "client": id, "department": account.department, "roles": account.roles })
                .to_string(),
        );
        gate.pass().await?;
        state.identity.clients.approve(&id, &officer.id).await?;
        tracing::info!(client = %id, by = %officer.id, "client approved");
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Why a security administrator refuses an account's approval, shown to the system
/// administrator with the account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusalBody {
    pub reason: String,
}

/// Whether `reason` is text a person reads as written: something visible, and no control
/// characters (line breaks, terminal escapes) or direction overrides, which would change
/// how the lists that show it read (Unicode TR #36, §2.3).
fn readable_reason(reason: &str) -> bool {
    let invisible =
        |c: char| c.is_whitespace() || matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}');
    let forbidden =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    reason.chars().any(|c| !invisible(c)) && !reason.chars().any(forbidden)
}

/// The longest reason a refusal keeps, in characters.
const MAX_REASON_CHARS: usize = 500;

/// Refuses what a client waits with (the security administrator), instead of approving it;
/// the reason is kept with the account for the system administrator. Roles added to an
/// approved account are taken away again: it keeps the approved roles it still holds, with
/// their approval, and its tokens lose the rest. Any other account (a new one, or one
/// waiting with a new secret) is disabled for good, its tokens and sign-ins end, and the
/// system administrator may make a new one.
#[utoipa::path(post, path = "/v1/clients/{id}/refuse", tag = "identity", params(("id" = String, Path)), request_body = RefusalBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No client of that id waits", body = ErrorBody)))]
pub async fn refuse(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let body = json_body(&body);
    let record = Event::by(Action::ClientRefused, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(asked(body.as_ref().unwrap_or(&Value::Null), Some(&id)));
    audited(&state, record, async |gate| {
        let officer = caller.require(Role::SecurityAdmin)?;
        let refusal: RefusalBody = parsed(&body)?;
        let reason = refusal.reason.trim();
        if !readable_reason(reason) || reason.chars().count() > MAX_REASON_CHARS {
            return Err(ApiError::bad_request(
                "invalid_reason",
                format!(
                    "a refusal needs its reason, of 1 to {MAX_REASON_CHARS} characters, without control or direction characters"
                ),
            ));
        }
        let account = state.identity.clients.check_exists(&id).await?;
        if account.approved_by.is_some() || account.disabled {
            return Err(ApiError::not_found(format!("client {id} waits for no approval")));
        }
        gate.record().detail = Some(
            serde_json::json!({ "client": id, "reason": reason, "roles": account.roles, "approved_roles": account.approved_roles })
                .to_string(),
        );
        gate.pass().await?;
        match state.identity.clients.refuse(&id, &officer.id, reason).await? {
            Refusal::Disabled => {
                state.identity.revoke(&id);
                tracing::info!(client = %id, by = %officer.id, "client refused and disabled");
            }
            Refusal::RolesKept(roles) => {
                state.identity.holds(&id, roles);
                tracing::info!(client = %id, by = %officer.id, "client's added roles refused");
            }
        }
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
