//! `causeway`: the hub server and its command-line client.

mod api;
mod cli;
mod config;
mod demo;
mod query;
mod registry;
mod startup;
mod store;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    cli::run().await
}
