//! Checks a log: every record's hash, every link to the record before, the order of the
//! sequence numbers across segments, and every signature; and that nothing was cut away.
//!
//! A chain begins with a signed genesis record that names its node and chain and how often
//! it is checkpointed. Checkpoints sign the chain up to themselves; they must come at most
//! `checkpoint_every` records and about `checkpoint_interval` apart, so a chain rewritten
//! without the hub's key cannot simply leave them out. Records at the head may be missing
//! only where an `audit.archived` record (itself under a later checkpoint) says they were
//! archived, with the hash the first remaining record links to. Records after the last
//! checkpoint are a break unless a hub is writing them now: a hub that stops cleanly seals
//! its tail, and one started after a crash seals it and says how long it was.
//!
//! Logs written before genesis records existed start with `audit.opened` at record 1; they
//! are told apart by that first record and verified only when asked to (`--accept-legacy`),
//! since a rewritten log could otherwise pass itself off as one.
//!
//! What offline verification cannot see: a log cut back to an earlier checkpoint, with
//! everything after it removed, is a shorter valid log. Only a copy of a later checkpoint
//! kept outside the hub (or the running hub, which knows its last record) tells.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::chain::{self, GENESIS};
use super::segments;
use crate::identity::verify_signature;

/// How a log is verified.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The last record the running hub wrote: the log must reach it, and may have a tail
    /// not yet sealed.
    pub until: Option<u64>,
    /// Whether a hub writes the log now (found from its lock): a tail it has not sealed yet
    /// is no break while it is younger than the checkpoint interval allows.
    pub live: bool,
    /// Accept a log without a genesis record, as written before they existed.
    pub accept_legacy: bool,
    pub now: DateTime<Utc>,
}

impl VerifyOptions {
    /// A log no hub writes.
    pub fn offline() -> Self {
        Self {
            until: None,
            live: false,
            accept_legacy: false,
            now: Utc::now(),
        }
    }
}

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
    /// The node and chain its genesis record names.
    pub node: Option<String>,
    pub chain: Option<String>,
    /// A log written before genesis records, verified as such.
    pub legacy: bool,
    /// What a reader should know that is no break: records sealed only after a crash,
    /// archived head segments, a tail the running hub has yet to seal.
    pub notices: Vec<String>,
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

#[derive(Deserialize)]
struct GenesisDetail {
    node: String,
    chain: String,
    checkpoint_every: u64,
    checkpoint_interval_ms: u64,
    key_id: String,
    signature: String,
}

#[derive(Deserialize)]
struct ArchivedDetail {
    through: u64,
    last_hash: String,
    #[serde(flatten)]
    rules: super::archive::ChainRules,
    key_id: String,
    signature: String,
}

#[derive(Deserialize)]
struct RecoveredDetail {
    unsealed_tail: u64,
    from_seq: u64,
}

/// What the scan keeps besides the report.
#[derive(Default)]
struct Scan {
    /// From the genesis: at most this many records, and about this long, between seals.
    every: Option<u64>,
    interval: Option<Duration>,
    /// The first record present when it is not record 1, and the hash it links to: an
    /// archive record must account for the records before it.
    missing_head: Option<(u64, String)>,
    /// The time of the first record after the last seal.
    stretch_began: Option<DateTime<Utc>>,
    /// The stretch being read was sealed after a crash: its time does not count.
    stretch_excused: bool,
}

impl Scan {
    /// How long a stretch of records may wait for its checkpoint: the interval, and as
    /// much again (at least ten seconds) for the writer to wake and sync.
    fn tolerance(&self) -> Option<Duration> {
        self.interval
            .map(|interval| interval + interval.max(Duration::from_secs(10)))
    }
}

/// Verifies the log in `dir`, checking signatures against `keys` (key id to Ed25519 public
/// key). Stops at the first broken record, and after record `options.until` when given (a
/// running hub may be writing the records after it).
pub fn verify(
    dir: &Path,
    keys: &HashMap<String, Vec<u8>>,
    options: &VerifyOptions,
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
        node: None,
        chain: None,
        legacy: false,
        notices: Vec::new(),
        broken: None,
    };
    let mut scan = Scan::default();
    let last_segment = paths
        .last()
        .and_then(|path| path.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let broken =
        |report: &mut Verification, segment: String, line: usize, seq: Option<u64>, reason: String| {
            report.valid = false;
            report.broken = Some(BrokenRecord {
                segment,
                line,
                seq,
                reason,
            });
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
            if let Some((seq, reason)) = check(&mut report, &mut scan, path, number, &line, keys, options) {
                broken(&mut report, name, number, seq, reason);
                return Ok(report);
            }
            if options.until.is_some() && report.last_seq == options.until {
                return Ok(report);
            }
        }
    }
    if let Some(until) = options.until
        && report.last_seq.unwrap_or(0) < until
    {
        let reason = format!(
            "the log ends at record {} but the hub wrote up to record {until}: records were removed from its end",
            report.last_seq.unwrap_or(0)
        );
        let next = report.last_seq.map(|seq| seq + 1);
        broken(&mut report, last_segment, 0, next, reason);
        return Ok(report);
    }
    if report.records == 0 {
        return Ok(report);
    }
    if let Some((first, _)) = &scan.missing_head {
        let reason = format!(
            "the log starts at record {first}: records 1 to {} are missing, and no audit.archived record says they were archived",
            first - 1
        );
        let segment = paths
            .first()
            .and_then(|path| path.file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        broken(&mut report, segment, 1, Some(*first), reason);
        return Ok(report);
    }
    if report.legacy || report.unsigned_records == 0 || options.until.is_some() {
        return Ok(report);
    }
    // Records after the last seal, with no hub to seal them.
    let age = scan
        .stretch_began
        .and_then(|began| (options.now - began).to_std().ok())
        .unwrap_or_default();
    let fresh = scan.tolerance().is_some_and(|tolerance| age <= tolerance);
    if options.live && fresh {
        report.notices.push(format!(
            "the last {} records were written in the last {} s and await their checkpoint from the running hub",
            report.unsigned_records,
            age.as_secs()
        ));
        return Ok(report);
    }
    let first = report.last_seq.unwrap_or(0) + 1 - report.unsigned_records;
    let reason = format!(
        "unsealed tail: the last {} records (from record {first}) are under no signed checkpoint; the hub stopped without sealing them (a crash), or records were cut from the end. A hub started on this log seals them and says so",
        report.unsigned_records
    );
    broken(&mut report, last_segment, 0, Some(first), reason);
    Ok(report)
}

/// Checks one line against what came before; on success, advances the report.
fn check(
    report: &mut Verification,
    scan: &mut Scan,
    path: &Path,
    number: usize,
    line: &str,
    keys: &HashMap<String, Vec<u8>>,
    options: &VerifyOptions,
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
    let action = link
        .record
        .get("action")
        .and_then(|action| action.as_str())
        .unwrap_or_default()
        .to_owned();
    let time = link
        .record
        .get("time")
        .and_then(|time| time.as_str())
        .and_then(|time| DateTime::parse_from_rfc3339(time).ok())
        .map(|time| time.with_timezone(&Utc));
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
            if action == "audit.genesis" {
                return Some((seq, "a genesis record in the middle of a chain".into()));
            }
        }
        _ => {
            report.first_seq = Some(link.seq);
            if link.seq == 1 {
                if link.prev != GENESIS {
                    return Some((seq, "the first record does not start the chain".into()));
                }
                if action == "audit.genesis" {
                    if let Err(reason) = check_genesis(&link, keys, report, scan) {
                        return Some((seq, reason.to_string()));
                    }
                } else if options.accept_legacy {
                    report.legacy = true;
                    report.notices.push(
                        "a log written before signed genesis records: records removed from its head or checkpoints left out of it cannot be told"
                            .into(),
                    );
                } else {
                    return Some((
                        seq,
                        "the log has no signed genesis record: it was written before they existed, or its head was rewritten; a log that old is verified with --accept-legacy".into(),
                    ));
                }
            } else {
                scan.missing_head = Some((link.seq, link.prev.clone()));
            }
        }
    }
    if matches!(action.as_str(), "audit.opened" | "audit.genesis")
        && let Some(FormatDetail { record_format }) = detail(&link)
        && record_format > chain::RECORD_FORMAT
    {
        return Some((
            seq,
            format!(
                "the records from here on are in record format {record_format}, written by a later release; this one reads up to format {}: verify them with that release",
                chain::RECORD_FORMAT
            ),
        ));
    }
    match action.as_str() {
        "audit.checkpoint" => {
            if let Err(reason) = check_signature(&link, keys) {
                return Some((seq, reason.to_string()));
            }
            if let (Some(tolerance), Some(began), Some(time)) = (scan.tolerance(), scan.stretch_began, time)
                && !scan.stretch_excused
                && (time - began).to_std().is_ok_and(|waited| waited > tolerance)
            {
                return Some((
                    seq,
                    format!(
                        "the records before this checkpoint waited {} s for it, more than the checkpoint interval allows: checkpoints were removed",
                        (time - began).num_seconds()
                    ),
                ));
            }
            report.checkpoints += 1;
            report.unsigned_records = 0;
            scan.stretch_began = None;
            scan.stretch_excused = false;
        }
        "audit.genesis" => {}
        _ => {
            report.unsigned_records += 1;
            if report.unsigned_records == 1 {
                scan.stretch_began = time;
            }
            if let Some(every) = scan.every
                && report.unsigned_records > every
            {
                return Some((
                    seq,
                    format!(
                        "{} records since the last checkpoint, where the chain has one at least every {every}: checkpoints were removed",
                        report.unsigned_records
                    ),
                ));
            }
            if action == "audit.recovered"
                && let Some(detail) = detail::<RecoveredDetail>(&link)
            {
                scan.stretch_excused = true;
                report.notices.push(format!(
                    "records {} to {} were sealed only when the log was next opened: after an unclean stop, or by the restore of a backup that caught them before their checkpoint ({} records)",
                    detail.from_seq,
                    detail.from_seq + detail.unsealed_tail.saturating_sub(1),
                    detail.unsealed_tail
                ));
            }
            if action == "audit.archived" {
                let detail = match check_archived(&link, keys) {
                    Ok(detail) => detail,
                    Err(reason) => return Some((seq, reason.to_string())),
                };
                if scan.every.is_none() {
                    scan.every = Some(detail.rules.checkpoint_every.max(1));
                    scan.interval = Some(Duration::from_millis(detail.rules.checkpoint_interval_ms));
                    report.node = Some(detail.rules.node.clone());
                    report.chain = Some(detail.rules.chain.clone());
                }
                if scan
                    .missing_head
                    .as_ref()
                    .is_some_and(|(first, prev)| detail.through + 1 == *first && detail.last_hash == *prev)
                {
                    report.notices.push(format!(
                        "records 1 to {} were archived, as record {} says",
                        detail.through, link.seq
                    ));
                    scan.missing_head = None;
                }
            }
        }
    }
    report.records += 1;
    report.last_seq = Some(link.seq);
    report.last_hash = Some(link.hash);
    None
}

/// The record format a hub's start (or a chain's genesis) names; 1 where none is named.
#[derive(serde::Deserialize)]
struct FormatDetail {
    #[serde(default = "format_one")]
    record_format: u64,
}

fn format_one() -> u64 {
    1
}

fn detail<T: serde::de::DeserializeOwned>(link: &chain::Link) -> Option<T> {
    link.record
        .get("detail")
        .and_then(|detail| detail.as_str())
        .and_then(|detail| serde_json::from_str(detail).ok())
}

/// A record of the chain that carries a signature.
#[derive(Debug, Clone, Copy)]
enum Signed {
    Genesis,
    Checkpoint,
    Archive,
}

impl std::fmt::Display for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Genesis => "genesis record",
            Self::Checkpoint => "checkpoint",
            Self::Archive => "archive record",
        })
    }
}

/// Why a signed record does not prove what it says.
#[derive(Debug, thiserror::Error)]
enum BadSignature {
    #[error("the {0} carries no signature")]
    Missing(Signed),
    #[error("the {record} is signed by an unknown key {key_id}")]
    UnknownKey { record: Signed, key_id: String },
    #[error("the {record}'s signature is not base64url")]
    NotBase64 {
        record: Signed,
        #[source]
        source: base64::DecodeError,
    },
    #[error("the {0}'s signature does not verify")]
    DoesNotVerify(Signed),
}

/// The public key that signed `record`, and its signature.
fn key_and_signature<'k>(
    record: Signed,
    keys: &'k HashMap<String, Vec<u8>>,
    key_id: &str,
    signature: &str,
) -> Result<(&'k Vec<u8>, Vec<u8>), BadSignature> {
    let public = keys.get(key_id).ok_or_else(|| BadSignature::UnknownKey {
        record,
        key_id: key_id.to_owned(),
    })?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|source| BadSignature::NotBase64 { record, source })?;
    Ok((public, signature))
}

fn check_archived(
    link: &chain::Link,
    keys: &HashMap<String, Vec<u8>>,
) -> Result<ArchivedDetail, BadSignature> {
    let record = Signed::Archive;
    let detail: ArchivedDetail = detail(link).ok_or(BadSignature::Missing(record))?;
    let (public, signature) = key_and_signature(record, keys, &detail.key_id, &detail.signature)?;
    let message = detail.rules.archive_message(detail.through, &detail.last_hash);
    if !verify_signature(public, &message, &signature) {
        return Err(BadSignature::DoesNotVerify(record));
    }
    Ok(detail)
}

fn check_genesis(
    link: &chain::Link,
    keys: &HashMap<String, Vec<u8>>,
    report: &mut Verification,
    scan: &mut Scan,
) -> Result<(), BadSignature> {
    let record = Signed::Genesis;
    let detail: GenesisDetail = detail(link).ok_or(BadSignature::Missing(record))?;
    let (public, signature) = key_and_signature(record, keys, &detail.key_id, &detail.signature)?;
    let genesis = chain::Genesis {
        node: detail.node,
        chain: detail.chain,
        checkpoint_every: detail.checkpoint_every,
        checkpoint_interval_ms: detail.checkpoint_interval_ms,
    };
    if !verify_signature(public, &genesis.message(), &signature) {
        return Err(BadSignature::DoesNotVerify(record));
    }
    scan.every = Some(genesis.checkpoint_every.max(1));
    scan.interval = Some(Duration::from_millis(genesis.checkpoint_interval_ms));
    report.node = Some(genesis.node);
    report.chain = Some(genesis.chain);
    Ok(())
}

fn check_signature(link: &chain::Link, keys: &HashMap<String, Vec<u8>>) -> Result<(), BadSignature> {
    let record = Signed::Checkpoint;
    let detail: CheckpointDetail = detail(link).ok_or(BadSignature::Missing(record))?;
    let (public, signature) = key_and_signature(record, keys, &detail.key_id, &detail.signature)?;
    if verify_signature(
        public,
        &chain::checkpoint_message(link.seq, &link.prev),
        &signature,
    ) {
        Ok(())
    } else {
        Err(BadSignature::DoesNotVerify(record))
    }
}

/// The sequence number of a damaged record, where it can still be read.
fn seq_of(content: &str) -> Option<u64> {
    let rest = content.strip_prefix("{\"seq\":")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
