//! What a daily row quota costs point lookups (issue 19). A query under one reads its
//! caller's count of the day from the metadata store first, so that replicas sharing the
//! store count one day, and adds its rows there in the background when it ends.

use super::*;

/// Lookups under a daily row quota and without one, on one hub.
pub struct OnAndOff {
    pub counted: Measured<Latencies>,
    pub uncounted: Measured<Latencies>,
}

pub struct RowQuotaResults {
    /// On the hub measured throughout, whose store is embedded (SQLite).
    pub embedded: OnAndOff,
    /// On a hub whose store is a schema of PostgreSQL, as replicas share one.
    pub shared: Measured<OnAndOff>,
}

/// Lookups at the compared concurrency by a principal whose grant caps the rows it takes a
/// day (too high to reach) and by one whose grant is the same without the cap, in
/// alternating windows, `AUDIT_ROUNDS` of each: each side's window of median throughput.
pub async fn row_quota_windows(
    settings: &Settings,
    hub: &HubUnderTest<'_>,
    ids: &Arc<Vec<String>>,
) -> OnAndOff {
    let [counted, uncounted] =
        super::audit::lookups_of_two(settings, hub, [&hub.rows_counted, &hub.admin], ids).await;
    OnAndOff { counted, uncounted }
}
