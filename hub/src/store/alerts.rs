//! Alerts raised by supervision rules, and who cleared them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use super::changes::Change;
use super::{MetadataStore, Result, json, parse, time};

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AlertRecord {
    pub id: String,
    /// The name of the rule that raised it.
    pub rule: String,
    pub principal: String,
    /// Whether the principal's queries are refused until it is cleared.
    pub suspends: bool,
    pub raised_at: DateTime<Utc>,
    /// What the rule saw.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub cleared_at: Option<DateTime<Utc>>,
    pub cleared_by: Option<String>,
    /// Why, as the officer who cleared it said (optional).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleared_reason: Option<String>,
}

const COLUMNS: &str =
    "id, rule, principal, suspends, raised_at, detail, cleared_at, cleared_by, cleared_reason";

impl MetadataStore {
    pub async fn insert_alert(&self, alert: &AlertRecord) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO alerts (id, rule, principal, suspends, raised_at, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&alert.id)
        .bind(&alert.rule)
        .bind(&alert.principal)
        .bind(i64::from(alert.suspends))
        .bind(alert.raised_at.to_rfc3339())
        .bind(json(&alert.detail)?)
        .execute(&mut *transaction)
        .await?;
        self.note(&mut transaction, Change::Alerts).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Every alert, oldest first.
    pub async fn list_alerts(&self) -> Result<Vec<AlertRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM alerts ORDER BY raised_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(alert_from_row).collect()
    }

    /// The alerts not cleared, oldest first.
    pub async fn list_open_alerts(&self) -> Result<Vec<AlertRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM alerts WHERE cleared_at IS NULL ORDER BY raised_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(alert_from_row).collect()
    }

    /// Whether the store holds the alert `id`, open or cleared.
    pub async fn alert_stored(&self, id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM alerts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Clears an alert still open, as `alert` says (when, by whom, why); false when there is
    /// none such.
    pub async fn clear_alert(&self, alert: &AlertRecord) -> Result<bool> {
        let (Some(at), Some(by)) = (alert.cleared_at, alert.cleared_by.as_deref()) else {
            return Ok(false);
        };
        let id = &alert.id;
        let mut transaction = self.pool.begin().await?;
        let cleared = sqlx::query(
            "UPDATE alerts SET cleared_at = $1, cleared_by = $2, cleared_reason = $3 WHERE id = $4 AND cleared_at IS NULL",
        )
        .bind(at.to_rfc3339())
        .bind(by)
        .bind(alert.cleared_reason.as_deref())
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        self.note(&mut transaction, Change::Alerts).await?;
        transaction.commit().await?;
        Ok(cleared.rows_affected() == 1)
    }
}

fn alert_from_row(row: &AnyRow) -> Result<AlertRecord> {
    let cleared_at: Option<String> = row.try_get("cleared_at")?;
    Ok(AlertRecord {
        id: row.try_get("id")?,
        rule: row.try_get("rule")?,
        principal: row.try_get("principal")?,
        suspends: row.try_get::<i64, _>("suspends")? != 0,
        raised_at: time(&row.try_get::<String, _>("raised_at")?)?,
        detail: parse(&row.try_get::<String, _>("detail")?)?,
        cleared_at: cleared_at.as_deref().map(time).transpose()?,
        cleared_by: row.try_get("cleared_by")?,
        cleared_reason: row.try_get("cleared_reason")?,
    })
}
