//! Checks a log: every record's hash, every link to the record before, the order of the
//! sequence numbers across segments, and every checkpoint's signature.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::chain::{self, GENESIS};
use super::segments;
use crate::identity::verify_signature;

/// What a verification found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    /// Whether every record and checkpoint checked out.
    pub valid: bool,
    pub segments: usize,
    pub records: u64,
    /// The first record present: 1 unless older segments were archived away.
    pub first_seq: Option<u64>,
    /// The last record that checked out.
    pub last_seq: Option<u64>,
    #[serde(skip)]
    pub last_hash: Option<String>,
    pub checkpoints: u64,
    /// Records after the last signed checkpoint: linked, but not yet signed.
    pub unsigned_records: u64,
    /// The first record that does not check out.
    pub broken: Option<BrokenRecord>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrokenRecord {
    /// The segment's file name.
    pub segment: String,
    /// The line within the segment, from 1.
    pub line: usize,
    /// The record's sequence number, where it could be read.
    pub seq: Option<u64>,
    pub reason: String,
}

#[derive(Deserialize)]
struct CheckpointDetail {
    key_id: String,
    signature: String,
}

/// Verifies the log in `dir`, checking checkpoint signatures against `keys` (key id to
/// Ed25519 public key). Stops at the first broken record, and after record `until` when
/// given (a running hub may be writing the records after it).
pub fn verify(
    dir: &Path,
    keys: &HashMap<String, Vec<u8>>,
    until: Option<u64>,
) -> std::io::Result<Verification> {
    let paths = segments::list(dir)?;
    let mut report = Verification {
        valid: true,
        segments: paths.len(),
        records: 0,
        first_seq: None,
        last_seq: None,
        last_hash: None,
        checkpoints: 0,
        unsigned_records: 0,
        broken: None,
    };
    for path in &paths {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut reader = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut line = String::new();
        let mut number = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            number += 1;
            let problem = check(&mut report, path, number, &line, keys);
            if let Some((seq, reason)) = problem {
                report.valid = false;
                report.broken = Some(BrokenRecord {
                    segment: name,
                    line: number,
                    seq,
                    reason,
                });
                return Ok(report);
            }
            if until.is_some() && report.last_seq == until {
                return Ok(report);
            }
        }
    }
    if let Some(until) = until
        && report.valid
        && report.last_seq.unwrap_or(0) < until
    {
        report.valid = false;
        report.broken = Some(BrokenRecord {
            segment: paths
                .last()
                .and_then(|path| path.file_name())
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            line: 0,
            seq: report.last_seq.map(|seq| seq + 1),
            reason: format!(
                "the log ends at record {} but the hub wrote up to record {until}: records were removed from its end",
                report.last_seq.unwrap_or(0)
            ),
        });
    }
    Ok(report)
}

/// Checks one line against what came before; on success, advances the report.
fn check(
    report: &mut Verification,
    path: &Path,
    number: usize,
    line: &str,
    keys: &HashMap<String, Vec<u8>>,
) -> Option<(Option<u64>, String)> {
    let Some(content) = line.strip_suffix('\n') else {
        return Some((
            None,
            "the segment ends in the middle of a record: it was cut".into(),
        ));
    };
    let link = match chain::open(content) {
        Ok(link) => link,
        Err(error) => return Some((seq_of(content), error.to_string())),
    };
    let seq = Some(link.seq);
    if number == 1
        && let Some(named) = segments::first_seq(path)
        && named != link.seq
    {
        return Some((
            seq,
            format!(
                "the segment is named for record {named} but starts with record {}",
                link.seq
            ),
        ));
    }
    match (report.last_seq, &report.last_hash) {
        (Some(last), Some(last_hash)) => {
            if link.seq != last + 1 {
                return Some((
                    seq,
                    format!(
                        "record {} follows record {last}: records were removed or moved",
                        link.seq
                    ),
                ));
            }
            if &link.prev != last_hash {
                return Some((seq, "the record does not link to the record before it".into()));
            }
        }
        _ => {
            if link.seq == 1 && link.prev != GENESIS {
                return Some((seq, "the first record does not start the chain".into()));
            }
            report.first_seq = Some(link.seq);
        }
    }
    if link.record.get("action").and_then(|action| action.as_str()) == Some("audit.checkpoint") {
        if let Err(reason) = check_signature(&link, keys) {
            return Some((seq, reason));
        }
        report.checkpoints += 1;
        report.unsigned_records = 0;
    } else {
        report.unsigned_records += 1;
    }
    report.records += 1;
    report.last_seq = Some(link.seq);
    report.last_hash = Some(link.hash);
    None
}

fn check_signature(link: &chain::Link, keys: &HashMap<String, Vec<u8>>) -> Result<(), String> {
    let detail: CheckpointDetail = link
        .record
        .get("detail")
        .and_then(|detail| detail.as_str())
        .and_then(|detail| serde_json::from_str(detail).ok())
        .ok_or("the checkpoint carries no signature")?;
    let public = keys
        .get(&detail.key_id)
        .ok_or_else(|| format!("the checkpoint is signed by an unknown key {}", detail.key_id))?;
    let signature = URL_SAFE_NO_PAD
        .decode(&detail.signature)
        .map_err(|_| "the checkpoint's signature is not base64url")?;
    if verify_signature(
        public,
        &chain::checkpoint_message(link.seq, &link.prev),
        &signature,
    ) {
        Ok(())
    } else {
        Err("the checkpoint's signature does not verify".into())
    }
}

/// The sequence number of a damaged record, where it can still be read.
fn seq_of(content: &str) -> Option<u64> {
    let rest = content.strip_prefix("{\"seq\":")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
