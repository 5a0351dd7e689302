//! Archiving the head of a log: whole closed segments moved out of the audit directory,
//! after a signed `audit.archived` record says which records went and which hash the first
//! remaining record links to. Verification then accepts a log that starts after them, and
//! only then; the record also carries the chain's checkpoint rules, which the genesis record
//! held, so they keep being checked.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::AuditError;
use super::chain;
use super::segments;
use crate::identity::KeyRing;

/// Segments to archive and where the chain resumes.
#[derive(Debug)]
pub struct ArchivePlan {
    pub segments: Vec<PathBuf>,
    /// The last record archived.
    pub through: u64,
    /// Its hash, which the first remaining record links to.
    pub last_hash: String,
}

/// The chain's rules as its genesis (or the last archive record) states them.
#[derive(Debug, Clone, Deserialize)]
pub struct ChainRules {
    pub node: String,
    pub chain: String,
    pub checkpoint_every: u64,
    pub checkpoint_interval_ms: u64,
}

impl ChainRules {
    pub fn archive_message(&self, through: u64, last_hash: &str) -> Vec<u8> {
        format!(
            "causeway-audit-archived:{}:{}:{}:{}:{through}:{last_hash}",
            self.node, self.chain, self.checkpoint_every, self.checkpoint_interval_ms
        )
        .into_bytes()
    }
}

/// The last record of the log in `dir` from which back every record is past the retention
/// of its kind (`retention`, by the first word of its action: `query`, `token`, `grant`, ...,
/// with `default` for the others; a kind with none is kept for ever), at `now`; `None` when
/// the first record is not. The log's own records (`audit.*`: its genesis, checkpoints and
/// archive records) go with the records they follow.
pub fn retained_through(
    dir: &Path,
    retention: &std::collections::BTreeMap<String, std::time::Duration>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<u64>, AuditError> {
    let mut through = None;
    let mut failure = None;
    super::read::for_each_line(dir, |line| {
        let Ok(link) = chain::open(line) else {
            failure = Some(AuditError::Unavailable(format!(
                "record after {} does not read; nothing is removed",
                through.unwrap_or(0)
            )));
            return false;
        };
        let action = link
            .record
            .get("action")
            .and_then(|action| action.as_str())
            .unwrap_or_default();
        let kind = action.split('.').next().unwrap_or_default();
        if kind != "audit" {
            let time = link
                .record
                .get("time")
                .and_then(|time| time.as_str())
                .and_then(|time| chrono::DateTime::parse_from_rfc3339(time).ok());
            let kept_for = retention.get(kind).or_else(|| retention.get("default"));
            let expired = match (time, kept_for) {
                (Some(time), Some(kept_for)) => chrono::Duration::from_std(*kept_for)
                    .is_ok_and(|kept_for| time.with_timezone(&chrono::Utc) + kept_for <= now),
                _ => false,
            };
            if !expired {
                return false;
            }
        }
        through = Some(link.seq);
        true
    })
    .map_err(|source| AuditError::io(dir, source))?;
    match failure {
        Some(error) => Err(error),
        None => Ok(through),
    }
}

/// Deletes the segments of `plan`, whose `audit.archived` record (with `to` saying
/// `deleted`) is already in the log.
pub fn delete_segments(plan: &ArchivePlan) -> Result<(), AuditError> {
    for segment in &plan.segments {
        std::fs::remove_file(segment).map_err(|source| AuditError::io(segment, source))?;
    }
    Ok(())
}

/// The closed segments holding only records up to `through`, oldest first; none when no
/// closed segment does. The segment being written is never archived.
pub fn plan(dir: &Path, through: u64) -> Result<Option<ArchivePlan>, AuditError> {
    let paths = segments::list(dir).map_err(|source| AuditError::io(dir, source))?;
    let mut chosen = Vec::new();
    let mut last = None;
    for pair in paths.windows(2) {
        let [segment, next] = pair else { continue };
        let Some(next_first) = segments::first_seq(next) else {
            break;
        };
        let ends = next_first.saturating_sub(1);
        if ends > through || ends == 0 {
            break;
        }
        chosen.push(segment.clone());
        last = Some((segment.clone(), ends));
    }
    let Some((segment, ends)) = last else {
        return Ok(None);
    };
    let content = std::fs::read_to_string(&segment).map_err(|source| AuditError::io(&segment, source))?;
    let line = content.lines().last().unwrap_or_default();
    let link = chain::open(line).map_err(|error| AuditError::Damaged {
        segment: segment.display().to_string(),
        reason: error.to_string(),
    })?;
    if link.seq != ends {
        return Err(AuditError::Damaged {
            segment: segment.display().to_string(),
            reason: format!("it ends at record {} where record {ends} was expected", link.seq),
        });
    }
    Ok(Some(ArchivePlan {
        segments: chosen,
        through: ends,
        last_hash: link.hash,
    }))
}

/// The rules of the chain in `dir`: from its genesis record, or from its last archive
/// record when the genesis was archived.
pub fn rules(dir: &Path) -> Result<ChainRules, AuditError> {
    let paths = segments::list(dir).map_err(|source| AuditError::io(dir, source))?;
    let mut found = None;
    for path in &paths {
        let content = std::fs::read_to_string(path).map_err(|source| AuditError::io(path, source))?;
        for line in content.lines() {
            let Ok(link) = chain::open(line) else { continue };
            let action = link.record.get("action").and_then(|action| action.as_str());
            if matches!(action, Some("audit.genesis" | "audit.archived")) {
                found = link
                    .record
                    .get("detail")
                    .and_then(|detail| detail.as_str())
                    .and_then(|detail| serde_json::from_str::<ChainRules>(detail).ok())
                    .or(found);
            }
        }
    }
    found.ok_or_else(|| {
        AuditError::Unavailable(
            "the log has no genesis record (a log written before they existed) and cannot be archived".into(),
        )
    })
}

/// The detail of the `audit.archived` record of `plan`, signed with the hub's current key.
pub fn signed_detail(
    plan: &ArchivePlan,
    rules: &ChainRules,
    keys: &KeyRing,
    to: &Path,
) -> Result<serde_json::Value, AuditError> {
    let key = keys
        .current()
        .ok_or_else(|| AuditError::Unavailable("the hub has no signing key".into()))?;
    let signature = key.sign(&rules.archive_message(plan.through, &plan.last_hash));
    Ok(serde_json::json!({
        "through": plan.through,
        "last_hash": plan.last_hash,
        "segments": plan
            .segments
            .iter()
            .filter_map(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
            .collect::<Vec<_>>(),
        "to": to.display().to_string(),
        "node": rules.node,
        "chain": rules.chain,
        "checkpoint_every": rules.checkpoint_every,
        "checkpoint_interval_ms": rules.checkpoint_interval_ms,
        "key_id": key.kid,
        "signature": URL_SAFE_NO_PAD.encode(signature),
    }))
}

/// Copies the plan's segments into `to`, syncs them, then removes them from the log.
pub fn move_segments(plan: &ArchivePlan, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for segment in &plan.segments {
        let Some(name) = segment.file_name() else { continue };
        let target = to.join(name);
        std::fs::copy(segment, &target)?;
        std::fs::File::open(&target)?.sync_all()?;
    }
    std::fs::File::open(to)?.sync_all()?;
    for segment in &plan.segments {
        std::fs::remove_file(segment)?;
    }
    if let Some(dir) = plan.segments.first().and_then(|segment| segment.parent()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
