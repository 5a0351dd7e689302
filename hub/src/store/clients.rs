//! OAuth2 clients of the built-in authorization server.

use std::collections::{BTreeMap, BTreeSet};

use causeway_policies::{AttributeValue, Role};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::changes::Change;
use super::{MetadataStore, Result, StoreError, json, now, parse};

/// What kind of account: a service with a client secret (client credentials), or a person
/// with a password (signing in through the console's authorization-code flow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    #[default]
    Service,
    Person,
}

impl AccountKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Person => "person",
        }
    }
}

/// A client as stored: who it acts as, and the hash of its secret.
#[derive(Debug, Clone, Serialize)]
pub struct ClientRecord {
    pub id: String,
    pub kind: AccountKind,
    /// A person's name as shown to people; none for services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub department: String,
    pub roles: BTreeSet<Role>,
    pub attributes: BTreeMap<String, AttributeValue>,
    #[serde(skip)]
    pub secret_hash: String,
    pub disabled: bool,
    pub created_at: String,
    pub secret_rotated_at: String,
    /// Who approved its current secret and roles; `None` while they wait for a security
    /// administrator (see `identity::duties`).
    pub approved_by: Option<String>,
    /// The security administrator who refused what it waited with, and why: the account is
    /// disabled since, unless what it waited with was roles added to approved ones (then it
    /// has those approved roles back).
    pub refused: Option<Refused>,
    /// While it waits for roles added to approved ones: the roles it held approved.
    pub approved_roles: Option<BTreeSet<Role>>,
}

/// What refusing a waiting account did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It had nothing approved to go back to (it was new, or waited with a new secret):
    /// disabled.
    Disabled,
    /// It waited with roles added to approved ones: it has the approved roles it still
    /// holds back, with their approval.
    RolesKept(BTreeSet<Role>),
}

/// A security administrator's refusal of what an account waited with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Refused {
    pub by: String,
    pub reason: String,
}

pub struct NewClient<'a> {
    pub id: &'a str,
    pub kind: AccountKind,
    pub name: Option<&'a str>,
    pub department: &'a str,
    pub roles: &'a BTreeSet<Role>,
    pub attributes: &'a BTreeMap<String, AttributeValue>,
    pub secret_hash: &'a str,
    /// `None` when the client waits for a security administrator's approval.
    pub approved_by: Option<&'a str>,
}

impl MetadataStore {
    pub async fn insert_client(&self, client: NewClient<'_>) -> Result<ClientRecord> {
        let mut transaction = self.pool.begin().await?;
        let at = now();
        let inserted = sqlx::query(
            "INSERT INTO clients (id, department, roles, attributes, secret_hash, disabled, created_at, secret_rotated_at, approved_by, kind, name) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9, $10)",
        )
        .bind(client.id)
        .bind(client.department)
        .bind(json(client.roles)?)
        .bind(json(client.attributes)?)
        .bind(client.secret_hash)
        .bind(&at)
        .bind(&at)
        .bind(client.approved_by)
        .bind(client.kind.as_str())
        .bind(client.name)
        .execute(&mut *transaction)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                return Err(StoreError::AlreadyExists(format!("client {}", client.id)));
            }
            Err(error) => return Err(error.into()),
        }
        self.note(&mut transaction, Change::Clients).await?;
        transaction.commit().await?;
        Ok(ClientRecord {
            id: client.id.to_owned(),
            kind: client.kind,
            name: client.name.map(str::to_owned),
            department: client.department.to_owned(),
            roles: client.roles.clone(),
            attributes: client.attributes.clone(),
            secret_hash: client.secret_hash.to_owned(),
            disabled: false,
            created_at: at.clone(),
            secret_rotated_at: at,
            approved_by: client.approved_by.map(str::to_owned),
            refused: None,
            approved_roles: None,
        })
    }

    pub async fn client(&self, id: &str) -> Result<Option<ClientRecord>> {
        let row = sqlx::query(
            "SELECT id, department, roles, attributes, secret_hash, disabled, created_at, secret_rotated_at, approved_by, kind, name, refused_by, refusal_reason, approved_roles \
             FROM clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    pub async fn list_clients(&self) -> Result<Vec<ClientRecord>> {
        let rows = sqlx::query(
            "SELECT id, department, roles, attributes, secret_hash, disabled, created_at, secret_rotated_at, approved_by, kind, name, refused_by, refusal_reason, approved_roles \
             FROM clients ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// Disables a client; false when there is none.
    pub async fn disable_client(&self, id: &str) -> Result<bool> {
        let mut transaction = self.pool.begin().await?;
        let updated = sqlx::query("UPDATE clients SET disabled = 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *transaction)
            .await?;
        self.note(&mut transaction, Change::Clients).await?;
        transaction.commit().await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Refuses what a client waits with, by `by` for `reason`. Roles added to approved ones
    /// are taken away again, and the account keeps the approved roles it still holds, with
    /// their approval; any other account is disabled. `None` when no client of that id waits
    /// for approval (or it changed while this was decided).
    pub async fn refuse_client(&self, id: &str, by: &str, reason: &str) -> Result<Option<Refusal>> {
        let mut transaction = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT roles, approved_roles, approved_roles_by FROM clients \
             WHERE id = $1 AND approved_by IS NULL AND disabled = 0",
        )
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let roles: String = row.try_get("roles")?;
        let kept = match (
            row.try_get::<Option<String>, _>("approved_roles")?,
            row.try_get::<Option<String>, _>("approved_roles_by")?,
        ) {
            (Some(approved), Some(approver)) => {
                let approved: BTreeSet<Role> = parse(&approved)?;
                let held: BTreeSet<Role> = parse(&roles)?;
                // Roles the administrator has taken away since stay away.
                let kept: BTreeSet<Role> = approved.intersection(&held).copied().collect();
                (!kept.is_empty()).then_some((kept, approver))
            }
            _ => None,
        };
        // Kept roles come back with their approval; otherwise the account is disabled. The
        // roles read are part of the condition: a change made meanwhile is not refused unseen.
        let (roles_after, approver, refusal) = match kept {
            Some((kept, approver)) => (json(&kept)?, Some(approver), Refusal::RolesKept(kept)),
            None => (roles.clone(), None, Refusal::Disabled),
        };
        let updated = sqlx::query(
            "UPDATE clients SET roles = $1, approved_by = $2, disabled = $3, \
             approved_roles = NULL, approved_roles_by = NULL, refused_by = $4, refusal_reason = $5 \
             WHERE id = $6 AND approved_by IS NULL AND disabled = 0 AND roles = $7",
        )
        .bind(roles_after)
        .bind(approver)
        .bind(i64::from(refusal == Refusal::Disabled))
        .bind(by)
        .bind(reason)
        .bind(id)
        .bind(&roles)
        .execute(&mut *transaction)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        self.note(&mut transaction, Change::Clients).await?;
        transaction.commit().await?;
        Ok(Some(refusal))
    }

    /// Replaces a client's roles, approved by `approved_by` or (`None`) waiting for approval;
    /// false when there is no such client.
    pub async fn set_client_roles(
        &self,
        id: &str,
        roles: &BTreeSet<Role>,
        approved_by: Option<&str>,
    ) -> Result<bool> {
        let mut transaction = self.pool.begin().await?;
        let updated = match approved_by {
            Some(approved_by) => {
                sqlx::query("UPDATE clients SET roles = $1, approved_by = $2 WHERE id = $3")
                    .bind(json(roles)?)
                    .bind(approved_by)
                    .bind(id)
                    .execute(&mut *transaction)
                    .await?
            }
            // The roles and approval it holds are kept beside the change, unless it already
            // waited (then what was approved before is kept already, or nothing was).
            None => {
                sqlx::query(
                    "UPDATE clients SET roles = $1, \
                     approved_roles = CASE WHEN approved_by IS NULL THEN approved_roles ELSE roles END, \
                     approved_roles_by = CASE WHEN approved_by IS NULL THEN approved_roles_by ELSE approved_by END, \
                     approved_by = NULL WHERE id = $2",
                )
                .bind(json(roles)?)
                .bind(id)
                .execute(&mut *transaction)
                .await?
            }
        };
        self.note(&mut transaction, Change::Clients).await?;
        transaction.commit().await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Replaces a client's secret, approved by `approved_by` or (`None`) waiting for
    /// approval; returns when it changed (its new `secret_rotated_at`), `None` when there is
    /// no such client. A secret that waits leaves nothing approved to go back to (the old
    /// one has ended): refusing it disables the account.
    pub async fn set_client_secret(
        &self,
        id: &str,
        secret_hash: &str,
        approved_by: Option<&str>,
    ) -> Result<Option<String>> {
        let at = now();
        let mut transaction = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE clients SET secret_hash = $1, secret_rotated_at = $2, approved_by = $3, \
             approved_roles = CASE WHEN $3 IS NULL THEN NULL ELSE approved_roles END, \
             approved_roles_by = CASE WHEN $3 IS NULL THEN NULL ELSE approved_roles_by END \
             WHERE id = $4",
        )
        .bind(secret_hash)
        .bind(&at)
        .bind(approved_by)
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        self.note(&mut transaction, Change::Clients).await?;
        transaction.commit().await?;
        Ok((updated.rows_affected() > 0).then_some(at))
    }
}

impl MetadataStore {
    /// Approves a client that waits; false when there is none waiting of that id.
    pub async fn approve_client(&self, id: &str, by: &str) -> Result<bool> {
        let mut transaction = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE clients SET approved_by = $1, approved_roles = NULL, approved_roles_by = NULL, \
             refused_by = NULL, refusal_reason = NULL \
             WHERE id = $2 AND approved_by IS NULL AND disabled = 0",
        )
        .bind(by)
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        self.note(&mut transaction, Change::Clients).await?;
        transaction.commit().await?;
        Ok(updated.rows_affected() > 0)
    }
}

fn client_from_row(row: &AnyRow) -> Result<ClientRecord> {
    let text = |column: &str| -> Result<String> { Ok(row.try_get::<String, _>(column)?) };
    let kind = match text("kind")?.as_str() {
        "service" => AccountKind::Service,
        "person" => AccountKind::Person,
        other => return Err(StoreError::Corrupt(format!("unknown account kind '{other}'"))),
    };
    Ok(ClientRecord {
        id: text("id")?,
        kind,
        name: row.try_get::<Option<String>, _>("name")?,
        department: text("department")?,
        roles: parse(&text("roles")?)?,
        attributes: parse(&text("attributes")?)?,
        secret_hash: text("secret_hash")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: text("created_at")?,
        secret_rotated_at: text("secret_rotated_at")?,
        approved_by: row.try_get::<Option<String>, _>("approved_by")?,
        refused: match (
            row.try_get::<Option<String>, _>("refused_by")?,
            row.try_get::<Option<String>, _>("refusal_reason")?,
        ) {
            (Some(by), reason) => Some(Refused {
                by,
                reason: reason.unwrap_or_default(),
            }),
            (None, _) => None,
        },
        approved_roles: row
            .try_get::<Option<String>, _>("approved_roles")?
            .map(|roles| parse(&roles))
            .transpose()?,
    })
}
