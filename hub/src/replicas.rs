//! Following the other hubs on the same metadata store: what one replica changes (a dataset
//! published, a grant revoked, a client disabled, an alert raised or cleared) every other
//! one enforces within a second.
//!
//! Each write of such state raises its kind's version in the store's `changes` table (see
//! `store::changes`). A hub looks at those versions when PostgreSQL tells it one moved
//! (`LISTEN causeway_changes`), and every second whatever the store (SQLite has no
//! notifications, and a notification can be lost while a listener reconnects), and reads
//! again each kind whose version moved. Every 30 seconds it reads every kind again however
//! the versions look, the safety net for a change whose note was lost (a hub that died
//! between a write and its note). Reading again is idempotent: a hub reads its own changes
//! too, and finds nothing to do.
//!
//! Datasets are read in a task of their own (opening a source or loading an in-memory copy
//! may take minutes), so grants, clients and alerts never wait for them. What a hub cannot
//! read stays as it was, and is tried again at the next look; `/v1/ready` answers 503 once
//! grants, clients or alerts could not be read for [`STALE_AFTER`], so that a load balancer
//! stops sending queries to a replica that can no longer learn of revocations.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::access::Access;
use crate::identity::Identity;
use crate::registry::{Registry, RegistryError};
use crate::store::{Change, MetadataStore};
use crate::supervision::Alerts;
use crate::telemetry::metrics::{ChangeLabels, metrics};

/// How often the versions are read when no notification comes.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How often every kind is read again, changed or not.
const FULL_READ_EVERY: Duration = Duration::from_secs(30);
/// How long the store may go unread before the hub says it is not ready.
pub const STALE_AFTER: Duration = Duration::from_secs(15);

/// What a hub holds in memory of the store, each read again by its own kind.
pub struct Holders {
    pub registry: Arc<Registry>,
    pub access: Arc<Access>,
    pub identity: Arc<Identity>,
    pub alerts: Arc<Alerts>,
}

/// Whether the hub keeps up with the store.
#[derive(Debug)]
pub struct Following {
    last_read: Mutex<Instant>,
}

impl Following {
    fn new() -> Self {
        Self {
            last_read: Mutex::new(Instant::now()),
        }
    }

    /// How long ago the store's versions were last read, and every moved kind read again.
    pub fn behind(&self) -> Duration {
        self.last_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }

    fn caught_up(&self) {
        *self.last_read.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }
}

/// Starts following `store` for `holders`, until `stop`.
pub fn follow(store: MetadataStore, holders: Holders, stop: CancellationToken) -> Arc<Following> {
    let following = Arc::new(Following::new());
    let (wake, woken) = mpsc::unbounded_channel();
    if store.is_postgres() {
        tokio::spawn(listen(store.clone(), wake, stop.clone()));
    }
    tokio::spawn(run(store, holders, Arc::clone(&following), woken, stop));
    following
}

/// Wakes the follower whenever PostgreSQL announces a change, and once listening begins.
/// (sqlx's listener reconnects by itself; notifications sent meanwhile are lost, which the
/// look every second covers.)
async fn listen(store: MetadataStore, wake: mpsc::UnboundedSender<()>, stop: CancellationToken) {
    let mut outage = Outage::default();
    while !stop.is_cancelled() {
        match store.listen_for_changes().await {
            Some(Ok(mut listener)) => {
                outage.ended("listening to the store's change notifications again");
                let _ = wake.send(());
                loop {
                    let received = tokio::select! {
                        () = stop.cancelled() => return,
                        received = listener.recv() => received,
                    };
                    match received {
                        Ok(_) => {
                            if wake.send(()).is_err() {
                                return;
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "lost the store's change notifications; listening again");
                            break;
                        }
                    }
                }
            }
            Some(Err(error)) => outage.failed(&error, "cannot listen for the store's change notifications"),
            None => return,
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(LOOK_EVERY) => {}
        }
    }
}

async fn run(
    store: MetadataStore,
    holders: Holders,
    following: Arc<Following>,
    mut woken: mpsc::UnboundedReceiver<()>,
    stop: CancellationToken,
) {
    // Nothing counts as seen: what changed while this hub was loading at start is read once.
    let mut seen = BTreeMap::new();
    // Datasets are read in a task of their own: opening a source or loading an in-memory
    // copy may take minutes, and revocations must not wait for it.
    let mut datasets: Option<(i64, JoinHandle<Result<usize, RegistryError>>)> = None;
    let mut outage = Outage::default();
    let mut look = tokio::time::interval(LOOK_EVERY);
    look.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut full = tokio::time::interval_at(tokio::time::Instant::now() + FULL_READ_EVERY, FULL_READ_EVERY);
    full.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let everything = tokio::select! {
            () = stop.cancelled() => return,
            _ = look.tick() => false,
            Some(()) = woken.recv() => {
                // A burst of notifications is one look.
                while woken.try_recv().is_ok() {}
                false
            }
            _ = full.tick() => true,
        };
        let versions = match store.change_versions().await {
            Ok(versions) => {
                outage.ended("the store's changes are read again");
                versions
            }
            Err(error) => {
                outage.failed(&error, "cannot read the store's changes");
                continue;
            }
        };
        let mut all_read = true;
        for change in Change::ALL {
            let version = versions.get(&change).copied().unwrap_or_default();
            let moved = everything || seen.get(&change) != Some(&version);
            if change == Change::Datasets {
                follow_datasets(&holders, &mut datasets, &mut seen, version, moved).await;
                continue;
            }
            if !moved {
                continue;
            }
            match read_again(&holders, change).await {
                Ok(()) => {
                    seen.insert(change, version);
                    applied(change);
                }
                Err(error) => {
                    all_read = false;
                    tracing::warn!(%error, change = change.name(), "cannot read a change from the store; trying again");
                }
            }
        }
        if all_read {
            following.caught_up();
        }
    }
}

/// Collects the datasets' read when it has ended, and starts another when their version
/// moved and none runs.
async fn follow_datasets(
    holders: &Holders,
    running: &mut Option<(i64, JoinHandle<Result<usize, RegistryError>>)>,
    seen: &mut BTreeMap<Change, i64>,
    version: i64,
    moved: bool,
) {
    if let Some((read_at, task)) = running.take_if(|(_, task)| task.is_finished()) {
        match task.await {
            Ok(Ok(changed)) => {
                seen.insert(Change::Datasets, read_at);
                applied(Change::Datasets);
                if changed > 0 {
                    tracing::info!(changed, "datasets read again from the store");
                }
            }
            Ok(Err(error)) => tracing::warn!(%error, "cannot read the datasets from the store; trying again"),
            Err(error) => tracing::error!(%error, "the reading of the datasets failed; trying again"),
        }
    }
    let moved = moved || seen.get(&Change::Datasets) != Some(&version);
    if running.is_none() && moved {
        let registry = Arc::clone(&holders.registry);
        *running = Some((version, tokio::spawn(async move { registry.sync().await })));
    }
}

/// How long between two warnings of one outage.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// A failure that repeats every second, warned of when it begins and every 30 s, and told
/// when it ends.
#[derive(Default)]
struct Outage {
    since: Option<Instant>,
    warned: Option<Instant>,
}

impl Outage {
    fn failed(&mut self, error: &dyn std::fmt::Display, what: &str) {
        let since = *self.since.get_or_insert_with(Instant::now);
        if self.warned.is_none_or(|warned| warned.elapsed() >= WARN_EVERY) {
            self.warned = Some(Instant::now());
            tracing::warn!(%error, failing_for_s = since.elapsed().as_secs(), "{what}");
        }
    }

    fn ended(&mut self, what: &str) {
        if let Some(since) = self.since.take() {
            self.warned = None;
            tracing::info!(after_s = since.elapsed().as_secs(), "{what}");
        }
    }
}

fn applied(change: Change) {
    metrics()
        .changes_applied
        .get_or_create(&ChangeLabels { kind: change.name() })
        .inc();
}

/// Why a kind of state could not be read again.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Grants(#[from] crate::access::AccessError),
    #[error(transparent)]
    Clients(#[from] crate::identity::ClientError),
    #[error(transparent)]
    Alerts(#[from] crate::supervision::AlertError),
}

/// Reads one kind of state other than datasets from the store into memory again.
async fn read_again(holders: &Holders, change: Change) -> Result<(), ReadError> {
    match change {
        Change::Grants => holders.access.reload().await?,
        Change::Clients => holders.identity.refresh_revocations().await?,
        Change::Alerts => holders.alerts.reload_open().await?,
        Change::Datasets => {}
    }
    Ok(())
}
