//! `causeway audit`: check the audit log of a hub on this machine, and read its records
//! from a running hub.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};

use super::admin::{LocalHub, operator_gate, recorded};
use super::{HubArgs, HubClient};
use crate::audit::read::{EventFilter, batches, events_schema};
use crate::audit::{Action, archive};
use crate::audit::{Chain, Verification, VerifyOptions, in_use, verify, verify_node};
use crate::config::{Config, DataPaths};
use crate::identity::{KeyRing, public_keys};
use crate::query::output::OutputFormat;

/// Which hub's log: its configuration, or its data directory.
#[derive(Debug, Args)]
pub struct LogLocation {
    #[command(flatten)]
    hub: LocalHub,
    /// The hub's data directory, instead of the one its configuration names (the log in
    /// DIR/audit, the keys in DIR/keys).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl LogLocation {
    /// The audit directory and the keys directory.
    fn dirs(&self) -> Result<(PathBuf, PathBuf), Box<dyn std::error::Error>> {
        let (audit, keys) = self.paths()?;
        if !audit.is_dir() {
            return Err(format!("there is no audit log at {}", audit.display()).into());
        }
        Ok((audit, keys))
    }

    /// The node whose log it is: the configuration's `audit.node`, or the machine's name.
    fn node(&self) -> Result<String, Box<dyn std::error::Error>> {
        Ok(match &self.data_dir {
            Some(_) => crate::config::AuditConfig::default().node_name(),
            None => self.hub.load()?.audit.node_name(),
        })
    }

    /// The audit directory and the keys directory, whether or not the log exists.
    fn paths(&self) -> Result<(PathBuf, PathBuf), Box<dyn std::error::Error>> {
        let (audit, keys) = match &self.data_dir {
            Some(dir) => {
                let paths = DataPaths::new(dir);
                (paths.audit(), paths.keys())
            }
            None => {
                let config = self.hub.load()?;
                (config.audit_dir(), config.data_paths().keys())
            }
        };
        Ok((audit, keys))
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Parquet,
    Ndjson,
    Csv,
    Arrow,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Records of a running hub's log over HTTP, oldest first: every record for auditors and
    /// security administrators, those touching their department's datasets for publishers.
    /// The reading is itself recorded.
    Events {
        /// Records at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        /// Records before this time.
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        /// Records of this principal (client id).
        #[arg(long)]
        principal: Option<String>,
        /// Records touching this dataset (DEPARTMENT.NAME).
        #[arg(long)]
        dataset: Option<String>,
        /// Records of this action, e.g. query.started or grant.created.
        #[arg(long)]
        action: Option<String>,
        /// ok, denied or error.
        #[arg(long)]
        outcome: Option<String>,
        /// At most this many records (the hub allows up to 10000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print the records as JSON, one per line, with every field.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: HubArgs,
    },
    /// Check every record's hash and link and every checkpoint's signature; report the first
    /// broken record and exit non-zero if there is one.
    Verify {
        #[command(flatten)]
        log: LogLocation,
        /// Accept a log that has no signed genesis record, as logs written before Causeway
        /// 0.2 do not. Without it such a log is a break: a rewritten log could otherwise
        /// pass itself off as one.
        #[arg(long)]
        accept_legacy: bool,
        /// A folder of several hubs' audit directories, one per replica, each named after its
        /// node (as `storage.audit_dir = DIR/NODE` lays them out): every chain in it is
        /// verified against the keys of the hub named by --config or --data-dir, which
        /// replicas share; a break, an empty folder or a folder holding another node's chain
        /// is reported with its node, and fails the command.
        #[arg(long, value_name = "DIR")]
        chains: Option<PathBuf>,
    },
    /// Move the oldest closed segments, holding records up to --through, to another folder.
    /// A signed audit.archived record says first which records went and what the rest links
    /// to, so that verification still finds the log whole.
    Archive {
        #[command(flatten)]
        hub: LocalHub,
        /// The last record that may be archived; whole segments are moved, so it may be fewer.
        #[arg(long)]
        through: u64,
        /// Where the segments go.
        #[arg(long)]
        to: PathBuf,
    },
    /// Remove the oldest closed segments whose records are all past the retention of their
    /// kind ([audit.retention]), or move them with --to. A signed audit.archived record says
    /// first which records went, so that verification still finds the rest whole.
    Retain {
        #[command(flatten)]
        hub: LocalHub,
        /// Move the segments here instead of deleting them.
        #[arg(long, conflicts_with = "delete", required_unless_present = "delete")]
        to: Option<PathBuf>,
        /// Delete the segments.
        #[arg(long)]
        delete: bool,
    },
    /// Print the SQL and parameters a query record keeps sealed (the values typed into it),
    /// with the hub's pseudonym key on this machine. Recorded as audit.read first.
    Reveal {
        #[command(flatten)]
        hub: LocalHub,
        /// The record's sequence number.
        #[arg(long)]
        seq: u64,
        /// The node whose chain holds the record (its `node`), under `audit.chains_root`;
        /// default this hub.
        #[arg(long)]
        node: Option<String>,
    },
    /// Write the records of a time range to a file, as one table.
    Export {
        #[command(flatten)]
        log: LogLocation,
        /// Records at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        /// Records before this time.
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        /// The file's format.
        #[arg(long, value_enum, default_value = "parquet")]
        format: ExportFormat,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

pub async fn run(command: AuditCommand) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match command {
        AuditCommand::Events {
            since,
            until,
            principal,
            dataset,
            action,
            outcome,
            limit,
            json,
            remote,
        } => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", &limit.to_string());
            for (key, value) in [
                ("since", since.map(|time| time.to_rfc3339())),
                ("until", until.map(|time| time.to_rfc3339())),
                ("principal", principal),
                ("dataset", dataset),
                ("action", action),
                ("outcome", outcome),
            ] {
                if let Some(value) = value {
                    query.append_pair(key, &value);
                }
            }
            let answer: serde_json::Value = HubClient::new(&remote)?
                .get(&format!("/v1/audit/events?{}", query.finish()))
                .await?;
            print_events(&answer, json)?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Archive { hub, through, to } => {
            let config = hub.load()?;
            let audit_dir = verified(&config, "archived")?;
            let Some(plan) = archive::plan(&audit_dir, through)? else {
                println!("no closed segment holds only records up to {through}; nothing to archive");
                return Ok(ExitCode::SUCCESS);
            };
            remove_head(&config, &plan, Some(&to)).await?;
            println!(
                "archived records up to {} ({} segments) to {}",
                plan.through,
                plan.segments.len(),
                to.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Retain { hub, to, delete: _ } => {
            let config = hub.load()?;
            let audit_dir = verified(&config, "removed")?;
            let retention = config.audit.retention_periods();
            let Some(through) = archive::retained_through(&audit_dir, &retention, Utc::now())? else {
                println!("no record is past its retention; nothing was removed");
                return Ok(ExitCode::SUCCESS);
            };
            let Some(plan) = archive::plan(&audit_dir, through)? else {
                println!("no closed segment holds only records past their retention; nothing to remove");
                return Ok(ExitCode::SUCCESS);
            };
            remove_head(&config, &plan, to.as_deref()).await?;
            println!(
                "records up to {} ({} segments) were past their retention and {}",
                plan.through,
                plan.segments.len(),
                to.map_or_else(
                    || "are deleted".to_owned(),
                    |to| format!("moved to {}", to.display())
                )
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Reveal { hub, seq, node } => {
            let config = hub.load()?;
            let chains = config.audit_chains();
            let node = node.unwrap_or_else(|| chains.own().node.clone());
            let Some(chain) = chains.find(&node) else {
                return Err(format!(
                    "no chain of node {node} here (audit.chains_root names where the others are)"
                )
                .into());
            };
            let Some(sealed) = crate::audit::read::sealed_of(&chain.dir, seq)? else {
                return Err(format!(
                    "record {seq} of node {node} keeps nothing sealed: no such record, or one whose statement held no typed-in value (only a query's values are sealed)"
                )
                .into());
            };
            let key_path = config.data_paths().pseudonym_key();
            let key = std::fs::read(&key_path)?;
            let retired = crate::access::pseudonym_key::retired(&key_path)?;
            let literals = crate::audit::literals::AuditLiterals::new(&key).with_retired(&retired);
            let gate = operator_gate(
                &config,
                Action::AuditRead,
                serde_json::json!({ "revealed": seq, "node": node }),
            );
            let opened = recorded(gate, async || {
                literals
                    .open(&sealed)
                    .ok_or_else(|| "the sealed values do not open with this hub's key".into())
            })
            .await?;
            println!("{}", serde_json::to_string_pretty(&opened)?);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export {
            log,
            since,
            until,
            format,
            out,
        } => {
            let (audit_dir, _) = log.dirs()?;
            let filter = EventFilter {
                since,
                until,
                ..EventFilter::default()
            };
            let chain = Chain {
                node: log.node()?,
                dir: audit_dir,
            };
            let rows = export(&chain, &filter, format, &out)?;
            println!("wrote {rows} records to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify {
            log,
            accept_legacy,
            chains,
        } => {
            // With --chains, only the keys are the hub's: its own log need not be there.
            let Some(folder) = &chains else {
                let (audit_dir, keys) = log.dirs()?;
                let keys = public_keys(&keys)?;
                let options = VerifyOptions {
                    live: in_use(&audit_dir),
                    accept_legacy,
                    ..VerifyOptions::offline()
                };
                let report = verify(&audit_dir, &keys, &options)?;
                print_report(&audit_dir, &report, None);
                return Ok(if report.valid {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            };
            let keys = public_keys(&log.paths()?.1)?;
            let dirs = chain_dirs(folder)?;
            // A folder of chains is checked whole: one that cannot be read, holds no segment,
            // or holds another node's chain is a break, and the rest are still verified.
            let mut broken = Vec::new();
            for dir in &dirs {
                let name = dir
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let checked = verify_node(dir, &name, &keys, accept_legacy, in_use(dir));
                // A chain whose records check out but which is gone or another node's is
                // broken, not intact.
                match (&checked.verification, &checked.problem) {
                    (Some(report), problem) => print_report(dir, report, problem.as_deref()),
                    (None, Some(problem)) => println!("BROKEN: {problem}"),
                    (None, None) => {}
                }
                if !checked.valid {
                    broken.push(
                        checked
                            .verification
                            .and_then(|report| report.node)
                            .filter(|_| checked.problem.is_none())
                            .unwrap_or(name),
                    );
                }
            }
            if broken.is_empty() {
                println!("OK: all {} chains are intact", dirs.len());
            } else {
                println!(
                    "BROKEN: the chains of {} of {} nodes: {}",
                    broken.len(),
                    dirs.len(),
                    broken.join(", ")
                );
            }
            Ok(if broken.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Writes the records `filter` lets through to `out`; returns how many.
fn export(
    chain: &Chain,
    filter: &EventFilter,
    format: ExportFormat,
    out: &Path,
) -> Result<usize, Box<dyn std::error::Error>> {
    let format = match format {
        ExportFormat::Parquet => OutputFormat::Parquet,
        ExportFormat::Ndjson => OutputFormat::Ndjson,
        ExportFormat::Csv => OutputFormat::Csv,
        ExportFormat::Arrow => OutputFormat::ArrowIpc,
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut encoder = format.encoder("audit-export", events_schema())?;
    file.write_all(&encoder.begin()?)?;
    let mut rows = 0;
    let mut failure = None;
    batches(chain, filter, 8192, |batch| {
        rows += batch.num_rows();
        let written = encoder
            .batch(&batch)
            .map_err(|error| error.to_string())
            .and_then(|bytes| file.write_all(&bytes).map_err(|error| error.to_string()));
        match written {
            Ok(()) => true,
            Err(error) => {
                failure = Some(error);
                false
            }
        }
    })?;
    if let Some(failure) = failure {
        return Err(failure.into());
    }
    file.write_all(&encoder.finish()?)?;
    file.flush()?;
    Ok(rows)
}

/// The audit directories in `folder`: each of its subfolders, by name, one per node.
fn chain_dirs(folder: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let mut dirs = Vec::new();
    let entries =
        std::fs::read_dir(folder).map_err(|error| format!("cannot read {}: {error}", folder.display()))?;
    for entry in entries {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        if path.is_dir() && !hidden {
            dirs.push(path);
        }
    }
    dirs.sort();
    if dirs.is_empty() {
        return Err(format!(
            "{} holds no audit directory (a folder per node)",
            folder.display()
        )
        .into());
    }
    Ok(dirs)
}

/// The verification of the chain in `dir`, and its verdict: intact, or broken at a record
/// or (`problem`) as a whole.
fn print_report(dir: &std::path::Path, report: &Verification, problem: Option<&str>) {
    println!("audit log {}", dir.display());
    println!(
        "  {} records in {} segments, {} signed checkpoints",
        report.records, report.segments, report.checkpoints
    );
    if let (Some(node), Some(chain)) = (&report.node, &report.chain) {
        println!("  the chain {chain} of node {node}");
    }
    if let (Some(first), Some(last)) = (report.first_seq, report.last_seq) {
        println!("  records {first} to {last} check out");
    }
    for notice in &report.notices {
        println!("  note: {notice}");
    }
    match (&report.broken, problem) {
        (None, Some(problem)) => println!("BROKEN: {problem}"),
        (None, None) => {
            if report.unsigned_records > 0 {
                println!(
                    "  the last {} records are linked but not yet under a signed checkpoint",
                    report.unsigned_records
                );
            }
            println!("OK: the log is intact");
        }
        (Some(broken), _) => {
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

/// The audit directory of `config`'s hub, once its log verifies; `done` says what would
/// have been done to it (`archived`, `removed`) when it does not.
fn verified(config: &Config, done: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let audit_dir = config.audit_dir();
    let report = verify(
        &audit_dir,
        &public_keys(&config.data_paths().keys())?,
        &VerifyOptions {
            live: in_use(&audit_dir),
            ..VerifyOptions::offline()
        },
    )?;
    if !report.valid {
        print_report(&audit_dir, &report, None);
        return Err(format!("the log does not verify; nothing was {done}").into());
    }
    Ok(audit_dir)
}

/// Moves the segments of `plan` to `to`, or deletes them without one, once the signed
/// `audit.archived` record that says so is in the log.
async fn remove_head(
    config: &Config,
    plan: &archive::ArchivePlan,
    to: Option<&Path>,
) -> Result<(), Box<dyn std::error::Error>> {
    let rules = archive::rules(&config.audit_dir())?;
    let keys = KeyRing::open(&config.data_paths().keys())?;
    let destination = to.unwrap_or(Path::new("(deleted)"));
    let detail = archive::signed_detail(plan, &rules, &keys, destination)?;
    let gate = operator_gate(config, Action::AuditArchived, detail);
    match to {
        Some(to) => recorded(gate, async || Ok(archive::move_segments(plan, to)?)).await,
        None => recorded(gate, async || Ok(archive::delete_segments(plan)?)).await,
    }
}

/// Audit records as a table (or JSON lines), and whether more matched than were sent.
fn print_events(answer: &serde_json::Value, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::Null => "-".to_owned(),
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    };
    let events = answer["events"].as_array().cloned().unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    if json {
        for event in &events {
            writeln!(stdout, "{event}")?;
        }
    } else {
        writeln!(
            stdout,
            "{:>7}  {:<27} {:<22} {:<7} {:<22} {:<34} {:<6} {:<24} DETAIL",
            "SEQ", "TIME", "ACTION", "OUTCOME", "PRINCIPAL", "DATASETS", "ROWS", "ERROR"
        )?;
        for event in &events {
            // The detail last, whole: the control that applied, the counts, the parameters'
            // pseudonyms; `--json` gives every field.
            writeln!(
                stdout,
                "{:>7}  {:<27} {:<22} {:<7} {:<22} {:<34} {:<6} {:<24} {}",
                text(&event["seq"]),
                text(&event["time"]),
                text(&event["action"]),
                text(&event["outcome"]),
                text(&event["principal"]),
                text(&event["datasets"]),
                text(&event["rows"]),
                text(&event["error_class"]),
                text(&event["detail"]),
            )?;
        }
    }
    if answer["truncated"] == true {
        eprintln!("more records matched; ask again with --since the last one's time, or a larger --limit");
    }
    Ok(())
}
