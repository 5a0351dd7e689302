//! Serving the API over plain HTTP or TLS (rustls), with mutual TLS when a client CA is
//! configured. Each connection gets its peer's address and, under mutual TLS, its
//! certificate's subject as request extensions; slow clients time out.

mod connections;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::api::{PeerAddress, PeerCertificate};

pub use connections::{ConnectionLimits, Connections};
pub use tls::{TlsError, server_config};

/// How often an HTTP/2 connection is pinged, and how long the answer may take, to find
/// peers that are gone.
const KEEP_ALIVE: Duration = Duration::from_secs(20);
/// How long an idle connection told to close may take to acknowledge that it is closed.
const IDLE_CLOSE_TIME: Duration = Duration::from_secs(1);

/// How long open connections may take to finish their requests after shutdown begins: a
/// query being read keeps sending its rows until then.
const DRAIN_TIME: Duration = Duration::from_secs(30);

/// Accepts connections until `shutdown` resolves, then lets open ones finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    connections: Arc<Connections>,
    shutdown: impl Future<Output = ()>,
) {
    let client_timeout = connections.limits().first_request_timeout;
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            () = &mut shutdown => break,
        };
        let Some(admitted) = connections.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: every connection from its address is busy");
            continue;
        };
        let app = app.clone();
        let acceptor = acceptor.clone();
        let stopping = stopping.clone();
        tasks.spawn(async move {
            let app = app.layer(axum::Extension(PeerAddress(peer)));
            match acceptor {
                None => serve_connection(stream, app, admitted, stopping).await,
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(client_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let subject = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|certificates| certificates.first())
                        .and_then(|certificate| tls::subject(certificate));
                    let app = match subject {
                        Some(subject) => app.layer(axum::Extension(PeerCertificate(subject))),
                        None => app,
                    };
                    serve_connection(stream, app, admitted, stopping).await;
                }
            }
        });
        // Reap finished connections so the set does not grow without bound.
        while tasks.try_join_next().is_some() {}
    }
    // New connections are refused from now on, not left waiting in the backlog.
    drop(listener);
    let _ = stop.send(true);
    let drained =
        tokio::time::timeout(DRAIN_TIME, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("connections still open after the drain time were closed");
    }
}

/// The next connection `listener` accepts, with TCP_NODELAY set. A failure to accept (out
/// of file descriptors and the like) is logged and waited out rather than spun on.
pub async fn accept(listener: &TcpListener) -> (tokio::net::TcpStream, std::net::SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // Every front door answers in several writes (HTTP chunks as batches come; the
                // wire protocol's row description, rows and ReadyForQuery): without this, a
                // write made while the one before is unacknowledged waits for the client's
                // delayed ACK (about 40 ms).
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY");
                }
                return (stream, peer);
            }
            Err(error) => {
                tracing::warn!(%error, address = ?listener.local_addr().ok(), "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_connection<IO>(
    io: IO,
    app: Router,
    admitted: connections::Admitted,
    mut stopping: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = Arc::clone(&admitted.connection);
    let limits = *admitted.limits();
    // A request is in flight from its handler's start to its response body's end.
    let tracked = Arc::clone(&connection);
    let app = app.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let in_flight = tracked.begin();
            async move {
                let response = next.run(request).await;
                response.map(|body| axum::body::Body::new(connections::TrackedBody::new(body, in_flight)))
            }
        },
    ));
    let service = TowerToHyperService::new(
        app.map_request(|request: Request<hyper::body::Incoming>| request.map(axum::body::Body::new)),
    );
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.first_request_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(KEEP_ALIVE))
        .keep_alive_timeout(KEEP_ALIVE);
    let served = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(served);
    let (closing, patience) = loop {
        let idle_left = connection.idle_left(&limits);
        tokio::select! {
            result = served.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            // `serve`'s drain deadline, not this one, ends what is still sending then.
            _ = stopping.changed() => break ("the hub is stopping", DRAIN_TIME),
            () = connection.evicted() => break ("it gave way to a new connection", IDLE_CLOSE_TIME),
            () = tokio::time::sleep(idle_left.unwrap_or_default()), if idle_left.is_some() => continue,
            () = std::future::ready(()), if idle_left.is_none() => break ("it was idle too long", IDLE_CLOSE_TIME),
        }
    };
    tracing::debug!(reason = closing, "closing a connection");
    served.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(patience, served).await;
    drop(admitted);
}
