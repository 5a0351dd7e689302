//! Changes made by an operator's command on the hub's machine (`causeway client add`,
//! `client disable`, `client rotate-secret`, `keys rotate`), recorded before they take
//! effect.
//!
//! When no hub runs, the command writes to the log itself, holding it while it makes its
//! change. When one does, only the hub writes its log: the command asks it over a Unix
//! socket in the data directory that only the hub's own user may open. The hub names the
//! operator from what the kernel says of the other end of the socket (`SO_PEERCRED`: user
//! id and process id, and that process's command line), never from what the command sends;
//! it writes the record, answers once it is on disk, and the command then makes its change
//! and reports how it ended. Files left in a folder are never taken for records.
//!
//! The protocol is one JSON line each way: the command sends `{"action", "detail"}`, the hub
//! answers `{"seq"}` or `{"error"}`; then the command sends `{"error": null | "why"}`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::event::{Action, Event, Outcome};
use super::writer::Writer;
use super::{AuditError, AuditLog, Status};
use crate::config::AuditConfig;
use crate::identity::KeyRing;

/// The actions an operator's command may record; anything else is refused.
const OPERATOR_ACTIONS: [Action; 9] = [
    Action::ClientCreated,
    Action::ClientDisabled,
    Action::ClientSecretRotated,
    Action::ClientRolesChanged,
    Action::KeysRotated,
    Action::BackupMade,
    Action::BackupRestored,
    Action::AuditArchived,
    // Sealed values opened with `causeway audit reveal`.
    Action::AuditRead,
];

/// Longest line either side sends.
const MAX_LINE: u64 = 64 * 1024;
/// How long a command may take to make its change and say how it ended.
const CHANGE_TIME: Duration = Duration::from_secs(120);

#[derive(Serialize, Deserialize)]
struct Ask {
    action: Action,
    detail: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Ended {
    error: Option<String>,
}

/// Who is at the other end of a socket, as the kernel says.
#[derive(Debug, Clone)]
struct Peer {
    uid: u32,
    pid: Option<i32>,
}

/// The operator's name in records: `local:<user>` from the user id.
pub fn local_principal(uid: u32) -> String {
    format!("local:{}", user_name(uid).unwrap_or_else(|| format!("uid{uid}")))
}

/// The user id this process runs as.
pub fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self")
        .ok()
        .map(|metadata| metadata.uid())
}

fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_owned())
    })
}

fn command_line(pid: i32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let text: Vec<String> = raw
        .split(|byte| *byte == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    let mut line = text.join(" ");
    line.truncate(512);
    Some(line)
}

/// The operator's record: the command's action and detail, with who ran it as the kernel
/// says.
fn operator_event(action: Action, detail: serde_json::Value, peer: &Peer) -> Event {
    let mut detail = match detail {
        serde_json::Value::Object(map) => map,
        other => {
            let mut map = serde_json::Map::new();
            map.insert("value".into(), other);
            map
        }
    };
    detail.insert(
        "operator".into(),
        serde_json::json!({
            "uid": peer.uid,
            "pid": peer.pid,
            "command": peer.pid.and_then(command_line),
        }),
    );
    let mut event = Event::new(action, Outcome::Ok).with_detail(serde_json::Value::Object(detail));
    event.principal = Some(local_principal(peer.uid));
    event
}

/// What the hub does once an operator's change has taken effect (re-read a client, say).
pub type OnChange = Arc<dyn Fn(Action, &serde_json::Value) + Send + Sync>;

/// Listens on the Unix socket `path` (the data directory's `operator.sock`) for operators'
/// commands while the hub runs.
pub fn serve(path: &Path, audit: AuditLog, on_change: OnChange) -> Result<PathBuf, AuditError> {
    let path = path.to_path_buf();
    // A socket left by a hub that stopped is removed; the audit log's lock already says no
    // other hub writes here.
    if path.exists() {
        std::fs::remove_file(&path).map_err(|source| AuditError::io(&path, source))?;
    }
    let listener = UnixListener::bind(&path).map_err(|source| AuditError::io(&path, source))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|source| AuditError::io(&path, source))?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let (audit, on_change) = (audit.clone(), Arc::clone(&on_change));
                    tokio::spawn(async move {
                        if let Err(error) = handle(stream, audit, on_change).await {
                            tracing::warn!(%error, "an operator's command was not recorded");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot accept on the operator socket");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(path)
}

async fn handle(stream: UnixStream, audit: AuditLog, on_change: OnChange) -> std::io::Result<()> {
    let credentials = stream.peer_cred()?;
    let peer = Peer {
        uid: credentials.uid(),
        pid: credentials.pid(),
    };
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read.take(MAX_LINE * 2));
    let Some(ask) = read_line::<Ask>(&mut lines).await? else {
        return Ok(());
    };
    if !OPERATOR_ACTIONS.contains(&ask.action) {
        let answer = Answer {
            seq: None,
            error: Some(format!("{} is not an operator's action", ask.action.name())),
        };
        return send(&mut write, &answer).await;
    }
    let event = operator_event(ask.action, ask.detail.clone(), &peer);
    let answer = match audit.record(event.clone()).await {
        Ok(seq) => Answer {
            seq: Some(seq),
            error: None,
        },
        Err(error) => Answer {
            seq: None,
            error: Some(error.to_string()),
        },
    };
    let recorded = answer.seq.is_some();
    send(&mut write, &answer).await?;
    if !recorded {
        return Ok(());
    }
    let ended = tokio::time::timeout(CHANGE_TIME, read_line::<Ended>(&mut lines)).await;
    let failure = match ended {
        Ok(Ok(Some(Ended { error: None }))) => None,
        Ok(Ok(Some(Ended { error: Some(error) }))) => Some(error),
        Ok(Ok(None) | Err(_)) => {
            Some("the command ended without saying whether its change took effect".into())
        }
        Err(_) => Some("the command did not say in time whether its change took effect".into()),
    };
    match failure {
        None => on_change(ask.action, &ask.detail),
        Some(message) => audit.enqueue(event.failed(
            Outcome::Error,
            "not_applied",
            format!("the change recorded before did not take effect: {message}"),
        )),
    }
    Ok(())
}

async fn read_line<T: serde::de::DeserializeOwned>(
    lines: &mut (impl tokio::io::AsyncBufRead + Unpin),
) -> std::io::Result<Option<T>> {
    let mut line = String::new();
    if lines.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    serde_json::from_str(line.trim_end())
        .map(Some)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))
}

async fn send(write: &mut (impl AsyncWriteExt + Unpin), value: &impl Serialize) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    write.flush().await
}

/// The log an operator's command records in: the running hub's, or the log itself.
pub struct OperatorLog {
    /// The running hub's operator socket.
    socket: PathBuf,
    audit_dir: PathBuf,
    settings: AuditConfig,
    keys_dir: PathBuf,
}

impl OperatorLog {
    pub fn new(socket: &Path, audit_dir: &Path, settings: &AuditConfig, keys_dir: &Path) -> Self {
        Self {
            socket: socket.to_path_buf(),
            audit_dir: audit_dir.to_path_buf(),
            settings: settings.clone(),
            keys_dir: keys_dir.to_path_buf(),
        }
    }

    /// Writes `record` (its principal set to the user running this command) and returns
    /// once it is on disk; the change may then take effect, and must say how it ended.
    pub async fn begin(&self, record: Event) -> Result<OperatorChange, AuditError> {
        if !self.settings.enabled {
            return Ok(OperatorChange(Change::Off));
        }
        let keys = Arc::new(
            KeyRing::open(&self.keys_dir).map_err(|error| AuditError::Unavailable(error.to_string()))?,
        );
        let status = Arc::new(std::sync::Mutex::new(Status::default()));
        match Writer::open(&self.audit_dir, self.settings.clone(), keys, status) {
            Ok((mut writer, _)) => {
                let peer = Peer {
                    uid: own_uid().unwrap_or(u32::MAX),
                    pid: Some(std::process::id() as i32),
                };
                let detail = record
                    .detail
                    .as_deref()
                    .and_then(|detail| serde_json::from_str(detail).ok())
                    .unwrap_or(serde_json::Value::Null);
                let event = operator_event(record.action, detail, &peer);
                let event = match record.error_class {
                    Some(class) => event.failed(record.outcome, &class, record.error.unwrap_or_default()),
                    None => event,
                };
                writer.append_now(event.clone())?;
                Ok(OperatorChange(Change::Direct {
                    writer: Box::new(writer),
                    event: Box::new(event),
                }))
            }
            Err(AuditError::InUse(_)) => self.ask_hub(record).await,
            Err(error) => Err(error),
        }
    }

    async fn ask_hub(&self, record: Event) -> Result<OperatorChange, AuditError> {
        let path = self.socket.clone();
        let unreachable = |error: std::io::Error| {
            AuditError::Unavailable(format!(
                "a hub is running on this audit log, but its operator socket {} cannot be used ({error}); run the command as the hub's user",
                path.display()
            ))
        };
        let stream = UnixStream::connect(&path).await.map_err(unreachable)?;
        let (read, mut write) = stream.into_split();
        let detail = record
            .detail
            .as_deref()
            .and_then(|detail| serde_json::from_str(detail).ok())
            .unwrap_or(serde_json::Value::Null);
        send(
            &mut write,
            &Ask {
                action: record.action,
                detail,
            },
        )
        .await
        .map_err(unreachable)?;
        let mut lines = BufReader::new(read.take(MAX_LINE));
        let answer: Answer = read_line(&mut lines)
            .await
            .map_err(unreachable)?
            .ok_or_else(|| AuditError::Unavailable("the hub closed its operator socket".into()))?;
        match answer {
            Answer { seq: Some(_), .. } => Ok(OperatorChange(Change::ViaHub { write })),
            Answer { error, .. } => Err(AuditError::Unavailable(
                error.unwrap_or_else(|| "the hub did not record the change".into()),
            )),
        }
    }
}

/// A change whose record is on disk; [`OperatorChange::finish`] says how it ended.
pub struct OperatorChange(Change);

enum Change {
    Off,
    /// This command holds the log.
    Direct {
        writer: Box<Writer>,
        event: Box<Event>,
    },
    /// The running hub recorded it.
    ViaHub {
        write: tokio::net::unix::OwnedWriteHalf,
    },
}

impl OperatorChange {
    pub async fn finish(self, error: Option<String>) {
        match self.0 {
            Change::Off => {}
            Change::Direct { mut writer, event } => {
                if let Some(message) = error {
                    let correction = (*event).failed(
                        Outcome::Error,
                        "not_applied",
                        format!("the change recorded before did not take effect: {message}"),
                    );
                    if let Err(error) = writer.append_now(correction) {
                        tracing::error!(%error, "the failed change could not be recorded");
                    }
                }
                writer.seal();
            }
            Change::ViaHub { mut write } => {
                if let Err(error) = send(&mut write, &Ended { error }).await {
                    tracing::error!(%error, "could not tell the hub how the change ended");
                }
            }
        }
    }
}
