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
/// transfer's timings and CPU time.
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
        files: 0,
    });
    let mut times = Vec::new();
    let mut cpu = Ok(CpuSeconds::default());
    let mut received = Ok(Received { rows: 0, bytes: 0 });
    for run in 0..settings.warmup + settings.runs {
        let before = hub
            .process
            .reset_peak_memory()
            .map_err(|error| format!("cannot reset the hub's peak memory: {error}"))
            .and_then(|()| hub.process.resident_memory());
        let cpu_before = both_cpu(hub);
        let started = Instant::now();
        received = fetch().await;
        let elapsed = started.elapsed();
        if received.is_err() {
            break;
        }
        memory = match (
            memory,
            before,
            hub.process.peak_memory(),
            hub.process.file_memory(),
        ) {
            (Ok(highest), Ok(before), Ok(peak), Ok(files)) if peak > highest.peak => Ok(PeakMemory {
                peak,
                before,
                accelerated: 0,
                files,
            }),
            (Ok(highest), Ok(_), Ok(_), Ok(_)) => Ok(highest),
            (Err(error), ..) | (_, Err(error), ..) | (_, _, Err(error), _) | (.., Err(error)) => Err(error),
        };
        if run >= settings.warmup {
            times.push(elapsed);
            cpu = match (cpu, cpu_before, both_cpu(hub)) {
                (Ok(sum), Ok(before), Ok(after)) => Ok(CpuSeconds {
                    hub: sum.hub + after.hub - before.hub,
                    client: sum.client + after.client - before.client,
                }),
                (Err(error), ..) | (_, Err(error), _) | (.., Err(error)) => Err(error),
            };
        }
    }
    let runs = times.len().max(1) as f64;
    let cpu = cpu.ok().map(|sum| CpuSeconds {
        hub: sum.hub / runs,
        client: sum.client / runs,
    });
    let transfer = received.and_then(|received| transfer(&times, received, cpu));
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

/// The CPU time the hub and this process (the client) have used so far.
fn both_cpu(hub: &HubUnderTest<'_>) -> Measured<CpuSeconds> {
    Ok(CpuSeconds {
        hub: hub.process.cpu_seconds()?,
        client: crate::hub_process::cpu_seconds("self")?,
    })
}

/// The bare loopback copy of `bytes`, timed like an export of `rows`.
async fn loopback(settings: &Settings, rows: u64, bytes: u64) -> Measured<Transfer> {
    let mut times = Vec::new();
    let mut cpu = 0.0;
    for run in 0..settings.warmup + settings.runs {
        let before = crate::hub_process::cpu_seconds("self")?;
        let elapsed = tokio::task::spawn_blocking(move || front_doors::loopback_copy(bytes))
            .await
            .map_err(|error| error.to_string())?
            .map_err(|error| format!("the loopback copy failed: {error}"))?;
        if run >= settings.warmup {
            times.push(elapsed);
            cpu += crate::hub_process::cpu_seconds("self")? - before;
        }
    }
    // Both ends of the copy are threads of this process: all its CPU time is the client's.
    let cpu = CpuSeconds {
        hub: 0.0,
        client: cpu / times.len().max(1) as f64,
    };
    transfer(&times, Received { rows, bytes }, Some(cpu))
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
    transfer(&times, received, None)
}

fn transfer(times: &[Duration], received: Received, cpu: Option<CpuSeconds>) -> Measured<Transfer> {
    Ok(Transfer {
        time: Spread::of(times).ok_or("no measured runs")?,
        rows: received.rows,
        bytes: received.bytes,
        cpu,
    })
}
