//! `causeway dataset` and `causeway catalog`: publish datasets, evolve their contracts, and
//! see what is published, on a running hub as the signed-in client.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::Value;

use super::{HubArgs, HubClient, text};

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Publish a dataset from a spec file (YAML or JSON: contract and source), as a publisher
    /// of its department. The contract is checked against the source first.
    Publish {
        /// The spec file; `.json` is read as JSON, anything else as YAML.
        file: PathBuf,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Publish a new version of a dataset's contract, from a file holding the contract or
    /// the whole spec it was published with (whose source must not change).
    UpdateContract {
        /// The contract or spec file; the dataset is the one it names.
        file: PathBuf,
        /// Accept a change that breaks readers (a removed field, a narrowed type, ...);
        /// recorded as forced.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// A dataset's contract, source kind, versions and row count estimate.
    Show {
        /// The dataset, as DEPARTMENT.NAME.
        dataset: String,
        /// Print the hub's JSON instead of a summary.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// The versions of a dataset's contract: who published each, when, and whether forced.
    Versions {
        /// The dataset, as DEPARTMENT.NAME.
        dataset: String,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// What changed in a dataset's contract between two versions, breaking changes marked.
    Diff {
        /// The dataset, as DEPARTMENT.NAME.
        dataset: String,
        /// The earlier version; default the one before --to.
        #[arg(long)]
        from: Option<i64>,
        /// The later version; default the current one.
        #[arg(long)]
        to: Option<i64>,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Remove a dataset from the hub; its source is left untouched and its grants stop
    /// applying.
    Remove {
        /// The dataset, as DEPARTMENT.NAME.
        dataset: String,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Rebuild an accelerated dataset's in-memory copy from its source now.
    Refresh {
        /// The dataset, as DEPARTMENT.NAME.
        dataset: String,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// List the published datasets (the same as `causeway catalog`).
    List {
        /// Only datasets whose table, title or department contains this text.
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        hub: HubArgs,
    },
}

pub async fn run(command: DatasetCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        DatasetCommand::Publish { file, hub } => {
            let (document, content_type) = read_document(&file)?;
            let progress = super::terminal::spinner("publishing: checking the contract against the source");
            let client = HubClient::new(&hub)?;
            let result: Result<Value, _> = client
                .send_document(reqwest::Method::POST, "/v1/datasets", document, content_type)
                .await;
            progress.finish_and_clear();
            let dataset = result?;
            println!(
                "published {} (version {}, {} source)",
                text(&dataset["table"]),
                dataset["version"],
                text(&dataset["source"]["kind"])
            );
        }
        DatasetCommand::UpdateContract { file, force, hub } => {
            let (document, content_type) = read_document(&file)?;
            let (department, name) = named_in(&document, content_type)?;
            let progress = super::terminal::spinner("checking the new contract against the source");
            let path = format!("/v1/datasets/{department}/{name}/contract?force={force}");
            let result: Result<Value, _> = HubClient::new(&hub)?
                .send_document(reqwest::Method::PUT, &path, document, content_type)
                .await;
            progress.finish_and_clear();
            let dataset = result?;
            println!("{department}.{name} is now at version {}", dataset["version"]);
        }
        DatasetCommand::Show { dataset, json, hub } => {
            let (department, name) = split(&dataset)?;
            let detail: Value = HubClient::new(&hub)?
                .get(&format!("/v1/datasets/{department}/{name}"))
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
            } else {
                print_detail(&detail);
            }
        }
        DatasetCommand::Versions { dataset, hub } => {
            let (department, name) = split(&dataset)?;
            let detail: Value = HubClient::new(&hub)?
                .get(&format!("/v1/datasets/{department}/{name}"))
                .await?;
            println!("{:>7}  {:<26} {:<28} FORCED", "VERSION", "PUBLISHED AT", "BY");
            for version in detail["versions"].as_array().into_iter().flatten() {
                println!(
                    "{:>7}  {:<26} {:<28} {}",
                    version["version"],
                    text(&version["created_at"]),
                    text(&version["created_by"]),
                    if version["forced"] == true { "yes" } else { "no" }
                );
            }
        }
        DatasetCommand::Diff {
            dataset,
            from,
            to,
            hub,
        } => {
            let (department, name) = split(&dataset)?;
            let mut path = format!("/v1/datasets/{department}/{name}/diff?");
            if let Some(from) = from {
                path.push_str(&format!("from={from}&"));
            }
            if let Some(to) = to {
                path.push_str(&format!("to={to}"));
            }
            let diff: Value = HubClient::new(&hub)?.get(&path).await?;
            println!("{dataset}: version {} to {}", diff["from"], diff["to"]);
            let changes = diff["changes"].as_array().cloned().unwrap_or_default();
            if changes.is_empty() {
                println!("  no changes");
            }
            for change in &changes {
                let field = change["field"]
                    .as_str()
                    .map(|field| format!("{field}: "))
                    .unwrap_or_default();
                let what = match (change["from"].as_str(), change["to"].as_str()) {
                    (Some(from), Some(to)) => format!("{from} -> {to}"),
                    (None, Some(to)) => format!("added: {to}"),
                    (Some(from), None) => format!("removed: {from}"),
                    (None, None) => String::new(),
                };
                let breaking = if change["breaking"] == true {
                    "  BREAKING"
                } else {
                    ""
                };
                println!("  {field}{} {what}{breaking}", text(&change["kind"]));
            }
        }
        DatasetCommand::Remove { dataset, hub } => {
            let (department, name) = split(&dataset)?;
            HubClient::new(&hub)?
                .delete(&format!("/v1/datasets/{department}/{name}"))
                .await?;
            println!("removed {dataset}; its source is untouched");
        }
        DatasetCommand::Refresh { dataset, hub } => {
            let (department, name) = split(&dataset)?;
            let progress = super::terminal::spinner(&format!("refreshing {dataset}"));
            let client = HubClient::new(&hub)?;
            let result: Result<Value, _> = client
                .post(
                    &format!("/v1/datasets/{department}/{name}/refresh"),
                    &serde_json::json!({}),
                )
                .await;
            progress.finish_and_clear();
            let status = result?;
            println!(
                "refreshed {dataset}: {} rows, {} bytes in memory, at {}",
                status["rows"],
                status["bytes"],
                text(&status["refreshed_at"])
            );
        }
        DatasetCommand::List { search, hub } => catalog(&hub, search.as_deref()).await?,
    }
    Ok(())
}

/// The catalog as a table: every published dataset, or those matching `search`.
pub async fn catalog(hub: &HubArgs, search: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
    let catalog: Value = HubClient::new(hub)?.get("/v1/catalog").await?;
    let search = search.map(str::to_lowercase);
    let mut lines = vec![format!(
        "{:<40} {:<8} {:>7}  {}",
        "TABLE", "SOURCE", "VERSION", "TITLE"
    )];
    for department in catalog["departments"].as_array().into_iter().flatten() {
        for dataset in department["datasets"].as_array().into_iter().flatten() {
            let table = text(&dataset["table"]);
            let mut title = dataset["title"].as_str().unwrap_or_default().to_owned();
            if let Some(search) = &search {
                let haystack = format!("{table} {title}").to_lowercase();
                if !haystack.contains(search.as_str()) {
                    continue;
                }
            }
            if dataset["available"] == Value::Bool(false) {
                title.push_str("  [unavailable]");
            }
            if dataset["accelerated"] == Value::Bool(true) {
                title.push_str("  [in memory]");
            }
            let offers_verify = dataset["offers"]
                .as_array()
                .is_some_and(|offers| offers.iter().any(|kind| kind == "verify"));
            if offers_verify {
                title.push_str("  [read or verify]");
            }
            lines.push(format!(
                "{:<40} {:<8} {:>7}  {}",
                table,
                text(&dataset["source_kind"]),
                dataset["version"].as_i64().unwrap_or_default(),
                title
            ));
        }
    }
    println!("{}", lines.join("\n"));
    Ok(())
}

fn print_detail(detail: &Value) {
    println!("{}  {}", text(&detail["table"]), text(&detail["title"]));
    if let Some(description) = detail["description"].as_str().filter(|text| !text.is_empty()) {
        println!("  {description}");
    }
    let owner = &detail["contract"]["owner"];
    println!("  owner:    {} <{}>", text(&owner["name"]), text(&owner["email"]));
    println!(
        "  source:   {} ({})",
        text(&detail["source"]["kind"]),
        text(&detail["source"]["location"])
    );
    println!(
        "  version:  {} (published by {}, updated {})",
        detail["version"],
        text(&detail["published_by"]),
        text(&detail["updated_at"])
    );
    if let Some(rows) = detail["row_count_estimate"].as_u64() {
        println!("  rows:     about {rows}");
    }
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let key = names(&detail["primary_key"]);
    if !key.is_empty() {
        println!("  key:      {}", key.join(", "));
    }
    // Whom a row is about: what verify-only grants match by and distinct-person quotas count.
    let subject = names(&detail["subject_key"]);
    if !subject.is_empty() {
        println!(
            "  subject:  {} (verify-only grants and distinct-person quotas count people by it)",
            subject.join(", ")
        );
    }
    println!(
        "  {:<28} {:<26} {:<9} CLASSIFICATION",
        "FIELD", "TYPE", "NULLABLE"
    );
    for field in detail["contract"]["fields"].as_array().into_iter().flatten() {
        println!(
            "  {:<28} {:<26} {:<9} {}",
            text(&field["name"]),
            text(&field["type"]),
            if field["nullable"] == false { "no" } else { "yes" },
            field["classification"].as_str().unwrap_or("internal")
        );
    }
}

/// A spec or contract file's text and content type (`.json` is JSON, anything else YAML).
fn read_document(file: &Path) -> Result<(String, &'static str), String> {
    let document =
        std::fs::read_to_string(file).map_err(|error| format!("cannot read {}: {error}", file.display()))?;
    let content_type = match file.extension().and_then(|ext| ext.to_str()) {
        Some("json") => "application/json",
        _ => "application/yaml",
    };
    Ok((document, content_type))
}

/// The dataset a contract, or a spec's contract, names.
fn named_in(document: &str, content_type: &str) -> Result<(String, String), String> {
    let value: Value = if content_type == "application/json" {
        serde_json::from_str(document).map_err(|error| error.to_string())?
    } else {
        serde_norway::from_str(document).map_err(|error| error.to_string())?
    };
    let contract = if value.get("contract").is_some() {
        &value["contract"]
    } else {
        &value
    };
    match (contract["department"].as_str(), contract["name"].as_str()) {
        (Some(department), Some(name)) => Ok((department.to_owned(), name.to_owned())),
        _ => Err("the file names no dataset: a contract needs department and name".into()),
    }
}

/// `DEPARTMENT.NAME` into its parts.
pub fn split(dataset: &str) -> Result<(&str, &str), String> {
    dataset
        .split_once('.')
        .filter(|(department, name)| !department.is_empty() && !name.is_empty())
        .ok_or_else(|| format!("'{dataset}' is not DEPARTMENT.NAME"))
}
