use datafusion::arrow::datatypes::DataType;
use datafusion::error::DataFusionError;

use crate::decision::AccessDenied;

/// Why a policy could not be applied or accepted. Every error about a row filter or a mask
/// names the grant it came from, and keeps the error that refused it as its source.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    Denied(#[from] AccessDenied),
    #[error("grant {grant}: the row filter '{filter}' is not valid: {}", reason(.source))]
    RowFilter {
        grant: String,
        filter: String,
        #[source]
        source: DataFusionError,
    },
    #[error("grant {grant}: the mask of column '{column}' is not valid: {}", reason(.source))]
    Mask {
        grant: String,
        column: String,
        #[source]
        source: DataFusionError,
    },
    #[error("grant {grant}: '{column}' is not a column of {dataset}")]
    UnknownColumn {
        grant: String,
        dataset: String,
        column: String,
    },
    #[error("grant {grant}: {message}")]
    Invalid { grant: String, message: String },
    #[error("cannot build the secured plan: {}", reason(.0))]
    Plan(#[from] DataFusionError),
}

/// What a row filter or a mask is refused for, as its grant's error says it: the policy
/// crate's own reasons as they are, DataFusion's with its kind of error.
fn reason(error: &DataFusionError) -> String {
    match error {
        DataFusionError::External(inner) => inner.to_string(),
        other => other.strip_backtrace(),
    }
}

/// Why a row filter or a mask does not fit the dataset it is for, where DataFusion has no
/// error of its own: carried in [`DataFusionError::External`], as a rewrite returns
/// DataFusion's `Result`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnfitPolicy {
    #[error("it is a {0}, not a condition")]
    NotACondition(DataType),
    #[error("year only needs a date or timestamp, not {0}")]
    YearOnlyType(DataType),
    #[error("bands need a number column and a positive width, not {data_type} and {width}")]
    Bucket { data_type: DataType, width: f64 },
    #[error("the prefix mask needs a non-empty 'before'")]
    EmptyPrefix,
    #[error("a visible column needs a grant")]
    NoGrant,
    #[error("a SQL mask is an expression over its own column only, not over {}", .0.join(", "))]
    SqlMaskReadsOtherColumns(Vec<String>),
}

impl From<UnfitPolicy> for DataFusionError {
    fn from(unfit: UnfitPolicy) -> Self {
        DataFusionError::External(Box::new(unfit))
    }
}
