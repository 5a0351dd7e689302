//! What the audit log costs lookups.

use super::*;

/// Lookups at the compared concurrency on a hub with its audit log on and on one with it
/// off, in alternating windows, `AUDIT_ROUNDS` of each: each side's window of median
/// throughput.
pub async fn audit(
    settings: &Settings,
    on: &HubUnderTest<'_>,
    off: &HubUnderTest<'_>,
    ids: &Arc<Vec<String>>,
) -> AuditResults {
    let mut with_log = Vec::new();
    let mut without_log = Vec::new();
    for _ in 0..AUDIT_ROUNDS {
        with_log.push(audit_window(settings, on, ids).await);
        without_log.push(audit_window(settings, off, ids).await);
    }
    AuditResults {
        on: median_window(with_log),
        off: median_window(without_log),
    }
}

/// Alternating windows of the audit-cost measurement, per side.
pub const AUDIT_ROUNDS: usize = 3;

pub(super) fn median_window(windows: Vec<Measured<Latencies>>) -> Measured<Latencies> {
    let mut windows = windows.into_iter().collect::<Result<Vec<_>, _>>()?;
    windows.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
    windows
        .get(windows.len() / 2)
        .copied()
        .ok_or_else(|| "no windows".to_owned())
}

/// Lookups at the compared concurrency, on the hub as it is configured.
async fn audit_window(
    settings: &Settings,
    hub: &HubUnderTest<'_>,
    ids: &Arc<Vec<String>>,
) -> Measured<Latencies> {
    hub_lookups(
        settings,
        &hub.process.endpoint,
        &hub.admin,
        RESIDENTS,
        COMPARED_CONCURRENCY,
        ids,
    )
    .await
}
