//! What an audit event says: one action, who took it, from where, on what, and how it
//! ended. The fields are flat so that the log reads as one table (`audit.events`).

use causeway_policies::Principal;
use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Action {
    /// A query passed its checks and runs; on disk before its first result byte leaves.
    QueryStarted,
    /// A started query ended: rows and bytes sent, duration, outcome.
    QueryFinished,
    /// A query refused or failed before sending anything.
    QueryRefused,
    /// Records matched against a dataset under a verify-only grant.
    VerificationAnswered,
    /// A verification refused before any record was matched, or whose every record was
    /// refused (its subjects' attempts used up).
    VerificationRefused,
    TokenIssued,
    TokenRefused,
    /// A person signed in on the built-in provider's sign-in page (detail: the application).
    SignInSucceeded,
    /// A sign-in on that page was refused: wrong name or password, a disabled or waiting
    /// account, or too many failures.
    SignInRefused,
    /// A person's sign-in ended: signed out, or revoked because a code or refresh token was
    /// used twice (detail: why).
    SignInEnded,
    /// Requests refused for their bearer token: the first from an address at once, then a
    /// count of the others per minute.
    BearerRefused,
    DatasetPublished,
    DatasetChanged,
    DatasetRemoved,
    /// An accelerated dataset's in-memory copy was rebuilt from its source, or failed to be.
    DatasetRefreshed,
    ClientCreated,
    ClientDisabled,
    ClientSecretRotated,
    /// A client's roles were replaced (detail: the roles before and after).
    ClientRolesChanged,
    /// A security administrator approved the secret and roles a client waited with.
    ClientApproved,
    /// A security administrator refused what a client waited with (detail: the reason); the
    /// client is disabled.
    ClientRefused,
    /// A new signing key, added with `causeway keys rotate`.
    KeysRotated,
    /// A backup of the store, the keys and the audit chains was made (detail: where to).
    BackupMade,
    /// A backup was restored into this hub (detail: from where, when it was made, the rows
    /// of each table); the first record of the restored hub's own.
    BackupRestored,
    /// A reading outside the caller's duties was refused (detail: what was asked).
    DutyRefused,
    /// An administrator read a list of accounts, grants, access requests or alerts (detail:
    /// what; rows: how many entries).
    AdminRead,
    GrantCreated,
    GrantRevoked,
    /// A grant reached its `expires_at`, or its `recertify_by` unconfirmed (the record's
    /// detail says which).
    GrantExpired,
    /// The owning department confirmed a grant for another recertification interval.
    GrantConfirmed,
    RequestCreated,
    RequestDecided,
    /// The requester withdrew a request that was still pending.
    RequestWithdrawn,
    /// A reviewer tried the grant approving a request would make: the rows the requester
    /// would receive, seen by the reviewer (columns, masks and row filters as for a query;
    /// detail: the request, the requester and the proposal).
    RequestDryRun,
    /// Policy files were read, at start or on SIGHUP.
    PoliciesLoaded,
    /// Records of the log were read through the API.
    AuditRead,
    /// A supervision rule raised an alert about a principal.
    AlertRaised,
    /// A security officer cleared an alert.
    AlertCleared,
    /// The hub opened its log: at every start.
    AuditOpened,
    /// A signed checkpoint of the chain so far.
    AuditCheckpoint,
    /// A torn last line, left by a crash in the middle of a write that was never
    /// acknowledged, was cut off when the log was opened.
    AuditRecovered,
    /// The first record of a chain: the node and chain it belongs to and how often it is
    /// checkpointed, signed.
    AuditGenesis,
    /// Segments at the head of the chain were archived or removed: the range and the hash
    /// the first remaining record links to.
    AuditArchived,
}

impl Action {
    const ALL: [Action; 43] = [
        Action::QueryStarted,
        Action::QueryFinished,
        Action::QueryRefused,
        Action::VerificationAnswered,
        Action::VerificationRefused,
        Action::TokenIssued,
        Action::TokenRefused,
        Action::SignInSucceeded,
        Action::SignInRefused,
        Action::SignInEnded,
        Action::BearerRefused,
        Action::DatasetPublished,
        Action::DatasetChanged,
        Action::DatasetRemoved,
        Action::DatasetRefreshed,
        Action::ClientCreated,
        Action::ClientDisabled,
        Action::ClientSecretRotated,
        Action::ClientRolesChanged,
        Action::ClientApproved,
        Action::ClientRefused,
        Action::KeysRotated,
        Action::BackupMade,
        Action::BackupRestored,
        Action::DutyRefused,
        Action::AdminRead,
        Action::GrantCreated,
        Action::GrantRevoked,
        Action::GrantExpired,
        Action::GrantConfirmed,
        Action::RequestCreated,
        Action::RequestDecided,
        Action::RequestWithdrawn,
        Action::RequestDryRun,
        Action::PoliciesLoaded,
        Action::AuditRead,
        Action::AlertRaised,
        Action::AlertCleared,
        Action::AuditOpened,
        Action::AuditCheckpoint,
        Action::AuditRecovered,
        Action::AuditGenesis,
        Action::AuditArchived,
    ];

    /// The name the log and its readers use, e.g. `query.started`.
    pub fn name(self) -> &'static str {
        match self {
            Action::QueryStarted => "query.started",
            Action::QueryFinished => "query.finished",
            Action::QueryRefused => "query.refused",
            Action::VerificationAnswered => "verification.answered",
            Action::VerificationRefused => "verification.refused",
            Action::TokenIssued => "token.issued",
            Action::TokenRefused => "token.refused",
            Action::SignInSucceeded => "sign_in.succeeded",
            Action::SignInRefused => "sign_in.refused",
            Action::SignInEnded => "sign_in.ended",
            Action::BearerRefused => "bearer.refused",
            Action::DatasetPublished => "dataset.published",
            Action::DatasetChanged => "dataset.changed",
            Action::DatasetRemoved => "dataset.removed",
            Action::DatasetRefreshed => "dataset.refreshed",
            Action::ClientCreated => "client.created",
            Action::ClientDisabled => "client.disabled",
            Action::ClientSecretRotated => "client.secret_rotated",
            Action::ClientRolesChanged => "client.roles_changed",
            Action::ClientApproved => "client.approved",
            Action::ClientRefused => "client.refused",
            Action::KeysRotated => "keys.rotated",
            Action::BackupMade => "backup.made",
            Action::BackupRestored => "backup.restored",
            Action::DutyRefused => "duty.refused",
            Action::AdminRead => "admin.read",
            Action::GrantCreated => "grant.created",
            Action::GrantRevoked => "grant.revoked",
            Action::GrantExpired => "grant.expired",
            Action::GrantConfirmed => "grant.confirmed",
            Action::RequestCreated => "request.created",
            Action::RequestDecided => "request.decided",
            Action::RequestWithdrawn => "request.withdrawn",
            Action::RequestDryRun => "request.dry_run",
            Action::PoliciesLoaded => "policies.loaded",
            Action::AuditRead => "audit.read",
            Action::AlertRaised => "alert.raised",
            Action::AlertCleared => "alert.cleared",
            Action::AuditOpened => "audit.opened",
            Action::AuditCheckpoint => "audit.checkpoint",
            Action::AuditRecovered => "audit.recovered",
            Action::AuditGenesis => "audit.genesis",
            Action::AuditArchived => "audit.archived",
        }
    }
}

impl From<Action> for &'static str {
    fn from(action: Action) -> Self {
        action.name()
    }
}

/// A name that is no audit action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit action '{0}'")]
pub struct UnknownAction(pub String);

impl TryFrom<String> for Action {
    type Error = UnknownAction;

    fn try_from(name: String) -> Result<Self, UnknownAction> {
        Action::ALL
            .into_iter()
            .find(|action| action.name() == name)
            .ok_or(UnknownAction(name))
    }
}

/// How the action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// Refused by a policy, a role check or a failed authentication.
    Denied,
    /// Failed for another reason (bad input, a limit, a source error).
    Error,
}

/// One audit event, before the log gives it its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub action: Action,
    pub outcome: Outcome,
    /// Who acted: a client id or a user, as the token named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The identity provider that vouched for the principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// The datasets the action touched, as `department.name`: what lets a publisher find
    /// the events of their own datasets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<String>,
    /// Columns read from the sources, as `department.name.column`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Masks applied, as `department.name.column: mask`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masks: Vec<String>,
    /// Row filters applied, as `department.name: filter` (as the grant writes it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub row_filters: Vec<String>,
    /// The grants the action used, or created, or revoked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The error code given to the caller, e.g. `column_not_granted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Texts of the query that the log keeps only as pseudonyms (see `literals`), each with
    /// its pseudonym: an error message that quotes one gets the pseudonym instead. Never
    /// written.
    #[serde(skip)]
    pub redactions: Vec<(String, String)>,
    /// What else the action needs to say, as a JSON document (a client's id, a request's
    /// decision, a checkpoint's signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Event {
    pub fn new(action: Action, outcome: Outcome) -> Self {
        Self {
            action,
            outcome,
            principal: None,
            department: None,
            roles: Vec::new(),
            issuer: None,
            client_address: None,
            query_id: None,
            purpose: None,
            sql: None,
            datasets: Vec::new(),
            columns: Vec::new(),
            masks: Vec::new(),
            row_filters: Vec::new(),
            grants: Vec::new(),
            rows: None,
            bytes: None,
            duration_ms: None,
            error_class: None,
            error: None,
            detail: None,
            redactions: Vec::new(),
        }
    }

    /// The event of `principal` acting.
    pub fn by(action: Action, outcome: Outcome, principal: &Principal) -> Self {
        Self {
            principal: Some(principal.id.clone()),
            department: Some(principal.department.clone()),
            roles: principal.roles.iter().map(ToString::to_string).collect(),
            issuer: Some(principal.issuer.clone()).filter(|issuer| !issuer.is_empty()),
            ..Self::new(action, outcome)
        }
    }

    pub fn at_address(mut self, address: Option<std::net::SocketAddr>) -> Self {
        self.client_address = address.map(|address| address.ip().to_string());
        self
    }

    pub fn on_dataset(mut self, dataset: impl ToString) -> Self {
        self.datasets.push(dataset.to_string());
        self
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail.to_string());
        self
    }

    pub fn failed(mut self, outcome: Outcome, class: &str, message: impl ToString) -> Self {
        self.outcome = outcome;
        self.error_class = Some(class.to_owned());
        let mut message = message.to_string();
        for (original, pseudonym) in &self.redactions {
            message = message.replace(original.as_str(), pseudonym);
        }
        self.error = Some(message);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::Action;

    /// The console shows each action in words (console/src/messages/codes.ts); an action
    /// added here without its words would reach officers as a bare code.
    #[test]
    fn the_console_has_words_for_every_action() {
        let words = include_str!("../../../console/src/messages/codes.ts");
        let missing: Vec<&str> = Action::ALL
            .iter()
            .map(|action| action.name())
            .filter(|name| !words.contains(&format!("\"{name}\": {{ en: ")))
            .collect();
        assert!(missing.is_empty(), "no words in the console for {missing:?}");
    }
}
