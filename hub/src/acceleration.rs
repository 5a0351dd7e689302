//! Accelerated datasets: their in-memory copies, loaded within the memory budget, rebuilt
//! on their schedule or on demand, and what the catalog, health and metrics say of them.
//!
//! A refresh reads the live source into a new copy beside the one being served and swaps
//! it in whole; if it fails, the old copy keeps serving and the error is kept until a
//! refresh succeeds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use causeway_connectors::accelerated::{AcceleratedTable, AccelerationError, AccelerationSpec, MemoryCopy};
use chrono::{DateTime, Utc};
use datafusion::catalog::TableProvider;
use serde::Serialize;
use tokio::task::JoinHandle;
use utoipa::ToSchema;

use crate::audit::{Action, AuditLog, Event, Outcome};
use crate::config::AccelerationConfig;
use crate::query::QueryEngine;

/// An accelerated dataset as the catalog, health and metrics show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccelerationStatus {
    /// Where the copy is held: `memory`.
    pub mode: &'static str,
    /// How often it is rebuilt, e.g. `10m`; absent when only on demand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
    pub rows: usize,
    /// Memory the copy takes.
    pub bytes: usize,
    /// When the copy being served was read from the source.
    pub refreshed_at: DateTime<Utc>,
    /// Refreshes that failed since the hub started.
    pub refresh_failures: u64,
    /// Why the latest refresh failed, while no later one has succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("dataset {0} is not accelerated; only accelerated datasets are refreshed")]
    NotAccelerated(String),
    #[error(transparent)]
    Failed(#[from] AccelerationError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// One accelerated dataset.
struct Accelerated {
    /// The live source, read at every refresh.
    source: Arc<dyn TableProvider>,
    key: Option<usize>,
    table: Arc<AcceleratedTable>,
    /// How often it is refreshed, as published.
    refresh: Option<String>,
    failures: Mutex<Failures>,
    /// Refreshes of one dataset run one at a time.
    refreshing: tokio::sync::Mutex<()>,
    schedule: Mutex<Option<JoinHandle<()>>>,
}

/// Failed refreshes; rows, bytes and the time of the last refresh are the served copy's.
#[derive(Default)]
struct Failures {
    count: u64,
    /// The latest failure, while no refresh has succeeded since.
    latest: Option<(String, DateTime<Utc>)>,
}

impl Accelerated {
    fn status(&self) -> AccelerationStatus {
        let copy = self.table.current();
        let (refresh_failures, latest) = match self.failures.lock() {
            Ok(failures) => (failures.count, failures.latest.clone()),
            Err(poisoned) => {
                let failures = poisoned.into_inner();
                (failures.count, failures.latest.clone())
            }
        };
        let (last_error, last_error_at) = latest.unzip();
        AccelerationStatus {
            mode: "memory",
            refresh: self.refresh.clone(),
            rows: copy.rows(),
            bytes: copy.bytes(),
            refreshed_at: copy.loaded_at(),
            refresh_failures,
            last_error,
            last_error_at,
        }
    }

    fn change_failures(&self, change: impl FnOnce(&mut Failures)) {
        match self.failures.lock() {
            Ok(mut failures) => change(&mut failures),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }
}

impl Drop for Accelerated {
    fn drop(&mut self) {
        if let Some(task) = self
            .schedule
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

pub struct Accelerations {
    budget: usize,
    partitions: usize,
    engine: Arc<QueryEngine>,
    audit: AuditLog,
    datasets: Mutex<BTreeMap<String, Arc<Accelerated>>>,
    /// Loads run one at a time, so two of them never both count on the same free memory.
    loading: tokio::sync::Mutex<()>,
}

impl Accelerations {
    pub fn new(config: &AccelerationConfig, engine: Arc<QueryEngine>, audit: AuditLog) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            budget: usize::try_from(config.memory_budget_mb.saturating_mul(1024 * 1024))
                .unwrap_or(usize::MAX),
            partitions: if config.partitions == 0 {
                cores
            } else {
                config.partitions
            },
            engine,
            audit,
            datasets: Mutex::new(BTreeMap::new()),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// The memory budget, in bytes.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Loads `source` into memory as dataset `id`, replacing any earlier copy of it, and
    /// schedules its refreshes. `key` is the column of a single-column primary key, by
    /// which the copy is sorted for lookups.
    pub async fn accelerate(
        self: &Arc<Self>,
        id: &str,
        spec: &AccelerationSpec,
        source: Arc<dyn TableProvider>,
        key: Option<usize>,
    ) -> Result<Arc<AcceleratedTable>, AccelerationError> {
        let copy = self.load(id, source.as_ref(), key).await?;
        let table = Arc::new(AcceleratedTable::new(source.schema(), key, copy));
        let accelerated = Arc::new(Accelerated {
            refresh: spec
                .refresh
                .map(|every| humantime::format_duration(every).to_string()),
            failures: Mutex::new(Failures::default()),
            source,
            key,
            table: Arc::clone(&table),
            refreshing: tokio::sync::Mutex::new(()),
            schedule: Mutex::new(None),
        });
        if let Some(every) = spec.refresh {
            *accelerated
                .schedule
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tokio::spawn(refresh_every(
                Arc::downgrade(self),
                id.to_owned(),
                every,
            )));
        }
        self.datasets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_owned(), accelerated);
        Ok(table)
    }

    /// Drops the copy of `id`, if it had one, and its schedule.
    pub fn remove(&self, id: &str) {
        self.datasets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }

    /// Rebuilds the copy of `id` from its source and swaps it in. Recorded in the audit log
    /// as `record`, a `dataset.refreshed` event saying who asked, with the outcome added.
    pub async fn refresh(&self, id: &str, record: Event) -> Result<AccelerationStatus, RefreshError> {
        let accelerated = self
            .get(id)
            .ok_or_else(|| RefreshError::NotAccelerated(id.to_owned()))?;
        let _one_at_a_time = accelerated.refreshing.lock().await;
        let started = std::time::Instant::now();
        let loaded = self.load(id, accelerated.source.as_ref(), accelerated.key).await;
        let event = record.on_dataset(id);
        match loaded {
            Ok(copy) => {
                let (rows, bytes) = (copy.rows(), copy.bytes());
                let mut event = event;
                event.rows = Some(rows as u64);
                event.duration_ms = Some(started.elapsed().as_millis() as u64);
                // Recorded before the new copy is served; without the record, the old
                // copy stays.
                self.audit.record(event).await?;
                accelerated.table.replace(copy);
                accelerated.change_failures(|failures| failures.latest = None);
                let status = accelerated.status();
                tracing::info!(dataset = %id, rows, bytes, "refreshed");
                Ok(status)
            }
            Err(error) => {
                accelerated.change_failures(|failures| {
                    failures.count += 1;
                    failures.latest = Some((error.to_string(), Utc::now()));
                });
                let class = match error {
                    AccelerationError::OverBudget { .. } => "memory_budget_exceeded",
                    AccelerationError::Load { .. } => "refresh_failed",
                };
                self.audit
                    .record_done(event.failed(Outcome::Error, class, &error))
                    .await;
                tracing::warn!(dataset = %id, %error, "refresh failed; the previous copy is still served");
                Err(error.into())
            }
        }
    }

    pub fn status(&self, id: &str) -> Option<AccelerationStatus> {
        self.get(id).map(|accelerated| accelerated.status())
    }

    /// Every accelerated dataset with its status, by name.
    pub fn all(&self) -> Vec<(String, AccelerationStatus)> {
        let datasets: Vec<(String, Arc<Accelerated>)> = self
            .datasets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(id, accelerated)| (id.clone(), Arc::clone(accelerated)))
            .collect();
        datasets
            .into_iter()
            .map(|(id, accelerated)| (id, accelerated.status()))
            .collect()
    }

    fn get(&self, id: &str) -> Option<Arc<Accelerated>> {
        self.datasets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Reads `source` into a new copy, allowed the part of the budget the other datasets'
    /// copies leave free.
    async fn load(
        &self,
        id: &str,
        source: &dyn TableProvider,
        key: Option<usize>,
    ) -> Result<MemoryCopy, AccelerationError> {
        let _one_at_a_time = self.loading.lock().await;
        let others: usize = self
            .all()
            .iter()
            .filter(|(other, _)| other != id)
            .map(|(_, status)| status.bytes)
            .sum();
        let allowance = self.budget.saturating_sub(others);
        let session = self.engine.session();
        MemoryCopy::load(id, source, &session, key, self.partitions, allowance).await
    }
}

/// Refreshes `id` every `every` for as long as the hub serves it accelerated.
async fn refresh_every(accelerations: Weak<Accelerations>, id: String, every: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(accelerations) = accelerations.upgrade() else {
            return;
        };
        // A failure is kept in the status and the audit log; the schedule goes on.
        let record = Event::new(Action::DatasetRefreshed, Outcome::Ok);
        let _ = accelerations.refresh(&id, record).await;
    }
}
