//! Supervision after approval: row quotas enforced across queries.

mod quotas;

pub use quotas::{QuotaExceeded, RowUsage};
