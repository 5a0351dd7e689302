//! `causeway policy`: check policy files before they reach a hub, and explain what a
//! client would see of a dataset for a purpose, on this machine's hub.

use std::collections::HashMap;
use std::path::PathBuf;

use causeway_policies::{
    ColumnAccess, DatasetId, DatasetInfo, Decision, FilePolicies, PolicyFunctions, PolicySet, Principal,
    VerifyDecision, authorize, authorize_verify,
};
use clap::Subcommand;
use datafusion::prelude::SessionContext;

use crate::access::{check_files, read_policy_dir};
use crate::config::Config;
use crate::store::MetadataStore;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a directory of policy files; with --config, also against the hub's datasets.
    Check {
        /// The directory of YAML policy files.
        dir: PathBuf,
        /// The hub's configuration, to check the files against its published datasets.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// What a client would see of a dataset for a purpose, and why.
    Explain {
        /// The client, as stored in the hub's metadata store.
        #[arg(long)]
        client: String,
        /// The dataset, as DEPARTMENT.NAME.
        #[arg(long)]
        dataset: String,
        /// The purpose the data would be read for.
        #[arg(long)]
        purpose: String,
        /// The hub's configuration file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

pub async fn run(command: PolicyCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        PolicyCommand::Check { dir, config } => check(&dir, config).await,
        PolicyCommand::Explain {
            client,
            dataset,
            purpose,
            config,
        } => explain(&client, &dataset, &purpose, config).await,
    }
}

/// The hub's datasets as the policies see them, from their current contracts.
async fn datasets(
    store: &MetadataStore,
) -> Result<HashMap<DatasetId, DatasetInfo>, Box<dyn std::error::Error>> {
    Ok(store
        .list_datasets()
        .await?
        .into_iter()
        .map(|record| {
            let info = crate::registry::declared_info(&record.contract, &record.access);
            (info.id.clone(), info)
        })
        .collect())
}

async fn open_store(config: &Config) -> Result<MetadataStore, Box<dyn std::error::Error>> {
    Ok(MetadataStore::connect(&config.metadata_url()).await?)
}

async fn check(dir: &std::path::Path, config: Option<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
    let config_given = config.is_some();
    let files = match read_policy_dir(dir) {
        Ok(files) => files,
        Err(errors) => return Err(report(&errors).into()),
    };
    let config = Config::load(config.as_deref())?;
    let known = match config_given {
        true => datasets(&open_store(&config).await?).await?,
        false => HashMap::new(),
    };
    let session = SessionContext::new().state();
    let errors = check_files(
        &files,
        &|id| known.get(id).cloned(),
        &PolicyFunctions::new(b"check"),
        &session,
        config.limits.syntax(),
    );
    if !errors.is_empty() {
        return Err(report(&errors).into());
    }
    let unseen = files
        .grants
        .iter()
        .map(|grant| &grant.item.dataset)
        .chain(files.permits.iter().map(|permit| &permit.item.0))
        .filter(|id| !known.contains_key(*id))
        .collect::<std::collections::BTreeSet<_>>();
    println!(
        "{}: {} grants, {} deny rules, {} automatic-approval conditions; all valid",
        dir.display(),
        files.grants.len(),
        files.denies.len(),
        files.permits.len()
    );
    if !unseen.is_empty() {
        let names: Vec<String> = unseen.iter().map(ToString::to_string).collect();
        let how = match config_given {
            true => "they are not published on this hub",
            false => "give --config to check against the hub's datasets",
        };
        println!(
            "not checked against a contract (columns, masks, row filters, subject keys): {}; {how}",
            names.join(", ")
        );
    }
    Ok(())
}

fn report(errors: &[causeway_policies::FileError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!("the policy files are not valid:\n{}", lines.join("\n"))
}

async fn explain(
    client: &str,
    dataset: &str,
    purpose: &str,
    config: Option<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(config.as_deref())?;
    let store = open_store(&config).await?;
    let record = store
        .client(client)
        .await?
        .ok_or_else(|| format!("client {client} does not exist"))?;
    let mut principal = Principal::new(record.id, record.department);
    principal.roles = record.roles;
    principal.attributes = record.attributes;
    let id: DatasetId = dataset.parse()?;
    let info = datasets(&store)
        .await?
        .remove(&id)
        .ok_or_else(|| format!("dataset {id} does not exist"))?;
    let files = match &config.policies.dir {
        Some(dir) => read_policy_dir(dir).map_err(|errors| report(&errors))?,
        None => FilePolicies::default(),
    };
    let policies = PolicySet {
        grants: store
            .list_grants()
            .await?
            .into_iter()
            .filter(|grant| grant.revoked_at.is_none())
            .map(|grant| grant.grant)
            .chain(files.grants.iter().map(|grant| grant.item.clone()))
            .collect(),
        denies: files.denies.iter().map(|deny| deny.item.clone()).collect(),
    };
    let now = chrono::Utc::now();
    let read = authorize(&principal, purpose, &info, &policies, now).map_err(|denied| denied.to_string());
    let verify = authorize_verify(&principal, purpose, &info, &policies, now).ok();
    print_explanation(
        &principal.id,
        &id.to_string(),
        purpose,
        read.as_ref(),
        verify.as_ref(),
    );
    Ok(())
}

/// What `who` sees of dataset `id` for `purpose`, and why: the grants it reads through, each
/// column's form or why it is denied, and what its verify-only grants answer. Shared by
/// `policy explain` (read from the store, offline) and `access explain` (the hub's answer).
pub(super) fn print_explanation(
    who: &str,
    id: &str,
    purpose: &str,
    read: Result<&Decision, &String>,
    verify: Option<&VerifyDecision>,
) {
    match read {
        Err(denied) => println!("{who} may not read {id} for '{purpose}': {denied}"),
        Ok(decision) => {
            println!("{who} reads {id} for '{purpose}' through:");
            for grant in &decision.grants {
                let rows = grant.row_filter.as_deref().unwrap_or("every row");
                println!("  grant {:<28} rows: {rows}", grant.id);
            }
            println!("{:<24} ACCESS", "COLUMN");
            for column in &decision.columns {
                let access = match &column.access {
                    ColumnAccess::Denied { reason } => format!("denied: {reason}"),
                    ColumnAccess::Visible { through } => through
                        .iter()
                        .map(|source| match &source.mask {
                            None => format!("raw ({})", source.grant_id),
                            Some(mask) => format!("{mask} ({})", source.grant_id),
                        })
                        .collect::<Vec<_>>()
                        .join(", then "),
                };
                println!("{:<24} {access}", column.name);
            }
        }
    }
    // What its verify-only grants answer, read nothing through.
    if let Some(verify) = verify.filter(|verify| !verify.grants.is_empty()) {
        println!(
            "{who} verifies records against {id} for '{purpose}' (POST /v1/verify), each giving {}, through:",
            verify.subject_key.join(", ")
        );
        for grant in &verify.grants {
            let columns: Vec<&str> = grant.columns.iter().map(String::as_str).collect();
            println!(
                "  grant {:<28} matches on: {}; rows: {}; {}",
                grant.id,
                columns.join(", "),
                grant.row_filter.as_deref().unwrap_or("every row"),
                grant.terms,
            );
        }
    }
}
