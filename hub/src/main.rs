//! `causeway`: the hub server and its command-line client. Everything is in the library;
//! this only starts the runtime and hands it the command line.

use std::process::ExitCode;

/// glibc's allocator keeps most of what a query frees (the batches a copy was loaded from, a
/// join's build side) and the hub's resident memory only grows; mimalloc returns freed pages
/// to the system after a short delay. Measured in BENCHMARKS.md (the export's peak memory).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stack of the threads that serve requests. Queries run on threads of their own
/// (`query::runtime`); these still check grants' row filters and masks, whose depth the
/// limits bound, and 16 MiB leaves room for the deepest.
const REQUEST_STACK_BYTES: usize = 16 * 1024 * 1024;

fn main() -> ExitCode {
    // One TLS implementation for the server, the CLI and database connections.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(REQUEST_STACK_BYTES)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(causeway_hub::cli::run());
    // Everything the command did is done; a background task of a library (a connection
    // pool's upkeep) must not keep a finished command from exiting.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    code
}
