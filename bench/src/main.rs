//! `causeway-bench`: generates the demo data at a scale, starts the real hub (the `causeway`
//! binary beside this one, or `CAUSEWAY_BIN`) on loopback as a child process, and measures
//! each workload against it (over HTTP, and over Arrow Flight SQL and the PostgreSQL wire
//! protocol where analysts' tools would use them) and, in the same run, against plain
//! DataFusion (on the files and in memory) and DuckDB; then writes a markdown report with medians, spreads, ratios and
//! the targets met or missed. It is a tool of its own: nothing of it ships in the hub.

mod datafusion_runner;
mod duckdb;
mod front_doors;
mod hub_process;
mod report;
mod setup;
mod stats;
mod workloads;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

use datafusion_runner::PlainDataFusion;
use hub_process::HubProcess;
use report::Results;
use setup::{
    ADMIN_CLIENT, ANALYST_CLIENT, COUNTED_CLIENT, Data, PostgresTable, ROWS_COUNTED_CLIENT, Secrets,
    VERIFIER_CLIENT,
};
use workloads::HubUnderTest;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "causeway-bench",
    version,
    about = "Measure a Causeway hub on the demo data against plain DataFusion and DuckDB; write a report"
)]
pub struct BenchArgs {
    /// Size: 100 is a million residents and about 1.5 million parcels (default; 1 with --quick).
    #[arg(long)]
    pub scale: Option<u32>,
    /// Measured runs of each timed query (default 5; 3 with --quick).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Unmeasured runs before them (default 1).
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Small and fast, for CI: scale 1, 3 runs, short lookup windows, a small export.
    #[arg(long)]
    pub quick: bool,
    /// Where the data, the hub's state and logs go; data of the same scale is reused.
    #[arg(long, default_value = "causeway-bench")]
    pub dir: PathBuf,
    /// The markdown report (default: BENCHMARKS.md here; with --quick, in --dir).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// A python3 that has the duckdb package (default: a virtual environment made in the
    /// cache directory).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// PostgreSQL for the database-source workload; a schema of its own is made and dropped.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres_url: String,
    /// Skip the accelerated datasets (for hubs without dataset acceleration).
    #[arg(long)]
    pub no_acceleration: bool,
}

/// What a run does, from the arguments.
#[derive(Debug, Clone)]
pub struct Settings {
    pub scale: u32,
    pub runs: usize,
    pub warmup: usize,
    pub quick: bool,
    /// How long the clients of a point-lookup measurement send queries.
    pub lookup_window: Duration,
    /// How many distinct ID numbers the lookups take in turn.
    pub lookup_keys: usize,
    /// Whether the accelerated datasets are measured, or why not.
    pub acceleration: Result<(), String>,
}

impl Settings {
    fn new(args: &BenchArgs) -> Self {
        let quick = args.quick;
        Self {
            scale: args.scale.unwrap_or(if quick { 1 } else { 100 }),
            runs: args.runs.unwrap_or(if quick { 3 } else { 5 }).max(1),
            warmup: args.warmup.unwrap_or(1),
            quick,
            lookup_window: Duration::from_secs(if quick { 1 } else { 10 }),
            lookup_keys: if quick { 100 } else { 1_000 },
            acceleration: match args.no_acceleration {
                true => Err("not measured: --no-acceleration".into()),
                false => Ok(()),
            },
        }
    }

    /// Lookups sent one at a time before a lookup measurement.
    pub fn lookup_warmup(&self) -> usize {
        self.warmup * 20
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    causeway_hub::telemetry::init_logging(causeway_hub::telemetry::LogFormat::Text);
    match run(BenchArgs::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: BenchArgs) -> BenchResult<()> {
    let settings = Settings::new(&args);
    std::fs::create_dir_all(&args.dir)?;
    let dir = args.dir.canonicalize()?;
    let report_path = match (&args.report, settings.quick) {
        (Some(path), _) => path.clone(),
        (None, true) => dir.join("BENCHMARKS.md"),
        (None, false) => PathBuf::from("BENCHMARKS.md"),
    };
    let started = Instant::now();
    eprintln!(
        "causeway-bench: scale {}, {} measured runs after {} warm-up, in {}",
        settings.scale,
        settings.runs,
        settings.warmup,
        dir.display()
    );
    let data_dir = dir.join("data");
    let data = setup::data(&data_dir, settings.scale).await?;
    step(&format!("{} residents, {} parcels", data.residents, data.parcels));
    let postgres = setup::load_payments(&args.postgres_url, settings.scale, &data_dir).await;
    match &postgres {
        Ok(table) => step(&format!(
            "{} benefit payments loaded into PostgreSQL schema {}",
            table.rows, table.schema
        )),
        Err(error) => step(&format!(
            "no PostgreSQL, the database workload is skipped: {error}"
        )),
    }
    let measured = measure(&settings, &args, &dir, &data, postgres.as_ref()).await;
    if let Ok(table) = &postgres {
        setup::drop_payments(table).await;
    }
    let results = measured?;
    let markdown = report::render(&settings, &data, &results, started.elapsed());
    std::fs::write(&report_path, markdown)?;
    println!(
        "Benchmarks done in {:.0} s; the report is in {}",
        started.elapsed().as_secs_f64(),
        report_path.display()
    );
    Ok(())
}

fn step(message: &str) {
    eprintln!("  {message}");
}

async fn measure(
    settings: &Settings,
    args: &BenchArgs,
    dir: &Path,
    data: &Data,
    postgres: Result<&PostgresTable, &String>,
) -> BenchResult<Results> {
    // Every run starts from a hub without state: new clients, datasets and audit log.
    for state in ["hub", "policies"] {
        if dir.join(state).exists() {
            std::fs::remove_dir_all(dir.join(state))?;
        }
    }
    std::fs::create_dir_all(dir.join("policies"))?;
    let config = dir.join("causeway.toml");
    let config_without_audit = dir.join("causeway-no-audit.toml");
    std::fs::write(&config, setup::hub_config(true, postgres.ok()))?;
    std::fs::write(&config_without_audit, setup::hub_config(false, postgres.ok()))?;
    let secrets = setup::create_clients(&config).await?;

    // The grants name the datasets, so the policies are written once they are published.
    // A hub that cannot accelerate refuses the accelerated specs: the run goes on without them.
    let mut settings = settings.clone();
    let mut notes = Vec::new();
    let publisher = HubProcess::start(&config, &dir.join("hub-publish.log")).await?;
    let specs = setup::dataset_specs(data, settings.acceleration.is_ok(), postgres.ok())?;
    for (dataset, spec) in specs {
        let accelerated = dataset.ends_with("_accelerated");
        if accelerated && settings.acceleration.is_err() {
            continue;
        }
        match publish(&publisher, &secrets, dataset, spec).await {
            Ok(()) => {}
            Err(error) if accelerated => {
                let note =
                    format!("The accelerated datasets were not measured: cannot publish {dataset}: {error}");
                step(&note);
                notes.push(note);
                settings.acceleration = Err("unavailable: not published (see the notes)".into());
            }
            Err(error) => return Err(format!("cannot publish {dataset}: {error}").into()),
        }
    }
    publisher.stop().await?;
    std::fs::write(
        dir.join("policies").join("bench.yaml"),
        setup::policies(settings.acceleration.is_ok(), postgres.is_ok()),
    )?;
    step("datasets published, policies written");

    let hub = HubProcess::start(&config, &dir.join("hub.log")).await?;
    let under_test = hub_under_test(&hub, &secrets).await?;
    let plain = PlainDataFusion::new(data).await?;
    let ids = Arc::new(plain.sample_ids(settings.lookup_keys).await?);
    let duckdb = duckdb::DuckDb::prepare(dir, args.python.as_deref()).await;
    if let Err(reason) = &duckdb {
        step(&format!("DuckDB unavailable: {reason}"));
    }
    step("DuckDB");
    let [duckdb_files, duckdb_memory] = workloads::duckdb(&settings, &duckdb, data, &ids).await;
    step("join");
    let join = workloads::join(
        &settings,
        &under_test,
        &plain,
        (duckdb_files.join, duckdb_memory.join),
    )
    .await;
    step("point lookups");
    let lookups = workloads::lookups(
        &settings,
        &under_test,
        &plain,
        &ids,
        (duckdb_files.lookups, duckdb_memory.lookups),
    )
    .await;
    step("point lookups over the PostgreSQL wire protocol");
    let wire = workloads::wire(&settings, &under_test, &ids).await;
    let some_id = ids.first().map(String::as_str).unwrap_or_default();
    let lookup_plans = workloads::lookup_plans(&settings, &under_test, some_id).await;
    step("export over HTTP and Flight SQL");
    let export = workloads::export(&settings, &under_test, &plain).await;
    step("database source");
    let database = match postgres {
        Ok(table) => Ok(workloads::database(&settings, &under_test, table).await),
        Err(error) => Err(format!("unavailable: {error}")),
    };
    drop(plain);
    step("verification batches and distinct-person quotas");
    let people = workloads::people(&settings, &under_test, &ids).await;
    step("daily row quotas, on this hub's store and on a shared PostgreSQL store");
    let row_quotas = workloads::RowQuotaResults {
        embedded: workloads::row_quota_windows(&settings, &under_test, &ids).await,
        shared: match postgres {
            Ok(table) => shared_store_quotas(&settings, dir, data, &table.url, &ids)
                .await
                .map_err(|error| format!("not measured: {error}")),
            Err(error) => Err(format!("unavailable: {error}")),
        },
    };
    step("audit on and off");
    // A second hub over the same state, with the audit log off; windows alternate between
    // the two so that both see the same machine.
    let quiet = HubProcess::start(&config_without_audit, &dir.join("hub-no-audit.log")).await?;
    let audit = workloads::audit(
        &settings,
        &under_test,
        &hub_under_test(&quiet, &secrets).await?,
        &ids,
    )
    .await;
    quiet.stop().await?;
    // Last: the hostile clients' queries may leave the hub holding memory it freed, which
    // would show in the export's peak.
    step("beside hostile clients");
    let hostile = workloads::hostile(&settings, &under_test, &ids).await;
    hub.stop().await?;

    Ok(Results {
        join,
        lookups,
        wire,
        export,
        database,
        audit,
        people,
        row_quotas,
        lookup_plans,
        hostile,
        notes,
    })
}

async fn hub_under_test<'a>(hub: &'a HubProcess, secrets: &Secrets) -> BenchResult<HubUnderTest<'a>> {
    Ok(HubUnderTest {
        process: hub,
        admin: hub.endpoint.token(ADMIN_CLIENT, &secrets.admin).await?,
        analyst: hub.endpoint.token(ANALYST_CLIENT, &secrets.analyst).await?,
        verifier: hub.endpoint.token(VERIFIER_CLIENT, &secrets.verifier).await?,
        counted: hub.endpoint.token(COUNTED_CLIENT, &secrets.counted).await?,
        rows_counted: hub
            .endpoint
            .token(ROWS_COUNTED_CLIENT, &secrets.rows_counted)
            .await?,
    })
}

/// Publishes `dataset` as its department's publisher.
async fn publish(hub: &HubProcess, secrets: &Secrets, dataset: &str, spec: String) -> BenchResult<()> {
    let department = dataset.split('.').next().unwrap_or_default();
    let secret = secrets
        .publishers
        .get(department)
        .ok_or_else(|| format!("no publisher for {department}"))?;
    let token = hub
        .endpoint
        .token(&setup::publisher_client(department), secret)
        .await?;
    Ok(hub.endpoint.publish(&token, spec).await?)
}

/// The row-quota windows on a hub of its own whose metadata store is a new schema of the
/// PostgreSQL at `url`, as replicas share one, with the residents published there and the
/// run's policies; the schema is dropped after.
async fn shared_store_quotas(
    settings: &Settings,
    dir: &Path,
    data: &Data,
    url: &str,
    ids: &Arc<Vec<String>>,
) -> BenchResult<workloads::OnAndOff> {
    let store = setup::SharedStore::create(url).await?;
    let measured = async {
        let state = dir.join("hub-shared");
        if state.exists() {
            std::fs::remove_dir_all(&state)?;
        }
        let config = dir.join("causeway-shared.toml");
        std::fs::write(&config, setup::shared_store_config(&store))?;
        let secrets = setup::create_clients(&config).await?;
        let (dataset, spec) = setup::dataset_specs(data, false, None)?
            .into_iter()
            .find(|(dataset, _)| *dataset == setup::RESIDENTS)
            .ok_or("no residents spec")?;
        // As for the main hub, the policies name the dataset: they take it up at a start
        // after it is published.
        let publisher = HubProcess::start(&config, &dir.join("hub-shared-publish.log")).await?;
        let published = publish(&publisher, &secrets, dataset, spec).await;
        publisher.stop().await?;
        published?;
        let hub = HubProcess::start(&config, &dir.join("hub-shared.log")).await?;
        let windows = match hub_under_test(&hub, &secrets).await {
            Ok(under_test) => Ok(workloads::row_quota_windows(settings, &under_test, ids).await),
            Err(error) => Err(error),
        };
        hub.stop().await?;
        windows
    };
    let measured = measured.await;
    store.drop().await;
    measured
}
