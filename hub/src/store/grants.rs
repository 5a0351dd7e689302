//! Grants: created directly by security administrators, or when an access request is approved;
//! revoked, never deleted, so the record of who could read what stays.

use causeway_policies::Grant;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::changes::Change;
use super::{MetadataStore, Result, StoreError, json, now, parse};

/// How a grant came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantOrigin {
    /// Made by a security administrator.
    Direct,
    /// An access request both its reviewers approved.
    Request,
    /// An access request that met the dataset's published conditions.
    AutoApproved,
    /// Written in a policy file.
    File,
}

impl GrantOrigin {
    fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Request => "request",
            Self::AutoApproved => "auto_approved",
            Self::File => "file",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "direct" => Ok(Self::Direct),
            "request" => Ok(Self::Request),
            "auto_approved" => Ok(Self::AutoApproved),
            "file" => Ok(Self::File),
            other => Err(StoreError::Corrupt(format!("unknown grant origin '{other}'"))),
        }
    }
}

/// A stored grant and its history.
#[derive(Debug, Clone, Serialize)]
pub struct GrantRecord {
    #[serde(flatten)]
    pub grant: Grant,
    pub origin: GrantOrigin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    /// Why, as whoever revoked it said (optional).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<String>,
}

const COLUMNS: &str =
    "id, body, origin, request_id, created_by, created_at, revoked_at, revoked_by, revoked_reason";

impl MetadataStore {
    pub async fn insert_grant(
        &self,
        grant: &Grant,
        origin: GrantOrigin,
        request_id: Option<&str>,
        created_by: &str,
    ) -> Result<GrantRecord> {
        let mut transaction = self.pool.begin().await?;
        let at = now();
        let body = json(grant)?;
        sqlx::query(
            "INSERT INTO grants (id, department, dataset, body, origin, request_id, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&grant.id)
        .bind(&grant.dataset.department)
        .bind(&grant.dataset.name)
        .bind(body)
        .bind(origin.as_str())
        .bind(request_id)
        .bind(created_by)
        .bind(&at)
        .execute(&mut *transaction)
        .await
        .map_err(|error| match &error {
            sqlx::Error::Database(database) if database.is_unique_violation() => {
                StoreError::AlreadyExists(format!("grant {}", grant.id))
            }
            _ => StoreError::Database(error),
        })?;
        self.note(&mut transaction, Change::Grants).await?;
        transaction.commit().await?;
        Ok(GrantRecord {
            grant: grant.clone(),
            origin,
            request_id: request_id.map(str::to_owned),
            created_by: created_by.to_owned(),
            created_at: at,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
        })
    }

    /// Every grant, revoked ones included, oldest first.
    pub async fn list_grants(&self) -> Result<Vec<GrantRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM grants ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(grant_from_row).collect()
    }

    pub async fn grant(&self, id: &str) -> Result<Option<GrantRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM grants WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// Stores `grant` (a grant that is not revoked, with a new recertification deadline)
    /// in place of the one of its id; false when there is none.
    pub async fn recertify_grant(&self, grant: &Grant) -> Result<bool> {
        let mut transaction = self.pool.begin().await?;
        let updated = sqlx::query("UPDATE grants SET body = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(json(grant)?)
            .bind(&grant.id)
            .execute(&mut *transaction)
            .await?;
        self.note(&mut transaction, Change::Grants).await?;
        transaction.commit().await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Revokes a grant in force, `by` whom and why; false when there is none.
    pub async fn revoke_grant(&self, id: &str, by: &str, reason: Option<&str>) -> Result<bool> {
        let mut transaction = self.pool.begin().await?;
        let revoked = sqlx::query(
            "UPDATE grants SET revoked_at = $1, revoked_by = $2, revoked_reason = $3 WHERE id = $4 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(by)
        .bind(reason)
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        self.note(&mut transaction, Change::Grants).await?;
        transaction.commit().await?;
        Ok(revoked.rows_affected() > 0)
    }
}

fn grant_from_row(row: &AnyRow) -> Result<GrantRecord> {
    let body: String = row.try_get("body")?;
    Ok(GrantRecord {
        grant: parse(&body)?,
        origin: GrantOrigin::parse(&row.try_get::<String, _>("origin")?)?,
        request_id: row.try_get("request_id")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
        revoked_by: row.try_get("revoked_by")?,
        revoked_reason: row.try_get("revoked_reason")?,
    })
}
