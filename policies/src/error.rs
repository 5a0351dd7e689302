use crate::decision::AccessDenied;

/// Why a policy could not be applied or accepted. Every error names the grant it came from.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    Denied(#[from] AccessDenied),
    #[error("grant {grant}: the row filter '{filter}' is not valid: {message}")]
    RowFilter {
        grant: String,
        filter: String,
        message: String,
    },
    #[error("grant {grant}: the mask of column '{column}' is not valid: {message}")]
    Mask {
        grant: String,
        column: String,
        message: String,
    },
    #[error("grant {grant}: '{column}' is not a column of {dataset}")]
    UnknownColumn {
        grant: String,
        dataset: String,
        column: String,
    },
    #[error("grant {grant}: {message}")]
    Invalid { grant: String, message: String },
    #[error("cannot build the secured plan: {0}")]
    Plan(String),
}

impl From<datafusion::error::DataFusionError> for PolicyError {
    fn from(error: datafusion::error::DataFusionError) -> Self {
        Self::Plan(error.strip_backtrace())
    }
}
