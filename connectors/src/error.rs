use causeway_schemas::SchemaMismatch;

/// Why a source could not be opened or read. Messages never contain resolved secrets.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("invalid source: {0}")]
    InvalidSource(String),
    #[error("invalid connection settings: {0}")]
    Settings(String),
    #[error("environment variable {0} is not set")]
    MissingEnvironmentVariable(String),
    #[error(
        "unknown connection '{0}': database connections are defined in the hub configuration under [connectors.connections.NAME]"
    )]
    UnknownConnection(String),
    #[error("connection '{name}' is a {actual} connection, but the source says {expected}")]
    WrongConnectionKind {
        name: String,
        actual: &'static str,
        expected: &'static str,
    },
    #[error("path '{0}' is outside the directories this hub may read (connectors.file_roots)")]
    PathNotAllowed(String),
    /// A file, or a table of a database, that is not there; names it.
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("no {kind} files under '{location}'")]
    NoFiles { kind: &'static str, location: String },
    #[error("cannot connect to {kind} connection '{name}': {message}")]
    Connect {
        kind: &'static str,
        name: String,
        message: String,
    },
    /// `message` is what callers see (redacted of secrets); `source` is the error as the
    /// driver or DataFusion gave it, for the hub's log.
    #[error("cannot read {kind} source {location}: {message}")]
    Source {
        kind: &'static str,
        location: String,
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the source does not match the contract: {}", join(.0))]
    ContractMismatch(Vec<SchemaMismatch>),
}

fn join(mismatches: &[SchemaMismatch]) -> String {
    mismatches
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ConnectorError {
    /// A source that could not be read, shown as `error` shows itself.
    pub(crate) fn unreadable(
        kind: &'static str,
        location: impl Into<String>,
        error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        let source = error.into();
        Self::Source {
            kind,
            location: location.into(),
            message: source.to_string(),
            source,
        }
    }
}

pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// A source failed while rows were being read (a database error, a value that does not fit
/// the contract): the hub's side of the exchange, not the query's.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceReadError(pub String);

impl SourceReadError {
    pub fn into_datafusion(message: impl Into<String>) -> datafusion::error::DataFusionError {
        datafusion::error::DataFusionError::External(Box::new(Self(message.into())))
    }
}

/// The message with every quoted text replaced by `'…'`: error messages about values read
/// from a source must not carry them, since a grant may hide them.
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for character in message.chars() {
        match (character, quoted) {
            ('\'', false) => {
                quoted = true;
                out.push_str("'…");
            }
            ('\'', true) => {
                quoted = false;
                out.push('\'');
            }
            (_, true) => {}
            (other, false) => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_leave_error_messages() {
        assert_eq!(
            without_values("Cannot cast string '44060519900101123X' to value of Int64 type"),
            "Cannot cast string '…' to value of Int64 type"
        );
    }
}
