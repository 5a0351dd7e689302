//! Rows taken out and subjects asked about per day, for the daily quotas every hub on the
//! store shares.

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

/// How many counts one statement adds: five values each, well under SQLite's and
/// PostgreSQL's limits on bound values.
const COUNTS_PER_STATEMENT: usize = 500;

impl MetadataStore {
    /// Adds `counts` (a subject and how many more times) to what `principal` used of
    /// `dataset` under `control` on `day`, and returns each subject's total after adding,
    /// by every hub on the store. Atomic per subject: two hubs adding at once both count.
    pub async fn add_subject_usage(
        &self,
        day: NaiveDate,
        principal: &str,
        dataset: &str,
        control: &str,
        counts: &[(String, u64)],
    ) -> Result<HashMap<String, u64>> {
        let day_text = day.to_string();
        // In one order, so that two writes of one caller never wait for each other's rows.
        let mut counts = counts.to_vec();
        counts.sort();
        let mut totals = HashMap::with_capacity(counts.len());
        let mut transaction = self.pool.begin().await?;
        for chunk in counts.chunks(COUNTS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|index| {
                    let at = index * 2 + 5;
                    format!("($1, $2, $3, $4, ${}, ${})", at, at + 1)
                })
                .collect();
            let sql = format!(
                "INSERT INTO subject_usage (day, principal, dataset, control, subject, attempts) VALUES {} \
                 ON CONFLICT (day, principal, dataset, control, subject) \
                 DO UPDATE SET attempts = subject_usage.attempts + excluded.attempts \
                 RETURNING subject, attempts",
                values.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&day_text)
                .bind(principal)
                .bind(dataset)
                .bind(control);
            for (subject, count) in chunk {
                query = query
                    .bind(subject)
                    .bind(i64::try_from(*count).unwrap_or(i64::MAX));
            }
            for row in query.fetch_all(&mut *transaction).await? {
                let attempts: i64 = row.try_get("attempts")?;
                totals.insert(row.try_get("subject")?, u64::try_from(attempts).unwrap_or(0));
            }
        }
        transaction.commit().await?;
        Ok(totals)
    }

    /// Takes `count` back from `principal`'s use of `subject` (a count added for a call that
    /// was then refused as a whole).
    pub async fn take_back_subject_usage(
        &self,
        day: NaiveDate,
        principal: &str,
        dataset: &str,
        control: &str,
        subject: &str,
        count: u64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE subject_usage SET attempts = attempts - $6 \
             WHERE day = $1 AND principal = $2 AND dataset = $3 AND control = $4 AND subject = $5",
        )
        .bind(day.to_string())
        .bind(principal)
        .bind(dataset)
        .bind(control)
        .bind(subject)
        .bind(i64::try_from(count).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the subjects counted on the days before `day`.
    pub async fn forget_subject_usage_before(&self, day: NaiveDate) -> Result<()> {
        sqlx::query("DELETE FROM subject_usage WHERE day < $1")
            .bind(day.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl MetadataStore {
    /// The subjects `principal` used of `dataset` under `control` on `day`, by every hub.
    pub async fn subjects_used(
        &self,
        day: NaiveDate,
        principal: &str,
        dataset: &str,
        control: &str,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT subject FROM subject_usage WHERE day = $1 AND principal = $2 AND dataset = $3 AND control = $4",
        )
        .bind(day.to_string())
        .bind(principal)
        .bind(dataset)
        .bind(control)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("subject")?)).collect()
    }
}
