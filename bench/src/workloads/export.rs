//! The export: every resident, many times over, with its peak memory: over HTTP and over
//! Arrow Flight SQL, beside plain DataFusion and a bare loopback copy of the same bytes.

use std::future::Future;

use super::*;
use crate::front_doors;

pub async fn export(settings: &Settings, hub: &HubUnderTest<'_>, plain: &PlainDataFusion) -> ExportResults {
    let sql = export_sql(RESIDENTS);
    let endpoint = &hub.process.endpoint;
    let (hub_memory, hub_transfer) =
        hub_export(settings, hub, || endpoint.query(&hub.admin, &sql, PURPOSE)).await;
    let (flight_memory, flight) = match front_doors::flight_channel(&endpoint.flight).await {
        Ok(channel) => {
            hub_export(settings, hub, || {
                front_doors::flight_query(channel.clone(), &hub.admin, &sql, PURPOSE)
            })
            .await
        }
        Err(error) => (Err(error.clone()), Err(error)),
    };
    let loopback = match &flight {
        Ok(flight) => loopback(settings, flight.rows, flight.bytes).await,
        Err(_) => Err("not measured: the Flight SQL export failed".into()),
    };
    ExportResults {
        hub_memory,
        hub: hub_transfer,
        flight_memory,
        flight,
        loopback,
        plain: plain_export(settings, &plain.files, &sql).await,
        plain_utf8: plain_export(settings, &plain.files_utf8, &sql).await,
    }
}

/// Runs `fetch` (the whole export, decoded by the client) the warm-up and measured times,
/// with the hub's peak resident memory reset before each run; the highest peak, and the
/// transfer's timings.
async fn hub_export<F, Fut>(
    settings: &Settings,
    hub: &HubUnderTest<'_>,
    fetch: F,
) -> (Measured<PeakMemory>, Measured<Transfer>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Received, String>>,
{
    let mut memory: Measured<PeakMemory> = Ok(PeakMemory {
        peak: 0,
        before: 0,
        accelerated: 0,
    });
    let mut times = Vec::new();
    let mut received = Ok(Received { rows: 0, bytes: 0 });
    for run in 0..settings.warmup + settings.runs {
        let before = hub
            .process
            .reset_peak_memory()
            .map_err(|error| format!("cannot reset the hub's peak memory: {error}"))
            .and_then(|()| hub.process.resident_memory());
        let started = Instant::now();
        received = fetch().await;
        let elapsed = started.elapsed();
        if received.is_err() {
            break;
        }
        memory = match (memory, before, hub.process.peak_memory()) {
            (Ok(highest), Ok(before), Ok(peak)) if peak > highest.peak => Ok(PeakMemory {
                peak,
                before,
                accelerated: 0,
            }),
            (Ok(highest), Ok(_), Ok(_)) => Ok(highest),
            (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => Err(error),
        };
        if run >= settings.warmup {
            times.push(elapsed);
        }
    }
    let transfer = received.and_then(|received| transfer(&times, received));
    if transfer.is_err() {
        return (Err("the export failed".into()), transfer);
    }
    if let Ok(memory) = &mut memory {
        match hub.process.endpoint.accelerated_bytes(&hub.admin).await {
            Ok(bytes) => memory.accelerated = bytes,
            Err(error) => eprintln!("warning: cannot read the size of the accelerated copies: {error}"),
        }
    }
    (memory, transfer)
}

/// The bare loopback copy of `bytes`, timed like an export of `rows`.
async fn loopback(settings: &Settings, rows: u64, bytes: u64) -> Measured<Transfer> {
    let mut times = Vec::new();
    for run in 0..settings.warmup + settings.runs {
        let elapsed = tokio::task::spawn_blocking(move || front_doors::loopback_copy(bytes))
            .await
            .map_err(|error| error.to_string())?
            .map_err(|error| format!("the loopback copy failed: {error}"))?;
        if run >= settings.warmup {
            times.push(elapsed);
        }
    }
    transfer(&times, Received { rows, bytes })
}

async fn plain_export(settings: &Settings, session: &SessionContext, sql: &str) -> Measured<Transfer> {
    let mut times = Vec::new();
    let mut received = Received { rows: 0, bytes: 0 };
    for run in 0..settings.warmup + settings.runs {
        let started = Instant::now();
        received = datafusion_runner::export(session, sql).await?;
        if run >= settings.warmup {
            times.push(started.elapsed());
        }
    }
    transfer(&times, received)
}

fn transfer(times: &[Duration], received: Received) -> Measured<Transfer> {
    Ok(Transfer {
        time: Spread::of(times).ok_or("no measured runs")?,
        rows: received.rows,
        bytes: received.bytes,
    })
}
