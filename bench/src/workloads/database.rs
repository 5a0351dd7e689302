//! The same selective query through the hub and straight to PostgreSQL.

use super::*;

/// The same selective query through the hub and straight to PostgreSQL.
pub async fn database(
    settings: &Settings,
    hub: &HubUnderTest<'_>,
    postgres: &PostgresTable,
) -> DatabaseResults {
    let through_hub = payments_sql(crate::setup::PAYMENTS);
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
