//! The workloads: their SQL, and how each is measured against the hub and against the
//! engines a user would otherwise run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::prelude::SessionContext;

use super::Settings;
use super::datafusion_runner::{self, PlainDataFusion};
use super::duckdb::{DuckDb, Job};
use super::hub_process::{HubEndpoint, HubProcess, Received};
use super::setup::{
    Data, PARCELS, PARCELS_ACCELERATED, PURPOSE, PostgresTable, RESIDENTS, RESIDENTS_ACCELERATED,
    VERIFY_PURPOSE,
};
use super::stats::{self, Latencies, Measured, Spread};

mod audit;
mod database;
mod export;
mod hostile;
mod join_and_lookups;
mod people;
mod row_quotas;
mod wire;

pub use audit::{AUDIT_ROUNDS, audit};
pub use database::database;
pub use export::export;
pub use hostile::{HostileResults, hostile};
pub use join_and_lookups::{LookupPlans, join, lookup_plans, lookups};
pub use people::{PeopleResults, VERIFY_BATCH, people};
pub use row_quotas::{OnAndOff, RowQuotaResults, row_quota_windows};
pub use wire::{WIRE_CONCURRENCY, WireResults, wire};

/// The client counts of the point-lookup workload.
pub const CONCURRENCY: [usize; 3] = [1, 8, 32];
/// The client count at which policy and audit costs are measured on lookups.
pub const COMPARED_CONCURRENCY: usize = 8;
/// The export reads the residents this many times over.
pub const EXPORT_COPIES: usize = 10;

/// Residents born before 1990 joined with the parcels they own, by town.
pub fn join_sql(residents: &str, parcels: &str) -> String {
    format!(
        "SELECT r.town, count(*) AS parcels, sum(p.area_m2) AS area_m2 \
         FROM {residents} r JOIN {parcels} p ON p.owner_id_number = r.id_number \
         WHERE r.birth_date < DATE '1990-01-01' GROUP BY r.town"
    )
}

/// One resident by ID number: every column the policy analyst is granted (all but phone).
pub fn lookup_sql(residents: &str, id: &str) -> String {
    format!(
        "SELECT id_number, name, gender, birth_date, address, town, grid_id, household_id \
         FROM {residents} WHERE id_number = '{id}'"
    )
}

/// Every resident, `EXPORT_COPIES` times.
pub fn export_sql(residents: &str) -> String {
    let copies: Vec<String> = (1..=EXPORT_COPIES).map(|copy| format!("({copy})")).collect();
    format!(
        "SELECT r.*, copies.n AS copy FROM {residents} r CROSS JOIN (VALUES {}) AS copies(n)",
        copies.join(", ")
    )
}

/// Subsidies paid in one week: a few hundredths of the payments.
pub fn payments_sql(table: &str) -> String {
    format!(
        "SELECT payment_id, id_number, amount, paid_on FROM {table} \
         WHERE kind = 'subsidy' AND paid_on BETWEEN DATE '2024-03-01' AND DATE '2024-03-07'"
    )
}

/// A hub to measure, with tokens of its principals.
pub struct HubUnderTest<'a> {
    pub process: &'a HubProcess,
    pub admin: String,
    pub analyst: String,
    /// Holds verify-only grants on the residents.
    pub verifier: String,
    /// Reads as the admin does, under a distinct-person quota.
    pub counted: String,
    /// Reads as the admin does, under a daily row quota.
    pub rows_counted: String,
}

/// The join's timings, by engine.
pub struct JoinResults {
    pub hub_live: Measured<Spread>,
    pub hub_accelerated: Measured<Spread>,
    pub hub_live_policy: Measured<Spread>,
    pub plain_files: Measured<Spread>,
    /// On the files, reading strings as `Utf8` as the hub does.
    pub plain_files_utf8: Measured<Spread>,
    pub plain_memory: Measured<Spread>,
    pub duckdb_files: Measured<Spread>,
    pub duckdb_memory: Measured<Spread>,
}

/// Point lookups, by engine; the hub's at each of `CONCURRENCY`.
pub struct LookupResults {
    pub hub_live: Vec<Measured<Latencies>>,
    pub hub_accelerated: Vec<Measured<Latencies>>,
    pub hub_live_policy: Measured<Latencies>,
    pub plain_files: Measured<Latencies>,
    pub plain_memory: Measured<Latencies>,
    pub duckdb_files: Measured<Latencies>,
    pub duckdb_memory: Measured<Latencies>,
}

/// An export's timings and volume.
pub struct Transfer {
    pub time: Spread,
    pub rows: u64,
    pub bytes: u64,
    /// The CPU time each end spent on one run, on average over the measured runs (`None`
    /// where not measured: plain DataFusion's, which runs inside this process).
    pub cpu: Option<CpuSeconds>,
}

/// CPU time, in seconds, of one run: the hub's (all its threads) and the measuring
/// client's (this process). The two share the machine's cores.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSeconds {
    pub hub: f64,
    pub client: f64,
}

pub struct ExportResults {
    /// Over HTTP, as an Arrow IPC stream.
    pub hub: Measured<Transfer>,
    /// The hub's memory over the export runs: the highest peak, and what it held before
    /// (accelerated datasets live in the same process).
    pub hub_memory: Measured<PeakMemory>,
    /// Over Arrow Flight SQL (`GetFlightInfo`, then `DoGet`).
    pub flight: Measured<Transfer>,
    pub flight_memory: Measured<PeakMemory>,
    /// The Flight export's bytes copied from one thread to another over loopback TCP, with
    /// its row count: the most any front door can reach here.
    pub loopback: Measured<Transfer>,
    pub plain: Measured<Transfer>,
    /// Plain DataFusion reading strings as `Utf8`, as the hub does: the same bytes to encode.
    pub plain_utf8: Measured<Transfer>,
}

#[derive(Debug, Clone, Copy)]
pub struct PeakMemory {
    pub peak: u64,
    pub before: u64,
    /// Held in accelerated copies of datasets, by the hub's catalog.
    pub accelerated: u64,
    /// Of the peak, pages that map files (`RssFile` after the run): mostly the hub's
    /// executable code that has run.
    pub files: u64,
}

pub struct AuditResults {
    pub on: Measured<Latencies>,
    pub off: Measured<Latencies>,
}

pub struct DatabaseResults {
    pub hub: Measured<Spread>,
    pub direct: Measured<Spread>,
    pub rows_matching: Measured<u64>,
    pub rows_in_table: usize,
    /// The SQL the hub sent to PostgreSQL, from its EXPLAIN.
    pub pushed_sql: Measured<String>,
}

async fn hub_query(hub: &HubEndpoint, token: &str, sql: &str) -> Result<(), String> {
    hub.query(token, sql, PURPOSE).await.map(drop)
}

/// Lookups on the hub by `token`'s principal at `concurrency`.
pub async fn hub_lookups(
    settings: &Settings,
    hub: &HubEndpoint,
    token: &str,
    residents: &'static str,
    concurrency: usize,
    ids: &Arc<Vec<String>>,
) -> Measured<Latencies> {
    let (hub, token) = (hub.clone(), Arc::new(token.to_owned()));
    let once = move |id: String| {
        let (hub, token) = (hub.clone(), Arc::clone(&token));
        async move { hub_query(&hub, &token, &lookup_sql(residents, &id)).await }
    };
    stats::lookups(
        concurrency,
        settings.lookup_window,
        settings.lookup_warmup(),
        Arc::clone(ids),
        once,
    )
    .await
}

/// The join and the lookups in DuckDB, on the files and in memory.
pub async fn duckdb(
    settings: &Settings,
    duckdb: &Measured<DuckDb>,
    data: &Data,
    ids: &[String],
) -> [super::duckdb::DuckDbResults; 2] {
    let job = |memory: bool| Job {
        tables: BTreeMap::from([
            (
                RESIDENTS.to_owned(),
                data.residents_file.to_string_lossy().into_owned(),
            ),
            (
                PARCELS.to_owned(),
                data.parcels_file.to_string_lossy().into_owned(),
            ),
        ]),
        memory,
        join_sql: join_sql(RESIDENTS, PARCELS),
        warmup: settings.warmup,
        runs: settings.runs,
        lookup_sql: lookup_sql(RESIDENTS, "{id}"),
        ids: ids.to_vec(),
        lookup_warmup: settings.lookup_warmup(),
        lookup_seconds: settings.lookup_window.as_secs_f64(),
    };
    let unavailable = |reason: &str| super::duckdb::DuckDbResults {
        join: Err(format!("unavailable: {reason}")),
        lookups: Err(format!("unavailable: {reason}")),
    };
    match duckdb {
        Ok(duckdb) => [duckdb.run(&job(false)).await, duckdb.run(&job(true)).await],
        Err(reason) => [unavailable(reason), unavailable(reason)],
    }
}
