//! `causeway audit`: check the audit log of a hub on this machine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::admin::LocalHub;
use crate::audit::{Verification, verify};
use crate::config::Config;
use crate::identity::{keys_dir, public_keys};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every record's hash and link and every checkpoint's signature; report the first
    /// broken record and exit non-zero if there is one.
    Verify {
        #[command(flatten)]
        hub: LocalHub,
        /// The hub's data directory, instead of the one its configuration names (the log in
        /// DIR/audit, the keys in DIR/keys).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub fn run(command: AuditCommand) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match command {
        AuditCommand::Verify { hub, data_dir } => {
            let (audit_dir, keys) = match data_dir {
                Some(dir) => (dir.join("audit"), dir.join("keys")),
                None => {
                    let config = Config::load(hub.config.as_deref())?;
                    (config.audit_dir(), keys_dir(&config))
                }
            };
            if !audit_dir.is_dir() {
                return Err(format!("there is no audit log at {}", audit_dir.display()).into());
            }
            let report = verify(&audit_dir, &public_keys(&keys)?, None)?;
            print_report(&audit_dir, &report);
            Ok(if report.valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn print_report(dir: &std::path::Path, report: &Verification) {
    println!("audit log {}", dir.display());
    println!(
        "  {} records in {} segments, {} signed checkpoints",
        report.records, report.segments, report.checkpoints
    );
    if let (Some(first), Some(last)) = (report.first_seq, report.last_seq) {
        println!("  records {first} to {last} check out");
        if first > 1 {
            println!("  (records before {first} are in archived segments, not checked here)");
        }
    }
    match &report.broken {
        None => {
            if report.unsigned_records > 0 {
                println!(
                    "  the last {} records are linked but not yet under a signed checkpoint",
                    report.unsigned_records
                );
            }
            println!("OK: the log is intact");
        }
        Some(broken) => {
            let seq = broken
                .seq
                .map(|seq| format!(" (record {seq})"))
                .unwrap_or_default();
            println!(
                "BROKEN at {} line {}{seq}: {}",
                broken.segment, broken.line, broken.reason
            );
        }
    }
}
