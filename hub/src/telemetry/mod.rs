//! What the hub tells its operators: Prometheus metrics ([`metrics`]), the log (text on a
//! terminal, one JSON object per line in production) and the span every HTTP request's log
//! lines carry ([`http`]).

pub mod http;
pub mod metrics;

use serde::{Deserialize, Serialize};

pub use metrics::metrics;

/// How the log is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Lines for people, coloured on a terminal.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields.message`, and the
    /// fields of the spans it is in: `request_id`, `route`, `principal`, `query_id`), for a
    /// log collector.
    Json,
}

/// The log's settings (`[log]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}

/// Logs to stderr in `format`; `RUST_LOG` chooses what (default: info for the hub). Only
/// the first call of a process takes effect.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}
