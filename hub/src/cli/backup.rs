//! `causeway backup` and `causeway restore`, on the hub's machine: the store, the keys and
//! the audit chains ([`crate::backup`]), each recorded in the audit log.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::admin::{LocalHub, operator_gate, recorded};
use crate::audit::Action;
use crate::backup::{Chains, Restore};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The folder to write the backup into; it must not exist or be empty.
    #[arg(long)]
    to: PathBuf,
    /// Keep every node's chain under this folder (replicas sharing one audit volume), not
    /// only this hub's; default the configuration's `audit.chains_root`, where it is set.
    #[arg(long, value_name = "AUDIT_ROOT")]
    chains: Option<PathBuf>,
    #[command(flatten)]
    hub: LocalHub,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup's folder, as `causeway backup --to` wrote it.
    #[arg(long)]
    from: PathBuf,
    /// Put every node's chain back under this folder, each in its node's folder, not only
    /// this hub's; default the configuration's `audit.chains_root`, where it is set.
    #[arg(long, value_name = "AUDIT_ROOT")]
    chains: Option<PathBuf>,
    /// The configuration of the hub to restore into: its store empty, no keys or chain of
    /// its own, not running.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

fn chains(root: Option<&PathBuf>) -> Chains<'_> {
    root.map_or(Chains::Own, |root| Chains::All(root))
}

pub async fn backup(args: BackupArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = args.hub.load()?;
    let to = std::path::absolute(&args.to)?;
    let gate = operator_gate(
        &config,
        Action::BackupMade,
        json!({ "to": to.display().to_string() }),
    );
    let manifest = recorded(gate, async || {
        let root = args.chains.as_ref().or(config.audit.chains_root.as_ref());
        Ok(crate::backup::make(&config, &to, chains(root)).await?)
    })
    .await?;
    let rows: usize = manifest.tables.values().sum();
    let count = |prefix: &str| {
        manifest
            .files
            .keys()
            .filter(|path| path.starts_with(prefix))
            .count()
    };
    println!(
        "backed up {rows} rows of {} tables (store migration {}), {} signing keys, the pseudonym key and {} it replaced, and the audit chains of {} into {}",
        manifest.tables.len(),
        manifest.schema_version,
        count("keys/signing/"),
        count("keys/pseudonym.retired/"),
        manifest.chains.join(", "),
        to.display()
    );
    println!("it holds the hub's private keys: keep it where the keys are kept");
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> Result<(), Box<dyn std::error::Error>> {
    // A restore makes the hub's store, so it may not exist yet: no check that it does.
    let config = crate::config::Config::load(args.config.as_deref())?;
    let from = std::path::absolute(&args.from)?;
    let root = args.chains.as_ref().or(config.audit.chains_root.as_ref());
    let restore = Restore::prepare(&config, &from, chains(root)).await?;
    restore.place_keys_and_chains()?;
    let manifest = &restore.manifest;
    let gate = operator_gate(
        &config,
        Action::BackupRestored,
        json!({
            "from": from.display().to_string(),
            "made_at": manifest.made_at,
            "release": manifest.release,
            "schema_version": manifest.schema_version,
            "tables": manifest.tables,
        }),
    );
    recorded(gate, async || Ok(restore.load_store().await?))
        .await
        .map_err(|error| {
            format!(
                "{error}\nthe keys and the audit chain were put in place before the store failed: remove this hub's data directory, audit folder and store, then restore again"
            )
        })?;
    for warning in restore.seal_other_chains(&config).await {
        eprintln!("warning: {warning}");
    }
    let rows: usize = manifest.tables.values().sum();
    println!(
        "restored {rows} rows of {} tables, the keys and the audit chains of {} from the backup made {} by Causeway {}; start the hub, then check its chain with causeway audit verify",
        manifest.tables.len(),
        manifest.chains.join(", "),
        manifest
            .made_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        manifest.release
    );
    Ok(())
}
