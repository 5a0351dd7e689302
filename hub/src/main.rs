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

#[tokio::main]
async fn main() -> ExitCode {
    // One TLS implementation for the server, the CLI and database connections.
    let _ = rustls::crypto::ring::default_provider().install_default();
    cli::run().await
}
