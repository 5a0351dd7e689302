//! The command line: `causeway serve`, `causeway demo`, and the client commands that talk
//! to a running hub over HTTP. One file per command.

mod access;
pub mod admin;
mod alerts;
mod audit;
mod backup;
mod certs;
pub mod client;
mod credentials;
mod dataset;
mod grant;
mod login;
mod policy;
mod query;
mod serve;
pub mod terminal;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use client::HubClient;

#[derive(Debug, Parser)]
#[command(
    name = "causeway",
    version,
    about = "Causeway: publish datasets where they live, query them together with SQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub.
    Serve {
        /// The configuration file (TOML); settings may also come from CAUSEWAY_... variables.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Generate the demo departments' data, publish it and run a hub over it.
    Demo(crate::demo::DemoArgs),
    /// The published datasets, by department: what there is to ask for.
    Catalog {
        /// Only datasets whose table or title contains this text.
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Publish datasets, evolve their contracts, and see one dataset, on a running hub.
    Dataset {
        #[command(subcommand)]
        command: dataset::DatasetCommand,
    },
    /// Run a read query on a running hub.
    Query(query::QueryArgs),
    /// Ask a running hub whether records match a dataset's rows, under a verify-only grant:
    /// per record yes or no, never a value.
    Verify(verify::VerifyArgs),
    /// Sign in to a hub, as a service (client id and secret) or a person (in a browser);
    /// other commands then use the token.
    Login(login::LoginArgs),
    /// Manage the built-in authorization server's clients (on this machine's hub).
    Client {
        #[command(subcommand)]
        command: admin::ClientCommand,
    },
    /// Manage the built-in issuer's signing keys (on this machine's hub).
    Keys {
        #[command(subcommand)]
        command: admin::KeysCommand,
    },
    /// Ask for access, decide requests, see what you may read (on a running hub).
    Access {
        #[command(subcommand)]
        command: access::AccessCommand,
    },
    /// See, make and revoke grants on a running hub.
    Grant {
        #[command(subcommand)]
        command: grant::GrantCommand,
    },
    /// See the deny rules in force on a running hub.
    Deny {
        #[command(subcommand)]
        command: grant::DenyCommand,
    },
    /// See and clear the alerts a running hub raised.
    Alerts {
        #[command(subcommand)]
        command: alerts::AlertsCommand,
    },
    /// Check policy files, or explain what a client would see.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Verify, archive and export the audit log (on this machine's hub), or read its records
    /// from a running hub.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Back up the hub's store, keys and audit chains into a folder (on this machine's hub,
    /// running or not).
    Backup(backup::BackupArgs),
    /// Restore a backup into a hub that has nothing yet (an empty store, no keys or chain).
    Restore(backup::RestoreArgs),
    /// Make certificates.
    Certs {
        #[command(subcommand)]
        command: certs::CertsCommand,
    },
}

/// Where a running hub is, and how to reach it.
#[derive(Debug, Clone, Args)]
pub struct HubArgs {
    /// The hub's base URL.
    #[arg(long, env = "CAUSEWAY_HUB", default_value = "http://127.0.0.1:8080")]
    pub hub: String,
    /// A PEM file of the CA that signed the hub's certificate, when it is not a public one.
    #[arg(long, env = "CAUSEWAY_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// A PEM client certificate, for hubs that require mutual TLS.
    #[arg(long, env = "CAUSEWAY_CLIENT_CERT")]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's PEM private key.
    #[arg(long, env = "CAUSEWAY_CLIENT_KEY")]
    pub client_key: Option<PathBuf>,
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Audit { command } => match audit::run(command).await {
            Ok(code) => return code,
            Err(error) => Err(error),
        },
        Command::Serve { config } => serve::run(config.as_deref()).await,
        Command::Demo(args) => crate::demo::run(args).await,
        Command::Catalog { search, hub } => dataset::catalog(&hub, search.as_deref()).await,
        Command::Dataset { command } => dataset::run(command).await,
        Command::Grant { command } => grant::run(command).await,
        Command::Deny { command } => grant::deny(command).await,
        Command::Alerts { command } => alerts::run(command).await,
        Command::Query(args) => query::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::Login(args) => login::run(args).await,
        Command::Client { command } => admin::client(command).await,
        Command::Keys { command } => admin::keys(command).await,
        Command::Certs { command } => certs::run(command),
        Command::Backup(args) => backup::backup(args).await,
        Command::Restore(args) => backup::restore(args).await,
        Command::Policy { command } => policy::run(command).await,
        Command::Access { command } => access::run(command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `path` with `?reason=` (percent-encoded) when a reason is given.
fn with_reason(path: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!(
            "{path}?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("reason", reason)
                .finish()
        ),
        None => path.to_owned(),
    }
}

/// A text field of the hub's JSON as printed in a table; `-` where there is none.
fn text(value: &serde_json::Value) -> &str {
    value.as_str().unwrap_or("-")
}

/// Prints `rows` under `header` in columns as wide as their widest value (the last one
/// unpadded), so that long ids do not push the rest out of line.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (index, cell) in cells.enumerate() {
            if index + 1 < widths.len() {
                let pad = widths[index].saturating_sub(cell.chars().count());
                out.push_str(cell);
                out.push_str(&" ".repeat(pad + 2));
            } else {
                out.push_str(cell);
            }
        }
        println!("{}", out.trim_end());
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command and every argument says what it is for in `--help`.
    #[test]
    fn every_argument_has_help_text() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", command.get_name());
            if command.get_about().is_none() {
                missing.push(format!("{path} (the command)"));
            }
            for argument in command.get_arguments() {
                let builtin = matches!(argument.get_id().as_str(), "help" | "version");
                if !builtin && argument.get_help().is_none() {
                    missing.push(format!("{path} {}", argument.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help text:\n{}", missing.join("\n"));
    }
}
