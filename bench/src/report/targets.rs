//! The targets of issue 7 (the engine), issue 16 (Arrow Flight SQL) and issue 20 (verify
//! latency), met or missed, and
//! why a missed one is missed.

use super::*;

/// Whether a target was met, and what was measured.
struct Target {
    what: &'static str,
    measured: Option<String>,
    met: Option<bool>,
}

/// Why a target is missed on this machine, and what meeting it would take: found by
/// profiling the hub against plain DataFusion; printed under the table for each target missed.
fn cause_of_miss(what: &str) -> Option<&'static str> {
    let cause = match what {
        w if w.starts_with("join") => {
            "The hub's physical plan for the join is the one plain DataFusion makes (a partitioned hash \
             join on the ID number, with the birth-date predicate and the join's dynamic filter pushed into \
             the Parquet scans), and reading strings as `Utf8` rather than views costs little (the join \
             table's row \"strings as Utf8 like the hub\"). What remains is the hub's own work per query: \
             authorization, the policy rewrite, the durable audit record and the Arrow IPC response over \
             HTTP, on the same two cores as the measuring client. (A 40 ms gap found earlier was the \
             response's second chunk waiting for the client's delayed ACK; the hub now sets TCP_NODELAY.)"
        }
        w if w.starts_with("point lookups, live") => {
            "A lookup on the Parquet file already reads one page of each column (the file is sorted by ID \
             number, with 4,096-row pages, page statistics and a bloom filter), yet decoding those pages \
             costs some milliseconds of CPU even in plain DataFusion (its p50 at one client). Eight clients \
             on two cores queue behind each other, so the p99 at 8 clients is several lookups' CPU time. \
             Meeting it takes about 1 ms of CPU per lookup: an accelerated copy does it (see its row), and \
             for live files a cache of decoded pages or smaller pages would be needed."
        }
        w if w.starts_with("export: at least") => {
            "Plain DataFusion encodes Arrow IPC into a sink inside its own process; the hub sends the same \
             bytes through a loopback TCP connection to a client that decodes them, and client and hub share \
             the machine's two cores. The transfer and the client's decoding, not the hub's encoding, bound \
             the hub's figure: on the 2-core machine of the committed report, a bare loopback TCP copy of \
             1.5 GB, without HTTP or decoding, took 0.33 s (4.8 GB/s), four times plain DataFusion's whole \
             export, and curl fetched the hub's export, without decoding it, in 0.46 s. A like-for-like comparison would put plain DataFusion behind the same HTTP \
             transport, or the client on another machine."
        }
        w if w.starts_with("Flight SQL export: at least") => {
            "Both ends do work the bare copy does not, on the same cores. The hub reads and decompresses \
             the Parquet file, computes the join, encodes Arrow IPC (a copy of every byte) and gRPC \
             (tonic's encoder copies each message's body once more into its frame); the client decodes \
             gRPC and Arrow IPC. The Export section gives each end's CPU time per run and the most that \
             time allows on this machine's cores: where that bound is under 0.7 x, no front door could \
             meet the target with its client on the same machine. Profiled with perf on a 2-core machine \
             (2026-12-04, an ADBC client): memory copies were about 30% of the hub's samples during a \
             Flight SQL export against 22% over HTTP, whose IPC bytes go to the socket as they are; the \
             kernel's socket copy about 9%; Zstandard decompression of the Parquet pages 5 to 7%. Over \
             HTTP, curl (which decodes nothing) fetched the same export in 0.60 s, against 1.15 s for \
             ADBC over Flight SQL. Meeting it here would take the client on another machine, or a gRPC \
             encoder that sends a message's body without copying it, which tonic's codec cannot."
        }
        w if w.starts_with("export: the hub's peak")
            || w.starts_with("Flight SQL export: the hub's peak") =>
        {
            "The export itself adds little (it streams batch by batch: see the column \"added by the \
             export\"); what is resident before it is the rest, in three parts. First, the column \"of \
             which mapped files\": the pages of the hub's executable that have run (its release build has \
             about 150 MB of code), which the system may drop and read again but which count as resident. \
             Second, memory the allocator keeps from earlier queries: with glibc's allocator the committed \
             report of 2026-12-02 measured 536 MB (HTTP) and 543 MB (Flight SQL); the hub now runs on \
             mimalloc, which returns freed pages after a short delay (359 MB and 381 MB in the report of \
             2026-12-04), and `MIMALLOC_PURGE_DELAY=0` (freed pages returned at once) measured 287 MB and \
             309 MB in the same session but halved the Flight SQL export's speed and slowed the point \
             lookups, so it is not the default. Third, the hub's own state. A freshly started hub at scale \
             100 (release build, 2026-12-04), after three exports, held 667 MB: 97 MB of mapped files, \
             347 MB of copies and 223 MB of other heap. Meeting it would take less code paged in (a \
             build with link-time optimisation, not yet measured) together with loading copies without \
             holding the source's batches and the sorted copy at once."
        }
        w if w.starts_with("audit cost") => {
            "Each query waits for its `query.started` record to be synced to disk before its first byte \
             leaves; the sync overlaps the computing of the first batch, but a lookup's whole work is about \
             as short as a sync on this disk."
        }
        w if w.starts_with("policy cost") => {
            "The masks are computed for every row sent and the row filter is evaluated in a step of its own \
             before the query's predicates (the row barrier), which keeps errors on hidden rows from showing."
        }
        _ => return None,
    };
    Some(cause)
}

pub(super) fn targets(out: &mut String, results: &Results) {
    let join = &results.join;
    let lookups = &results.lookups;
    let mut list = Vec::new();
    let median_ratio = |a: &Measured<Spread>, b: &Measured<Spread>| match (a, b) {
        (Ok(a), Ok(b)) => Some(ratio(a.median, b.median)),
        _ => None,
    };
    let at_most = |what, value: Option<f64>, limit: f64| Target {
        what,
        measured: value.map(|value| format!("{value:.2} x")),
        met: value.map(|value| value <= limit),
    };
    list.push(at_most(
        "join, live: hub at most 1.10 x plain DataFusion on the files",
        median_ratio(&join.hub_live, &join.plain_files),
        1.10,
    ));
    list.push(at_most(
        "join, live: hub not slower than DuckDB on the files",
        median_ratio(&join.hub_live, &join.duckdb_files),
        1.0,
    ));
    list.push(at_most(
        "join, accelerated: hub at most 1.0 x plain DataFusion in memory",
        median_ratio(&join.hub_accelerated, &join.plain_memory),
        1.0,
    ));
    let compared = CONCURRENCY
        .iter()
        .position(|level| *level == COMPARED_CONCURRENCY);
    for (what, levels) in [
        (
            "point lookups, live: p99 under 10 ms at 8 clients",
            &lookups.hub_live,
        ),
        (
            "point lookups, accelerated: p99 under 10 ms at 8 clients",
            &lookups.hub_accelerated,
        ),
    ] {
        let p99 = compared
            .and_then(|index| levels.get(index))
            .and_then(|measured| measured.as_ref().ok());
        list.push(Target {
            what,
            measured: p99.map(|latencies| duration(latencies.p99)),
            met: p99.map(|latencies| latencies.p99 < Duration::from_millis(10)),
        });
    }
    let accelerated_p50 = match (lookups.hub_accelerated.first(), &lookups.plain_memory) {
        (Some(Ok(hub)), Ok(plain)) => Some(ratio(hub.p50, plain.p50)),
        _ => None,
    };
    list.push(at_most(
        "point lookups, accelerated: p50 (1 client) at most 1.5 x plain DataFusion in memory",
        accelerated_p50,
        1.5,
    ));
    let export_ratio = match (&results.export.hub, &results.export.plain) {
        (Ok(hub), Ok(plain)) => Some(rows_per_second(hub) / rows_per_second(plain).max(f64::EPSILON)),
        _ => None,
    };
    list.push(Target {
        what: "export: at least 0.8 x plain DataFusion's rows per second",
        measured: export_ratio.map(|value| format!("{value:.2} x")),
        met: export_ratio.map(|value| value >= 0.8),
    });
    let peak = results
        .export
        .hub_memory
        .as_ref()
        .ok()
        .map(|memory| memory.peak.saturating_sub(memory.accelerated) as f64 / 1e6);
    list.push(Target {
        what: "export: the hub's peak resident memory under 300 MB (less its accelerated copies of datasets)",
        measured: peak.map(|mb| format!("{mb:.0} MB")),
        met: peak.map(|mb| mb < PEAK_MEMORY_TARGET_MB),
    });
    let cost_under = |what, cost: Option<f64>, limit: f64| Target {
        what,
        measured: cost.map(percent),
        met: cost.map(|cost| cost < limit),
    };
    list.push(cost_under(
        "policy cost on the join under 5%",
        join_cost(results),
        0.05,
    ));
    list.push(cost_under(
        "policy cost on point lookups (8 clients) under 10%",
        lookup_policy_cost(results),
        0.10,
    ));
    list.push(cost_under(
        "audit cost on point lookups (8 clients) under 5%",
        audit_cost(&results.audit),
        0.05,
    ));

    render(out, "Targets (issue 7)", list);
    render(
        out,
        "Targets (issue 16, Arrow Flight SQL)",
        flight_targets(&results.export),
    );
    let verify = results
        .people
        .verify_accelerated
        .as_ref()
        .ok()
        .map(|spread| spread.median);
    render(
        out,
        "Targets (issue 20, sharing less than rows)",
        vec![Target {
            what: "a batch of 1,000 verifications against the accelerated residents in under 50 ms (median)",
            measured: verify.map(duration),
            met: verify.map(|median| median < Duration::from_millis(50)),
        }],
    );
    out.push_str(
        "\nFigures of one run on a shared machine move by several percent between runs; a cost near \
         its limit can be met in one run and missed in the next.\n",
    );
}

/// The Flight SQL export's targets: memory like HTTP's, and speed against the bare copy.
fn flight_targets(export: &ExportResults) -> Vec<Target> {
    let peak = export
        .flight_memory
        .as_ref()
        .ok()
        .map(|memory| memory.peak.saturating_sub(memory.accelerated) as f64 / 1e6);
    let to_loopback = match (&export.flight, &export.loopback) {
        (Ok(flight), Ok(loopback)) => {
            Some(rows_per_second(flight) / rows_per_second(loopback).max(f64::EPSILON))
        }
        _ => None,
    };
    vec![
        Target {
            what: "Flight SQL export: the hub's peak resident memory under 300 MB (less its accelerated copies of datasets)",
            measured: peak.map(|mb| format!("{mb:.0} MB")),
            met: peak.map(|mb| mb < PEAK_MEMORY_TARGET_MB),
        },
        Target {
            what: "Flight SQL export: at least 0.7 x the rows per second of a bare loopback copy of its bytes",
            measured: to_loopback.map(|value| format!("{value:.2} x")),
            met: to_loopback.map(|value| value >= 0.7),
        },
    ]
}

fn render(out: &mut String, heading: &str, list: Vec<Target>) {
    let _ = writeln!(out, "## {heading}\n\n| target | measured | |\n|---|---|---|");
    let mut causes = Vec::new();
    for target in list {
        let verdict = match target.met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "not measured",
        };
        if target.met == Some(false)
            && let Some(cause) = cause_of_miss(target.what)
        {
            causes.push(format!("- *{}*: {cause}", target.what));
        }
        let _ = writeln!(
            out,
            "| {} | {} | {verdict} |",
            target.what,
            target.measured.unwrap_or_default()
        );
    }
    if !causes.is_empty() {
        let _ = write!(
            out,
            "\nWhy the targets missed here are missed, and what meeting them would take:\n\n{}\n",
            causes.join("\n")
        );
    }
}
