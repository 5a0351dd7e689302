//! Supervision after approval: row quotas enforced across queries, alert rules, and the
//! record of grants running out.

mod alerts;
mod expiry;
mod quotas;
mod refusals;
mod subjects;

pub use alerts::{AlertError, Alerts, AlertsConfig};
pub use expiry::watch_expiries;
pub use quotas::{QuotaExceeded, RowUsage};
pub use refusals::Refusals;
pub use subjects::{Admitted, SubjectQuotaExceeded, SubjectUsage};
