//! The audit log: one hash-chained record per access and per decision, appended to
//! segment files in the audit directory and synced before the caller goes on.
//!
//! A query's `query.started` record is on disk before its first result byte leaves the hub;
//! when the log cannot be written, queries are refused. Signed checkpoints let
//! `causeway audit verify` tell a log the hub wrote from one rewritten after the fact.

pub mod activity;
pub mod archive;
mod chain;
mod chains;
pub mod event;
mod gate;
pub mod literals;
mod live;
pub mod operator;
pub mod read;
pub mod segments;
pub mod settings;
pub mod verify;
mod writer;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::oneshot;
use utoipa::ToSchema;

pub use chains::{Chain, Chains, NodeVerification, verify_node};
pub use event::{Action, Event, Outcome};
pub use gate::Gate;
pub use live::{LiveReader, LiveRefused};
pub use verify::{Verification, VerifyOptions, verify};

/// Whether a hub (or a command) writes the log in `dir` now: it holds the log's lock.
pub fn in_use(dir: &Path) -> bool {
    let Ok(lock) = std::fs::File::open(dir.join(".lock")) else {
        return false;
    };
    matches!(lock.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

use crate::config::AuditConfig;
use crate::identity::KeyRing;
use writer::{Request, Writer};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    #[error("cannot use the audit log at {path}: {message}")]
    Io { path: String, message: String },
    #[error("the audit log segment {segment} is damaged ({reason}); run `causeway audit verify`")]
    Damaged { segment: String, reason: String },
    #[error("the audit log cannot be written: {0}")]
    Unavailable(String),
    #[error("the audit log is closed")]
    Closed,
    #[error("another process writes the audit log at {0}; each hub needs an audit directory of its own")]
    InUse(String),
    #[error(
        "the audit log at {dir} is the chain of node {chain_node}, and this hub is node {node} (audit.node): each replica needs an audit directory of its own"
    )]
    OtherNode {
        dir: String,
        chain_node: String,
        node: String,
    },
}

impl AuditError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            message: source.to_string(),
        }
    }
}

/// The log's state, for health and for online verification.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Status {
    /// Why the last write failed; `None` while the log writes.
    pub failure: Option<String>,
    /// The last record on disk.
    pub last_seq: u64,
}

/// The handle every part of the hub records through. Cloning it is cheap.
#[derive(Clone)]
pub struct AuditLog {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    requests: Sender<Request>,
    status: Arc<Mutex<Status>>,
    /// The lines of the records written, batch by batch, for live readers.
    live: Arc<live::Live>,
}

impl AuditLog {
    /// A log that records nothing (`audit.enabled = false`).
    #[cfg(test)]
    pub fn off() -> Self {
        Self { inner: None }
    }

    /// Opens the log in `dir` and starts its writer. The hub's signing keys in `keys` sign
    /// the checkpoints.
    pub fn open(dir: &Path, settings: &AuditConfig, keys: Arc<KeyRing>) -> Result<Self, AuditError> {
        if !settings.enabled {
            tracing::warn!("the audit log is off: nothing is recorded");
            return Ok(Self { inner: None });
        }
        let status = Arc::new(Mutex::new(Status::default()));
        let (mut writer, cut) = Writer::open(dir, settings.clone(), keys, Arc::clone(&status))?;
        let live = live::Live::new();
        writer.announce_to(live.sender());
        let (requests, received) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("causeway-audit".into())
            .spawn(move || writer.run(received))
            .map_err(|source| AuditError::io(dir, source))?;
        let log = Self {
            inner: Some(Arc::new(Inner {
                requests,
                status,
                live,
            })),
        };
        if cut > 0 {
            tracing::warn!(bytes = cut, "cut a torn last audit record left by a crash");
            log.enqueue(
                Event::new(Action::AuditRecovered, Outcome::Ok)
                    .with_detail(serde_json::json!({ "cut_bytes": cut })),
            );
        }
        log.enqueue(
            Event::new(Action::AuditOpened, Outcome::Ok).with_detail(serde_json::json!({
                "version": env!("CARGO_PKG_VERSION"),
                "record_format": chain::RECORD_FORMAT,
            })),
        );
        Ok(log)
    }

    /// Records `event` and waits until it is on disk; returns its sequence number (0 when
    /// the log is off).
    pub async fn record(&self, event: Event) -> Result<u64, AuditError> {
        self.submit(event).await
    }

    /// Hands `event` to the writer at once; the future returned ends when it is on disk,
    /// with its sequence number (0 when the log is off). Work done before awaiting it
    /// overlaps the disk's sync.
    pub fn submit(&self, event: Event) -> impl Future<Output = Result<u64, AuditError>> + Send + 'static {
        let answer = self.inner.as_ref().map(|inner| {
            let (reply, answer) = oneshot::channel();
            inner
                .requests
                .send(Request::Append(Box::new(event), Some(reply)))
                .map(|()| answer)
                .map_err(|_| AuditError::Closed)
        });
        let handed = std::time::Instant::now();
        async move {
            match answer {
                None => Ok(0),
                Some(sent) => {
                    let written = sent?.await.map_err(|_| AuditError::Closed)?;
                    crate::telemetry::metrics()
                        .audit_sync_duration
                        .observe(handed.elapsed().as_secs_f64());
                    written
                }
            }
        }
    }

    /// Records `event` without waiting: it is written in order with the next flush.
    pub fn enqueue(&self, event: Event) {
        if let Some(inner) = &self.inner
            && inner
                .requests
                .send(Request::Append(Box::new(event), None))
                .is_err()
        {
            tracing::error!("an audit event was lost: the log is closed");
        }
    }

    /// Records `event`, waiting for the disk; a failure is logged, not returned, for actions
    /// that are already done.
    pub async fn record_done(&self, event: Event) {
        if let Err(error) = self.record(event).await {
            tracing::error!(%error, "an audit event could not be written");
        }
    }

    /// The records written from now on, for `reader`, as the lines of each batch written
    /// (checkpoints included), once they are on disk; `None` when the log is off.
    pub fn subscribe(&self, reader: &str) -> Option<Result<LiveReader, LiveRefused>> {
        Some(self.inner.as_ref()?.live.subscribe(reader))
    }

    /// `None` when the log is off.
    pub fn status(&self) -> Option<Status> {
        let inner = self.inner.as_ref()?;
        Some(
            inner
                .status
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }

    /// Writes what is pending and a last checkpoint.
    pub async fn close(&self) {
        if let Some(inner) = &self.inner {
            let (done, closed) = oneshot::channel();
            if inner.requests.send(Request::Close(done)).is_ok() {
                let _ = closed.await;
            }
        }
    }
}
