//! The markdown report: how to rerun, the machine, the settings, a table per workload with
//! ratios to plain DataFusion, and the targets of issues 7 and 16 met or missed.

use std::fmt::Write;
use std::time::Duration;

use super::Settings;
use super::setup::{ANALYST_TOWN, Data};
use super::stats::{Latencies, Measured, Spread};
use super::workloads::{
    self, AUDIT_ROUNDS, AuditResults, COMPARED_CONCURRENCY, CONCURRENCY, DatabaseResults, ExportResults,
    JoinResults, LookupPlans, LookupResults, PeakMemory, Transfer, VERIFY_BATCH, WIRE_CONCURRENCY,
    WireResults,
};

mod front_doors;
mod tables;
mod targets;

use tables::{audit, database, export, hostile, join, lookups, people, policy, row_quotas};
use targets::targets;

pub struct Results {
    pub join: JoinResults,
    pub lookups: LookupResults,
    pub wire: WireResults,
    pub export: ExportResults,
    pub database: Measured<DatabaseResults>,
    pub audit: AuditResults,
    pub people: workloads::PeopleResults,
    pub row_quotas: workloads::RowQuotaResults,
    pub lookup_plans: LookupPlans,
    pub hostile: workloads::HostileResults,
    /// What the reader should know about this run, e.g. why a column is empty.
    pub notes: Vec<String>,
}

const MIB: f64 = 1024.0 * 1024.0;
const PEAK_MEMORY_TARGET_MB: f64 = 300.0;

pub fn render(settings: &Settings, data: &Data, results: &Results, took: Duration) -> String {
    let mut out = String::new();
    let command: Vec<String> = std::env::args().skip(1).collect();
    let _ = writeln!(
        out,
        "# Benchmarks\n\n\
         Written by `{}` on {} (took {:.0} s). Not edited by hand: rerun the command to \
         update it.\n",
        std::iter::once("causeway-bench".to_owned())
            .chain(command)
            .collect::<Vec<_>>()
            .join(" "),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        took.as_secs_f64()
    );
    out.push_str(HOW_TO_RUN);
    machine(&mut out, settings, data);
    join(&mut out, &results.join);
    lookups(&mut out, &results.lookups, &results.lookup_plans);
    front_doors::wire(&mut out, &results.lookups, &results.wire);
    export(&mut out, &results.export);
    policy(&mut out, results);
    audit(&mut out, &results.audit);
    people(&mut out, &results.people);
    row_quotas(&mut out, &results.row_quotas);
    database(&mut out, &results.database);
    hostile(&mut out, &results.hostile);
    targets(&mut out, results);
    if !results.notes.is_empty() {
        let _ = writeln!(out, "\n## Notes\n\n- {}", results.notes.join("\n- "));
    }
    out
}

const HOW_TO_RUN: &str = "## How to run\n\n\
```sh\n\
cargo build --release --bin causeway --bin causeway-bench\n\
target/release/causeway-bench              # 1 M residents, 5 runs; writes BENCHMARKS.md here\n\
target/release/causeway-bench --quick      # scale 1, 3 runs; writes causeway-bench/BENCHMARKS.md\n\
```\n\n\
Options: `--scale N` (10,000 residents per unit), `--runs`, `--warmup`, `--dir` (data, hub state and \
logs; data of the same scale is reused), `--report`, `--python` (a python3 with `duckdb`; otherwise a \
virtual environment is made in the cache directory), `--postgres-url`, `--no-acceleration`.\n\n\
Each workload runs against the real hub (`causeway serve`, a child process on loopback, queried over \
HTTP with Arrow IPC output) and, in the same run, against plain DataFusion in this process (a default \
`SessionContext` on the same Parquet files, and one on the same data in a `MemTable`) and against DuckDB \
(Python package; views over the files, and tables in memory). Times are medians of the measured runs \
after the warm-up, with the min-max spread; ratios are hub / plain DataFusion.\n\n";

fn machine(out: &mut String, settings: &Settings, data: &Data) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|meminfo| {
            meminfo
                .lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or_else(|| "unknown".into(), |kib| format!("{:.1} GiB", kib / MIB));
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    // Cargo passes its environment on to rustc: a build with CARGO_PROFILE_DEV_OPT_LEVEL=1
    // optimises the workspace's crates as the dev profile optimises the dependencies.
    let build = if cfg!(debug_assertions) {
        format!(
            "dev profile, debug assertions on; Causeway's crates at opt-level {}, dependencies (DataFusion, \
             Arrow) at 1: slower than a release build. The hub and plain DataFusion share the binary; \
             DuckDB is its release package",
            option_env!("CARGO_PROFILE_DEV_OPT_LEVEL").unwrap_or("0")
        )
    } else {
        "release".to_owned()
    };
    let _ = writeln!(
        out,
        "## Machine and settings\n\n\
         | | |\n|---|---|\n\
         | CPU | {cpu} |\n| cores | {cores} |\n| memory | {memory} |\n| kernel | Linux {} |\n| build | {build} |\n\
         | scale | {} ({} residents, {} parcels) |\n| runs | {} measured after {} warm-up |\n\
         | point lookups | {} s per measurement, {} ID numbers in turn, after {} single lookups |\n\
         | export | the residents {} times over: {} rows |\n",
        kernel.trim(),
        settings.scale,
        data.residents,
        data.parcels,
        settings.runs,
        settings.warmup,
        settings.lookup_window.as_secs(),
        settings.lookup_keys,
        settings.lookup_warmup(),
        workloads::EXPORT_COPIES,
        data.residents * workloads::EXPORT_COPIES,
    );
}

fn rows_per_second(transfer: &Transfer) -> f64 {
    transfer.rows as f64 / transfer.time.median.as_secs_f64().max(f64::EPSILON)
}

fn compared_lookups(lookups: &LookupResults) -> &Measured<Latencies> {
    let index = CONCURRENCY
        .iter()
        .position(|level| *level == COMPARED_CONCURRENCY)
        .unwrap_or_default();
    &lookups.hub_live[index]
}

/// Extra time of the policy analyst's join over the unrestricted one's.
fn join_cost(results: &Results) -> Option<f64> {
    match (&results.join.hub_live, &results.join.hub_live_policy) {
        (Ok(unrestricted), Ok(policy)) => Some(ratio(policy.median, unrestricted.median) - 1.0),
        _ => None,
    }
}

/// Extra time per lookup for the policy analyst: lost throughput, as a time cost.
fn lookup_policy_cost(results: &Results) -> Option<f64> {
    throughput_cost(
        compared_lookups(&results.lookups),
        &results.lookups.hub_live_policy,
    )
}

fn subject_quota_cost(people: &workloads::PeopleResults) -> Option<f64> {
    throughput_cost(&people.uncounted, &people.counted)
}

fn audit_cost(audit: &AuditResults) -> Option<f64> {
    throughput_cost(&audit.off, &audit.on)
}

/// How much longer each query takes with `costly` than with `base`, from their throughput.
fn throughput_cost(base: &Measured<Latencies>, costly: &Measured<Latencies>) -> Option<f64> {
    match (base, costly) {
        (Ok(base), Ok(costly)) if costly.per_second > 0.0 => Some(base.per_second / costly.per_second - 1.0),
        _ => None,
    }
}

fn median_or_reason(measured: &Measured<Spread>) -> String {
    match measured {
        Ok(spread) => duration(spread.median),
        Err(reason) => reason.clone(),
    }
}

fn per_second_or_reason(measured: &Measured<Latencies>) -> String {
    match measured {
        Ok(latencies) => format!("{:.1}", latencies.per_second),
        Err(reason) => reason.clone(),
    }
}

fn percent_or_empty(value: Option<f64>) -> String {
    value.map(percent).unwrap_or_default()
}

fn percent(value: f64) -> String {
    format!("{:+.1}%", value * 100.0)
}

fn ratio(measured: Duration, base: Duration) -> f64 {
    measured.as_secs_f64() / base.as_secs_f64().max(f64::EPSILON)
}

fn duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 0.01 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{:.2} ms", seconds * 1e3)
    }
}
