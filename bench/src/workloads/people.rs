//! Sharing less than rows (issue 20): batches of verifications against the residents, and
//! what a distinct-person quota costs point lookups.

use super::*;

/// Records in one verification batch.
pub const VERIFY_BATCH: usize = 1000;

pub struct PeopleResults {
    /// A batch of `VERIFY_BATCH` records (an ID number and a name) against the residents read from Parquet.
    pub verify_live: Measured<Spread>,
    /// The same against their accelerated copy.
    pub verify_accelerated: Measured<Spread>,
    /// Lookups by a principal whose grant caps the people it reads a day, and by one whose
    /// grant is the same without the cap: alternating windows, the median of each.
    pub counted: Measured<Latencies>,
    pub uncounted: Measured<Latencies>,
}

/// The batches, then the lookups with and without a distinct-person quota.
pub async fn people(settings: &Settings, hub: &HubUnderTest<'_>, ids: &Arc<Vec<String>>) -> PeopleResults {
    let batch: Vec<serde_json::Value> = ids
        .iter()
        .cycle()
        .take(VERIFY_BATCH)
        // The ID number alone would ask who is registered, which the grant does not answer;
        // the name matched with it is the same for all, and costs the same matched or not.
        .map(|id| serde_json::json!({ "id_number": id, "name": "Chen Wei" }))
        .collect();
    let verify_live = verify_batches(settings, hub, RESIDENTS, &batch).await;
    let verify_accelerated = match &settings.acceleration {
        Ok(()) => verify_batches(settings, hub, RESIDENTS_ACCELERATED, &batch).await,
        Err(reason) => Err(reason.clone()),
    };
    let [counted, uncounted] =
        super::audit::lookups_of_two(settings, hub, [&hub.counted, &hub.admin], ids).await;
    PeopleResults {
        verify_live,
        verify_accelerated,
        counted,
        uncounted,
    }
}

async fn verify_batches(
    settings: &Settings,
    hub: &HubUnderTest<'_>,
    dataset: &str,
    batch: &[serde_json::Value],
) -> Measured<Spread> {
    let mut times = Vec::with_capacity(settings.runs);
    for run in 0..settings.warmup + settings.runs {
        let started = Instant::now();
        let answers = hub
            .process
            .endpoint
            .verify(&hub.verifier, dataset, VERIFY_PURPOSE, batch)
            .await?;
        if answers != batch.len() {
            return Err(format!("{answers} answers to {} records", batch.len()));
        }
        if run >= settings.warmup {
            times.push(started.elapsed());
        }
    }
    Spread::of(&times).ok_or_else(|| "no runs".to_owned())
}
