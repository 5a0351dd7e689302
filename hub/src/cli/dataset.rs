use std::path::PathBuf;

use clap::Subcommand;
use serde_json::Value;

use super::{HubArgs, HubClient};

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Publish a dataset from a spec file (YAML or JSON: contract and source).
    Publish {
        file: PathBuf,
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
    /// List the published datasets.
    List {
        #[command(flatten)]
        hub: HubArgs,
    },
}

pub async fn run(command: DatasetCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        DatasetCommand::Publish { file, hub } => {
            let document = std::fs::read_to_string(&file)
                .map_err(|error| format!("cannot read {}: {error}", file.display()))?;
            let content_type = match file.extension().and_then(|ext| ext.to_str()) {
                Some("json") => "application/json",
                _ => "application/yaml",
            };
            let progress = super::terminal::spinner("publishing: checking the contract against the source");
            let client = HubClient::new(&hub)?;
            let result: Result<Value, _> = client
                .send_document(reqwest::Method::POST, "/v1/datasets", document, content_type)
                .await;
            progress.finish_and_clear();
            let dataset = result?;
            println!(
                "published {} (version {}, {} source)",
                dataset["table"].as_str().unwrap_or("?"),
                dataset["version"],
                dataset["source"]["kind"].as_str().unwrap_or("?")
            );
        }
        DatasetCommand::Refresh { dataset, hub } => {
            let (department, name) = dataset
                .split_once('.')
                .filter(|(department, name)| !department.is_empty() && !name.is_empty())
                .ok_or_else(|| format!("'{dataset}' is not DEPARTMENT.NAME"))?;
            let progress = super::terminal::spinner(&format!("refreshing {dataset}"));
            let client = HubClient::new(&hub)?;
            let result: Result<Value, _> = client
                .send_document(
                    reqwest::Method::POST,
                    &format!("/v1/datasets/{department}/{name}/refresh"),
                    "{}".to_owned(),
                    "application/json",
                )
                .await;
            progress.finish_and_clear();
            let status = result?;
            println!(
                "refreshed {dataset}: {} rows, {} bytes in memory, at {}",
                status["rows"],
                status["bytes"],
                status["refreshed_at"].as_str().unwrap_or("?")
            );
        }
        DatasetCommand::List { hub } => {
            let catalog: Value = HubClient::new(&hub)?.get("/v1/catalog").await?;
            let mut lines = vec![format!(
                "{:<40} {:<8} {:>7}  {}",
                "TABLE", "SOURCE", "VERSION", "TITLE"
            )];
            for department in catalog["departments"].as_array().into_iter().flatten() {
                for dataset in department["datasets"].as_array().into_iter().flatten() {
                    let mut title = dataset["title"].as_str().unwrap_or_default().to_owned();
                    if dataset["available"] == Value::Bool(false) {
                        title.push_str("  [unavailable]");
                    }
                    if dataset["accelerated"] == Value::Bool(true) {
                        title.push_str("  [in memory]");
                    }
                    lines.push(format!(
                        "{:<40} {:<8} {:>7}  {}",
                        dataset["table"].as_str().unwrap_or_default(),
                        dataset["source_kind"].as_str().unwrap_or_default(),
                        dataset["version"].as_i64().unwrap_or_default(),
                        title
                    ));
                }
            }
            println!("{}", lines.join("\n"));
        }
    }
    Ok(())
}
