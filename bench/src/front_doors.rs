//! Clients of the hub's other front doors, as analysts' tools use them: Arrow Flight SQL
//! (arrow-flight's client: `GetFlightInfo`, then `DoGet` on each ticket) and the PostgreSQL
//! wire protocol (tokio-postgres); and the bare loopback copy that bounds any transfer here.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::{StreamExt, TryStreamExt};
use tokio_postgres::{Client, NoTls, Statement};
use tonic::transport::Channel;

use super::hub_process::Received;

/// The Flight SQL header that carries a statement's purpose.
const PURPOSE_HEADER: &str = "x-causeway-purpose";

/// Connects to the hub's Flight SQL port.
pub async fn flight_channel(address: &str) -> Result<Channel, String> {
    Channel::from_shared(format!("http://{address}"))
        .map_err(|error| error.to_string())?
        .connect()
        .await
        .map_err(|error| format!("cannot connect to Flight SQL at {address}: {error}"))
}

/// Runs `sql` over Flight SQL with a bearer token and a purpose, decoding every batch of
/// every endpoint as it arrives; counts the bytes of the Flight data messages received.
pub async fn flight_query(
    channel: Channel,
    token: &str,
    sql: &str,
    purpose: &str,
) -> Result<Received, String> {
    let mut sql_client = FlightSqlServiceClient::new(channel.clone());
    sql_client.set_token(token.to_owned());
    sql_client.set_header(PURPOSE_HEADER, purpose);
    let info = sql_client
        .execute(sql.to_owned(), None)
        .await
        .map_err(|error| format!("GetFlightInfo: {error}"))?;
    // DoGet through the plain Flight client, so that the bytes on the wire can be counted
    // before they are decoded.
    let mut flight = FlightServiceClient::new(channel).max_decoding_message_size(usize::MAX);
    let mut received = Received { rows: 0, bytes: 0 };
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.ok_or("an endpoint without a ticket")?;
        let mut request = tonic::Request::new(ticket);
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| "the token is not a header value")?;
        request.metadata_mut().insert("authorization", bearer);
        let stream = flight
            .do_get(request)
            .await
            .map_err(|status| format!("DoGet: {}", status.message()))?
            .into_inner();
        // The decoder holds its stream for as long as it lives, hence a shared counter.
        let bytes = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&bytes);
        let counted = stream
            .inspect_ok(move |data| {
                counter.fetch_add((data.data_header.len() + data.data_body.len()) as u64, Relaxed);
            })
            .map_err(FlightError::from);
        let mut batches = FlightRecordBatchStream::new_from_flight_data(counted);
        while let Some(batch) = batches.next().await {
            received.rows += batch.map_err(|error| format!("DoGet: {error}"))?.num_rows() as u64;
        }
        received.bytes += bytes.load(Relaxed);
    }
    Ok(received)
}

/// A PostgreSQL wire connection signed in with a bearer token as the password, with the
/// purpose as a startup option, as a JDBC URL or a psql connection string gives them.
pub struct WireConnection {
    client: Client,
    /// The lookup, prepared once with its `$1` (pgjdbc's server-side prepared statement).
    lookup: Statement,
}

impl WireConnection {
    /// Connects to `address` and prepares `lookup_sql` (one `$1` parameter, text).
    pub async fn connect(
        address: &str,
        token: &str,
        purpose: &str,
        lookup_sql: &str,
    ) -> Result<Self, String> {
        let (host, port) = address
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
            .ok_or_else(|| format!("not host:port: {address}"))?;
        let (client, connection) = tokio_postgres::Config::new()
            .host(host)
            .port(port)
            .user("bench")
            .password(token)
            .dbname("causeway")
            .options(format!("-c causeway.purpose={purpose}"))
            .connect(NoTls)
            .await
            .map_err(|error| {
                format!("cannot connect to the PostgreSQL wire protocol at {address}: {error}")
            })?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                eprintln!("warning: a PostgreSQL wire connection ended: {error}");
            }
        });
        let lookup = client
            .prepare_typed(lookup_sql, &[tokio_postgres::types::Type::TEXT])
            .await
            .map_err(|error| format!("cannot prepare the lookup: {}", wire_error(&error)))?;
        Ok(Self { client, lookup })
    }

    /// The prepared lookup with `key` bound: Bind, Execute, Sync (one round trip).
    pub async fn prepared_lookup(&self, key: &str) -> Result<(), String> {
        self.client
            .query(&self.lookup, &[&key])
            .await
            .map(drop)
            .map_err(|error| wire_error(&error))
    }

    /// `sql` in the simple query protocol, as psql sends it.
    pub async fn simple_query(&self, sql: &str) -> Result<(), String> {
        self.client
            .simple_query(sql)
            .await
            .map(drop)
            .map_err(|error| wire_error(&error))
    }
}

/// The server's message of a wire error, or the client's.
fn wire_error(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

/// Copies `bytes` bytes from one thread to another through a loopback TCP connection, in
/// 1 MiB writes and reads: what any front door's transfer of that many bytes is bounded by
/// on this machine. Blocking; the time from connecting until the last byte is read.
pub fn loopback_copy(bytes: u64) -> std::io::Result<Duration> {
    const CHUNK: usize = 1 << 20;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut socket, _) = listener.accept()?;
        let chunk = vec![0x5a_u8; CHUNK];
        let mut left = bytes;
        while left > 0 {
            let length = left.min(CHUNK as u64) as usize;
            socket.write_all(&chunk[..length])?;
            left -= length as u64;
        }
        Ok(())
    });
    let started = Instant::now();
    let mut socket = TcpStream::connect(address)?;
    let mut buffer = vec![0_u8; CHUNK];
    let mut received = 0u64;
    while received < bytes {
        match socket.read(&mut buffer)? {
            0 => break,
            read => received += read as u64,
        }
    }
    let elapsed = started.elapsed();
    sender
        .join()
        .map_err(|_| std::io::Error::other("the sending thread panicked"))??;
    if received < bytes {
        return Err(std::io::Error::other(format!(
            "the loopback copy ended after {received} of {bytes} bytes"
        )));
    }
    Ok(elapsed)
}
