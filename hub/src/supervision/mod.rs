//! Supervision after approval: row quotas enforced across queries, and alert rules.

mod alerts;
mod quotas;

pub use alerts::{AlertError, Alerts, AlertsConfig};
pub use quotas::{QuotaExceeded, RowUsage};
