//! `causeway grant` and `causeway deny`: the grants and deny rules in force, on a running hub
//! as the signed-in client. Security administrators see and make every grant; a publisher
//! sees and revokes the grants on their department's datasets; anyone sees their own.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::{HubArgs, HubClient, text};

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// The grants you may see, in force first; revoked and expired ones with --all.
    List {
        /// Only the grants on this dataset (DEPARTMENT.NAME).
        #[arg(long)]
        dataset: Option<String>,
        /// Also the revoked and expired grants.
        #[arg(long)]
        all: bool,
        /// Print the hub's JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Make a grant (security administrators): from --file, or from the options below.
    Create(Box<NewGrant>),
    /// Revoke a grant (security administrators, or publishers of the dataset's department);
    /// it stops counting at the next query.
    Revoke {
        /// The grant's id, as `grant list` shows it.
        id: String,
        /// Why, kept with the grant and in the audit record.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        hub: HubArgs,
    },
}

/// A grant to make, as `grant create` takes it.
#[derive(Debug, Args)]
pub struct NewGrant {
    /// A grant as YAML or JSON (subject, dataset, columns, masks, unmasked, row_filter,
    /// purposes, valid_from, expires_at, max_rows_per_query, max_rows_per_day,
    /// max_subjects_per_day, kind, verify); the
    /// other options are then not used.
    #[arg(long, conflicts_with_all = ["dataset", "client", "department"])]
    file: Option<PathBuf>,
    /// The dataset, as DEPARTMENT.NAME.
    #[arg(long, required_unless_present = "file")]
    dataset: Option<String>,
    /// The client the grant is for.
    #[arg(long, conflicts_with = "department", required_unless_present_any = ["file", "department"])]
    client: Option<String>,
    /// The department the grant is for: every client of it, or with --role those holding
    /// that role.
    #[arg(long)]
    department: Option<String>,
    /// With --department: only clients with this role (analyst or publisher).
    #[arg(long, requires = "department")]
    role: Option<String>,
    /// The columns granted, comma-separated; `*` for all.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    columns: Vec<String>,
    /// The purposes the grant serves, comma-separated.
    #[arg(long = "purpose", value_delimiter = ',', required_unless_present = "file")]
    purposes: Vec<String>,
    /// How many days the grant lasts from now.
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// Columns shown raw, lifting their classification's default mask; comma-separated.
    #[arg(long, value_delimiter = ',')]
    raw: Vec<String>,
    /// A column under a mask, as COLUMN=MASK (see `access request --mask`); repeat for more.
    #[arg(long = "mask", value_parser = super::access::parse_mask)]
    masks: Vec<(String, Value)>,
    /// Only the rows this SQL condition holds for, e.g. "town = 'Guicheng'".
    #[arg(long)]
    row_filter: Option<String>,
    /// At most this many rows per query.
    #[arg(long)]
    max_rows_per_query: Option<u64>,
    /// At most this many rows per day.
    #[arg(long)]
    max_rows_per_day: Option<u64>,
    /// At most this many different people (by the dataset's subject key) whose rows are
    /// read per day.
    #[arg(long)]
    max_subjects_per_day: Option<u64>,
    /// A verify-only grant: the client matches records on --columns (the dataset's subject
    /// key among them) through `POST /v1/verify` and reads nothing.
    #[arg(long, conflicts_with_all = ["raw", "masks", "max_rows_per_query", "max_rows_per_day", "max_subjects_per_day"])]
    verify: bool,
    /// With --verify: answers also say which of a record's columns match.
    #[arg(long, requires = "verify")]
    column_matches: bool,
    #[command(flatten)]
    verify_limits: super::access::VerifyLimits,
    #[command(flatten)]
    hub: HubArgs,
}

#[derive(Debug, Subcommand)]
pub enum DenyCommand {
    /// The deny rules in force (from the policy files): what is never shown, to whom, why.
    List {
        #[command(flatten)]
        hub: HubArgs,
    },
}

pub async fn run(command: GrantCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        GrantCommand::List {
            dataset,
            all,
            json,
            hub,
        } => {
            let grants: Value = HubClient::new(&hub)?.get("/v1/grants").await?;
            let now = chrono::Utc::now();
            let shown: Vec<&Value> = grants
                .as_array()
                .into_iter()
                .flatten()
                .filter(|grant| {
                    dataset
                        .as_deref()
                        .is_none_or(|dataset| grant["dataset"] == dataset)
                })
                .filter(|grant| all || in_force(grant, now))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&shown)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = shown
                .into_iter()
                .map(|grant| {
                    let state = if grant["revoked_at"].is_string() {
                        match grant["revoked_reason"].as_str() {
                            Some(reason) => format!("revoked: {reason}"),
                            None => "revoked".to_owned(),
                        }
                    } else if in_force(grant, now) {
                        "in force".to_owned()
                    } else {
                        "expired".to_owned()
                    };
                    vec![
                        text(&grant["id"]).to_owned(),
                        text(&grant["dataset"]).to_owned(),
                        // `read` (rows) or `verify` (answers about a record one brings).
                        grant["kind"].as_str().unwrap_or("read").to_owned(),
                        subject(&grant["subject"]),
                        strings(&grant["purposes"]).join(","),
                        state,
                        grant["expires_at"].as_str().unwrap_or("never").to_owned(),
                    ]
                })
                .collect();
            super::print_table(
                &[
                    "GRANT", "DATASET", "KIND", "SUBJECT", "PURPOSES", "STATE", "EXPIRES",
                ],
                &rows,
            );
        }
        GrantCommand::Create(new) => {
            let NewGrant {
                file,
                dataset,
                client,
                department,
                role,
                columns,
                purposes,
                days,
                raw,
                masks,
                row_filter,
                max_rows_per_query,
                max_rows_per_day,
                max_subjects_per_day,
                verify,
                column_matches,
                verify_limits,
                hub,
            } = *new;
            let body = match file {
                Some(file) => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|error| format!("cannot read {}: {error}", file.display()))?;
                    serde_norway::from_str::<Value>(&text)
                        .map_err(|error| format!("{}: {error}", file.display()))?
                }
                None => {
                    let subject = match (client, department, role) {
                        (Some(client), _, _) => json!({ "client": client }),
                        (None, Some(department), Some(role)) => {
                            json!({ "department": department, "role": role })
                        }
                        (None, Some(department), None) => json!({ "department": department }),
                        (None, None, _) => {
                            return Err("name the grantee with --client or --department".into());
                        }
                    };
                    let expires = chrono::Utc::now() + chrono::Duration::days(i64::from(days));
                    let mut grant = json!({
                        "subject": subject,
                        "dataset": dataset,
                        "columns": columns,
                        "purposes": purposes,
                        "unmasked": raw,
                        "masks": masks.into_iter().collect::<Map<String, Value>>(),
                        "expires_at": expires.to_rfc3339(),
                    });
                    for (key, value) in [
                        ("row_filter", row_filter.map(Value::from)),
                        ("max_rows_per_query", max_rows_per_query.map(Value::from)),
                        ("max_rows_per_day", max_rows_per_day.map(Value::from)),
                        ("max_subjects_per_day", max_subjects_per_day.map(Value::from)),
                    ] {
                        if let Some(value) = value {
                            grant[key] = value;
                        }
                    }
                    let terms = verify_limits.terms(Some(column_matches));
                    if verify {
                        grant["kind"] = json!("verify");
                        grant["verify"] = terms;
                    } else if terms.as_object().is_some_and(|terms| terms.len() > 1) {
                        return Err("--attempts-per-subject and --records-per-day are terms of a verify grant: add --verify".into());
                    }
                    grant
                }
            };
            let grant: Value = HubClient::new(&hub)?.post("/v1/grants", &body).await?;
            println!(
                "grant {} on {} for {} until {}",
                text(&grant["id"]),
                text(&grant["dataset"]),
                subject(&grant["subject"]),
                grant["expires_at"].as_str().unwrap_or("revoked")
            );
        }
        GrantCommand::Revoke { id, reason, hub } => {
            let path = super::with_reason(&format!("/v1/grants/{id}"), reason.as_deref());
            HubClient::new(&hub)?.delete(&path).await?;
            println!("grant {id} is revoked");
        }
    }
    Ok(())
}

pub async fn deny(command: DenyCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        DenyCommand::List { hub } => {
            let rules: Value = HubClient::new(&hub)?.get("/v1/deny-rules").await?;
            println!(
                "{:<24} {:<30} {:<26} {:<30} REASON",
                "RULE", "DATASETS", "SUBJECT", "NEVER SHOWN"
            );
            for rule in rules.as_array().into_iter().flatten() {
                let mut never = strings(&rule["columns"]);
                never.extend(strings(&rule["classifications"]));
                let never = if never.is_empty() {
                    "the whole dataset".to_owned()
                } else {
                    never.join(",")
                };
                let subject = if rule["subject"].is_null() {
                    "everyone".to_owned()
                } else {
                    subject(&rule["subject"])
                };
                println!(
                    "{:<24} {:<30} {:<26} {:<30} {}",
                    text(&rule["id"]),
                    text(&rule["datasets"]),
                    subject,
                    never,
                    text(&rule["reason"])
                );
            }
        }
    }
    Ok(())
}

/// Not revoked, begun and not expired at `now`.
fn in_force(grant: &Value, now: chrono::DateTime<chrono::Utc>) -> bool {
    let parse = |value: &Value| {
        value
            .as_str()
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
    };
    grant["revoked_at"].is_null()
        && parse(&grant["expires_at"]).is_none_or(|expires| expires > now)
        && parse(&grant["valid_from"]).is_none_or(|from| from <= now)
}

/// `client:ID`, `DEPARTMENT/ROLE` or `DEPARTMENT`.
fn subject(subject: &Value) -> String {
    match (
        subject["client"].as_str(),
        subject["department"].as_str(),
        subject["role"].as_str(),
    ) {
        (Some(client), _, _) => format!("client:{client}"),
        (None, Some(department), Some(role)) => format!("{department}/{role}"),
        (None, Some(department), None) => department.to_owned(),
        _ => subject.to_string(),
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}
