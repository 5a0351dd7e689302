use causeway_schemas::SchemaMismatch;
use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

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
    #[error(
        "no {kind} files under '{location}' (a folder's files are read when named *.{})",
        file_extension(kind)
    )]
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
    /// Decimal fields over columns of any scale (PostgreSQL's `numeric` without precision).
    #[error(
        "the source declares {} as numbers of any scale, which the contract's decimal type cannot always hold; declare the column's precision and scale in the source, or say `rounding: half_even` on the field to round values with more fraction digits",
        quoted(.0)
    )]
    UnboundedDecimals(Vec<String>),
}

fn quoted(fields: &[String]) -> String {
    fields
        .iter()
        .map(|field| format!("'{field}'"))
        .collect::<Vec<_>>()
        .join(", ")
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
/// the contract): the hub's side of the exchange, not the query's. Its text is composed
/// only of parts that hold no row value (the dataset, the column, the type, the kind of
/// failure, a database's error code), so it may be shown as it is.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceReadError(pub String);

impl SourceReadError {
    pub fn into_datafusion(message: impl Into<String>) -> datafusion::error::DataFusionError {
        datafusion::error::DataFusionError::External(Box::new(Self(message.into())))
    }
}

/// What a failure while reading or evaluating rows may show to a caller, the hub's log and
/// the audit log: composed from the error's kind and the names of types, never from the
/// text of a driver's, Arrow's or DataFusion's message, which may quote a row's value (a
/// grant may hide it). The only texts kept are the hub's own [`SourceReadError`]s, built
/// without values, and DataFusion's messages known to hold none.
pub fn describe_failure(error: &DataFusionError) -> String {
    match error.find_root() {
        DataFusionError::External(inner) => describe_external(inner.as_ref()),
        DataFusionError::ArrowError(arrow, _) => describe_arrow(arrow),
        DataFusionError::ParquetError(_) => "a Parquet file cannot be decoded".to_owned(),
        DataFusionError::IoError(io) => format!("an I/O error ({})", io.kind()),
        DataFusionError::ObjectStore(_) => "a file cannot be read".to_owned(),
        DataFusionError::Execution(message) => known_or(message, "a function failed on a value"),
        DataFusionError::ResourcesExhausted(_) => "the query ran out of memory".to_owned(),
        _ => "an internal error of the query engine".to_owned(),
    }
}

/// An error from outside the engine: the hub's own read errors as they are, Arrow's by
/// kind, a driver's by nothing but that it failed.
fn describe_external(inner: &(dyn std::error::Error + Send + Sync + 'static)) -> String {
    if let Some(read) = inner.downcast_ref::<SourceReadError>() {
        read.0.clone()
    } else if let Some(arrow) = inner.downcast_ref::<ArrowError>() {
        describe_arrow(arrow)
    } else {
        "the source's driver failed while reading rows".to_owned()
    }
}

fn describe_arrow(error: &ArrowError) -> String {
    match error {
        ArrowError::DivideByZero => "division by zero".to_owned(),
        ArrowError::ArithmeticOverflow(_) => "arithmetic overflow".to_owned(),
        ArrowError::CastError(message) => match cast_target(message) {
            Some(target) => format!("a value cannot be cast to {target}"),
            None => "a value cannot be cast to the type asked for".to_owned(),
        },
        ArrowError::ParseError(message) => {
            known_or(message, "a value cannot be parsed as the type asked for")
        }
        ArrowError::CsvError(_) => {
            "a line of the CSV file does not match the contract's columns and types".to_owned()
        }
        ArrowError::JsonError(_) => {
            "a line of the NDJSON file does not match the contract's columns and types".to_owned()
        }
        ArrowError::ParquetError(_) => "a Parquet file cannot be decoded".to_owned(),
        ArrowError::IoError(_, io) => format!("an I/O error ({})", io.kind()),
        ArrowError::ExternalError(inner) => describe_external(inner.as_ref()),
        ArrowError::ComputeError(message) | ArrowError::InvalidArgumentError(message) => {
            known_or(message, "a function failed on a value")
        }
        _ => "an internal error of the query engine".to_owned(),
    }
}

/// The type a failed cast was asked for, from Arrow's wording (`... to value of Int32
/// type`, `... to Decimal128(10, 2)`): a type's name holds no value.
fn cast_target(message: &str) -> Option<&str> {
    let is_type = |name: &str| {
        !name.is_empty()
            && name.len() <= 40
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '(' | ')' | ',' | ' ' | '_'))
            && name.starts_with(|c: char| c.is_ascii_uppercase())
    };
    if let Some((_, rest)) = message.rsplit_once(" to value of ")
        && let Some(name) = rest.strip_suffix(" type")
        && is_type(name)
    {
        return Some(name);
    }
    let (_, rest) = message.rsplit_once(" to ")?;
    let name = rest.trim_end_matches(['.', ':']);
    is_type(name).then_some(name)
}

/// The phrase for one of DataFusion's messages known to hold no value, by how it begins;
/// `otherwise` for any other.
fn known_or(message: &str, otherwise: &str) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("Divide by zero", "division by zero"),
        ("Overflow", "arithmetic overflow"),
        ("Arithmetic overflow", "arithmetic overflow"),
        (
            "Error parsing timestamp",
            "a value cannot be parsed as a timestamp",
        ),
        ("Error parsing", "a value cannot be parsed as the type asked for"),
        (
            "Regular expression did not compile",
            "a regular expression does not compile",
        ),
        ("regex parse error", "a regular expression does not compile"),
        ("Failed to decode", "a value cannot be decoded"),
        ("Requested character", "a character code is out of range"),
    ];
    if let Some(kept) = messages::ALL
        .iter()
        .find(|kept| message.trim_start().starts_with(*kept))
    {
        return (*kept).to_owned();
    }
    KNOWN
        .iter()
        .find(|(start, _)| message.trim_start().starts_with(start))
        .map_or(otherwise, |(_, phrase)| phrase)
        .to_owned()
}

/// The hub's own messages for failures of evaluation, composed without values and shown
/// as they are: PostgreSQL's words for a double's domain errors (`float.c`).
pub mod messages {
    pub const LOG_OF_ZERO: &str = "cannot take logarithm of zero";
    pub const LOG_OF_NEGATIVE: &str = "cannot take logarithm of a negative number";
    pub const ROOT_OF_NEGATIVE: &str = "cannot take square root of a negative number";
    pub const ZERO_TO_NEGATIVE: &str = "zero raised to a negative power is undefined";
    pub const NEGATIVE_TO_FRACTION: &str =
        "a negative number raised to a non-integer power yields a complex result";
    pub const UNDERFLOW: &str = "value out of range: underflow";

    pub(crate) const ALL: [&str; 6] = [
        LOG_OF_ZERO,
        LOG_OF_NEGATIVE,
        ROOT_OF_NEGATIVE,
        ZERO_TO_NEGATIVE,
        NEGATIVE_TO_FRACTION,
        UNDERFLOW,
    ];
}

/// The extension a folder's files of a source kind are read by.
fn file_extension(kind: &str) -> &str {
    match kind {
        "ndjson" => "json",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrow(error: ArrowError) -> DataFusionError {
        DataFusionError::ArrowError(Box::new(error), None)
    }

    #[test]
    fn failures_are_described_by_kind_and_type_never_by_value() {
        let planted = "O'Brien's \"café\" ’s 「秘」 \\ Couldn't";
        let cases = [
            (
                arrow(ArrowError::CastError(format!(
                    "Cannot cast string '{planted}' to value of Int64 type"
                ))),
                "a value cannot be cast to Int64",
            ),
            (
                arrow(ArrowError::CastError(format!(
                    "Cannot cast {planted} to Decimal128(10, 2)"
                ))),
                "a value cannot be cast to Decimal128(10, 2)",
            ),
            (
                arrow(ArrowError::CastError(format!("Cannot cast to {planted}"))),
                "a value cannot be cast to the type asked for",
            ),
            (arrow(ArrowError::DivideByZero), "division by zero"),
            (
                arrow(ArrowError::CsvError(format!(
                    "Error parsing '{planted}' at line 3"
                ))),
                "a line of the CSV file does not match the contract's columns and types",
            ),
            (
                DataFusionError::Execution(format!("Error parsing timestamp from '{planted}'")),
                "a value cannot be parsed as a timestamp",
            ),
            (
                DataFusionError::Execution(format!("{planted} is not a valid date")),
                "a function failed on a value",
            ),
            (
                DataFusionError::External(format!("Couldn't read {planted}").into()),
                "the source's driver failed while reading rows",
            ),
            (
                SourceReadError::into_datafusion("column 'x' holds a text that is not Int64"),
                "column 'x' holds a text that is not Int64",
            ),
        ];
        for (error, expected) in cases {
            let shown = describe_failure(&error);
            assert_eq!(shown, expected, "{error}");
            assert!(!shown.contains("Brien") && !shown.contains("秘"), "{shown}");
        }
    }
}
