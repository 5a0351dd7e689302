//! The one thread that appends to the log. Callers hand it events over a channel; it takes
//! every event waiting, writes them in one go and syncs the file once, then tells each
//! caller its event is on disk (group commit: concurrent queries share a flush). Every
//! `checkpoint_every` events or `checkpoint_interval` it adds a signed checkpoint, and it
//! starts a new segment when the current one reaches its size.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use tokio::sync::oneshot;

use super::chain::{self, GENESIS, Sealed};
use super::event::{Action, Event, Outcome};
use super::{AuditError, Status, segments};
use crate::config::AuditConfig;
use crate::identity::KeyRing;

/// Events taken in one write at most.
const MAX_BATCH: usize = 4096;

pub(super) type Reply = oneshot::Sender<Result<u64, AuditError>>;

pub(super) enum Request {
    Append(Box<Event>, Option<Reply>),
    /// Write what is pending and a last checkpoint, then stop.
    Close(oneshot::Sender<()>),
}

/// Where the chain stands: the last record written.
#[derive(Debug, Clone)]
pub(super) struct Head {
    pub seq: u64,
    pub hash: String,
}

pub(super) struct Writer {
    dir: PathBuf,
    settings: AuditConfig,
    keys: Arc<KeyRing>,
    file: File,
    len: u64,
    head: Head,
    since_checkpoint: u64,
    last_checkpoint: Instant,
    status: Arc<Mutex<Status>>,
    /// Since when records nobody waits for have been written but not yet synced.
    unsynced_since: Option<Instant>,
    /// Where the records written are announced to live readers (the supervision stream).
    live: Option<tokio::sync::broadcast::Sender<Arc<str>>>,
    /// Held while the writer lives: one writer per log.
    _lock: File,
}

/// The longest the writer sleeps: it wakes to sign a tail that has waited its interval.
const POLL: Duration = Duration::from_secs(1);
/// How long a record nobody waits for (a query's `finished`, say) may stay written but not
/// synced. Syncing it with the next record someone waits for, rather than on its own, keeps
/// its sync off the path of the queries waiting for their `started` records.
const LAZY_SYNC: Duration = Duration::from_millis(50);

impl Writer {
    /// Opens the log in `dir` where it ends, cutting a torn last line (a write a crash
    /// interrupted, which no caller was told was on disk). Returns the writer and the
    /// number of bytes cut; [`AuditError::InUse`] when another process writes the log.
    pub fn open(
        dir: &Path,
        settings: AuditConfig,
        keys: Arc<KeyRing>,
        status: Arc<Mutex<Status>>,
    ) -> Result<(Self, u64), AuditError> {
        std::fs::create_dir_all(dir).map_err(|source| AuditError::io(dir, source))?;
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| AuditError::io(&lock_path, source))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(AuditError::InUse(dir.display().to_string())),
            Err(TryLockError::Error(source)) => return Err(AuditError::io(&lock_path, source)),
        }
        let recovered = recover(dir)?;
        if let Some(node) = &settings.node {
            refuse_other_node(dir, node)?;
        }
        let path = recovered
            .segment
            .unwrap_or_else(|| segments::segment_path(dir, recovered.head.seq + 1));
        let file = open_segment(&path)?;
        let len = file
            .metadata()
            .map_err(|source| AuditError::io(&path, source))?
            .len();
        {
            let mut status = status.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            status.last_seq = recovered.head.seq;
        }
        let mut writer = Self {
            dir: dir.to_path_buf(),
            settings,
            keys,
            file,
            len,
            head: recovered.head,
            since_checkpoint: recovered.unsigned,
            last_checkpoint: Instant::now(),
            status,
            unsynced_since: None,
            live: None,
            _lock: lock,
        };
        if writer.head.seq == 0 {
            writer.begin_chain()?;
        } else if recovered.unsigned > 0 {
            // Records written after the last checkpoint by a hub that stopped without
            // sealing them (a crash): said so, and sealed now.
            let first = writer.head.seq + 1 - recovered.unsigned;
            writer.append_now(Event::new(Action::AuditRecovered, Outcome::Ok).with_detail(
                serde_json::json!({
                    "unsealed_tail": recovered.unsigned,
                    "from_seq": first,
                }),
            ))?;
            writer.seal();
        }
        Ok((writer, recovered.cut))
    }

    /// Announces every batch of records, once written, on `live`.
    pub fn announce_to(&mut self, live: tokio::sync::broadcast::Sender<Arc<str>>) {
        self.live = Some(live);
    }

    /// Starts a new chain with its signed genesis record.
    fn begin_chain(&mut self) -> Result<(), AuditError> {
        let key = self
            .keys
            .current()
            .ok_or_else(|| AuditError::Unavailable("the hub has no signing key".into()))?;
        let genesis = chain::Genesis {
            node: self.settings.node_name(),
            chain: uuid::Uuid::now_v7().to_string(),
            checkpoint_every: self.settings.checkpoint_every,
            checkpoint_interval_ms: u64::try_from(self.settings.checkpoint_interval.as_millis())
                .unwrap_or(u64::MAX),
        };
        let signature = key.sign(&genesis.message());
        let event = Event::new(Action::AuditGenesis, Outcome::Ok).with_detail(serde_json::json!({
            "node": genesis.node,
            "chain": genesis.chain,
            "checkpoint_every": genesis.checkpoint_every,
            "checkpoint_interval_ms": genesis.checkpoint_interval_ms,
            "record_format": chain::RECORD_FORMAT,
            "key_id": key.kid,
            "signature": URL_SAFE_NO_PAD.encode(signature),
        }));
        let sealed = chain::seal(1, Utc::now(), &event, GENESIS)
            .map_err(|error| AuditError::Unavailable(error.to_string()))?;
        let mut bytes = String::new();
        let head = advance(&mut bytes, sealed);
        self.write(bytes.as_bytes(), true)
            .map_err(|source| AuditError::io(&self.dir, source))?;
        self.head = head;
        self.since_checkpoint = 0;
        {
            let mut status = self
                .status
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            status.last_seq = self.head.seq;
        }
        Ok(())
    }

    /// Writes `event` and syncs it; its sequence number.
    pub fn append_now(&mut self, event: Event) -> Result<u64, AuditError> {
        let (reply, mut answer) = oneshot::channel();
        self.commit(vec![(Box::new(event), Some(reply))], false, true);
        answer.try_recv().map_err(|_| AuditError::Closed)?
    }

    /// Signs what is not yet signed, and syncs.
    pub fn seal(&mut self) {
        self.commit(Vec::new(), self.since_checkpoint > 0, true);
    }

    pub fn run(mut self, requests: Receiver<Request>) {
        loop {
            // The interval counts from when something is left to sign: an idle log has no
            // tail waiting, and must not wake (and sync) again and again for none.
            if self.since_checkpoint == 0 {
                self.last_checkpoint = Instant::now();
            }
            let mut wait = self
                .settings
                .checkpoint_interval
                .saturating_sub(self.last_checkpoint.elapsed())
                .min(POLL);
            if let Some(since) = self.unsynced_since {
                wait = wait.min(LAZY_SYNC.saturating_sub(since.elapsed()));
            }
            let mut batch = Vec::new();
            let mut close = None;
            match requests.recv_timeout(wait) {
                Ok(request) => take(request, &mut batch, &mut close),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.commit(Vec::new(), self.since_checkpoint > 0, true);
                    return;
                }
            }
            while batch.len() < MAX_BATCH && close.is_none() {
                match requests.try_recv() {
                    Ok(request) => take(request, &mut batch, &mut close),
                    Err(_) => break,
                }
            }
            let sign_tail =
                self.last_checkpoint.elapsed() >= self.settings.checkpoint_interval || close.is_some();
            let sync = sign_tail
                || batch.iter().any(|(_, reply)| reply.is_some())
                || self
                    .unsynced_since
                    .is_some_and(|since| since.elapsed() >= LAZY_SYNC);
            self.commit(batch, sign_tail, sync);
            if let Some(done) = close {
                // The log is free for another writer once the closer hears of it.
                drop(self);
                let _ = done.send(());
                return;
            }
        }
    }

    /// Writes `batch`, with a checkpoint after every `checkpoint_every` records (and after
    /// the last when `sign_tail`), syncs when `sync` says so (with it, everything written
    /// before), then answers the callers; false when the write failed.
    pub fn commit(&mut self, batch: Vec<(Box<Event>, Option<Reply>)>, sign_tail: bool, sync: bool) -> bool {
        if batch.is_empty() && !sign_tail && !(sync && self.unsynced_since.is_some()) {
            return true;
        }
        let time = Utc::now();
        let mut head = self.head.clone();
        let mut unsigned = self.since_checkpoint;
        let mut signed = false;
        let mut bytes = String::new();
        let mut written = Vec::with_capacity(batch.len());
        for (event, reply) in batch {
            match chain::seal(head.seq + 1, time, &event, &head.hash) {
                Ok(sealed) => {
                    head = advance(&mut bytes, sealed);
                    written.push((reply, head.seq));
                    unsigned += 1;
                }
                Err(error) => answer(reply, Err(AuditError::Unavailable(error.to_string()))),
            }
            if unsigned >= self.settings.checkpoint_every {
                self.sign(&mut head, &mut bytes, &mut unsigned, &mut signed);
            }
        }
        if sign_tail && unsigned > 0 {
            self.sign(&mut head, &mut bytes, &mut unsigned, &mut signed);
        }
        let written_ok = match self.write(bytes.as_bytes(), sync) {
            Ok(()) => {
                // Announced once on disk, never before: a live reader sees only what the
                // log holds. A reader too slow to keep up is told what it missed.
                if let Some(live) = &self.live
                    && live.receiver_count() > 0
                    && !bytes.is_empty()
                {
                    let _ = live.send(Arc::from(bytes.as_str()));
                }
                self.since_checkpoint = unsigned;
                if signed {
                    self.last_checkpoint = Instant::now();
                }
                self.head = head;
                {
                    let mut status = self
                        .status
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    status.failure = None;
                    status.last_seq = self.head.seq;
                }
                for (reply, seq) in written {
                    answer(reply, Ok(seq));
                }
                true
            }
            Err(error) => {
                let reason = error.to_string();
                tracing::error!(error = %reason, "the audit log cannot be written; queries are refused");
                {
                    let mut status = self
                        .status
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    status.failure = Some(reason.clone());
                }
                for (reply, _) in written {
                    answer(reply, Err(AuditError::Unavailable(reason.clone())));
                }
                false
            }
        };
        if self.len >= self.settings.segment_mb.saturating_mul(1024 * 1024)
            && let Err(error) = self.rotate()
        {
            tracing::error!(%error, "audit segment not rotated; writing on in the current one");
        }
        written_ok
    }

    /// Adds a checkpoint after `head` to `bytes`.
    fn sign(&self, head: &mut Head, bytes: &mut String, unsigned: &mut u64, signed: &mut bool) {
        match self.checkpoint(head) {
            Ok(sealed) => {
                *head = advance(bytes, sealed);
                *unsigned = 0;
                *signed = true;
            }
            Err(error) => tracing::error!(%error, "audit checkpoint not written"),
        }
    }

    /// A checkpoint after `head`: the hub's signature of the chain up to there.
    fn checkpoint(&self, head: &Head) -> Result<Sealed, AuditError> {
        let key = self
            .keys
            .current()
            .ok_or_else(|| AuditError::Unavailable("the hub has no signing key".into()))?;
        let seq = head.seq + 1;
        let signature = key.sign(&chain::checkpoint_message(seq, &head.hash));
        let event = Event::new(Action::AuditCheckpoint, Outcome::Ok).with_detail(serde_json::json!({
            "key_id": key.kid,
            "signature": URL_SAFE_NO_PAD.encode(signature),
        }));
        chain::seal(seq, Utc::now(), &event, &head.hash)
            .map_err(|error| AuditError::Unavailable(error.to_string()))
    }

    /// Appends, and syncs when `sync` says so; after a failure, cuts what may have reached
    /// the file so the next write starts on a clean line.
    fn write(&mut self, bytes: &[u8], sync: bool) -> std::io::Result<()> {
        let mut result = self.file.write_all(bytes);
        if sync {
            result = result.and_then(|()| self.file.sync_data());
        }
        match result {
            Ok(()) => {
                self.len += bytes.len() as u64;
                if sync {
                    self.unsynced_since = None;
                } else if !bytes.is_empty() && self.unsynced_since.is_none() {
                    self.unsynced_since = Some(Instant::now());
                }
                Ok(())
            }
            Err(error) => {
                if let Err(cut) = self.file.set_len(self.len) {
                    tracing::error!(error = %cut, "cannot cut a failed audit write");
                }
                Err(error)
            }
        }
    }

    fn rotate(&mut self) -> Result<(), AuditError> {
        if self.unsynced_since.is_some() {
            self.file
                .sync_data()
                .map_err(|source| AuditError::io(&self.dir, source))?;
            self.unsynced_since = None;
        }
        let path = segments::segment_path(&self.dir, self.head.seq + 1);
        let file = open_segment(&path)?;
        sync_dir(&self.dir)?;
        self.file = file;
        self.len = 0;
        Ok(())
    }
}

fn take(
    request: Request,
    batch: &mut Vec<(Box<Event>, Option<Reply>)>,
    close: &mut Option<oneshot::Sender<()>>,
) {
    match request {
        Request::Append(event, reply) => batch.push((event, reply)),
        Request::Close(done) => *close = Some(done),
    }
}

fn advance(bytes: &mut String, sealed: Sealed) -> Head {
    bytes.push_str(&sealed.line);
    Head {
        seq: sealed.seq,
        hash: sealed.hash,
    }
}

fn answer(reply: Option<Reply>, result: Result<u64, AuditError>) {
    if let Some(reply) = reply {
        let _ = reply.send(result);
    }
}

fn open_segment(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| AuditError::io(path, source))
}

fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| AuditError::io(dir, source))
}

/// Refuses a log whose genesis record names another node than `node`, as configured: a
/// replica pointed at another replica's (stopped) audit directory would otherwise go on with
/// that node's chain. A log whose first segment was archived, or written before genesis
/// records, is not checked; nor is a hub whose node is the host name by default (a
/// container's host name may change when it is recreated).
fn refuse_other_node(dir: &Path, node: &str) -> Result<(), AuditError> {
    let first = segments::segment_path(dir, 1);
    let Ok(file) = File::open(&first) else {
        return Ok(());
    };
    let mut line = String::new();
    if std::io::BufRead::read_line(&mut std::io::BufReader::new(file), &mut line).is_err() {
        return Ok(());
    }
    let Ok(record) = serde_json::from_str::<serde_json::Value>(&line) else {
        return Ok(());
    };
    if record.get("action").and_then(serde_json::Value::as_str) != Some("audit.genesis") {
        return Ok(());
    }
    let chain_node = record
        .get("detail")
        .and_then(|detail| match detail {
            serde_json::Value::String(text) => serde_json::from_str::<serde_json::Value>(text).ok(),
            other => Some(other.clone()),
        })
        .and_then(|detail| {
            detail
                .get("node")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        });
    match chain_node {
        Some(chain_node) if chain_node != node => Err(AuditError::OtherNode {
            dir: dir.display().to_string(),
            chain_node,
            node: node.to_owned(),
        }),
        _ => Ok(()),
    }
}

struct Recovered {
    head: Head,
    /// Records after the last checkpoint.
    unsigned: u64,
    /// The segment to write on; `None` when the log is new.
    segment: Option<PathBuf>,
    /// Bytes of a torn last line that were cut.
    cut: u64,
}

/// Finds where the log ends: the last complete record of the newest segment that has one.
fn recover(dir: &Path) -> Result<Recovered, AuditError> {
    let paths = segments::list(dir).map_err(|source| AuditError::io(dir, source))?;
    let Some(current) = paths.last() else {
        return Ok(Recovered {
            head: Head {
                seq: 0,
                hash: GENESIS.to_owned(),
            },
            unsigned: 0,
            segment: None,
            cut: 0,
        });
    };
    let cut = cut_torn_line(current)?;
    for path in paths.iter().rev() {
        let content = std::fs::read_to_string(path).map_err(|source| AuditError::io(path, source))?;
        if content.is_empty() {
            continue;
        }
        let Some(complete) = content.strip_suffix('\n') else {
            return Err(AuditError::Damaged {
                segment: path.display().to_string(),
                reason: "it ends in the middle of a record".into(),
            });
        };
        let last = complete.rsplit('\n').next().unwrap_or(complete);
        let link = chain::open(last).map_err(|error| AuditError::Damaged {
            segment: path.display().to_string(),
            reason: format!("its last record: {error}"),
        })?;
        return Ok(Recovered {
            head: Head {
                seq: link.seq,
                hash: link.hash,
            },
            unsigned: unsigned_tail(&paths)?,
            segment: Some(current.clone()),
            cut,
        });
    }
    // Only empty segments: the log was begun and nothing was written yet.
    let first = segments::first_seq(current).unwrap_or(1);
    if first != 1 {
        return Err(AuditError::Damaged {
            segment: current.display().to_string(),
            reason: "the segments before it are gone, so the chain cannot go on".into(),
        });
    }
    Ok(Recovered {
        head: Head {
            seq: 0,
            hash: GENESIS.to_owned(),
        },
        unsigned: 0,
        segment: Some(current.clone()),
        cut,
    })
}

/// The records after the last checkpoint (or after the genesis) of the log's segments.
fn unsigned_tail(paths: &[PathBuf]) -> Result<u64, AuditError> {
    let mut unsigned = 0;
    for path in paths.iter().rev() {
        let content = std::fs::read_to_string(path).map_err(|source| AuditError::io(path, source))?;
        for line in content.lines().rev() {
            let sealing = chain::open(line).ok().is_some_and(|link| {
                matches!(
                    link.record.get("action").and_then(|action| action.as_str()),
                    Some("audit.checkpoint" | "audit.genesis")
                )
            });
            if sealing {
                return Ok(unsigned);
            }
            unsigned += 1;
        }
    }
    Ok(unsigned)
}

/// Cuts the bytes after the last newline of `path`; returns how many were cut.
fn cut_torn_line(path: &Path) -> Result<u64, AuditError> {
    let content = std::fs::read(path).map_err(|source| AuditError::io(path, source))?;
    let keep = content
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |newline| newline + 1);
    let cut = (content.len() - keep) as u64;
    if cut > 0 {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|source| AuditError::io(path, source))?;
        file.set_len(keep as u64)
            .and_then(|()| file.sync_all())
            .map_err(|source| AuditError::io(path, source))?;
    }
    Ok(cut)
}
