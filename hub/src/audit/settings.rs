//! The audit log's settings (`[audit]` of the configuration).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The audit log (written to `storage.audit_dir`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Off only to measure what the log costs: with it off nothing is recorded.
    pub enabled: bool,
    /// A segment file is closed, and the next begun, once it reaches this size in MiB.
    pub segment_mb: u64,
    /// A signed checkpoint follows at most this many records...
    pub checkpoint_every: u64,
    /// ...and comes at least this often while records are written.
    #[serde(with = "humantime_serde")]
    pub checkpoint_interval: Duration,
    /// The name of this hub in its chain's genesis record; default the machine's host name.
    pub node: Option<String>,
    /// The folder holding every replica's chain (`ROOT/NODE`, this hub's `storage.audit_dir`
    /// among them), on a volume they share: `audit.events`, `GET /v1/audit/events` and
    /// `GET /v1/audit/verify` then read every node's records, not only this hub's.
    pub chains_root: Option<std::path::PathBuf>,
    /// How long records of each kind are kept before `causeway audit retain` removes them,
    /// by the first word of their action (`query = "5years"`, `token = "1year"`, ...), with
    /// `default` for the kinds not named; records of a kind without a period are kept for
    /// ever (and so is everything after them).
    #[serde(default)]
    pub retention: BTreeMap<String, humantime_serde::Serde<Duration>>,
}

impl AuditConfig {
    /// How long each kind of record is kept (see [`AuditConfig::retention`]).
    pub fn retention_periods(&self) -> BTreeMap<String, Duration> {
        self.retention
            .iter()
            .map(|(kind, period)| (kind.clone(), **period))
            .collect()
    }

    pub fn node_name(&self) -> String {
        self.node.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .map(|name| name.trim().to_owned())
                .ok()
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "hub".into())
        })
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            segment_mb: 64,
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(10),
            node: None,
            chains_root: None,
            retention: BTreeMap::new(),
        }
    }
}
