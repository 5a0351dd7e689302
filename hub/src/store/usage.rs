//! Rows taken out per day, for the daily row quotas every hub on the store shares.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::Row;

use super::{MetadataStore, Result};

impl MetadataStore {
    /// Charges `rows` sent to `principal` on `day` to each of `datasets`.
    pub async fn add_row_usage(
        &self,
        day: NaiveDate,
        principal: &str,
        datasets: &[String],
        rows: u64,
    ) -> Result<()> {
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        let day_text = day.to_string();
        // In one order, so that two writes of one caller never wait for each other's rows.
        let mut datasets = datasets.to_vec();
        datasets.sort();
        datasets.dedup();
        let mut transaction = self.pool.begin().await?;
        for dataset in &datasets {
            sqlx::query(
                "INSERT INTO row_usage (day, principal, dataset, rows_sent) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (day, principal, dataset) DO UPDATE SET rows_sent = row_usage.rows_sent + excluded.rows_sent",
            )
            .bind(&day_text)
            .bind(principal)
            .bind(dataset)
            .bind(rows)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Forgets the counts of the days before `day`.
    pub async fn forget_row_usage_before(&self, day: NaiveDate) -> Result<()> {
        sqlx::query("DELETE FROM row_usage WHERE day < $1")
            .bind(day.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The rows `principal` took out of each dataset on `day`, by every hub on the store.
    pub async fn row_usage(&self, day: NaiveDate, principal: &str) -> Result<HashMap<String, u64>> {
        let rows = sqlx::query("SELECT dataset, rows_sent FROM row_usage WHERE day = $1 AND principal = $2")
            .bind(day.to_string())
            .bind(principal)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let sent: i64 = row.try_get("rows_sent")?;
                Ok((row.try_get("dataset")?, u64::try_from(sent).unwrap_or(0)))
            })
            .collect()
    }
}
