//! Point lookups over the PostgreSQL wire protocol, beside the same lookups over HTTP.

use std::sync::Mutex;

use super::*;
use crate::front_doors::WireConnection;

/// The client counts of the wire protocol's prepared lookups.
pub const WIRE_CONCURRENCY: [usize; 2] = [1, COMPARED_CONCURRENCY];

/// The wire protocol's lookups on one dataset.
pub struct WireLookups {
    /// A statement prepared once per connection and executed with the ID number bound (as
    /// pgjdbc, psycopg and Npgsql do), at each of `WIRE_CONCURRENCY`.
    pub prepared: Vec<Measured<Latencies>>,
    /// The statement as text in the simple query protocol (as psql sends it), one client.
    pub simple: Measured<Latencies>,
}

pub struct WireResults {
    pub live: WireLookups,
    pub accelerated: Measured<WireLookups>,
}

pub async fn wire(settings: &Settings, hub: &HubUnderTest<'_>, ids: &Arc<Vec<String>>) -> WireResults {
    WireResults {
        live: dataset_lookups(settings, hub, RESIDENTS, ids).await,
        accelerated: match &settings.acceleration {
            Ok(()) => Ok(dataset_lookups(settings, hub, RESIDENTS_ACCELERATED, ids).await),
            Err(reason) => Err(reason.clone()),
        },
    }
}

async fn dataset_lookups(
    settings: &Settings,
    hub: &HubUnderTest<'_>,
    residents: &'static str,
    ids: &Arc<Vec<String>>,
) -> WireLookups {
    let mut prepared = Vec::new();
    for concurrency in WIRE_CONCURRENCY {
        prepared.push(wire_lookups(settings, hub, residents, concurrency, ids, Protocol::Prepared).await);
    }
    WireLookups {
        prepared,
        simple: wire_lookups(settings, hub, residents, 1, ids, Protocol::Simple).await,
    }
}

/// One connection per client, taken from a pool for each lookup and given back after it.
async fn connections(hub: &HubUnderTest<'_>, residents: &str, count: usize) -> Result<Arc<Pool>, String> {
    let sql = lookup_sql(residents, "$1").replace("'$1'", "$1");
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        connections.push(Arc::new(
            WireConnection::connect(&hub.process.endpoint.postgres, &hub.admin, PURPOSE, &sql).await?,
        ));
    }
    Ok(Arc::new(Pool(Mutex::new(connections))))
}

struct Pool(Mutex<Vec<Arc<WireConnection>>>);

impl Pool {
    fn take(&self) -> Result<Arc<WireConnection>, String> {
        self.0
            .lock()
            .map_err(|_| "the pool's lock is poisoned".to_owned())?
            .pop()
            .ok_or_else(|| "more clients than connections".to_owned())
    }

    fn give_back(&self, connection: Arc<WireConnection>) {
        if let Ok(mut connections) = self.0.lock() {
            connections.push(connection);
        }
    }
}

/// How a lookup is sent over the wire.
#[derive(Clone, Copy)]
enum Protocol {
    /// The statement prepared once per connection, executed with the ID number bound.
    Prepared,
    /// The statement as text, in the simple query protocol.
    Simple,
}

async fn wire_lookups(
    settings: &Settings,
    hub: &HubUnderTest<'_>,
    residents: &'static str,
    concurrency: usize,
    ids: &Arc<Vec<String>>,
    protocol: Protocol,
) -> Measured<Latencies> {
    let pool = connections(hub, residents, concurrency).await?;
    let once = move |id: String| {
        let pool = Arc::clone(&pool);
        async move {
            let connection = pool.take()?;
            let result = match protocol {
                Protocol::Prepared => connection.prepared_lookup(&id).await,
                Protocol::Simple => connection.simple_query(&lookup_sql(residents, &id)).await,
            };
            pool.give_back(connection);
            result
        }
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
