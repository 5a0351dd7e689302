//! Grants run out by themselves: each query checks `expires_at` and `recertify_by`. This
//! watcher writes the `grant.expired` record when one passes, with the reason (`expired`,
//! or `not_recertified` when the owning department did not confirm the grant in time), so
//! the log shows when access ended, not only when it was given or taken.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::access::Access;
use crate::audit::{Action, AuditLog, Event, Outcome};

/// How often the grants in force are looked at.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Records every grant that expires after `since`, as it expires, until the hub stops.
pub fn watch_expiries(access: Arc<Access>, audit: AuditLog, since: DateTime<Utc>) {
    tokio::spawn(async move {
        let mut since = since;
        let mut ticks = tokio::time::interval(CHECK_EVERY);
        loop {
            ticks.tick().await;
            let now = Utc::now();
            for grant in &access.snapshot().grants {
                let Some((at, reason)) = grant.lapse() else {
                    continue;
                };
                if since < at && at <= now {
                    let mut record = Event::new(Action::GrantExpired, Outcome::Ok).on_dataset(&grant.dataset);
                    record.grants.push(grant.id.clone());
                    record.detail = Some(serde_json::json!({ "at": at, "reason": reason }).to_string());
                    audit.record_done(record).await;
                }
            }
            since = now;
        }
    });
}
