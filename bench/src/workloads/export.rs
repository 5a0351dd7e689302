//! The export: every resident, many times over, with its peak memory.

use super::*;

pub async fn export(settings: &Settings, hub: &HubUnderTest<'_>, plain: &PlainDataFusion) -> ExportResults {
    let sql = export_sql(RESIDENTS);
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
        received = hub.process.endpoint.query(&hub.admin, &sql, PURPOSE).await;
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
    let hub_transfer = received.and_then(|received| transfer(&times, received));

    if let Ok(memory) = &mut memory {
        match hub.process.endpoint.accelerated_bytes(&hub.admin).await {
            Ok(bytes) => memory.accelerated = bytes,
            Err(error) => eprintln!("warning: cannot read the size of the accelerated copies: {error}"),
        }
    }
    ExportResults {
        hub_memory: if hub_transfer.is_ok() {
            memory
        } else {
            Err("the export failed".into())
        },
        hub: hub_transfer,
        plain: plain_export(settings, &plain.files, &sql).await,
        plain_utf8: plain_export(settings, &plain.files_utf8, &sql).await,
    }
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
