//! Row quotas: how many rows of a dataset a principal may take out in one query and in one
//! day (UTC). The rows counted are the rows a query sends to its caller, charged to every
//! dataset the query read.
//!
//! The day's counts are kept in the metadata store, so that every hub sharing it counts the
//! same day: a query under a daily quota reads the caller's counts there first (one indexed
//! read), and a query that sent rows adds them there when it ends. This hub also keeps its
//! own counts in memory (from its audit log at start), and a query is allowed what the larger
//! of the two leaves, so that its own queries count at once, before their writes land. When
//! the store cannot be read, queries under a daily quota are refused: a quota must not lapse
//! because the count cannot be seen.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use causeway_policies::RowQuota;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::audit::read::for_each_line;
use crate::store::MetadataStore;

/// How long a query waits for its caller's counts before it is refused as uncounted.
const COUNT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Forgets, in the background, the counts of days before yesterday.
fn forget_before(store: &MetadataStore, today: NaiveDate) {
    let (Some(before), Ok(runtime)) = (today.pred_opt(), tokio::runtime::Handle::try_current()) else {
        return;
    };
    let store = store.clone();
    runtime.spawn(async move {
        if let Err(error) = store.forget_row_usage_before(before).await {
            tracing::warn!(%error, "old days' row counts not removed");
        }
    });
}

/// Why a query may not return (more) rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    #[error("the daily quota of {limit} rows of {dataset} is used up or would be; it renews at midnight UTC")]
    Daily { dataset: String, limit: u64 },
    #[error("the query returns more than the {limit} rows of {dataset} one query may return")]
    PerQuery { dataset: String, limit: u64 },
    #[error(
        "today's rows of {dataset} cannot be counted now (the metadata store does not answer), so queries under its daily quota wait until they can"
    )]
    Uncounted { dataset: String },
}

/// Rows taken out today, by principal and dataset.
#[derive(Debug, Default)]
pub struct RowUsage {
    today: Mutex<Day>,
    /// Where every hub's counts are; `None` counts in memory only (tests).
    store: Option<MetadataStore>,
}

#[derive(Debug, Default)]
struct Day {
    date: Option<NaiveDate>,
    rows: HashMap<(String, String), u64>,
}

impl Day {
    /// The counts of `date`: those kept when it is still the same day, else none.
    fn on(&mut self, date: NaiveDate) -> &mut HashMap<(String, String), u64> {
        if self.date != Some(date) {
            self.date = Some(date);
            self.rows.clear();
        }
        &mut self.rows
    }
}

impl RowUsage {
    /// Where every hub's counts are kept; `None` when this one counts in memory only.
    pub fn store(&self) -> Option<&MetadataStore> {
        self.store.as_ref()
    }

    /// Counts kept in `store`, this hub's own starting from the `query.finished` records of
    /// today in the audit log in `dir` (`None`: the log is off).
    pub fn open(store: MetadataStore, dir: Option<&Path>, now: DateTime<Utc>) -> std::io::Result<Self> {
        let mut usage = match dir {
            Some(dir) => Self::from_log(dir, now)?,
            None => Self::default(),
        };
        forget_before(&store, now.date_naive());
        usage.store = Some(store);
        Ok(usage)
    }

    /// Today's counts, from the `query.finished` records of the audit log in `dir`.
    fn from_log(dir: &Path, now: DateTime<Utc>) -> std::io::Result<Self> {
        let usage = Self::default();
        let today = now.date_naive();
        for_each_line(dir, |line| {
            if let Ok(record) = serde_json::from_str::<Map<String, Value>>(line)
                && record.get("action").and_then(Value::as_str) == Some("query.finished")
                && let Some(time) = record.get("time").and_then(Value::as_str)
                && let Ok(time) = DateTime::parse_from_rfc3339(time)
                && time.with_timezone(&Utc).date_naive() == today
                && let (Some(principal), Some(rows)) = (
                    record.get("principal").and_then(Value::as_str),
                    record.get("rows").and_then(Value::as_u64),
                )
            {
                let datasets: Vec<String> = record
                    .get("datasets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|dataset| dataset.as_str().map(str::to_owned))
                    .collect();
                usage.add(principal, &datasets, &[], rows, now);
            }
            true
        })?;
        Ok(usage)
    }

    /// The most rows a query of `principal` reading datasets with these quotas may still
    /// return (`None`: no limit), or why it may return none.
    pub async fn allowance(
        &self,
        principal: &str,
        quotas: &[(String, RowQuota)],
        now: DateTime<Utc>,
    ) -> Result<Option<(u64, QuotaExceeded)>, QuotaExceeded> {
        let daily = quotas.iter().find(|(_, quota)| quota.per_day.is_some());
        let shared = match (&self.store, daily) {
            (Some(store), Some((dataset, _))) => {
                let uncounted = || QuotaExceeded::Uncounted {
                    dataset: dataset.clone(),
                };
                match tokio::time::timeout(COUNT_TIMEOUT, store.row_usage(now.date_naive(), principal)).await
                {
                    Ok(Ok(counts)) => counts,
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "cannot read today's row counts");
                        return Err(uncounted());
                    }
                    Err(_) => {
                        tracing::warn!("today's row counts were not read in time");
                        return Err(uncounted());
                    }
                }
            }
            _ => HashMap::new(),
        };
        // A poisoned count is still the count: a quota must not lapse with it.
        let mut day = self
            .today
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rows = day.on(now.date_naive());
        let mut tightest: Option<(u64, QuotaExceeded)> = None;
        for (dataset, quota) in quotas {
            let mut limits = Vec::new();
            if let Some(limit) = quota.per_query {
                limits.push((
                    limit,
                    QuotaExceeded::PerQuery {
                        dataset: dataset.clone(),
                        limit,
                    },
                ));
            }
            if let Some(limit) = quota.per_day {
                let here = rows
                    .get(&(principal.to_owned(), dataset.clone()))
                    .copied()
                    .unwrap_or(0);
                let used = here.max(shared.get(dataset).copied().unwrap_or(0));
                let exceeded = QuotaExceeded::Daily {
                    dataset: dataset.clone(),
                    limit,
                };
                if used >= limit {
                    return Err(exceeded);
                }
                limits.push((limit - used, exceeded));
            }
            for (left, reason) in limits {
                if tightest.as_ref().is_none_or(|(least, _)| left < *least) {
                    tightest = Some((left, reason));
                }
            }
        }
        Ok(tightest)
    }

    /// Charges `rows` sent to `principal` to each of `datasets` here at once, and to those
    /// of them under a daily quota (`daily`) in the store (every hub's count) in the
    /// background.
    pub fn add(&self, principal: &str, datasets: &[String], daily: &[String], rows: u64, now: DateTime<Utc>) {
        if rows == 0 {
            return;
        }
        let rolled = {
            let mut day = self
                .today
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let rolled = day.date.is_some_and(|date| date != now.date_naive());
            let counts = day.on(now.date_naive());
            for dataset in datasets {
                *counts.entry((principal.to_owned(), dataset.clone())).or_default() += rows;
            }
            rolled
        };
        if let Some(store) = &self.store
            && rolled
        {
            forget_before(store, now.date_naive());
        }
        if daily.is_empty() {
            return;
        }
        if let (Some(store), Ok(runtime)) = (&self.store, tokio::runtime::Handle::try_current()) {
            let (store, principal, datasets) = (store.clone(), principal.to_owned(), daily.to_vec());
            runtime.spawn(async move {
                if let Err(error) = store
                    .add_row_usage(now.date_naive(), &principal, &datasets, rows)
                    .await
                {
                    tracing::error!(%error, principal, "rows sent not counted in the store; this hub still counts them");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(per_query: Option<u64>, per_day: Option<u64>) -> Vec<(String, RowQuota)> {
        vec![(
            "civil_affairs.residents".to_owned(),
            RowQuota { per_query, per_day },
        )]
    }

    fn at(time: &str) -> DateTime<Utc> {
        time.parse().unwrap()
    }

    #[tokio::test]
    async fn the_tightest_limit_applies_and_a_used_up_day_refuses() {
        let usage = RowUsage::default();
        let morning = at("2026-11-25T08:00:00Z");
        assert_eq!(
            usage.allowance("ana", &quota(None, None), morning).await,
            Ok(None)
        );
        let (left, _) = usage
            .allowance("ana", &quota(Some(100), Some(250)), morning)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(left, 100);
        usage.add("ana", &["civil_affairs.residents".to_owned()], &[], 200, morning);
        let (left, reason) = usage
            .allowance("ana", &quota(Some(100), Some(250)), morning)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(left, 50);
        assert!(matches!(reason, QuotaExceeded::Daily { limit: 250, .. }));
        usage.add("ana", &["civil_affairs.residents".to_owned()], &[], 50, morning);
        assert!(matches!(
            usage
                .allowance("ana", &quota(Some(100), Some(250)), morning)
                .await,
            Err(QuotaExceeded::Daily { .. })
        ));
        assert!(
            usage
                .allowance("bo", &quota(Some(100), Some(250)), morning)
                .await
                .is_ok(),
            "quotas are per principal"
        );
        let tomorrow = at("2026-11-26T00:00:01Z");
        assert_eq!(
            usage
                .allowance("ana", &quota(Some(100), Some(250)), tomorrow)
                .await
                .unwrap()
                .map(|(left, _)| left),
            Some(100),
            "a new day starts afresh"
        );
    }
}
