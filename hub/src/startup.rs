//! Builds the hub from its configuration and serves it.

use std::sync::Arc;

use causeway_connectors::Connectors;
use tokio::net::TcpListener;

use crate::access::{Access, AccessError};
use crate::api::{self, AppState};
use crate::config::Config;
use crate::identity::{Identity, IdentityError};
use crate::query::QueryEngine;
use crate::registry::{Registry, RegistryError};
use crate::server::{self, TlsError};
use crate::store::{MetadataStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create {path}: {source}")]
    Directory { path: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("the policy files are not valid:\n{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Policies(Vec<causeway_policies::FileError>),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A hub with its store open and its datasets loaded, ready to serve.
pub struct Hub {
    pub config: Config,
    pub store: MetadataStore,
    pub access: Arc<Access>,
    pub registry: Arc<Registry>,
    pub engine: Arc<QueryEngine>,
}

impl Hub {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        for dir in [Some(config.data_dir()), config.storage.audit_dir.as_deref()]
            .into_iter()
            .flatten()
        {
            std::fs::create_dir_all(dir).map_err(|source| StartupError::Directory {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let store = MetadataStore::connect(&config.metadata_url()).await?;
        let access = Arc::new(Access::open(store.clone(), config.data_dir()).await?);
        let engine = Arc::new(QueryEngine::new(config.limits.clone(), Arc::clone(&access)));
        let connectors = Connectors::new(config.connectors.clone());
        let registry = Arc::new(Registry::new(store.clone(), connectors, Arc::clone(&engine)));
        registry.load().await?;
        if let Some(dir) = &config.policies.dir {
            let session = engine.session();
            access
                .load_files(dir, &|id| engine.dataset(id), &session)
                .await
                .map_err(StartupError::Policies)?;
        }
        Ok(Self {
            config,
            store,
            access,
            registry,
            engine,
        })
    }

    /// Binds the configured address; the listener's real address is known before serving.
    pub async fn bind(&self) -> Result<TcpListener, StartupError> {
        let address = self.config.server.listen;
        TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Listen {
                address: address.to_string(),
                source,
            })
    }

    /// The hub's identity for a listener: its own URL is the built-in issuer.
    pub fn identity(&self, listener: &TcpListener) -> Result<Arc<Identity>, StartupError> {
        let bound = listener.local_addr().map_err(|source| StartupError::Listen {
            address: self.config.server.listen.to_string(),
            source,
        })?;
        let url = self.config.public_url(bound);
        Ok(Arc::new(Identity::new(&self.config, &url, self.store.clone())?))
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn serve(self, listener: TcpListener, identity: Arc<Identity>) -> Result<(), StartupError> {
        let tls = self
            .config
            .server
            .tls
            .as_ref()
            .map(server::server_config)
            .transpose()?;
        if let Some(dir) = self.config.policies.dir.clone() {
            reload_policies_on_hangup(dir, Arc::clone(&self.access), Arc::clone(&self.engine));
        }
        let client_timeout = self.config.server.client_timeout;
        let state = AppState {
            registry: self.registry,
            engine: self.engine,
            identity,
            access: self.access,
        };
        let app = api::router(state, self.config.limits.max_request_bytes)
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(client_timeout))
            .layer(tower_http::trace::TraceLayer::new_for_http());
        server::serve(listener, app, tls, client_timeout, shutdown_signal()).await;
        Ok(())
    }
}

/// Reads the policy files again whenever the hub gets SIGHUP; a broken file leaves the
/// policies in force as they were.
fn reload_policies_on_hangup(dir: std::path::PathBuf, access: Arc<Access>, engine: Arc<QueryEngine>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; policy files are read at start only");
            return;
        };
        while hangups.recv().await.is_some() {
            let session = engine.session();
            if let Err(errors) = access.load_files(&dir, &|id| engine.dataset(id), &session).await {
                for error in errors {
                    tracing::error!(%error, "policy files not reloaded");
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (dir, access, engine);
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
