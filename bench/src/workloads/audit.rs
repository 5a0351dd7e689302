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
    let [on, off] = alternating(|side| audit_window(settings, if side == 0 { on } else { off }, ids)).await;
    AuditResults { on, off }
}

/// Alternating windows of each compared pair (the audit log, the quotas), per side.
pub const AUDIT_ROUNDS: usize = 3;

/// Two sides measured in alternating windows, `AUDIT_ROUNDS` of each (`window(0)`, then
/// `window(1)`, and again), so that a drift of the machine falls on both: each side's
/// window of median throughput.
pub(super) async fn alternating<F, Fut>(mut window: F) -> [Measured<Latencies>; 2]
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Measured<Latencies>>,
{
    let mut sides = [Vec::new(), Vec::new()];
    for _ in 0..AUDIT_ROUNDS {
        for (side, windows) in sides.iter_mut().enumerate() {
            windows.push(window(side).await);
        }
    }
    sides.map(median_window)
}

/// Lookups at the compared concurrency by two principals on one hub, in alternating
/// windows: each one's window of median throughput.
pub(super) async fn lookups_of_two(
    settings: &Settings,
    hub: &HubUnderTest<'_>,
    tokens: [&str; 2],
    ids: &Arc<Vec<String>>,
) -> [Measured<Latencies>; 2] {
    alternating(|side| {
        hub_lookups(
            settings,
            &hub.process.endpoint,
            tokens[side],
            RESIDENTS,
            COMPARED_CONCURRENCY,
            ids,
        )
    })
    .await
}

fn median_window(windows: Vec<Measured<Latencies>>) -> Measured<Latencies> {
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
