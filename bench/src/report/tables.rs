//! A table per workload, with ratios to plain DataFusion.

use super::*;

pub(super) fn join(out: &mut String, join: &JoinResults) {
    let _ = writeln!(
        out,
        "## Join\n\n`{}`\n\n| engine | median | min-max | ratio to plain DataFusion |\n|---|---|---|---|",
        workloads::join_sql("civil_affairs.residents", "land_registry.parcels")
    );
    let rows = [
        ("hub, live Parquet sources", &join.hub_live, &join.plain_files),
        (
            "hub, accelerated datasets",
            &join.hub_accelerated,
            &join.plain_memory,
        ),
        (
            "hub, live, policy analyst",
            &join.hub_live_policy,
            &join.plain_files,
        ),
        (
            "plain DataFusion, Parquet files",
            &join.plain_files,
            &join.plain_files,
        ),
        (
            "plain DataFusion, Parquet files, strings as Utf8 like the hub",
            &join.plain_files_utf8,
            &join.plain_files,
        ),
        (
            "plain DataFusion, MemTable",
            &join.plain_memory,
            &join.plain_memory,
        ),
        ("DuckDB, Parquet files", &join.duckdb_files, &join.plain_files),
        (
            "DuckDB, in-memory tables",
            &join.duckdb_memory,
            &join.plain_memory,
        ),
    ];
    for (engine, measured, plain) in rows {
        let _ = writeln!(out, "| {engine} | {} |", spread_cells(measured, plain));
    }
    out.push_str(
        "\nRatios: to plain DataFusion on the files for file sources, to plain DataFusion in memory for \
         accelerated and in-memory ones.\n\n",
    );
}

fn spread_cells(measured: &Measured<Spread>, plain: &Measured<Spread>) -> String {
    match measured {
        Ok(spread) => format!(
            "{} | {} - {} | {}",
            duration(spread.median),
            duration(spread.min),
            duration(spread.max),
            ratio_cell(measured, plain)
        ),
        Err(reason) => format!("{reason} | | "),
    }
}

fn ratio_cell(measured: &Measured<Spread>, plain: &Measured<Spread>) -> String {
    match (measured, plain) {
        (Ok(measured), Ok(plain)) => format!("{:.2} x", ratio(measured.median, plain.median)),
        _ => String::new(),
    }
}

pub(super) fn lookups(out: &mut String, lookups: &LookupResults, plans: &LookupPlans) {
    let _ = writeln!(
        out,
        "## Point lookups\n\n`{}` with ID numbers sampled from the file.\n\n\
         | engine | clients | queries | queries/s | p50 | p99 |\n|---|---|---|---|---|---|",
        workloads::lookup_sql("civil_affairs.residents", "...")
    );
    for (index, concurrency) in CONCURRENCY.iter().enumerate() {
        if let Some(measured) = lookups.hub_live.get(index) {
            latency_row(out, "hub, live Parquet source", *concurrency, measured);
        }
    }
    for (index, concurrency) in CONCURRENCY.iter().enumerate() {
        if let Some(measured) = lookups.hub_accelerated.get(index) {
            latency_row(out, "hub, accelerated dataset", *concurrency, measured);
        }
    }
    latency_row(
        out,
        "hub, live, policy analyst",
        COMPARED_CONCURRENCY,
        &lookups.hub_live_policy,
    );
    latency_row(out, "plain DataFusion, Parquet file", 1, &lookups.plain_files);
    latency_row(out, "plain DataFusion, MemTable", 1, &lookups.plain_memory);
    latency_row(out, "DuckDB, Parquet file", 1, &lookups.duckdb_files);
    latency_row(out, "DuckDB, in-memory table", 1, &lookups.duckdb_memory);
    out.push_str("\nHow the hub reads the residents for one lookup (physical plans from its EXPLAIN):\n\n");
    for (whose, plan) in [
        ("live, unrestricted", &plans.unrestricted),
        ("live, policy analyst", &plans.policy),
        ("accelerated, unrestricted", &plans.accelerated),
    ] {
        let _ = match plan {
            Ok(plan) => writeln!(out, "{whose}:\n\n```\n{plan}\n```\n"),
            Err(reason) => writeln!(out, "{whose}: {reason}\n"),
        };
    }
}

fn latency_row(out: &mut String, engine: &str, concurrency: usize, measured: &Measured<Latencies>) {
    let _ = match measured {
        Ok(latencies) => writeln!(
            out,
            "| {engine} | {} | {} | {:.1} | {} | {} |",
            latencies.concurrency,
            latencies.queries,
            latencies.per_second,
            duration(latencies.p50),
            duration(latencies.p99)
        ),
        Err(reason) => writeln!(out, "| {engine} | {concurrency} | {reason} | | | |"),
    };
}

pub(super) fn export(out: &mut String, export: &ExportResults) {
    let _ = writeln!(
        out,
        "## Export\n\n`{}`, as an Arrow IPC stream: over HTTP from the hub (decoded by the client); over \
         Arrow Flight SQL from the hub (`GetFlightInfo`, then `DoGet` on its ticket, decoded by \
         arrow-flight's client; bytes are those of the Flight data messages); the same number of bytes \
         copied from one thread to another through a loopback TCP connection, without any protocol (the \
         most any front door can reach on this machine); and from plain DataFusion on the files encoded \
         into a sink that counts the bytes. A default DataFusion session reads Parquet strings as views, \
         whose buffers the IPC writer hands on whole; the hub reads them as `Utf8`, so the last row \
         encodes what the hub encodes. CPU is the time each end used per run (`utime` and `stime` of \
         `/proc/PID/stat`): the hub's, all its threads, and the client's, this process (for the bare \
         copy, both its threads).\n\n\
         | engine | median | min-max | rows/s | MB/s | bytes | ratio (rows/s) | CPU per run: hub + client |\n\
         |---|---|---|---|---|---|---|---|",
        workloads::export_sql("civil_affairs.residents")
    );
    transfer_row(out, "hub, HTTP", &export.hub, &export.plain);
    transfer_row(out, "hub, Arrow Flight SQL", &export.flight, &export.plain);
    transfer_row(
        out,
        "bare loopback copy of the Flight SQL bytes",
        &export.loopback,
        &export.plain,
    );
    transfer_row(out, "plain DataFusion", &export.plain, &export.plain);
    transfer_row(
        out,
        "plain DataFusion, strings as Utf8 like the hub",
        &export.plain_utf8,
        &export.plain,
    );
    if let (Ok(flight), Ok(loopback)) = (&export.flight, &export.loopback) {
        let _ = writeln!(
            out,
            "\nFlight SQL moves {:.2} x the rows per second of the bare loopback copy of its bytes.",
            rows_per_second(flight) / rows_per_second(loopback).max(f64::EPSILON)
        );
        if let Some(bound) = cpu_bound(flight, loopback) {
            out.push_str(&bound);
        }
    }
    out.push_str(
        "\nThe hub's peak resident memory (`VmHWM`, reset before each run) during an export, with what was \
         resident before it started (the hub's own state, memory its allocator kept from earlier queries, \
         and accelerated copies of datasets, by its catalog), and the part of the peak that maps files \
         (`RssFile`: the pages of the hub's executable code and read-only data that have run, and of its \
         libraries), which the system can drop and read again:\n\n\
         | front door | peak | before | accelerated copies | added by the export | peak less the copies | of which mapped files |\n\
         |---|---|---|---|---|---|---|\n",
    );
    memory_row(out, "HTTP", &export.hub_memory);
    memory_row(out, "Arrow Flight SQL", &export.flight_memory);
}

fn memory_row(out: &mut String, front_door: &str, memory: &Measured<PeakMemory>) {
    let mb = |bytes: u64| format!("{:.0} MB", bytes as f64 / 1e6);
    let _ = match memory {
        Ok(memory) => writeln!(
            out,
            "| {front_door} | {} | {} | {} | {} | {} | {} |",
            mb(memory.peak),
            mb(memory.before),
            mb(memory.accelerated),
            mb(memory.peak.saturating_sub(memory.before)),
            mb(memory.peak.saturating_sub(memory.accelerated)),
            mb(memory.files),
        ),
        Err(reason) => writeln!(out, "| {front_door} | {reason} | | | | | |"),
    };
}

fn transfer_row(out: &mut String, engine: &str, measured: &Measured<Transfer>, plain: &Measured<Transfer>) {
    let _ = match measured {
        Ok(transfer) => writeln!(
            out,
            "| {engine} | {} | {} - {} | {:.0} | {:.1} | {} | {} | {} |",
            duration(transfer.time.median),
            duration(transfer.time.min),
            duration(transfer.time.max),
            rows_per_second(transfer),
            transfer.bytes as f64 / 1e6 / transfer.time.median.as_secs_f64().max(f64::EPSILON),
            transfer.bytes,
            match plain {
                Ok(plain) => format!(
                    "{:.2} x",
                    rows_per_second(transfer) / rows_per_second(plain).max(f64::EPSILON)
                ),
                Err(_) => String::new(),
            },
            transfer
                .cpu
                .map(|cpu| format!("{:.2} s + {:.2} s", cpu.hub, cpu.client))
                .unwrap_or_default()
        ),
        Err(reason) => writeln!(out, "| {engine} | {reason} | | | | | | |"),
    };
}

/// What the CPU time of a Flight SQL export allows on this machine's cores: however well
/// the work were spread, hub and client together need their CPU time divided by the cores.
fn cpu_bound(flight: &Transfer, loopback: &Transfer) -> Option<String> {
    let cpu = flight.cpu?;
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get()) as f64;
    let least = (cpu.hub + cpu.client) / cores;
    let best = loopback.time.median.as_secs_f64() / least.max(f64::EPSILON);
    Some(format!(
        "\nHub and client used {:.2} s of CPU per Flight SQL export on this machine's {cores:.0} cores: \
         at least {:.2} s of wall time however it were spread, so at most {best:.2} x the bare copy's rows \
         per second here.\n",
        cpu.hub + cpu.client,
        least
    ))
}

pub(super) fn policy(out: &mut String, results: &Results) {
    let _ = writeln!(
        out,
        "## Policy cost\n\n\
         The policy analyst's grant masks three columns of the residents (`name` partial, `address` \
         null, `household_id` keyed hash) and filters residents and parcels to the town of the \
         principal's `town` attribute ({ANALYST_TOWN}); the unrestricted principal reads every \
         column unmasked. Both on the live Parquet sources.\n\n\
         | workload | unrestricted | policy analyst | cost |\n|---|---|---|---|"
    );
    let join = (&results.join.hub_live, &results.join.hub_live_policy);
    let _ = writeln!(
        out,
        "| join (median) | {} | {} | {} |",
        median_or_reason(join.0),
        median_or_reason(join.1),
        percent_or_empty(join_cost(results))
    );
    let unrestricted = compared_lookups(&results.lookups);
    let _ = writeln!(
        out,
        "| point lookups, {COMPARED_CONCURRENCY} clients (queries/s) | {} | {} | {} |\n",
        per_second_or_reason(unrestricted),
        per_second_or_reason(&results.lookups.hub_live_policy),
        percent_or_empty(lookup_policy_cost(results))
    );
}

pub(super) fn audit(out: &mut String, audit: &AuditResults) {
    let _ = writeln!(
        out,
        "## Audit cost\n\n\
         Point lookups by {COMPARED_CONCURRENCY} clients on the hub with the durable audit log on, and \
         on a second hub process over the same state with `[audit] enabled = false`: {AUDIT_ROUNDS} \
         windows each, alternating; the window of median throughput of each.\n\n\
         | audit log | queries/s | p50 | p99 |\n|---|---|---|---|"
    );
    on_and_off(out, [&audit.on, &audit.off]);
    let _ = writeln!(out, "\nCost: {}.\n", percent_or_empty(audit_cost(audit)));
}

/// The rows `on` and `off` of a table of lookups measured with and without a cost.
fn on_and_off(out: &mut String, [on, off]: [&Measured<Latencies>; 2]) {
    for (name, measured) in [("on", on), ("off", off)] {
        let _ = match measured {
            Ok(latencies) => writeln!(
                out,
                "| {name} | {:.1} | {} | {} |",
                latencies.per_second,
                duration(latencies.p50),
                duration(latencies.p99)
            ),
            Err(reason) => writeln!(out, "| {name} | {reason} | | |"),
        };
    }
}

pub(super) fn people(out: &mut String, people: &workloads::PeopleResults) {
    let _ = writeln!(
        out,
        "## Sharing less than rows (issue 20)\n\n\
         `POST /v1/verify` with a batch of {VERIFY_BATCH} records (an ID number and a name) against the residents \
         under a verify-only grant (the sampled ID numbers, repeated to fill the batch): the whole call, \
         counting every record against the store's per-subject and daily counts, matching and the \
         durable audit record.\n\n\
         | residents | median | min-max |\n|---|---|---|"
    );
    for (name, measured) in [
        ("live (Parquet)", &people.verify_live),
        ("accelerated (memory)", &people.verify_accelerated),
    ] {
        let _ = match measured {
            Ok(spread) => writeln!(
                out,
                "| {name} | {} | {}-{} |",
                duration(spread.median),
                duration(spread.min),
                duration(spread.max)
            ),
            Err(reason) => writeln!(out, "| {name} | {reason} | |"),
        };
    }
    let _ = writeln!(
        out,
        "\nPoint lookups by {COMPARED_CONCURRENCY} clients under the same grant with and without \
         `max_subjects_per_day` (set too high to reach, so every lookup is counted and none refused): \
         {AUDIT_ROUNDS} windows each, alternating; the window of median throughput of each. The \
         sampled people are read again and again, so after the first window each lookup finds its \
         person counted already; a person read for the first time also costs a background write to \
         the store.\n\n\
         | distinct-person quota | queries/s | p50 | p99 |\n|---|---|---|---|"
    );
    on_and_off(out, [&people.counted, &people.uncounted]);
    let _ = writeln!(out, "\nCost: {}.\n", percent_or_empty(subject_quota_cost(people)));
}

pub(super) fn row_quotas(out: &mut String, quotas: &workloads::RowQuotaResults) {
    let _ = writeln!(
        out,
        "## Daily row quotas (issue 19)\n\n\
         Point lookups by {COMPARED_CONCURRENCY} clients under a grant with `max_rows_per_day` (set too \
         high to reach, so every lookup is counted and none refused) and under the same grant without \
         it: {AUDIT_ROUNDS} windows each, alternating; the window of median throughput of each. A query \
         under a daily quota first reads its caller's count of the day from the metadata store (one \
         indexed read of the count every hub sharing the store adds to), and adds its rows there in the \
         background when it ends. Measured on the hub above, whose store is embedded (SQLite), and on a \
         hub of its own whose store is a schema of this machine's PostgreSQL, as replicas share one.\n\n\
         | store | daily row quota | queries/s | p50 | p99 |\n|---|---|---|---|---|"
    );
    let unmeasured = |reason: &String| workloads::OnAndOff {
        counted: Err(reason.clone()),
        uncounted: Err(reason.clone()),
    };
    let shared = match &quotas.shared {
        Ok(shared) => shared,
        Err(reason) => &unmeasured(reason),
    };
    let stores = [
        ("embedded (SQLite)", &quotas.embedded),
        ("shared (PostgreSQL)", shared),
    ];
    for (store, windows) in stores {
        for (quota, measured) in [("on", &windows.counted), ("off", &windows.uncounted)] {
            let _ = match measured {
                Ok(latencies) => writeln!(
                    out,
                    "| {store} | {quota} | {:.1} | {} | {} |",
                    latencies.per_second,
                    duration(latencies.p50),
                    duration(latencies.p99)
                ),
                Err(reason) => writeln!(out, "| {store} | {quota} | {reason} | | |"),
            };
        }
    }
    let costs: Vec<String> = stores
        .iter()
        .map(|(store, windows)| {
            let cost = throughput_cost(&windows.uncounted, &windows.counted);
            format!(
                "{} on the {store} store",
                cost.map_or("not measured".into(), percent)
            )
        })
        .collect();
    let _ = writeln!(out, "\nCost: {}.\n", costs.join("; "));
}

pub(super) fn hostile(out: &mut String, hostile: &workloads::HostileResults) {
    let _ = writeln!(
        out,
        "\n## Beside hostile clients (issue 11)\n\n\
         The policy analyst's point lookups at {} clients, alone and while four hostile clients run: one \
         sends 5,000-term expressions (refused for depth), one a cartesian product of the residents with \
         themselves three times (CPU-bound until its client drops it at the end of the window), one \
         `repeat('x', 1000000000)` (refused before it allocates), and one holds 50 idle and half-sent \
         connections at a time. Queries run on threads apart from those that answer requests.\n\n\
         | lookups | clients | queries | queries/s | p50 | p99 |\n|---|---|---|---|---|---|",
        workloads::COMPARED_CONCURRENCY
    );
    latency_row(out, "alone", workloads::COMPARED_CONCURRENCY, &hostile.calm);
    latency_row(
        out,
        "beside hostile clients",
        workloads::COMPARED_CONCURRENCY,
        &hostile.beside_hostile,
    );
    let _ = writeln!(
        out,
        "\nThe hostile clients got {} answers; the slowest health check during the window took {}. \
         Target: the ordinary queries' p99 under 1 s.",
        hostile.hostile_answers,
        hostile
            .slowest_health
            .map_or_else(|| "(none answered)".to_owned(), duration)
    );
}

pub(super) fn database(out: &mut String, database: &Measured<DatabaseResults>) {
    let _ = writeln!(
        out,
        "## Database source\n\n`{}` on `social_security.benefit_payments` in PostgreSQL, through the \
         hub and sent straight to PostgreSQL (sqlx, one connection).\n",
        workloads::payments_sql("...")
    );
    let database = match database {
        Ok(database) => database,
        Err(reason) => {
            let _ = writeln!(out, "{reason}\n");
            return;
        }
    };
    let _ = writeln!(
        out,
        "| path | median | min-max | ratio to PostgreSQL direct |\n|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| through the hub | {} |",
        spread_cells(&database.hub, &database.direct)
    );
    let _ = writeln!(
        out,
        "| straight to PostgreSQL | {} |",
        spread_cells(&database.direct, &database.direct)
    );
    let matching = match &database.rows_matching {
        Ok(rows) => rows.to_string(),
        Err(reason) => reason.clone(),
    };
    let _ = writeln!(
        out,
        "\nRows transferred from PostgreSQL to the hub: {matching} matching rows of {} in the table; \
         without push-down every row would cross. The SQL the hub sent (from its EXPLAIN): {}\n",
        database.rows_in_table,
        match &database.pushed_sql {
            Ok(sql) => format!("`{}`", sql.replace('`', "'")),
            Err(reason) => reason.clone(),
        }
    );
}
