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
//! What a hub cannot read stays as it was, and is tried again at the next look; `/v1/ready`
//! answers 503 once nothing could be read for [`STALE_AFTER`], so that a load balancer
//! stops sending queries to a replica that can no longer learn of revocations.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::access::Access;
use crate::identity::Identity;
use crate::registry::Registry;
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

/// Wakes the follower whenever PostgreSQL announces a change, and after each (re)connection,
/// since notifications sent while disconnected are lost.
async fn listen(store: MetadataStore, wake: mpsc::UnboundedSender<()>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        match store.listen_for_changes().await {
            Some(Ok(mut listener)) => {
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
            Some(Err(error)) => tracing::warn!(%error, "cannot listen for the store's change notifications"),
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
    // Everything was read at start: changes count from the versions as they are now.
    let mut seen = store.change_versions().await.unwrap_or_default();
    let mut look = tokio::time::interval(LOOK_EVERY);
    let mut full = tokio::time::interval_at(tokio::time::Instant::now() + FULL_READ_EVERY, FULL_READ_EVERY);
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
            Ok(versions) => versions,
            Err(error) => {
                tracing::warn!(%error, "cannot read the store's changes");
                continue;
            }
        };
        let mut all_read = true;
        for change in Change::ALL {
            let version = versions.get(&change).copied().unwrap_or_default();
            if !everything && seen.get(&change) == Some(&version) {
                continue;
            }
            match read_again(&holders, change).await {
                Ok(()) => {
                    seen.insert(change, version);
                    metrics()
                        .changes_applied
                        .get_or_create(&ChangeLabels { kind: change.name() })
                        .inc();
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

/// Why a kind of state could not be read again.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Datasets(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Grants(#[from] crate::access::AccessError),
    #[error(transparent)]
    Clients(#[from] crate::identity::ClientError),
    #[error(transparent)]
    Alerts(#[from] crate::supervision::AlertError),
}

/// Reads one kind of state from the store into memory again.
async fn read_again(holders: &Holders, change: Change) -> Result<(), ReadError> {
    match change {
        Change::Datasets => {
            let changed = holders.registry.sync().await?;
            if changed > 0 {
                tracing::info!(changed, "datasets read again from the store");
            }
        }
        Change::Grants => holders.access.reload().await?,
        Change::Clients => holders.identity.refresh_revocations().await?,
        Change::Alerts => holders.alerts.reload_open().await?,
    }
    Ok(())
}
