//! Live readers of the log (the supervision stream): the records each batch written holds,
//! handed to every reader once on disk, and a cap on how many readers there are, per reader
//! and in all, since each one reads every record written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

/// Batches of written records a live reader may fall behind by before it is told it missed
/// some.
const BACKLOG: usize = 1024;
/// Live streams one principal may hold open at once.
pub const MAX_PER_READER: usize = 4;
/// Live streams the hub holds open at once.
pub const MAX_READERS: usize = 64;

pub(super) struct Live {
    sender: broadcast::Sender<Arc<str>>,
    readers: Mutex<HashMap<String, usize>>,
}

/// Why no stream was opened.
#[derive(Debug, thiserror::Error)]
pub enum LiveRefused {
    #[error("at most {MAX_PER_READER} live streams of the audit log are open per principal; close one first")]
    PerReader,
    #[error("at most {MAX_READERS} live streams of the audit log are open on this hub; try again later")]
    Full,
}

/// One reader's subscription; its place is given back when it is dropped.
pub struct LiveReader {
    pub receiver: broadcast::Receiver<Arc<str>>,
    live: Arc<Live>,
    reader: String,
}

impl Live {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            sender: broadcast::channel(BACKLOG).0,
            readers: Mutex::new(HashMap::new()),
        })
    }

    pub(super) fn sender(&self) -> broadcast::Sender<Arc<str>> {
        self.sender.clone()
    }

    pub(super) fn subscribe(self: &Arc<Self>, reader: &str) -> Result<LiveReader, LiveRefused> {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if readers.values().sum::<usize>() >= MAX_READERS {
            return Err(LiveRefused::Full);
        }
        let held = readers.entry(reader.to_owned()).or_default();
        if *held >= MAX_PER_READER {
            return Err(LiveRefused::PerReader);
        }
        *held += 1;
        Ok(LiveReader {
            receiver: self.sender.subscribe(),
            live: Arc::clone(self),
            reader: reader.to_owned(),
        })
    }
}

impl Drop for LiveReader {
    fn drop(&mut self) {
        let mut readers = self.live.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = readers.get_mut(&self.reader) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                readers.remove(&self.reader);
            }
        }
    }
}
