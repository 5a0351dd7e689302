//! The threads queries run on: a Tokio runtime of their own, apart from the one that serves
//! requests, so that CPU-heavy queries cannot keep health checks, token requests and catalog
//! reads waiting; with stacks deep enough for the deepest plan the limits allow.
//!
//! A query's batches are pulled on these threads and handed over a small channel; dropping
//! the receiving end (the client went away, the timeout struck) stops the pulling task at its
//! next yield, and with it every task DataFusion spawned for the query.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use futures::{Stream, StreamExt};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::LimitsConfig;

/// Stack of each query thread. Planning and optimising grow their stacks on demand, but
/// evaluating, printing, cloning and dropping expressions recurse once per level: this
/// leaves room for several times the deepest tree `limits.max_expression_depth` allows,
/// with a row filter and masks under it. Only the part that is touched is backed by memory.
pub const QUERY_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Batches computed ahead of the one the client is sent.
const AHEAD: usize = 2;

pub struct QueryRuntime {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl QueryRuntime {
    /// A runtime of `threads` workers (0: one per core).
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            threads
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("causeway-query")
            .thread_stack_size(QUERY_STACK_BYTES)
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        Ok(Self {
            runtime: Some(runtime),
            handle,
        })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Pulls `stream` on the query threads, holding `hold` (the query's slots) until it has
    /// stopped; the batches arrive through the returned stream.
    pub fn pump<H: Send + 'static>(&self, stream: SendableRecordBatchStream, hold: H) -> Pumped {
        let (sender, receiver) = mpsc::channel(AHEAD);
        let task = self.handle.spawn(async move {
            let _hold = hold;
            let mut stream = stream;
            loop {
                let next = tokio::select! {
                    biased;
                    () = sender.closed() => break,
                    next = stream.next() => next,
                };
                let Some(item) = next else { break };
                let failed = item.is_err();
                if sender.send(item).await.is_err() || failed {
                    break;
                }
            }
            // The plan and the tasks DataFusion spawned for it end here, on these threads.
            drop(stream);
        });
        Pumped {
            receiver,
            task,
            ended: false,
        }
    }
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks end, which is not allowed inside another
        // runtime; queries still running are abandoned instead.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The batches of a query pulled on the query threads. Dropping it stops the query.
pub struct Pumped {
    receiver: mpsc::Receiver<Result<RecordBatch, DataFusionError>>,
    task: JoinHandle<()>,
    ended: bool,
}

impl Stream for Pumped {
    type Item = Result<RecordBatch, DataFusionError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(item) = ready!(self.receiver.poll_recv(cx)) {
            return Poll::Ready(Some(item));
        }
        if self.ended {
            return Poll::Ready(None);
        }
        // The channel closes when the task ends; a task that panicked ended a result
        // short, which must not look like its end.
        let joined = ready!(Pin::new(&mut self.task).poll(cx));
        self.ended = true;
        Poll::Ready(match joined {
            Ok(()) => None,
            Err(error) => {
                tracing::error!(%error, "a query's task ended abnormally");
                Some(Err(DataFusionError::Execution(
                    "the query stopped inside the hub before its end; the details are in the hub's log"
                        .into(),
                )))
            }
        })
    }
}

impl Drop for Pumped {
    fn drop(&mut self) {
        self.receiver.close();
        self.task.abort();
    }
}

/// Spill files in their own directory, under the configured cap for all queries together.
pub fn spill_files(limits: &LimitsConfig) -> std::io::Result<DiskManagerBuilder> {
    let mode = match &limits.spill_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            DiskManagerMode::Directories(vec![dir.clone()])
        }
        None => DiskManagerMode::OsTmpDirectory,
    };
    Ok(DiskManagerBuilder::default()
        .with_mode(mode)
        .with_max_temp_directory_size(limits.spill_max_mb.saturating_mul(1024 * 1024)))
}
