//! Distinct-person quotas: how many different subjects (people or firms, by a dataset's
//! subject key) a principal reads rows of in one day (UTC), under grants with
//! `max_subjects_per_day`.
//!
//! A subject is kept as a keyed pseudonym of its subject key's values, never the values.
//! The day's subjects are kept in the metadata store, so that restarts and every hub sharing
//! the store count the same people: a query under such a quota reads the caller's subjects
//! of the day from the store first (at most once a second per caller and dataset on this
//! hub, whose own reads count in memory at once), and each subject it reads for the first
//! time is added here at once and to the store in the background. A subject read again does not count
//! again. When the store cannot be read, queries under such a quota are refused: a quota
//! must not lapse because the count cannot be seen.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};

use super::Alerts;
use crate::store::MetadataStore;

/// What the store counts distinct-person quotas under.
const CONTROL: &str = "read";

/// How long a query waits for its caller's subjects before it is refused as uncounted.
const COUNT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a caller's people read from the store serve this hub's queries before they are
/// read again: what another replica added since is seen within this time.
const RELOAD_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a query may not read (more) subjects' rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectQuotaExceeded {
    #[error(
        "the daily quota of {} in {dataset} is reached: the query that read past it was stopped, and the dataset is closed to you until the quota renews at midnight UTC",
        people(*limit)
    )]
    Daily { dataset: String, limit: u64 },
    #[error(
        "today's people read in {dataset} cannot be counted now (the metadata store does not answer), so queries under its distinct-person quota wait until they can"
    )]
    Uncounted { dataset: String },
}

/// `1 person`, `4 people`.
fn people(count: u64) -> String {
    if count == 1 {
        "1 person".into()
    } else {
        format!("{count} people")
    }
}

/// What [`SubjectUsage::admit`] let through.
#[derive(Debug)]
pub struct Admitted {
    /// How many rows, from the first, may be read.
    pub rows: usize,
    /// The people (and the closing marker) the store must be told of.
    new: Vec<(String, u64)>,
    day: NaiveDate,
}

/// The subjects read today, by principal and dataset.
#[derive(Default)]
pub struct SubjectUsage {
    today: Mutex<Day>,
    /// The day whose earlier days' counts were last removed from the store.
    forgotten: Mutex<Option<NaiveDate>>,
    /// Where every hub's subjects are; `None` counts in memory only (tests).
    store: Option<MetadataStore>,
    /// Told when a quota cuts a query off.
    alerts: Option<Arc<Alerts>>,
}

impl std::fmt::Debug for SubjectUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectUsage")
    }
}

/// The marker the store keeps for a caller whose quota cut a query off: the dataset stays
/// closed to them for the rest of the day, on every hub.
const CLOSED: &str = "!";

#[derive(Debug, Default)]
struct Day {
    date: Option<NaiveDate>,
    seen: HashMap<(String, String), HashSet<String>>,
    /// Principals and datasets whose quota cut a query off today.
    closed: HashSet<(String, String)>,
    /// When each principal's people of each dataset were last read from the store.
    loaded: HashMap<(String, String), std::time::Instant>,
}

impl Day {
    /// Today's counts, the day's before forgotten.
    fn on(&mut self, date: NaiveDate) -> &mut Self {
        if self.date != Some(date) {
            self.date = Some(date);
            self.seen.clear();
            self.closed.clear();
            self.loaded.clear();
        }
        self
    }
}

impl SubjectUsage {
    /// Subjects counted in `store`; quotas reached are told to `alerts`.
    pub fn new(store: MetadataStore, alerts: Arc<Alerts>) -> Self {
        Self {
            today: Mutex::default(),
            forgotten: Mutex::default(),
            store: Some(store),
            alerts: Some(alerts),
        }
    }

    /// Reads `principal`'s subjects of `dataset` today from the store, before a query under
    /// a distinct-person quota runs.
    pub async fn load(
        &self,
        principal: &str,
        dataset: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SubjectQuotaExceeded> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let today = now.date_naive();
        let key = (principal.to_owned(), dataset.to_owned());
        {
            // This hub's own reads count in memory at once; the store adds other replicas'.
            let mut day = self.today.lock().unwrap_or_else(PoisonError::into_inner);
            let fresh = day
                .on(today)
                .loaded
                .get(&key)
                .is_some_and(|at| at.elapsed() < RELOAD_AFTER);
            if fresh {
                return Ok(());
            }
        }
        let uncounted = || SubjectQuotaExceeded::Uncounted {
            dataset: dataset.to_owned(),
        };
        let stored = match tokio::time::timeout(
            COUNT_TIMEOUT,
            store.subjects_used(today, principal, dataset, CONTROL),
        )
        .await
        {
            Ok(Ok(subjects)) => subjects,
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot read today's people read");
                return Err(uncounted());
            }
            Err(_) => {
                tracing::warn!("today's people read were not read in time");
                return Err(uncounted());
            }
        };
        let mut day = self.today.lock().unwrap_or_else(PoisonError::into_inner);
        let day = day.on(today);
        day.loaded.insert(key.clone(), std::time::Instant::now());
        if stored.iter().any(|subject| subject == CLOSED) {
            day.closed.insert(key.clone());
        }
        day.seen
            .entry(key)
            .or_default()
            .extend(stored.into_iter().filter(|subject| subject != CLOSED));
        Ok(())
    }

    /// Whether `dataset` is closed today to `principal`'s queries under a quota of `limit`
    /// people: a query was cut off by a quota (or reads without one passed the largest), and
    /// `limit` people are read already. Once a quota is reached, every further query would
    /// answer, by being cut off or not, whether someone not yet read meets its conditions:
    /// so none runs. A larger quota (another purpose's grant) still admits new people up to
    /// its own limit.
    pub fn is_closed(&self, principal: &str, dataset: &str, limit: u64, now: DateTime<Utc>) -> bool {
        let mut day = self.today.lock().unwrap_or_else(PoisonError::into_inner);
        let day = day.on(now.date_naive());
        let key = (principal.to_owned(), dataset.to_owned());
        day.closed.contains(&key) && day.seen.get(&key).map_or(0, HashSet::len) as u64 >= limit
    }

    /// Admits `subjects` (one per row, in order) for `principal` reading `dataset` under a
    /// quota of `limit` a day: how many rows, from the first, may be read, and what the
    /// store must be told before they are handed out ([`Self::persist`]). A row of a subject
    /// read today is always admitted; one of a new subject while the day's count is below
    /// `limit`. A row past the quota closes the dataset to `principal` for the day.
    ///
    /// Unless `cuts_off` (a read under a grant without a quota of its own, while another of
    /// the caller's grants has one): every row is admitted and the people are counted up to
    /// `limit`, the largest of the caller's quotas; the first person past it closes the
    /// dataset to the caller's queries under a quota, and the count stops there.
    pub fn admit(
        &self,
        principal: &str,
        dataset: &str,
        limit: u64,
        cuts_off: bool,
        subjects: &[String],
        now: DateTime<Utc>,
    ) -> Admitted {
        let mut new = Vec::new();
        let key = (principal.to_owned(), dataset.to_owned());
        let admitted = {
            let mut day = self.today.lock().unwrap_or_else(PoisonError::into_inner);
            let day = day.on(now.date_naive());
            let was_closed = day.closed.contains(&key);
            let seen = day.seen.entry(key.clone()).or_default();
            if was_closed && seen.len() as u64 >= limit {
                if cuts_off { 0 } else { subjects.len() }
            } else {
                let mut admitted = subjects.len();
                for (index, subject) in subjects.iter().enumerate() {
                    if seen.contains(subject) {
                        continue;
                    }
                    if seen.len() as u64 >= limit {
                        admitted = index;
                        break;
                    }
                    seen.insert(subject.clone());
                    new.push((subject.clone(), 1));
                }
                if admitted < subjects.len() {
                    if !was_closed {
                        day.closed.insert(key);
                        new.push((CLOSED.to_owned(), 1));
                    }
                    if cuts_off {
                        self.reached(principal, dataset, limit, now);
                    } else {
                        admitted = subjects.len();
                    }
                }
                admitted
            }
        };
        self.forget_old(now);
        Admitted {
            rows: admitted,
            new,
            day: now.date_naive(),
        }
    }

    /// Writes what `admitted` added to the store, so that restarts and other hubs count it,
    /// before the rows it admitted are handed out. When the store cannot be written, the
    /// rows are not handed out.
    pub async fn persist(
        &self,
        principal: &str,
        dataset: &str,
        admitted: &Admitted,
    ) -> Result<(), SubjectQuotaExceeded> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        if admitted.new.is_empty() {
            return Ok(());
        }
        let write = store.add_subject_usage(admitted.day, principal, dataset, CONTROL, &admitted.new);
        match tokio::time::timeout(COUNT_TIMEOUT, write).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                tracing::error!(%error, principal, "people read cannot be counted in the store");
                Err(SubjectQuotaExceeded::Uncounted {
                    dataset: dataset.to_owned(),
                })
            }
            Err(_) => {
                tracing::error!(principal, "people read were not counted in the store in time");
                Err(SubjectQuotaExceeded::Uncounted {
                    dataset: dataset.to_owned(),
                })
            }
        }
    }

    /// Removes, once a day and in the background, the store's counts of the days before
    /// yesterday: of distinct-person quotas and of verifications alike.
    pub fn forget_old(&self, now: DateTime<Utc>) {
        let today = now.date_naive();
        let mut forgotten = self.forgotten.lock().unwrap_or_else(PoisonError::into_inner);
        if *forgotten == Some(today) {
            return;
        }
        *forgotten = Some(today);
        if let Some(store) = &self.store {
            forget_before(store, today);
        }
    }

    /// Raises the alert of a distinct-person quota reached.
    fn reached(&self, principal: &str, dataset: &str, limit: u64, now: DateTime<Utc>) {
        if let (Some(alerts), Ok(runtime)) = (&self.alerts, tokio::runtime::Handle::try_current()) {
            let (alerts, principal) = (Arc::clone(alerts), principal.to_owned());
            let detail =
                serde_json::json!({"control": "max_subjects_per_day", "dataset": dataset, "limit": limit});
            runtime.spawn(async move { alerts.subject_quota_reached(&principal, detail, now).await });
        }
    }
}

/// Forgets, in the background, the subjects of the days before yesterday.
fn forget_before(store: &MetadataStore, today: NaiveDate) {
    let (Some(before), Ok(runtime)) = (today.pred_opt(), tokio::runtime::Handle::try_current()) else {
        return;
    };
    let store = store.clone();
    runtime.spawn(async move {
        if let Err(error) = store.forget_subject_usage_before(before).await {
            tracing::warn!(%error, "old days' people read not removed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_subject_read_again_does_not_count_and_a_new_day_starts_afresh() {
        let usage = SubjectUsage::default();
        let morning: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
        assert_eq!(
            usage
                .admit("ana", "d.households", 3, true, &people(&["a", "b", "a"]), morning)
                .rows,
            3
        );
        assert_eq!(
            usage
                .admit("ana", "d.households", 3, true, &people(&["b", "c", "a"]), morning)
                .rows,
            3
        );
        assert!(!usage.is_closed("ana", "d.households", 3, morning));
        assert_eq!(
            usage
                .admit("ana", "d.households", 3, true, &people(&["b", "d", "a"]), morning)
                .rows,
            1,
            "d would be the fourth"
        );
        assert!(usage.is_closed("ana", "d.households", 3, morning));
        assert_eq!(
            usage
                .admit("ana", "d.households", 3, true, &people(&["a", "b"]), morning)
                .rows,
            0,
            "closed for the day once the quota cut a query off"
        );
        assert_eq!(
            usage
                .admit("bo", "d.households", 3, true, &people(&["e"]), morning)
                .rows,
            1,
            "per principal"
        );
        assert_eq!(
            usage
                .admit("ana", "d.parcels", 3, true, &people(&["e"]), morning)
                .rows,
            1,
            "per dataset"
        );
        let tomorrow: DateTime<Utc> = "2026-12-02T00:00:01Z".parse().unwrap();
        assert_eq!(
            usage
                .admit(
                    "ana",
                    "d.households",
                    3,
                    true,
                    &people(&["e", "f", "g", "h"]),
                    tomorrow
                )
                .rows,
            3
        );
    }

    #[test]
    fn people_count_across_purposes_and_each_quota_closes_at_its_own_limit() {
        let usage = SubjectUsage::default();
        let morning: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
        let admit = |limit, cuts_off, names: &[&str]| {
            usage
                .admit("ana", "d.households", limit, cuts_off, &people(names), morning)
                .rows
        };
        // Read under a grant without a quota: never cut off, counted up to the largest.
        assert_eq!(admit(5, false, &["a", "b"]), 2);
        // A quota of 3 then finds two people read: one more, then the cut-off.
        assert_eq!(admit(3, true, &["c", "d"]), 1, "d would be the fourth of three");
        assert!(usage.is_closed("ana", "d.households", 3, morning));
        // Another purpose's quota of 5 is not reached: it admits people up to 5.
        assert!(!usage.is_closed("ana", "d.households", 5, morning));
        assert_eq!(
            admit(5, true, &["a", "d", "e", "f"]),
            3,
            "f would be the sixth of five"
        );
        assert!(usage.is_closed("ana", "d.households", 5, morning));
        // The grant without a quota still reads, and counts no more.
        assert_eq!(admit(5, false, &["g", "h"]), 2);
        assert_eq!(
            usage.today.lock().unwrap().seen[&("ana".into(), "d.households".into())].len(),
            5
        );
    }

    #[test]
    fn reads_without_a_quota_past_the_largest_close_the_quota() {
        let usage = SubjectUsage::default();
        let morning: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
        assert_eq!(
            usage
                .admit(
                    "ana",
                    "d.households",
                    2,
                    false,
                    &people(&["a", "b", "c", "d"]),
                    morning
                )
                .rows,
            4
        );
        assert!(usage.is_closed("ana", "d.households", 2, morning));
        assert_eq!(
            usage
                .admit("ana", "d.households", 2, true, &people(&["a"]), morning)
                .rows,
            0,
            "a quota reached through reads under another purpose"
        );
    }
}
