//! The hub's errors as PostgreSQL's: an `ErrorResponse` with the SQLSTATE a client can act
//! on (PostgreSQL's Appendix A codes) and the same redacted message every front door shows.

use pgwire::error::{ErrorInfo, PgWireError};

use crate::api::ApiError;

/// The SQLSTATE of one of the API's error codes.
pub fn sqlstate(code: &str) -> &'static str {
    match code {
        // insufficient_privilege: a refusal of what the caller may read.
        "access_denied"
        | "column_not_granted"
        | "explain_not_allowed"
        | "function_not_available"
        | "grant_unusable"
        | "suspended"
        | "missing_purpose"
        | "forbidden" => "42501",
        // configuration_limit_exceeded: a row quota.
        "row_quota_exceeded" | "subject_quota_exceeded" => "53400",
        "syntax_error" | "not_one_statement" => "42601",
        "unknown_table" => "42P01",
        // undefined_column
        "unknown_column" => "42703",
        "invalid_query" => "42000",
        // read_only_sql_transaction
        "not_read_only" => "25006",
        "not_supported" => "0A000",
        // program_limit_exceeded
        "query_too_large" => "54000",
        // query_canceled: as PostgreSQL's statement_timeout and cancel requests.
        "query_timeout" | "query_cancelled" | "client_stalled" => "57014",
        "memory_limit" => "53200",
        "resource_exhausted" => "53100",
        "busy" | "too_many_queries" => "53300",
        "evaluation_error" => "22000",
        // cannot_connect_now: nothing is served while the audit log cannot be written, nor
        // under a daily quota while the quota's count cannot be read.
        "audit_unavailable" | "quota_unavailable" => "57P03",
        "unauthenticated" | "invalid_token" | "access_ended" => "28000",
        "query_failed" => "58000",
        _ => "XX000",
    }
}

/// `error` as an `ErrorResponse` of severity ERROR.
pub fn error(error: &ApiError) -> PgWireError {
    let mut info = ErrorInfo::new(
        "ERROR".to_owned(),
        sqlstate(error.code).to_owned(),
        error.message.clone(),
    );
    info.detail = Some(format!("causeway error code: {}", error.code));
    PgWireError::UserError(Box::new(info))
}

/// An `ErrorResponse` of `severity` with `code` and `message`.
pub fn response(severity: &str, code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        severity.to_owned(),
        code.to_owned(),
        message.into(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_the_issue_names_have_their_postgresql_states() {
        assert_eq!(sqlstate("column_not_granted"), "42501");
        assert_eq!(sqlstate("row_quota_exceeded"), "53400");
        assert_eq!(sqlstate("syntax_error"), "42601");
        assert_eq!(sqlstate("unknown_table"), "42P01");
        assert_eq!(sqlstate("unknown_column"), "42703");
        assert_eq!(sqlstate("query_timeout"), "57014");
        assert_eq!(sqlstate("something new"), "XX000");
    }
}
