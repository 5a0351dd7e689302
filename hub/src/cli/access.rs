//! `causeway access`: ask for access, decide requests, and see what you may read, on a
//! running hub as the signed-in client.

use clap::Subcommand;
use serde_json::{Value, json};

use super::{HubArgs, HubClient};

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// The access requests that concern you.
    Requests {
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Ask for access to columns of a dataset for a purpose.
    Request {
        /// `department.name`.
        #[arg(long)]
        dataset: String,
        /// Comma-separated; `*` for all.
        #[arg(long, value_delimiter = ',', default_value = "*")]
        columns: Vec<String>,
        #[arg(long)]
        purpose: String,
        #[arg(long)]
        justification: String,
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Approve or refuse a request, as its owner's publisher or a security administrator.
    Decide {
        id: String,
        /// Refuse instead of approving; a refusal needs --reason.
        #[arg(long)]
        reject: bool,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// The grants in force that lapse within some days unless their owner confirms them.
    Due {
        #[arg(long, default_value_t = 30)]
        within_days: u32,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Confirm a grant on your department's dataset for another recertification interval.
    Confirm {
        /// The grant's id.
        id: String,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// What you would see of a dataset for a purpose, and why.
    Explain {
        #[arg(long)]
        dataset: String,
        #[arg(long)]
        purpose: String,
        #[command(flatten)]
        hub: HubArgs,
    },
}

pub async fn run(command: AccessCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        AccessCommand::Requests { hub } => {
            let requests: Value = HubClient::new(&hub)?.get("/v1/access-requests").await?;
            println!(
                "{:<22} {:<34} {:<18} {:<22} {:<9} DEADLINE",
                "REQUEST", "DATASET", "BY", "PURPOSE", "STATE"
            );
            for request in requests.as_array().into_iter().flatten() {
                let overdue = if request["overdue"] == true {
                    "  overdue"
                } else {
                    ""
                };
                println!(
                    "{:<22} {:<34} {:<18} {:<22} {:<9} {}{overdue}",
                    text(&request["id"]),
                    text(&request["dataset"]),
                    text(&request["requester"]),
                    text(&request["purpose"]),
                    text(&request["state"]),
                    text(&request["deadline"]),
                );
            }
        }
        AccessCommand::Request {
            dataset,
            columns,
            purpose,
            justification,
            days,
            hub,
        } => {
            let body = json!({"dataset": dataset, "columns": columns, "purpose": purpose,
                              "justification": justification, "days": days});
            let request: Value = HubClient::new(&hub)?
                .send_document(
                    reqwest::Method::POST,
                    "/v1/access-requests",
                    body.to_string(),
                    "application/json",
                )
                .await?;
            match request["state"].as_str() {
                Some("approved") => println!(
                    "request {} was approved at once under the dataset's published conditions: grant {}",
                    text(&request["id"]),
                    text(&request["grant_id"])
                ),
                _ => println!(
                    "request {} waits for decisions until {}",
                    text(&request["id"]),
                    text(&request["deadline"])
                ),
            }
        }
        AccessCommand::Decide {
            id,
            reject,
            reason,
            hub,
        } => {
            let body = json!({"approve": !reject, "reason": reason});
            let request: Value = HubClient::new(&hub)?
                .send_document(
                    reqwest::Method::POST,
                    &format!("/v1/access-requests/{id}/decision"),
                    body.to_string(),
                    "application/json",
                )
                .await?;
            println!("request {id} is {}", text(&request["state"]));
        }
        AccessCommand::Due { within_days, hub } => {
            let grants: Value = HubClient::new(&hub)?
                .get(&format!("/v1/grants/due?within_days={within_days}"))
                .await?;
            println!(
                "{:<28} {:<34} {:<28} {:<26} LAPSES",
                "GRANT", "DATASET", "SUBJECT", "PURPOSES"
            );
            for grant in grants.as_array().into_iter().flatten() {
                let purposes: Vec<&str> = grant["purposes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                println!(
                    "{:<28} {:<34} {:<28} {:<26} {}",
                    text(&grant["id"]),
                    text(&grant["dataset"]),
                    grant["subject"].to_string(),
                    purposes.join(","),
                    text(&grant["recertify_by"]),
                );
            }
        }
        AccessCommand::Confirm { id, hub } => {
            let grant: Value = HubClient::new(&hub)?
                .send_document(
                    reqwest::Method::POST,
                    &format!("/v1/grants/{id}/confirm"),
                    String::new(),
                    "application/json",
                )
                .await?;
            println!("grant {id} is confirmed until {}", text(&grant["recertify_by"]));
        }
        AccessCommand::Explain {
            dataset,
            purpose,
            hub,
        } => {
            let path = format!(
                "/v1/access/explain?dataset={}&purpose={}",
                url::form_urlencoded::byte_serialize(dataset.as_bytes()).collect::<String>(),
                url::form_urlencoded::byte_serialize(purpose.as_bytes()).collect::<String>()
            );
            let explanation: Value = HubClient::new(&hub)?.get(&path).await?;
            println!("{}", serde_json::to_string_pretty(&explanation)?);
        }
    }
    Ok(())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}
