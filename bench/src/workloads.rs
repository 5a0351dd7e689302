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
};
use super::stats::{self, Latencies, Measured, Spread};

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

/// A hub to measure, with tokens of its two principals.
pub struct HubUnderTest<'a> {
    pub process: &'a HubProcess,
    pub admin: String,
    pub analyst: String,
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
}

pub struct ExportResults {
    pub hub: Measured<Transfer>,
    /// The hub's memory over the export runs: the highest peak, and what it held before
    /// (accelerated datasets live in the same process).
    pub hub_memory: Measured<PeakMemory>,
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

pub async fn join(
    settings: &Settings,
    hub: &HubUnderTest<'_>,
    plain: &PlainDataFusion,
    duckdb: (Measured<Spread>, Measured<Spread>),
) -> JoinResults {
    let endpoint = &hub.process.endpoint;
    let live = join_sql(RESIDENTS, PARCELS);
    let on_hub = async |token: &str, sql: &str| {
        stats::repeat(settings.warmup, settings.runs, || hub_query(endpoint, token, sql)).await
    };
    let on_plain = async |session: &SessionContext| {
        stats::repeat(settings.warmup, settings.runs, || async {
            datafusion_runner::run(session, &live).await.map(drop)
        })
        .await
    };
    JoinResults {
        hub_live: on_hub(&hub.admin, &live).await,
        hub_accelerated: match &settings.acceleration {
            Ok(()) => on_hub(&hub.admin, &join_sql(RESIDENTS_ACCELERATED, PARCELS_ACCELERATED)).await,
            Err(reason) => Err(reason.clone()),
        },
        hub_live_policy: on_hub(&hub.analyst, &live).await,
        plain_files: on_plain(&plain.files).await,
        plain_files_utf8: on_plain(&plain.files_utf8).await,
        plain_memory: on_plain(&plain.memory).await,
        duckdb_files: duckdb.0,
        duckdb_memory: duckdb.1,
    }
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

async fn plain_lookups(
    settings: &Settings,
    session: &SessionContext,
    ids: &Arc<Vec<String>>,
) -> Measured<Latencies> {
    let session = session.clone();
    let once = move |id: String| {
        let session = session.clone();
        async move {
            datafusion_runner::run(&session, &lookup_sql(RESIDENTS, &id))
                .await
                .map(drop)
        }
    };
    stats::lookups(
        1,
        settings.lookup_window,
        settings.lookup_warmup(),
        Arc::clone(ids),
        once,
    )
    .await
}

pub async fn lookups(
    settings: &Settings,
    hub: &HubUnderTest<'_>,
    plain: &PlainDataFusion,
    ids: &Arc<Vec<String>>,
    duckdb: (Measured<Latencies>, Measured<Latencies>),
) -> LookupResults {
    let endpoint = &hub.process.endpoint;
    let mut hub_live = Vec::new();
    let mut hub_accelerated = Vec::new();
    for concurrency in CONCURRENCY {
        hub_live.push(hub_lookups(settings, endpoint, &hub.admin, RESIDENTS, concurrency, ids).await);
        hub_accelerated.push(match &settings.acceleration {
            Ok(()) => {
                hub_lookups(
                    settings,
                    endpoint,
                    &hub.admin,
                    RESIDENTS_ACCELERATED,
                    concurrency,
                    ids,
                )
                .await
            }
            Err(reason) => Err(reason.clone()),
        });
    }
    LookupResults {
        hub_live,
        hub_accelerated,
        hub_live_policy: hub_lookups(
            settings,
            endpoint,
            &hub.analyst,
            RESIDENTS,
            COMPARED_CONCURRENCY,
            ids,
        )
        .await,
        plain_files: plain_lookups(settings, &plain.files, ids).await,
        plain_memory: plain_lookups(settings, &plain.memory, ids).await,
        duckdb_files: duckdb.0,
        duckdb_memory: duckdb.1,
    }
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

/// The same selective query through the hub and straight to PostgreSQL.
pub async fn database(
    settings: &Settings,
    hub: &HubUnderTest<'_>,
    postgres: &PostgresTable,
) -> DatabaseResults {
    let through_hub = payments_sql(super::setup::PAYMENTS);
    let endpoint = &hub.process.endpoint;
    let hub_time = stats::repeat(settings.warmup, settings.runs, || {
        hub_query(endpoint, &hub.admin, &through_hub)
    })
    .await;
    let rows_matching = endpoint
        .query(&hub.admin, &through_hub, PURPOSE)
        .await
        .map(|received| received.rows);
    let pushed_sql = endpoint
        .query_json(&hub.admin, &format!("EXPLAIN {through_hub}"), PURPOSE)
        .await
        .and_then(|plan| pushed_sql(&plan).ok_or_else(|| "not shown in the hub's EXPLAIN".to_owned()));
    DatabaseResults {
        hub: hub_time,
        direct: direct_postgres(settings, postgres).await,
        rows_matching,
        rows_in_table: postgres.rows,
        pushed_sql,
    }
}

async fn direct_postgres(settings: &Settings, postgres: &PostgresTable) -> Measured<Spread> {
    use sqlx::Connection;
    let sql = payments_sql(&postgres.qualified_name());
    let mut connection = sqlx::PgConnection::connect(&postgres.url)
        .await
        .map_err(|error| error.to_string())?;
    let mut times = Vec::new();
    for run in 0..settings.warmup + settings.runs {
        let started = Instant::now();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_all(&mut connection)
            .await
            .map_err(|error| error.to_string())?;
        if run >= settings.warmup {
            times.push(started.elapsed());
        }
    }
    Spread::of(&times).ok_or_else(|| "no measured runs".to_owned())
}

/// The line of a plan that shows the SQL sent to the database.
fn pushed_sql(plan: &serde_json::Value) -> Option<String> {
    let mut texts = Vec::new();
    collect_strings(plan, &mut texts);
    texts
        .iter()
        .flat_map(|text| text.lines())
        .find(|line| line.contains("SELECT") && line.contains("WHERE"))
        .map(|line| line.trim().to_owned())
}

fn collect_strings<'a>(value: &'a serde_json::Value, into: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(text) => into.push(text),
        serde_json::Value::Array(values) => values.iter().for_each(|value| collect_strings(value, into)),
        serde_json::Value::Object(members) => members.values().for_each(|value| collect_strings(value, into)),
        _ => {}
    }
}

/// The hub's physical plans of one lookup (from EXPLAIN): what reaches the Parquet reader
/// for each principal, and how an accelerated copy is read.
pub struct LookupPlans {
    pub unrestricted: Measured<String>,
    pub policy: Measured<String>,
    pub accelerated: Measured<String>,
}

pub async fn lookup_plans(settings: &Settings, hub: &HubUnderTest<'_>, id: &str) -> LookupPlans {
    let plan = async |token: &str, residents: &str| {
        let explain = format!("EXPLAIN {}", lookup_sql(residents, id));
        let plan = hub.process.endpoint.query_json(token, &explain, PURPOSE).await?;
        physical_plan(&plan).ok_or_else(|| "no physical plan in the hub's EXPLAIN".to_owned())
    };
    LookupPlans {
        unrestricted: plan(&hub.admin, RESIDENTS).await,
        policy: plan(&hub.analyst, RESIDENTS).await,
        accelerated: match &settings.acceleration {
            Ok(()) => plan(&hub.admin, RESIDENTS_ACCELERATED).await,
            Err(reason) => Err(reason.clone()),
        },
    }
}

fn physical_plan(plan: &serde_json::Value) -> Option<String> {
    let physical = plan["rows"]
        .as_array()?
        .iter()
        .find(|row| row["plan_type"] == "physical_plan")?["plan"]
        .as_str()?;
    Some(physical.trim_end().to_owned())
}

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

/// Point lookups beside hostile clients, and the same lookups alone.
pub struct HostileResults {
    /// The analyst's lookups at `COMPARED_CONCURRENCY` while nobody else asks.
    pub calm: Measured<Latencies>,
    /// The same lookups while four hostile clients send deep expressions, CPU-bound
    /// products, huge strings and idle, half-sent connections.
    pub beside_hostile: Measured<Latencies>,
    /// The slowest health answer during the hostile window.
    pub slowest_health: Option<Duration>,
    /// Answers the hostile clients got (refusals and errors).
    pub hostile_answers: usize,
}

/// The hostile clients' queries: refused for depth, running until cut off, refused for size.
fn hostile_queries(residents: &str) -> [String; 3] {
    [
        format!("SELECT {} AS n", vec!["1"; 5_000].join("+")),
        format!(
            "SELECT sum(length(a.name) + length(b.name)) AS n FROM {residents} a, {residents} b, {residents} c"
        ),
        "SELECT repeat('x', 1000000000) AS v".to_owned(),
    ]
}

pub async fn hostile(settings: &Settings, hub: &HubUnderTest<'_>, ids: &Arc<Vec<String>>) -> HostileResults {
    let endpoint = &hub.process.endpoint;
    let calm = hub_lookups(
        settings,
        endpoint,
        &hub.analyst,
        RESIDENTS,
        COMPARED_CONCURRENCY,
        ids,
    )
    .await;
    let deadline = Instant::now() + settings.lookup_window + Duration::from_secs(1);
    let answers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut hostile = Vec::new();
    for sql in hostile_queries(RESIDENTS) {
        let (endpoint, token, answers) = (endpoint.clone(), hub.admin.clone(), Arc::clone(&answers));
        hostile.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                // A query still running at the end is dropped, as a client going away.
                let query = endpoint.query(&token, &sql, PURPOSE);
                if tokio::time::timeout_at(deadline.into(), query).await.is_ok() {
                    answers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    let address = endpoint.address();
    hostile.push(tokio::spawn(async move {
        while Instant::now() < deadline {
            let mut held = Vec::new();
            for n in 0..50 {
                if let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await {
                    if n % 2 == 0 {
                        use tokio::io::AsyncWriteExt;
                        let _ = stream
                            .write_all(b"POST /v1/query HTTP/1.1\r\nHost: hub\r\nContent-Le")
                            .await;
                    }
                    held.push(stream);
                }
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
    }));
    let health = {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let mut slowest = None::<Duration>;
            while Instant::now() < deadline {
                let started = Instant::now();
                if endpoint.health().await.is_ok() {
                    slowest = Some(slowest.unwrap_or_default().max(started.elapsed()));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            slowest
        })
    };
    // The hostile clients get a second's start.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let beside_hostile = hub_lookups(
        settings,
        endpoint,
        &hub.analyst,
        RESIDENTS,
        COMPARED_CONCURRENCY,
        ids,
    )
    .await;
    for task in hostile {
        let _ = task.await;
    }
    HostileResults {
        calm,
        beside_hostile,
        slowest_health: health.await.ok().flatten(),
        hostile_answers: answers.load(std::sync::atomic::Ordering::Relaxed),
    }
}
