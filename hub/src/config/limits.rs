//! `[limits]`: what one query, and all of them together, may take.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Longest a query may run, from planning to its last row (e.g. `30s`, `5m`).
    #[serde(with = "humantime_serde")]
    pub query_timeout: Duration,
    /// Longest a query waits for its client to take the next batch; past it the query is
    /// stopped and its slots freed (`client_stalled`). `0s` never stops one.
    #[serde(with = "humantime_serde", default = "default_client_read_timeout")]
    pub client_read_timeout: Duration,
    /// Memory one query may use for sorts, joins and aggregates, in MiB; operators that
    /// can spill to disk do so before this is reached.
    pub query_memory_mb: u64,
    /// Queries that run at once; more wait for a turn until their timeout.
    pub max_concurrent_queries: usize,
    /// Queries one principal may run at once (default 16, half the default of all); more
    /// are refused with 429 at once.
    #[serde(default = "default_max_concurrent_queries_per_principal")]
    pub max_concurrent_queries_per_principal: usize,
    /// Threads that plan and run queries, apart from those that serve requests; 0 is one
    /// per core.
    #[serde(default)]
    pub query_threads: usize,
    /// Largest request body accepted, in bytes.
    pub max_request_bytes: usize,
    /// The deepest nesting a query, row filter or SQL mask may have: each operator of a
    /// chain such as `a OR b OR c`, each function call, subquery, set operation and joined
    /// table is a level. Deeper ones are refused before they are planned.
    #[serde(default = "default_max_expression_depth")]
    pub max_expression_depth: usize,
    /// The most expression terms (values, columns, operators, calls) in one of them.
    #[serde(default = "default_max_expression_terms")]
    pub max_expression_terms: usize,
    /// The deepest nesting of function calls and casts in one another: DataFusion's planning
    /// time grows as the cube of it.
    #[serde(default = "default_max_call_depth")]
    pub max_call_depth: usize,
    /// The deepest nesting of `COALESCE`, `NVL`, `IFNULL`, `NVL2` and `BETWEEN` in one
    /// another: each level doubles the planned expression.
    #[serde(default = "default_max_doubling_depth")]
    pub max_doubling_depth: usize,
    /// Where sorts, joins and aggregates that outgrow their memory write their spill files;
    /// default `DATA_DIR/spill`.
    #[serde(default)]
    pub spill_dir: Option<PathBuf>,
    /// The most disk, in MiB, the spill files of all queries may take together; a query
    /// that needs more fails with `resource_exhausted`.
    #[serde(default = "default_spill_max_mb")]
    pub spill_max_mb: u64,
    /// The most records one `POST /v1/verify` may ask about; more are refused with 400
    /// `too_many_records`.
    #[serde(default = "default_max_records_per_verification")]
    pub max_records_per_verification: usize,
}

fn default_max_records_per_verification() -> usize {
    1000
}

fn default_client_read_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_spill_max_mb() -> u64 {
    4096
}

fn default_max_concurrent_queries_per_principal() -> usize {
    16
}

fn default_max_expression_depth() -> usize {
    causeway_policies::SyntaxLimits::default().max_depth
}

fn default_max_expression_terms() -> usize {
    causeway_policies::SyntaxLimits::default().max_terms
}

fn default_max_call_depth() -> usize {
    causeway_policies::SyntaxLimits::default().max_call_depth
}

fn default_max_doubling_depth() -> usize {
    causeway_policies::SyntaxLimits::default().max_doubling_depth
}

impl LimitsConfig {
    /// The bounds on syntax trees built from what callers send.
    pub fn syntax(&self) -> causeway_policies::SyntaxLimits {
        causeway_policies::SyntaxLimits {
            max_depth: self.max_expression_depth.max(1),
            max_terms: self.max_expression_terms.max(1),
            max_call_depth: self.max_call_depth.max(1),
            max_doubling_depth: self.max_doubling_depth.max(1),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            query_timeout: Duration::from_secs(300),
            client_read_timeout: default_client_read_timeout(),
            query_memory_mb: 1024,
            max_concurrent_queries: 32,
            max_concurrent_queries_per_principal: default_max_concurrent_queries_per_principal(),
            query_threads: 0,
            max_request_bytes: 1024 * 1024,
            max_expression_depth: default_max_expression_depth(),
            max_expression_terms: default_max_expression_terms(),
            max_call_depth: default_max_call_depth(),
            max_doubling_depth: default_max_doubling_depth(),
            spill_dir: None,
            spill_max_mb: default_spill_max_mb(),
            max_records_per_verification: default_max_records_per_verification(),
        }
    }
}
