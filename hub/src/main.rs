//! `causeway`: the hub server and its command-line client.

mod acceleration;
mod access;
mod api;
mod audit;
mod bench;
mod cli;
mod config;
mod demo;
mod identity;
mod query;
mod registry;
mod server;
mod startup;
mod store;
mod supervision;

use std::process::ExitCode;

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
    runtime.block_on(cli::run())
}
