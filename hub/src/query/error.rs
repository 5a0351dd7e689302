//! Why a query did not run or stopped: [`QueryError`], with the code and outcome callers and
//! the audit log see, and the sorting of DataFusion's errors into it.

use std::time::Duration;

use causeway_connectors::{SourceReadError, describe_failure};
use causeway_policies::{AccessDenied, PolicyError};
use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;

use super::names::UnknownDataset;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("every query must state its purpose")]
    MissingPurpose,
    /// `syntax error at line 1, column 8: expected an expression, found FROM`.
    #[error("{0}")]
    Syntax(String),
    #[error("the query is too large: {0}")]
    TooLarge(#[source] causeway_policies::SyntaxLimitExceeded),
    #[error("send exactly one statement, not {0}")]
    NotOneStatement(usize),
    #[error("only read queries (SELECT, WITH, VALUES, EXPLAIN, SHOW, DESCRIBE) may run here, not {0}")]
    NotReadOnly(String),
    #[error(transparent)]
    UnknownTable(#[from] UnknownDataset),
    #[error("{0}")]
    Plan(String),
    #[error(
        "EXPLAIN ANALYZE and EXPLAIN VERBOSE are not available: they report counts and statistics of rows the grants do not show; use EXPLAIN"
    )]
    ExplainAnalyze,
    #[error(
        "the function {0} is not available: it tells where rows are stored (files, row positions), which the grants do not share"
    )]
    FunctionNotAvailable(String),
    /// A narrow shape of query DataFusion answers wrongly and the hub cannot yet rewrite;
    /// every such shape is listed in the README.
    #[error("{0} is not supported yet: the query engine would answer it wrongly")]
    NotSupported(&'static str),
    #[error(transparent)]
    AccessDenied(Box<AccessDenied>),
    #[error(
        "only auditors, security administrators, and publishers for their own datasets, may read audit.events"
    )]
    NotAnAuditor,
    /// A column the query names that none of its tables has, and the columns they have.
    #[error("the query names a column {column} that its tables do not have; they have {}", .columns.join(", "))]
    UnknownColumn { column: String, columns: Vec<String> },
    #[error("the query reads {}, which no grant for purpose '{purpose}' lets you read", list(.columns))]
    ColumnsNotGranted {
        /// Dataset, column, and the deny rule that keeps it from the caller, if one does.
        columns: Vec<(String, String, Option<String>)>,
        purpose: String,
    },
    #[error("a grant cannot be applied: {0}")]
    Policy(String),
    #[error("the query ran longer than the {} limit (limits.query_timeout)", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error(
        "the query needs more than the {0} MiB of memory a query may use (limits.query_memory_mb); narrow it with filters, aggregates or a LIMIT"
    )]
    MemoryLimit(u64),
    #[error(
        "the query needs more disk for its spill files than the hub allows (limits.spill_max_mb) or has; narrow it with filters, aggregates or a LIMIT"
    )]
    SpillLimit,
    #[error("the hub is running its maximum of {0} queries and none finished in time; try again shortly")]
    Busy(usize),
    #[error(
        "you are running {0} queries at once, the most one caller may (limits.max_concurrent_queries_per_principal); wait for one to end"
    )]
    TooManyOfYours(usize),
    #[error("the query cannot be evaluated: {0}")]
    Evaluation(String),
    #[error("the query failed: {0}")]
    Execution(String),
    /// The front door's cancellation handle was used (a Flight SQL `CancelFlightInfo`, a
    /// PostgreSQL cancel request).
    #[error("the query was cancelled")]
    Cancelled,
    /// The caller's access ended while the query ran: their account was disabled, its
    /// secret or password changed, or an alert suspended them.
    #[error(
        "the query was stopped: your access ended while it ran (the account was disabled, its secret or password changed, or an alert suspended it)"
    )]
    AccessEnded,
    #[error(transparent)]
    SubjectQuota(#[from] crate::supervision::SubjectQuotaExceeded),
    /// The client took no batch for `limits.client_read_timeout`: the query was stopped
    /// so that it would not hold its slots for a client that does not read.
    #[error(
        "the query was stopped: its client read nothing for {} (limits.client_read_timeout)",
        humantime::format_duration(*.0)
    )]
    ClientStalled(Duration),
}

impl QueryError {
    /// A parser's or tokenizer's complaint as a sentence: `Expected: an expression, found:
    /// FROM at Line: 1, Column: 8` becomes `syntax error at line 1, column 8: expected an
    /// expression, found FROM`.
    pub fn syntax(complaint: &str) -> Self {
        let (body, place) = match complaint.rsplit_once(" at Line: ") {
            Some((body, place)) => (body, place.split_once(", Column: ")),
            None => (complaint, None),
        };
        let body = body
            .strip_prefix("Expected: ")
            .map(|rest| {
                let rest = rest.replacen(", found: ", ", found ", 1);
                let rest = rest
                    .strip_suffix(", found EOF")
                    .map_or(rest.clone(), |rest| format!("{rest}, found the end of the query"));
                format!("expected {rest}")
            })
            .unwrap_or_else(|| body.to_owned());
        Self::Syntax(match place {
            Some((line, column)) => format!("syntax error at line {line}, column {column}: {body}"),
            None => format!("syntax error: {body}"),
        })
    }

    /// [`Self::syntax`] of a parser's error, without the parser's own prefixes.
    pub fn of_parser(error: &ParserError) -> Self {
        match error {
            ParserError::TokenizerError(complaint) | ParserError::ParserError(complaint) => {
                Self::syntax(complaint)
            }
            ParserError::RecursionLimitExceeded => Self::syntax("the query nests too deeply"),
        }
    }

    /// The stable code callers and the audit log see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingPurpose => "missing_purpose",
            Self::Syntax(_) => "syntax_error",
            Self::TooLarge(_) => "query_too_large",
            Self::NotOneStatement(_) => "not_one_statement",
            Self::NotReadOnly(_) => "not_read_only",
            Self::UnknownTable(_) => "unknown_table",
            Self::Plan(_) => "invalid_query",
            Self::ExplainAnalyze => "explain_not_allowed",
            Self::FunctionNotAvailable(_) => "function_not_available",
            Self::NotSupported(_) => "not_supported",
            Self::AccessDenied(_) | Self::NotAnAuditor => "access_denied",
            Self::UnknownColumn { .. } => "unknown_column",
            Self::ColumnsNotGranted { .. } => "column_not_granted",
            Self::Policy(_) => "grant_unusable",
            Self::Timeout(_) => "query_timeout",
            Self::MemoryLimit(_) => "memory_limit",
            Self::SpillLimit => "resource_exhausted",
            Self::Busy(_) => "busy",
            Self::TooManyOfYours(_) => "too_many_queries",
            Self::Evaluation(_) => "evaluation_error",
            Self::Execution(_) => "query_failed",
            Self::Cancelled => "query_cancelled",
            Self::AccessEnded => "access_ended",
            Self::ClientStalled(_) => "client_stalled",
            Self::SubjectQuota(crate::supervision::SubjectQuotaExceeded::Daily { .. }) => {
                "subject_quota_exceeded"
            }
            Self::SubjectQuota(crate::supervision::SubjectQuotaExceeded::Uncounted { .. }) => {
                "quota_unavailable"
            }
        }
    }

    /// Whether it refuses what the caller may do, rather than failing.
    pub fn is_denial(&self) -> bool {
        matches!(
            self,
            Self::ExplainAnalyze
                | Self::FunctionNotAvailable(_)
                | Self::AccessDenied(_)
                | Self::NotAnAuditor
                | Self::ColumnsNotGranted { .. }
                | Self::Policy(_)
        )
    }
}

impl QueryError {
    /// A query that reads `columns` (dataset, column) the caller may not read, each with the
    /// deny rule that keeps it, when one does, from the `decisions` it was planned under.
    pub fn columns_not_granted(
        columns: Vec<(String, String)>,
        decisions: &[causeway_policies::Decision],
        purpose: &str,
    ) -> Self {
        Self::ColumnsNotGranted {
            columns: columns
                .into_iter()
                .map(|(dataset, column)| {
                    let rule = deny_rule_of(decisions, &dataset, &column);
                    (dataset, column, rule)
                })
                .collect(),
            purpose: purpose.to_owned(),
        }
    }
}

/// The deny rule that keeps `column` of `dataset` from the caller, as its decision says
/// (`REASON (deny rule ID)`); none when the column is merely not granted.
fn deny_rule_of(decisions: &[causeway_policies::Decision], dataset: &str, column: &str) -> Option<String> {
    decisions
        .iter()
        .filter(|decision| decision.dataset.to_string() == dataset)
        .flat_map(|decision| &decision.columns)
        .find(|decision| decision.name == column)
        .and_then(|decision| match &decision.access {
            causeway_policies::ColumnAccess::Denied { reason } if reason.contains("(deny rule ") => {
                Some(reason.clone())
            }
            _ => None,
        })
}

fn list(columns: &[(String, String, Option<String>)]) -> String {
    columns
        .iter()
        .map(|(dataset, column, rule)| match rule {
            Some(rule) => format!("column {column} of {dataset} (never shown to you: {rule})"),
            None => format!("column {column} of {dataset}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The column a plan named that its tables do not have, and the names of those they have
/// (each once, unqualified), when `error` is that.
pub fn unknown_column(error: &DataFusionError) -> Option<(String, Vec<String>)> {
    let DataFusionError::SchemaError(schema_error, _) = error.find_root() else {
        return None;
    };
    let SchemaError::FieldNotFound { field, valid_fields } = schema_error.as_ref() else {
        return None;
    };
    let mut columns: Vec<String> = Vec::new();
    for valid in valid_fields {
        if !columns.contains(&valid.name) {
            columns.push(valid.name.clone());
        }
    }
    Some((field.name.clone(), columns))
}

/// The start of the disk manager's message when spill files reach their cap.
const SPILL_CAP_REACHED: &str = "used disk space during the spilling process has exceeded";

/// ENOSPC: a disk is full.
const NO_SPACE: i32 = 28;

/// Sorts DataFusion's errors into what the caller did wrong and what went wrong here.
/// Messages about reading and evaluating rows are composed by [`describe_failure`], never
/// taken from the engine's text: it might quote a value the grants hide.
pub(super) fn classify_execution(error: DataFusionError, memory_mb: u64) -> QueryError {
    // DataFusion's disk manager refuses a spill past its cap with a message, which reaches
    // here wrapped in whatever was writing the spill file: its text is all there is.
    if error.to_string().contains(SPILL_CAP_REACHED) {
        return QueryError::SpillLimit;
    }
    if let Some((column, columns)) = unknown_column(&error) {
        return QueryError::UnknownColumn { column, columns };
    }
    if let DataFusionError::External(inner) = error.find_root() {
        if let Some(unknown) = inner.downcast_ref::<UnknownDataset>() {
            return QueryError::UnknownTable(unknown.clone());
        }
        if let Some(exceeded) = inner.downcast_ref::<crate::supervision::SubjectQuotaExceeded>() {
            return QueryError::SubjectQuota(exceeded.clone());
        }
        if let Some(denied) = inner.downcast_ref::<AccessDenied>() {
            return QueryError::AccessDenied(Box::new(denied.clone()));
        }
        if let Some(policy) = inner.downcast_ref::<PolicyError>() {
            return match policy {
                PolicyError::Denied(denied) => QueryError::AccessDenied(Box::new(denied.clone())),
                other => QueryError::Policy(other.to_string()),
            };
        }
    }
    match error.find_root() {
        DataFusionError::External(inner) if inner.downcast_ref::<SourceReadError>().is_some() => {
            QueryError::Execution(describe_failure(&error))
        }
        DataFusionError::External(_) => QueryError::Evaluation(describe_failure(&error)),
        DataFusionError::ArrowError(arrow, _)
            if matches!(
                arrow.as_ref(),
                ArrowError::CsvError(_)
                    | ArrowError::JsonError(_)
                    | ArrowError::ParquetError(_)
                    | ArrowError::IoError(..)
            ) =>
        {
            QueryError::Execution(describe_failure(&error))
        }
        DataFusionError::IoError(io) if io.raw_os_error() == Some(NO_SPACE) => QueryError::SpillLimit,
        DataFusionError::ParquetError(_) | DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) => {
            QueryError::Execution(describe_failure(&error))
        }
        DataFusionError::ResourcesExhausted(message) if message.contains("disk space") => {
            QueryError::SpillLimit
        }
        DataFusionError::ResourcesExhausted(reason) => {
            // Which operator asked for how much: no row values, and what tuning needs.
            tracing::info!(%reason, "a query ran out of memory");
            QueryError::MemoryLimit(memory_mb)
        }
        DataFusionError::SQL(parser, _) => QueryError::of_parser(parser),
        DataFusionError::Plan(message) => QueryError::Plan(message.clone()),
        DataFusionError::SchemaError(..) | DataFusionError::NotImplemented(_) => {
            QueryError::Plan(error.find_root().to_string())
        }
        // What remains failed while evaluating the query's own expressions (a bad regular
        // expression, a division by zero): the caller's to fix.
        DataFusionError::ArrowError(..) | DataFusionError::Execution(_) => {
            QueryError::Evaluation(describe_failure(&error))
        }
        _ => QueryError::Execution(describe_failure(&error)),
    }
}
