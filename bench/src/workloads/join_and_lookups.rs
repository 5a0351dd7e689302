//! The join and the point lookups, on the hub and in plain DataFusion, and the hub's plans
//! of one lookup.

use super::*;

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
