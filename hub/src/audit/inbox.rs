//! Records from outside the hub's process: the CLI changing a hub's store on its machine.
//! When no hub is running, the CLI appends to the log itself; when one is, it leaves the
//! record in `inbox/`, and the hub's writer chains it within a second.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::event::Event;
use super::writer::Writer;
use super::{AuditError, Status};
use crate::config::AuditConfig;
use crate::identity::KeyRing;

fn inbox_dir(dir: &Path) -> PathBuf {
    dir.join("inbox")
}

/// Records `event` in the log in `dir`, whether or not a hub is writing it.
pub fn record_from_elsewhere(
    dir: &Path,
    settings: &AuditConfig,
    keys: Arc<KeyRing>,
    event: Event,
) -> Result<(), AuditError> {
    if !settings.enabled {
        return Ok(());
    }
    match Writer::open(
        dir,
        settings.clone(),
        keys,
        Arc::new(Mutex::new(Status::default())),
    ) {
        Ok((mut writer, _)) => {
            let (reply, mut answer) = oneshot::channel();
            writer.commit(vec![(Box::new(event), Some(reply))], true, true);
            answer.try_recv().map_err(|_| AuditError::Closed)?.map(|_| ())
        }
        Err(AuditError::InUse(_)) => deliver(dir, &event),
        Err(error) => Err(error),
    }
}

/// Leaves `event` for the running hub: written aside, then renamed into the inbox, so the
/// hub never reads half a record.
fn deliver(dir: &Path, event: &Event) -> Result<(), AuditError> {
    let inbox = inbox_dir(dir);
    std::fs::create_dir_all(&inbox).map_err(|source| AuditError::io(&inbox, source))?;
    let name = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%6f"),
        uuid::Uuid::new_v4().simple()
    );
    let partial = inbox.join(format!("{name}.partial"));
    let path = inbox.join(format!("{name}.json"));
    let text = serde_json::to_vec(event).map_err(|error| AuditError::Unavailable(error.to_string()))?;
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::File::open(&partial)?.sync_all())
        .and_then(|()| std::fs::rename(&partial, &path))
        .map_err(|source| AuditError::io(&path, source))
}

/// The records waiting in the inbox, oldest first, with their files.
pub(super) fn take(dir: &Path) -> Vec<(PathBuf, Event)> {
    let Ok(entries) = std::fs::read_dir(inbox_dir(dir)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let event = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok());
            if event.is_none() {
                // Set aside, so it is neither lost nor read again every second.
                let aside = path.with_extension("unreadable");
                tracing::error!(file = %aside.display(), "an audit record in the inbox cannot be read; set aside");
                let _ = std::fs::rename(&path, &aside);
            }
            Some((path, event?))
        })
        .collect()
}

/// Removes inbox files whose records are on disk in the chain.
pub(super) fn remove<'a>(paths: impl Iterator<Item = &'a PathBuf>) {
    for path in paths {
        if let Err(error) = std::fs::remove_file(path) {
            tracing::error!(%error, file = %path.display(), "an inbox record chained but not removed");
        }
    }
}
