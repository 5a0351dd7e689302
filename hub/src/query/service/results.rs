//! The batches of a started query as a front door pulls them: row quotas applied batch by
//! batch, `query.finished` recorded however the results end, and a watchdog that stops a
//! query whose client stopped reading.
//!
//! A query holds one of the hub's query slots and one of its caller's while its batches
//! wait to be sent. A client that keeps its connection open but stops reading (its TCP
//! window full, a Flight stream never polled) would otherwise hold both until the query's
//! timeout, and, since nothing pulls the batches, even past it: a handful of such clients
//! could keep everyone else waiting. After `limits.client_read_timeout` without a pull, the
//! watchdog drops the query's stream (which stops its work and its statements in the
//! sources, and gives its slots back) and records `query.finished` with `client_stalled`;
//! the client, if it ever reads again, gets that error.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use chrono::Utc;
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{FrontDoor, ServiceError, elapsed_ms};
use crate::audit::{AuditLog, Event, Outcome};
use crate::query::{BatchStream, QueryError};
use crate::supervision::{Alerts, QuotaExceeded, RowUsage};
use crate::telemetry::metrics::{Running, metrics};

/// The batches of a started query. Each batch handed out counts against the caller's row
/// quotas; a quota reached cuts the result off after the rows it still allowed, with an
/// error, so that a client never mistakes it for the end.
pub struct Results {
    /// Shared with the watchdog, which holds it only weakly.
    pull: Arc<Mutex<Pull>>,
    /// Ends the results early when the front door cancels the query.
    cancel: CancellationToken,
    /// Ends the results early when the caller's access ends (disabled, a new secret).
    ended: CancellationToken,
    /// A quota reached: the error to give after the rows it allowed.
    cut_off: Option<QuotaExceeded>,
    /// Stops the watchdog when the results are dropped.
    _watchdog: Option<DropGuard>,
}

/// What the front door and the watchdog share.
struct Pull {
    first: Option<RecordBatch>,
    /// The rest of the query's batches; out of here while a pull awaits the next one.
    rest: Option<BatchStream>,
    /// Since when the results wait for the front door to pull again; `None` while a pull
    /// is under way (the query, not the client, is then the one to wait for).
    waiting_since: Option<Instant>,
    /// The watchdog stopped the query: the error the next pull gets.
    stalled: Option<QueryError>,
    finish: Finish,
}

impl Pull {
    fn lock(pull: &Mutex<Pull>) -> std::sync::MutexGuard<'_, Pull> {
        pull.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Results {
    pub(super) fn new(
        first: Option<RecordBatch>,
        rest: Option<BatchStream>,
        [cancel, ended]: [CancellationToken; 2],
        finish: Finish,
        read_timeout: Duration,
    ) -> Self {
        let running = rest.is_some();
        let pull = Arc::new(Mutex::new(Pull {
            first,
            rest,
            waiting_since: Some(Instant::now()),
            stalled: None,
            finish,
        }));
        // A result already whole holds no slot: there is nothing to watch.
        let watchdog =
            running.then(|| watch(Arc::downgrade(&pull), read_timeout, ended.clone()).drop_guard());
        Self {
            pull,
            cancel,
            ended,
            cut_off: None,
            _watchdog: watchdog,
        }
    }

    /// The next batch; `None` at the end of the result.
    pub async fn next(&mut self) -> Option<Result<RecordBatch, ServiceError>> {
        if let Some(exceeded) = self.cut_off.take() {
            let rest = Pull::lock(&self.pull).rest.take();
            drop(rest);
            return Some(Err(exceeded.into()));
        }
        let (first, rest) = {
            let mut pull = Pull::lock(&self.pull);
            if let Some(stalled) = pull.stalled.take() {
                return Some(Err(stalled.into()));
            }
            match pull.first.take() {
                Some(first) => (Some(first), None),
                None => {
                    let rest = pull.rest.take();
                    if rest.is_some() {
                        pull.waiting_since = None;
                    }
                    (None, rest)
                }
            }
        };
        let batch = match (first, rest) {
            (Some(first), _) => Ok(first),
            (None, None) => return None,
            (None, Some(mut rest)) => {
                let next = tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => Some(Err(QueryError::Cancelled)),
                    () = self.ended.cancelled() => Some(Err(QueryError::AccessEnded)),
                    next = rest.next() => next,
                };
                match next {
                    None => {
                        Pull::lock(&self.pull).waiting_since = Some(Instant::now());
                        return None;
                    }
                    Some(Ok(batch)) => {
                        Pull::lock(&self.pull).rest = Some(rest);
                        Ok(batch)
                    }
                    // Dropping the stream stops the query's work and its statements in
                    // the sources.
                    Some(Err(error)) => Err(error),
                }
            }
        };
        let mut pull = Pull::lock(&self.pull);
        pull.waiting_since = Some(Instant::now());
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                if matches!(error, QueryError::Cancelled) {
                    pull.finish.ended = Some(Err(QueryError::Cancelled.into()));
                } else if matches!(error, QueryError::AccessEnded) {
                    pull.finish.ended = Some(Err(QueryError::AccessEnded.into()));
                }
                return Some(Err(error.into()));
            }
        };
        let (batch, exceeded) = pull.finish.within_quota(batch);
        pull.finish.rows += batch.num_rows() as u64;
        self.cut_off = exceeded;
        Some(Ok(batch))
    }

    /// The front door sent `bytes` more to the client.
    pub fn sent(&mut self, bytes: usize) {
        Pull::lock(&self.pull).finish.bytes += bytes as u64;
    }

    /// The whole result reached the client.
    pub fn completed(&mut self) {
        Pull::lock(&self.pull).finish.end(Ok(()));
    }

    /// The result stopped short: an error of the query or of the front door.
    pub fn failed(&mut self, error: ServiceError) {
        Pull::lock(&self.pull).finish.end(Err(error));
    }
}

/// Watches `pull` until it is dropped: a client that has not pulled for `timeout` (none
/// when zero) gets its query stopped, and so does one whose access `ended` while it was not
/// pulling (a pull under way sees that itself). The returned token ends the watch.
fn watch(pull: Weak<Mutex<Pull>>, timeout: Duration, ended: CancellationToken) -> CancellationToken {
    let done = CancellationToken::new();
    let stop = done.clone();
    tokio::spawn(async move {
        loop {
            let due = {
                let Some(pull) = pull.upgrade() else { return };
                let pull = Pull::lock(&pull);
                if pull.rest.is_none() && pull.first.is_none() && pull.waiting_since.is_some() {
                    // Ended, cut off or stalled: nothing left that holds a slot.
                    return;
                }
                pull.waiting_since.unwrap_or_else(Instant::now) + timeout
            };
            let stalls = async {
                if timeout.is_zero() {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep_until(due.into()).await;
            };
            let access_ended = tokio::select! {
                () = stop.cancelled() => return,
                () = ended.cancelled() => true,
                () = stalls => false,
            };
            let Some(pull) = pull.upgrade() else { return };
            let stopped = {
                let mut pull = Pull::lock(&pull);
                match pull.waiting_since {
                    Some(since) if access_ended || since.elapsed() >= timeout => {}
                    // A pull under way: it sees the end of access itself.
                    None if access_ended => return,
                    _ => continue,
                }
                let error = || {
                    if access_ended {
                        QueryError::AccessEnded
                    } else {
                        QueryError::ClientStalled(timeout)
                    }
                };
                pull.finish.end(Err(error().into()));
                pull.finish.record();
                pull.stalled = Some(error());
                pull.first = None;
                pull.rest.take()
            };
            // Outside the lock: dropping the stream stops the query and frees its slots.
            drop(stopped);
            if access_ended {
                tracing::info!("stopped a query whose caller's access ended");
            } else {
                tracing::info!(timeout = ?timeout, "stopped a query whose client stopped reading");
            }
            return;
        }
    });
    done
}

/// Whom the rows a query sends are charged to, how many it may send, and the alert rules
/// that watch them.
pub(super) struct Charge {
    pub usage: Arc<RowUsage>,
    pub alerts: Arc<Alerts>,
    /// The classifications of the columns the query read.
    pub classifications: BTreeSet<String>,
    pub principal: String,
    pub datasets: Vec<String>,
    /// The datasets read under a daily quota, whose rows every hub counts in the store.
    pub daily: Vec<String>,
    /// The most rows the query may send, and the quota that says so.
    pub quota: Option<(u64, QuotaExceeded)>,
}

/// Records `query.finished` when the results are dropped or stopped, however the query
/// ended, and charges the rows handed out to the caller's daily quotas.
pub(super) struct Finish {
    audit: AuditLog,
    door: FrontDoor,
    /// Counts the query in `causeway_active_queries` until it is recorded.
    running: Option<Running>,
    charge: Charge,
    record: Option<Event>,
    started: Instant,
    rows: u64,
    bytes: u64,
    ended: Option<Result<(), ServiceError>>,
}

impl Finish {
    pub fn new(
        audit: AuditLog,
        charge: Charge,
        mut record: Event,
        (door, running): (FrontDoor, Running),
        started: Instant,
    ) -> Self {
        record.action = crate::audit::Action::QueryFinished;
        Self {
            audit,
            door,
            running: Some(running),
            charge,
            record: Some(record),
            started,
            rows: 0,
            bytes: 0,
            ended: None,
        }
    }

    /// How the results ended, unless that is already known.
    fn end(&mut self, ended: Result<(), ServiceError>) {
        if self.ended.is_none() {
            self.ended = Some(ended);
        }
    }

    /// The part of `batch` the quota still lets through, and whether it cut any.
    fn within_quota(&self, batch: RecordBatch) -> (RecordBatch, Option<QuotaExceeded>) {
        match &self.charge.quota {
            Some((allowed, exceeded)) if self.rows + batch.num_rows() as u64 > *allowed => {
                let left = usize::try_from(allowed.saturating_sub(self.rows)).unwrap_or(0);
                (batch.slice(0, left.min(batch.num_rows())), Some(exceeded.clone()))
            }
            _ => (batch, None),
        }
    }

    /// Charges the rows handed out and records `query.finished`; once.
    fn record(&mut self) {
        let Some(mut record) = self.record.take() else {
            return;
        };
        let charge = &self.charge;
        let now = Utc::now();
        charge
            .usage
            .add(&charge.principal, &charge.datasets, &charge.daily, self.rows, now);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (alerts, principal) = (Arc::clone(&charge.alerts), charge.principal.clone());
            let (classifications, rows) = (charge.classifications.clone(), self.rows);
            runtime.spawn(async move {
                alerts
                    .query_finished(&principal, &classifications, rows, now)
                    .await
            });
        }
        record.rows = Some(self.rows);
        record.bytes = Some(self.bytes);
        record.duration_ms = Some(elapsed_ms(self.started));
        let (record, outcome) = match self.ended.take() {
            Some(Ok(())) => (record, "ok"),
            Some(Err(error)) => (
                record.failed(error.outcome(), error.code(), error.public_message()),
                error.code(),
            ),
            None => (
                record.failed(
                    Outcome::Error,
                    "disconnected",
                    "the connection closed before the end of the result (the client went away, or the hub stopping closed it)",
                ),
                "disconnected",
            ),
        };
        self.running = None;
        metrics().query_ended(
            self.door.name(),
            outcome,
            self.started.elapsed(),
            self.rows,
            self.bytes,
        );
        self.audit.enqueue(record);
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.record();
    }
}
