//! `causeway access`: ask for access, decide requests, and see what you may read, on a
//! running hub as the signed-in client.

use clap::Subcommand;
use serde_json::{Value, json};

use super::{HubArgs, HubClient, text};

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// The access requests that concern you.
    Requests {
        #[command(flatten)]
        hub: HubArgs,
    },
    /// One access request: each column in the form asked for and as each reviewer would
    /// grant it, the row filter, the reviews and the deadline.
    Show {
        /// The request's id, as `access requests` shows it.
        id: String,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Ask for access to columns of a dataset for a purpose.
    Request {
        /// The dataset, as DEPARTMENT.NAME.
        #[arg(long)]
        dataset: String,
        /// Comma-separated; `*` for all.
        #[arg(long, value_delimiter = ',', default_value = "*")]
        columns: Vec<String>,
        /// What the data is for, e.g. urban-planning; the grant serves this purpose only.
        #[arg(long)]
        purpose: String,
        /// Why the purpose needs these columns, for the approvers.
        #[arg(long)]
        justification: String,
        /// How many days the access should last.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Columns wanted raw, lifting their classification's default mask; comma-separated.
        #[arg(long, value_delimiter = ',')]
        raw: Vec<String>,
        /// A column wanted under a mask, as COLUMN=MASK (null, hash, year_only,
        /// partial:FIRST:LAST, bucket:WIDTH, prefix:TEXT); repeat for more. Other columns are
        /// asked for as their classification shows them by default.
        #[arg(long = "mask", value_parser = parse_mask)]
        masks: Vec<(String, Value)>,
        /// Ask for a verify-only grant: records matched against the dataset on --columns
        /// (its subject key among them), nothing read.
        #[arg(long, conflicts_with_all = ["raw", "masks"])]
        verify: bool,
        /// With --verify: answer which of the given columns match, not only whether all do.
        #[arg(long, requires = "verify")]
        column_matches: bool,
        #[command(flatten)]
        limits: VerifyLimits,
        /// Print only the request's id, for scripts: `REQUEST=$(causeway access request ... --quiet)`.
        #[arg(long, short)]
        quiet: bool,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Approve or refuse a request, as its owner's publisher or a security administrator.
    Decide {
        /// The request's id, as `access requests` shows it.
        id: String,
        /// Refuse instead of approving; a refusal needs --reason.
        #[arg(long)]
        reject: bool,
        /// Why: shown to the requester, and required with --reject.
        #[arg(long)]
        reason: Option<String>,
        /// Show a column as COLUMN=MASK instead of the form asked for; it must reveal no more
        /// (see `--mask` of `access request`). Repeat for more.
        #[arg(long = "mask", value_parser = parse_mask)]
        masks: Vec<(String, Value)>,
        /// Grant only the rows this SQL condition holds for, e.g. "town = 'Guicheng'".
        #[arg(long)]
        row_filter: Option<String>,
        /// For a verify request asking which columns match: answer only whether all do.
        #[arg(long)]
        no_column_matches: bool,
        #[command(flatten)]
        limits: VerifyLimits,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Take back a request of yours that still waits for a decision.
    Withdraw {
        /// The request's id, as `access requests` shows it.
        id: String,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Before deciding: the grant approving a request with these masks and row filter
    /// would make, and the first 20 rows the requester would then receive (for a verify
    /// request, what its answers hold). Recorded in the audit log as a dry run.
    DryRun {
        /// The request's id, as `access requests` shows it.
        id: String,
        /// As for `access decide`: a column as COLUMN=MASK instead of the form asked for.
        #[arg(long = "mask", value_parser = parse_mask)]
        masks: Vec<(String, Value)>,
        /// As for `access decide`: only the rows this SQL condition holds for.
        #[arg(long)]
        row_filter: Option<String>,
        /// As for `access decide`: answer only whether all columns match.
        #[arg(long)]
        no_column_matches: bool,
        #[command(flatten)]
        limits: VerifyLimits,
        /// Print the hub's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// The grants in force that lapse within some days unless their owner confirms them.
    Due {
        /// How many days ahead to look.
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
        /// The dataset, as DEPARTMENT.NAME.
        #[arg(long)]
        dataset: String,
        /// The purpose the data would be read for.
        #[arg(long)]
        purpose: String,
        /// Print the hub's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        hub: HubArgs,
    },
}

/// How much a verify grant may be asked: for a grant or a request, its terms (the defaults
/// where left out); for a decision, a narrowing of those asked for (as asked where left out).
#[derive(Debug, clap::Args)]
pub struct VerifyLimits {
    /// Verify only: records about one subject (by the dataset's subject key) the client may
    /// ask about a day, at least 1. Left out: 3 for a grant or a request; for a decision, as
    /// the request asked.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    attempts_per_subject: Option<u32>,
    /// Verify only: records the client may ask about a day, whoever they are about, at least
    /// 1. Left out: 10000 for a grant or a request; for a decision, as the request asked.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    records_per_day: Option<u64>,
}

impl VerifyLimits {
    /// The `verify` object of a grant, request or decision, with `column_matches` when it is
    /// said; `null` when nothing is.
    pub fn terms(&self, column_matches: Option<bool>) -> Value {
        let mut terms = serde_json::Map::new();
        if let Some(column_matches) = column_matches {
            terms.insert("column_matches".into(), column_matches.into());
        }
        if let Some(attempts) = self.attempts_per_subject {
            terms.insert("max_attempts_per_subject".into(), attempts.into());
        }
        if let Some(records) = self.records_per_day {
            terms.insert("max_records_per_day".into(), records.into());
        }
        if terms.is_empty() {
            Value::Null
        } else {
            Value::Object(terms)
        }
    }
}

pub async fn run(command: AccessCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        AccessCommand::Requests { hub } => {
            let requests: Value = HubClient::new(&hub)?.get("/v1/access-requests").await?;
            let rows: Vec<Vec<String>> = requests
                .as_array()
                .into_iter()
                .flatten()
                .map(|request| {
                    let overdue = if request["overdue"] == true {
                        "  overdue"
                    } else {
                        ""
                    };
                    vec![
                        text(&request["id"]).to_owned(),
                        text(&request["dataset"]).to_owned(),
                        request["kind"].as_str().unwrap_or("read").to_owned(),
                        text(&request["requester"]).to_owned(),
                        text(&request["purpose"]).to_owned(),
                        text(&request["state"]).to_owned(),
                        format!("{}{overdue}", text(&request["deadline"])),
                    ]
                })
                .collect();
            super::print_table(
                &["REQUEST", "DATASET", "KIND", "BY", "PURPOSE", "STATE", "DEADLINE"],
                &rows,
            );
        }
        AccessCommand::Show { id, hub } => {
            let request: Value = HubClient::new(&hub)?
                .get(&format!("/v1/access-requests/{id}"))
                .await?;
            println!("{}", serde_json::to_string_pretty(&request)?);
        }
        AccessCommand::Request {
            dataset,
            columns,
            purpose,
            justification,
            days,
            raw,
            masks,
            verify,
            column_matches,
            limits,
            quiet,
            hub,
        } => {
            let masks: serde_json::Map<String, Value> = masks.into_iter().collect();
            let terms = limits.terms(column_matches.then_some(true));
            if !verify && !terms.is_null() {
                return Err("--attempts-per-subject and --records-per-day are terms of a verify request: add --verify".into());
            }
            let body = json!({"dataset": dataset, "columns": columns, "purpose": purpose,
                              "justification": justification, "days": days,
                              "unmasked": raw, "masks": masks,
                              "kind": if verify { "verify" } else { "read" }, "verify": terms});
            let request: Value = HubClient::new(&hub)?
                .send_document(
                    reqwest::Method::POST,
                    "/v1/access-requests",
                    body.to_string(),
                    "application/json",
                )
                .await?;
            if quiet {
                println!("{}", text(&request["id"]));
                return Ok(());
            }
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
            masks,
            row_filter,
            no_column_matches,
            limits,
            hub,
        } => {
            let masks: serde_json::Map<String, Value> = masks.into_iter().collect();
            let body = json!({"approve": !reject, "reason": reason, "masks": masks,
                              "row_filter": row_filter,
                              "verify": limits.terms(no_column_matches.then_some(false))});
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
        AccessCommand::Withdraw { id, hub } => {
            let request: Value = HubClient::new(&hub)?
                .send_document(
                    reqwest::Method::POST,
                    &format!("/v1/access-requests/{id}/withdraw"),
                    String::new(),
                    "application/json",
                )
                .await?;
            println!("request {id} is {}", text(&request["state"]));
        }
        AccessCommand::DryRun {
            id,
            masks,
            row_filter,
            no_column_matches,
            limits,
            json,
            hub,
        } => {
            let masks: serde_json::Map<String, Value> = masks.into_iter().collect();
            let body = json!({"masks": masks, "row_filter": row_filter,
                              "verify": limits.terms(no_column_matches.then_some(false))});
            let answer: Value = HubClient::new(&hub)?
                .send_document(
                    reqwest::Method::POST,
                    &format!("/v1/access-requests/{id}/dry-run"),
                    body.to_string(),
                    "application/json",
                )
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print_dry_run(&answer);
            }
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
            json,
            hub,
        } => {
            let path = format!(
                "/v1/access/explain?dataset={}&purpose={}",
                url::form_urlencoded::byte_serialize(dataset.as_bytes()).collect::<String>(),
                url::form_urlencoded::byte_serialize(purpose.as_bytes()).collect::<String>()
            );
            let explanation: Value = HubClient::new(&hub)?.get(&path).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&explanation)?);
            } else {
                print_explanation(&explanation, &dataset, &purpose)?;
            }
        }
    }
    Ok(())
}

/// The hub's explanation (`GET /v1/access/explain`) as `policy explain` prints its own.
fn print_explanation(
    explanation: &Value,
    dataset: &str,
    purpose: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let decision: Option<causeway_policies::Decision> =
        serde_json::from_value(explanation["decision"].clone())?;
    let verify: Option<causeway_policies::VerifyDecision> =
        serde_json::from_value(explanation["verify"].clone())?;
    let reason = explanation["reason"]
        .as_str()
        .unwrap_or("no grant applies")
        .to_owned();
    super::policy::print_explanation(
        text(&explanation["principal"]),
        dataset,
        purpose,
        decision.as_ref().ok_or(&reason),
        verify.as_ref(),
    );
    Ok(())
}

/// A dry run as a reviewer reads it: whose view, under which grant, then the rows (or a
/// verify grant's answer).
fn print_dry_run(answer: &Value) {
    let grant = &answer["grant"];
    println!(
        "as {} of {} would see {} for {}",
        text(&answer["read_as"]["id"]),
        text(&answer["read_as"]["department"]),
        text(&grant["dataset"]),
        grant["purposes"],
    );
    for field in ["kind", "columns", "masks", "unmasked", "row_filter", "expires_at"] {
        if !grant[field].is_null() {
            println!("  {field}: {}", grant[field]);
        }
    }
    if let Some(verify) = answer.get("verify") {
        println!("each record is answered with: {}", verify["answer"]);
        match serde_json::from_value::<causeway_policies::VerifyTerms>(verify["terms"].clone()) {
            Ok(terms) => println!("terms: {terms}"),
            Err(_) => println!("terms: {}", verify["terms"]),
        }
        return;
    }
    let sample = &answer["sample"];
    let columns: Vec<&str> = sample["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|column| column["name"].as_str())
        .collect();
    let rows: Vec<Vec<String>> = sample["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            columns
                .iter()
                .map(|column| match &row[*column] {
                    Value::String(value) => value.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            rows.iter()
                .map(|row| row[index].chars().count())
                .chain([column.chars().count()])
                .max()
                .unwrap_or_default()
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, &width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(columns.clone()));
    for row in &rows {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
    println!(
        "{} {} (at most 20)",
        rows.len(),
        if rows.len() == 1 { "row" } else { "rows" }
    );
}

/// `COLUMN=MASK`, the mask as `null`, `hash`, `year_only`, `partial:FIRST:LAST`,
/// `bucket:WIDTH` or `prefix:TEXT`, into the column and the mask's JSON.
pub(super) fn parse_mask(text: &str) -> Result<(String, Value), String> {
    let (column, mask) = text
        .split_once('=')
        .filter(|(column, _)| !column.is_empty())
        .ok_or_else(|| format!("'{text}' is not COLUMN=MASK"))?;
    let mut parts = mask.splitn(3, ':');
    let kind = parts.next().unwrap_or_default();
    let number = |part: Option<&str>, what: &str| -> Result<u64, String> {
        part.unwrap_or("0")
            .parse()
            .map_err(|_| format!("'{mask}': {what} is a whole number"))
    };
    let mask = match kind {
        "null" | "hash" | "year_only" => json!({ "kind": kind }),
        "partial" => json!({
            "kind": "partial",
            "first": number(parts.next(), "FIRST")?,
            "last": number(parts.next(), "LAST")?,
        }),
        "bucket" => {
            let width: f64 = parts
                .next()
                .and_then(|width| width.parse().ok())
                .ok_or_else(|| format!("'{mask}': bucket:WIDTH"))?;
            json!({ "kind": "bucket", "width": width })
        }
        "prefix" => json!({ "kind": "prefix", "before": parts.next().unwrap_or(",") }),
        _ => {
            return Err(format!(
                "unknown mask '{kind}': null, hash, year_only, partial:FIRST:LAST, bucket:WIDTH or prefix:TEXT"
            ));
        }
    };
    Ok((column.to_owned(), mask))
}
