//! The queries being streamed over Flight SQL, by their ticket, so that `CancelFlightInfo`
//! with that ticket stops them (down to their sources, as when a client goes away). Only the
//! caller a query runs for may cancel it; a ticket is kept by its SHA-256, never whole.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ring::digest::{SHA256, digest};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub struct Running {
    queries: Mutex<HashMap<Vec<u8>, (String, CancellationToken)>>,
}

/// Keeps a query listed while its stream lives.
pub struct Listed {
    running: Arc<Running>,
    key: Vec<u8>,
}

impl Drop for Listed {
    fn drop(&mut self) {
        self.running
            .queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

impl Running {
    /// Lists the query of `ticket`, run for `principal`: its cancellation handle, and the
    /// guard that unlists it when dropped.
    pub fn start(self: &Arc<Self>, ticket: &[u8], principal: &str) -> (CancellationToken, Listed) {
        let key = digest(&SHA256, ticket).as_ref().to_vec();
        let cancel = CancellationToken::new();
        self.queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), (principal.to_owned(), cancel.clone()));
        (
            cancel,
            Listed {
                running: Arc::clone(self),
                key,
            },
        )
    }

    /// Cancels the query of `ticket` if it runs here for `principal`; whether it did.
    pub fn cancel(&self, ticket: &[u8], principal: &str) -> bool {
        let key = digest(&SHA256, ticket).as_ref().to_vec();
        let queries = self.queries.lock().unwrap_or_else(PoisonError::into_inner);
        match queries.get(&key) {
            Some((owner, cancel)) if owner == principal => {
                cancel.cancel();
                true
            }
            _ => false,
        }
    }
}
