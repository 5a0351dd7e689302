//! `causeway alerts`: the alerts the hub's rules raised, and clearing them, on a running hub
//! as a security administrator (auditors may list them).

use clap::Subcommand;
use serde_json::{Value, json};

use super::{HubArgs, HubClient, text};

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// The alerts raised, oldest first.
    List {
        /// Only the alerts not yet cleared.
        #[arg(long)]
        open: bool,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Clear an open alert; a suspension it caused ends at once.
    Clear {
        /// The alert's id, as `alerts list` shows it.
        id: String,
        /// Why, kept with the alert and in the audit record.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        hub: HubArgs,
    },
}

pub async fn run(command: AlertsCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        AlertsCommand::List { open, hub } => {
            let alerts: Value = HubClient::new(&hub)?
                .get(&format!("/v1/alerts?open={open}"))
                .await?;
            println!(
                "{:<40} {:<24} {:<22} {:<10} {:<26} DETAIL",
                "ALERT", "RULE", "PRINCIPAL", "STATE", "RAISED AT"
            );
            for alert in alerts.as_array().into_iter().flatten() {
                let state = match (alert["cleared_at"].is_null(), alert["suspends"] == true) {
                    (false, _) => "cleared",
                    (true, true) => "suspends",
                    (true, false) => "open",
                };
                println!(
                    "{:<40} {:<24} {:<22} {:<10} {:<26} {}",
                    text(&alert["id"]),
                    text(&alert["rule"]),
                    text(&alert["principal"]),
                    state,
                    text(&alert["raised_at"]),
                    alert["detail"]
                );
            }
        }
        AlertsCommand::Clear { id, reason, hub } => {
            let path = super::with_reason(&format!("/v1/alerts/{id}/clear"), reason.as_deref());
            let alert: Value = HubClient::new(&hub)?.post(&path, &json!({})).await?;
            println!(
                "alert {id} is cleared; {} may query again",
                text(&alert["principal"])
            );
        }
    }
    Ok(())
}
