//! The PostgreSQL wire protocol front door (`[server] postgres_listen`), for psql, pgjdbc
//! (DBeaver, Power BI's and Tableau's connectors), psycopg and SQLAlchemy, Npgsql. pgwire
//! speaks the protocol and arrow-pg encodes the values; every statement but the session's
//! own (`SET`, `SHOW`, transaction control) runs through the one query service HTTP and
//! Flight SQL use ([`crate::query::service`]): the same identity, policies, quotas,
//! suspension, audit records and alerts.

mod cancel;
mod catalog;
mod catalog_rewrites;
mod information_schema;
mod numeric;
mod rows;
mod session;
mod sign_in;
mod sqlstate;
mod statements;
mod typmods;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pgwire::api::PgWireServerHandlers;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::api::AppState;
use crate::server::Connections;

/// The server version reported to clients: the PostgreSQL release whose protocol and
/// catalog the hub answers as.
pub const SERVER_VERSION: &str = "16.0";

/// How long open sessions may take to finish after shutdown begins (shorter than HTTP's:
/// tools hold sessions open idle).
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The handlers of every connection.
struct Handlers {
    statements: Arc<statements::Statements>,
    extended: Arc<statements::Extended>,
    sign_in: Arc<sign_in::SignIn>,
    cancels: Arc<cancel::Cancels>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl pgwire::api::query::SimpleQueryHandler> {
        Arc::clone(&self.statements)
    }

    fn extended_query_handler(&self) -> Arc<impl pgwire::api::query::ExtendedQueryHandler> {
        Arc::clone(&self.extended)
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        Arc::clone(&self.sign_in)
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::clone(&self.cancels)
    }
}

/// Accepts wire-protocol connections until `shutdown` resolves. With `tls`, a connection
/// must negotiate TLS (`sslmode=require` or stronger) before it may sign in.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    tls: Option<Arc<rustls::ServerConfig>>,
    connections: Arc<Connections>,
    shutdown: impl Future<Output = ()>,
) {
    let cancels = Arc::new(cancel::Cancels::default());
    let statements = statements::Statements::new(state.clone());
    let planner = statements::Planner::new(state.clone(), Arc::clone(&statements));
    let handlers = Arc::new(Handlers {
        extended: statements::Extended::new(Arc::clone(&statements), planner),
        statements,
        sign_in: Arc::new(sign_in::SignIn::new(state, tls.is_some(), Arc::clone(&cancels))),
        cancels,
    });
    // libpq 17 and other clients offer the ALPN protocol `postgresql`, and direct TLS
    // requires it; HTTP's `h2` and `http/1.1` are not offered here.
    let acceptor = tls.map(|config| {
        let mut config = (*config).clone();
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        pgwire::tokio::TlsAcceptor::from(Arc::new(config))
    });
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = crate::server::accept(&listener) => accepted,
            () = &mut shutdown => break,
        };
        let Some(admitted) = connections.admit(peer.ip()) else {
            tracing::debug!(%peer, "PostgreSQL connection refused: every connection from its address is busy");
            continue;
        };
        let handlers = Arc::clone(&handlers);
        let acceptor = acceptor.clone();
        tasks.spawn(async move {
            let connection = Arc::clone(&admitted.connection);
            tokio::select! {
                served = pgwire::tokio::process_socket(stream, acceptor, handlers) => {
                    if let Err(error) = served {
                        tracing::debug!(%peer, %error, "PostgreSQL connection ended with an error");
                    }
                }
                // Another connection from its address took its place at the cap.
                () = connection.evicted() => {}
            }
            drop(admitted);
        });
        while tasks.try_join_next().is_some() {}
    }
    // New connections are refused from now on.
    drop(listener);
    let drained =
        tokio::time::timeout(DRAIN_TIME, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tasks.abort_all();
    }
}
