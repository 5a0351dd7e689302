//! Requests refused for their bearer token, recorded per source address without letting a
//! flood of them fill the log: the first refusal from an address in each window is recorded
//! at once, the others of that window are counted and recorded as one record when the
//! window has passed. Past `MAX_SOURCES` addresses in one window, the rest share one count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::audit::{Action, AuditLog, Event, Outcome};

/// How long refusals from one address are counted into one record.
const WINDOW: Duration = Duration::from_secs(60);
/// Addresses counted apart at once.
const MAX_SOURCES: usize = 10_000;

pub struct Refusals {
    audit: AuditLog,
    /// Counts per address; `None` holds the addresses past `MAX_SOURCES`.
    sources: Mutex<HashMap<Option<IpAddr>, Count>>,
}

struct Count {
    opened: Instant,
    since: DateTime<Utc>,
    /// Refusals after the first, not yet recorded.
    more: u64,
    reason: String,
}

impl Refusals {
    pub fn new(audit: AuditLog) -> Self {
        Self {
            audit,
            sources: Mutex::new(HashMap::new()),
        }
    }

    /// A request from `address` was refused because of its token, for `reason`.
    pub fn refused(&self, address: Option<IpAddr>, reason: &str) {
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        let key = if sources.contains_key(&address) || sources.len() < MAX_SOURCES {
            address
        } else {
            None
        };
        if let Some(count) = sources.get_mut(&key) {
            count.more += 1;
            count.reason = reason.to_owned();
            return;
        }
        sources.insert(
            key,
            Count {
                opened: Instant::now(),
                since: Utc::now(),
                more: 0,
                reason: reason.to_owned(),
            },
        );
        drop(sources);
        self.audit.enqueue(record(key, 1, Utc::now(), reason));
    }

    /// Records the counts of windows that have passed, and forgets them.
    pub fn flush(&self) {
        let mut ended = Vec::new();
        {
            let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
            sources.retain(|key, count| {
                if count.opened.elapsed() < WINDOW {
                    return true;
                }
                if count.more > 0 {
                    ended.push(record(*key, count.more, count.since, &count.reason));
                }
                false
            });
        }
        for record in ended {
            self.audit.enqueue(record);
        }
    }

    /// Flushes every few seconds while the hub runs.
    pub fn watch(self: &Arc<Self>) {
        let refusals = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                refusals.flush();
            }
        });
    }
}

fn record(address: Option<IpAddr>, refusals: u64, since: DateTime<Utc>, reason: &str) -> Event {
    let mut event = Event::new(Action::BearerRefused, Outcome::Denied)
        .with_detail(serde_json::json!({
            "refusals": refusals,
            "since": since,
            "addresses": if address.is_some() { "one" } else { "many" },
        }))
        .failed(Outcome::Denied, "invalid_token", reason);
    event.client_address = address.map(|address| address.to_string());
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_from_one_address_is_one_record_then_one_count() {
        let refusals = Refusals::new(AuditLog::off());
        let address: IpAddr = "10.0.0.7".parse().unwrap();
        for _ in 0..10_000 {
            refusals.refused(Some(address), "the token has expired");
        }
        let sources = refusals.sources.lock().unwrap();
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[&Some(address)].more, 9_999);
    }

    #[test]
    fn addresses_past_the_cap_share_one_count() {
        let refusals = Refusals::new(AuditLog::off());
        for index in 0..(MAX_SOURCES as u32 + 500) {
            refusals.refused(Some(IpAddr::from(index.to_be_bytes())), "bad signature");
        }
        let sources = refusals.sources.lock().unwrap();
        assert_eq!(sources.len(), MAX_SOURCES + 1);
        assert_eq!(sources[&None].more, 499);
    }
}
