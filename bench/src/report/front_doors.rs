//! Point lookups by front door: HTTP beside the PostgreSQL wire protocol.

use super::*;

pub(super) fn wire(out: &mut String, lookups: &LookupResults, wire: &WireResults) {
    let _ = writeln!(
        out,
        "## Point lookups by front door\n\n\
         The point lookup of the lookups section, by the unrestricted principal, over HTTP (JSON request, \
         Arrow IPC answer, a pooled keep-alive connection per client) and over the PostgreSQL wire \
         protocol (tokio-postgres; one connection per client, signed in with the token as the password \
         and the purpose as a startup option): prepared once per connection and executed with the ID \
         number bound, as pgjdbc, psycopg and Npgsql do, and sent as text in the simple query protocol, \
         as psql does. Each statement on the wire takes the same path as on HTTP (token check, policy \
         rewrite, durable audit record).\n\n\
         | front door | dataset | clients | queries | queries/s | p50 | p99 |\n|---|---|---|---|---|---|---|"
    );
    let http_at = |levels: &[Measured<Latencies>], clients: usize| {
        CONCURRENCY
            .iter()
            .position(|level| *level == clients)
            .and_then(|index| levels.get(index))
            .cloned()
            .unwrap_or_else(|| Err("not measured".into()))
    };
    let datasets = [
        ("live Parquet", &lookups.hub_live[..], Ok(&wire.live)),
        (
            "accelerated",
            &lookups.hub_accelerated[..],
            wire.accelerated.as_ref(),
        ),
    ];
    for (dataset, http, wire) in datasets {
        for (index, clients) in WIRE_CONCURRENCY.iter().enumerate() {
            row(out, "HTTP", dataset, *clients, &http_at(http, *clients));
            let prepared = match wire {
                Ok(wire) => wire
                    .prepared
                    .get(index)
                    .cloned()
                    .unwrap_or_else(|| Err("not measured".into())),
                Err(reason) => Err(reason.clone()),
            };
            row(out, "wire, prepared", dataset, *clients, &prepared);
        }
        let simple = match wire {
            Ok(wire) => wire.simple.clone(),
            Err(reason) => Err(reason.clone()),
        };
        row(out, "wire, simple query", dataset, 1, &simple);
    }
    out.push('\n');
}

fn row(out: &mut String, front_door: &str, dataset: &str, clients: usize, measured: &Measured<Latencies>) {
    let _ = match measured {
        Ok(latencies) => writeln!(
            out,
            "| {front_door} | {dataset} | {clients} | {} | {:.1} | {} | {} |",
            latencies.queries,
            latencies.per_second,
            duration(latencies.p50),
            duration(latencies.p99)
        ),
        Err(reason) => writeln!(out, "| {front_door} | {dataset} | {clients} | {reason} | | | |"),
    };
}
