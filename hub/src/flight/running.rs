//! The queries being streamed over Flight SQL, by their ticket, so that `CancelFlightInfo`
//! with that ticket stops them (down to their sources, as when a client goes away). Only the
//! caller a query runs for may cancel it; a ticket is kept by its SHA-256, never whole.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ring::digest::{SHA256, digest};
use tokio_util::sync::CancellationToken;

/// One stream of a ticket: its number, its caller, its cancellation handle.
type Stream = (u64, String, CancellationToken);

/// A ticket may be redeemed more than once while it lasts; every stream of it is listed.
#[derive(Default)]
pub struct Running {
    next: AtomicU64,
    queries: Mutex<HashMap<Vec<u8>, Vec<Stream>>>,
}

/// Keeps a query listed while its stream lives.
pub struct Listed {
    running: Arc<Running>,
    key: Vec<u8>,
    number: u64,
}

impl Drop for Listed {
    fn drop(&mut self) {
        let mut queries = self
            .running
            .queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(streams) = queries.get_mut(&self.key) {
            streams.retain(|(number, _, _)| *number != self.number);
            if streams.is_empty() {
                queries.remove(&self.key);
            }
        }
    }
}

impl Running {
    /// Lists the query of `ticket`, run for `principal`: its cancellation handle, and the
    /// guard that unlists it when dropped.
    pub fn start(self: &Arc<Self>, ticket: &[u8], principal: &str) -> (CancellationToken, Listed) {
        let key = digest(&SHA256, ticket).as_ref().to_vec();
        let cancel = CancellationToken::new();
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        self.queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .push((number, principal.to_owned(), cancel.clone()));
        (
            cancel,
            Listed {
                running: Arc::clone(self),
                key,
                number,
            },
        )
    }

    /// Cancels every stream of `ticket` that runs here for `principal`; whether any did.
    pub fn cancel(&self, ticket: &[u8], principal: &str) -> bool {
        let key = digest(&SHA256, ticket).as_ref().to_vec();
        let queries = self.queries.lock().unwrap_or_else(PoisonError::into_inner);
        let mut cancelled = false;
        for (_, owner, cancel) in queries.get(&key).into_iter().flatten() {
            if owner == principal {
                cancel.cancel();
                cancelled = true;
            }
        }
        cancelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_of_a_ticket_is_cancelled_for_its_caller_only() {
        let running = Arc::new(Running::default());
        let (first, first_listed) = running.start(b"ticket", "ann");
        let (second, second_listed) = running.start(b"ticket", "ann");
        assert!(!running.cancel(b"ticket", "bob"));
        assert!(!running.cancel(b"other", "ann"));
        assert!(running.cancel(b"ticket", "ann"));
        assert!(first.is_cancelled() && second.is_cancelled());
        drop((first_listed, second_listed));
        assert!(!running.cancel(b"ticket", "ann"), "ended streams are unlisted");
    }
}
