//! Where a query takes its slots (one of the hub's, one of its principal's) and its
//! threads (the query runtime's, apart from those that serve requests).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::time::Instant;

use super::{QueryEngine, QueryError};

/// A task stopped when the one waiting for it goes away.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl QueryEngine {
    /// Runs `work` (planning, which recurses over the statement) on the query threads and
    /// their large stacks; a task that ends abnormally is an error whose details stay in
    /// the hub's log.
    pub(super) async fn on_query_threads<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, QueryError> {
        self.runtime.handle().spawn(work).await.map_err(|error| {
            tracing::error!(%error, "planning a query ended abnormally");
            QueryError::Execution("the query could not be planned; the details are in the hub's log".into())
        })
    }

    /// Runs `work`, a statement that reads no dataset (the wire protocol's catalog
    /// statements), as a query is run: in one of the hub's query slots and one of
    /// `principal`'s, on the query threads, for at most the query timeout. It stops when
    /// the caller stops waiting for it.
    pub async fn run_aside<T: Send + 'static>(
        &self,
        principal: &str,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, QueryError> {
        let deadline = Instant::now() + self.limits.query_timeout;
        let _mine = self.principal_slot(principal)?;
        let _permit = tokio::time::timeout_at(deadline, self.permits.acquire())
            .await
            .map_err(|_| QueryError::Busy(self.limits.max_concurrent_queries))?
            .map_err(|_| QueryError::Busy(self.limits.max_concurrent_queries))?;
        let mut task = AbortOnDrop(self.runtime.handle().spawn(work));
        match tokio::time::timeout_at(deadline, &mut task.0).await {
            Err(_) => Err(QueryError::Timeout(self.limits.query_timeout)),
            Ok(Ok(done)) => Ok(done),
            Ok(Err(error)) => {
                tracing::error!(%error, "a statement on the query threads ended abnormally");
                Err(QueryError::Execution(
                    "the statement could not be run; the details are in the hub's log".into(),
                ))
            }
        }
    }

    /// Takes one of the principal's query slots, or refuses when all are taken. A broken
    /// count refuses rather than lets queries through uncounted.
    pub(super) fn principal_slot(&self, principal: &str) -> Result<PrincipalSlot, QueryError> {
        let most = self.limits.max_concurrent_queries_per_principal.max(1);
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let count = running.entry(principal.to_owned()).or_insert(0);
        if *count >= most {
            return Err(QueryError::TooManyOfYours(most));
        }
        *count += 1;
        Ok(PrincipalSlot {
            running: Arc::clone(&self.running),
            principal: principal.to_owned(),
        })
    }
}

/// One of a principal's query slots, given back when the query's work has stopped.
pub(super) struct PrincipalSlot {
    running: Arc<Mutex<HashMap<String, usize>>>,
    principal: String,
}

impl Drop for PrincipalSlot {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = running.get_mut(&self.principal) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.principal);
            }
        }
    }
}
