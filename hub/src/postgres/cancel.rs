//! Cancel requests (PostgreSQL's `CancelRequest`, sent on a new connection with the process
//! id and secret key a session got in `BackendKeyData`): they cancel the statement the
//! session is running, down to its sources, through the query service's cancellation
//! handle, also while its rows are being streamed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio_util::sync::CancellationToken;

/// A session's key: its process id and secret, as bytes.
type Key = (i32, Vec<u8>);

/// The sessions that may be cancelled, by key.
#[derive(Default)]
pub struct Cancels {
    sessions: Mutex<HashMap<Key, Arc<Current>>>,
}

/// The cancellation handle of a session's current statement.
#[derive(Default)]
pub struct Current(Mutex<Option<CancellationToken>>);

impl Current {
    /// A handle for the next statement, which replaces the one before.
    pub fn next(&self) -> CancellationToken {
        let token = CancellationToken::new();
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(token.clone());
        token
    }
}

/// Keeps a session cancellable until the connection ends.
pub struct Registered {
    cancels: Arc<Cancels>,
    key: Key,
    pub current: Arc<Current>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.cancels
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

impl Cancels {
    pub fn register(self: &Arc<Self>, pid: i32, secret: &SecretKey) -> Registered {
        let key = (pid, secret.to_bytes().to_vec());
        let current = Arc::new(Current::default());
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), Arc::clone(&current));
        Registered {
            cancels: Arc::clone(self),
            key,
            current,
        }
    }
}

#[async_trait]
impl CancelHandler for Cancels {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let key = (request.pid, request.secret_key.to_bytes().to_vec());
        let current = self
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        // A wrong key cancels nothing and is told nothing, as in PostgreSQL.
        if let Some(current) = current
            && let Some(token) = current.0.lock().unwrap_or_else(PoisonError::into_inner).as_ref()
        {
            token.cancel();
        }
    }
}
