//! Builds the hub from its configuration and serves it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use causeway_connectors::Connectors;
use causeway_policies::FileError;
use tokio::net::TcpListener;

use crate::acceleration::Accelerations;
use crate::access::calendar::{CalendarError, WorkingCalendar};
use crate::access::{Access, AccessError};
use crate::api::{self, AppState};
use crate::audit::operator::{self, OnChange};
use crate::audit::read::last_record_time;
use crate::audit::{Action, AuditError, AuditLog, Event, Gate, Outcome};
use crate::config::Config;
use crate::flight::{FlightSetupError, FlightSql};
use crate::identity::{Identity, IdentityError, KeyRing};
use crate::query::QueryEngine;
use crate::query::service::QueryService;
use crate::registry::{Registry, RegistryError};
use crate::replicas;
use crate::server::{self, TlsError};
use crate::store::{MetadataStore, StoreError};
use crate::supervision::{AlertError, Alerts, Refusals, RowUsage, SubjectUsage, watch_expiries};

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
    Policies(Vec<FileError>),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Alerts(#[from] AlertError),
    #[error("cannot start the query threads: {source}")]
    Runtime { source: std::io::Error },
    #[error("cannot read the audit log at {path}: {source}")]
    AuditRead { path: String, source: std::io::Error },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Flight(#[from] FlightSetupError),
    #[error(
        "server.postgres_listen = {0} is not a loopback address, and without [server.tls] passwords would cross the network in clear text; configure [server.tls] or listen on 127.0.0.1"
    )]
    PlainWire(String),
}

/// A hub with its store open and its datasets loaded, ready to serve.
pub struct Hub {
    pub config: Config,
    pub store: MetadataStore,
    pub access: Arc<Access>,
    pub registry: Arc<Registry>,
    pub engine: Arc<QueryEngine>,
    pub audit: AuditLog,
    pub usage: Arc<RowUsage>,
    pub alerts: Arc<Alerts>,
    /// The configuration file, read again on SIGHUP for its alert rules; `None` when the
    /// hub was configured otherwise (the environment, a test).
    pub config_file: Option<PathBuf>,
    /// The time of the log's last record before this start.
    log_ended_at: chrono::DateTime<chrono::Utc>,
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
        let audit_read_error = |source| StartupError::AuditRead {
            path: config.audit_dir().display().to_string(),
            source,
        };
        // When the hub last recorded anything: grants that expired since are recorded now.
        let log_ended_at = last_record_time(&config.audit_dir())
            .map_err(audit_read_error)?
            .unwrap_or_else(chrono::Utc::now);
        let keys = Arc::new(KeyRing::open(&config.data_paths().keys()).map_err(IdentityError::from)?);
        let audit = AuditLog::open(&config.audit_dir(), &config.audit, keys)?;
        let store = MetadataStore::connect(&config.metadata_url()).await?;
        // Today's rows under quota: every hub's in the store, this one's also as its log
        // recorded them before this start.
        let audit_dir = config.audit_dir();
        let usage = RowUsage::open(
            store.clone(),
            config.audit.enabled.then_some(audit_dir.as_path()),
            chrono::Utc::now(),
        )
        .map_err(audit_read_error)?;
        let alerts = Arc::new(Alerts::open(&config.alerts, store.clone(), audit.clone()).await?);
        let calendar = WorkingCalendar::from_config(&config.calendar)?;
        let this_year = chrono::Datelike::year(&chrono::Utc::now());
        tracing::info!(sources = ?calendar.sources(), "decision deadlines count working days");
        let missing = calendar.missing_years([this_year, this_year + 1]);
        if !missing.is_empty() {
            tracing::warn!(
                "the working-day calendar has no public holidays for {missing:?}: decision deadlines \
                 there count Saturdays and Sundays only; add the year's official dates under \
                 [calendar] public_holidays and make_up_working_days"
            );
        }
        let access = Arc::new(
            Access::open(
                store.clone(),
                &config.data_paths().pseudonym_key(),
                config.limits.syntax(),
            )
            .await?
            .with_calendar(calendar),
        );
        let audit_chains = config.audit.enabled.then(|| config.audit_chains());
        let engine = Arc::new(
            QueryEngine::new(config.limits.clone(), Arc::clone(&access), audit_chains)
                .map_err(|source| StartupError::Runtime { source })?
                .with_subject_usage(Arc::new(SubjectUsage::new(store.clone(), Arc::clone(&alerts)))),
        );
        let connectors = Connectors::new(config.connectors.clone());
        let accelerations = Arc::new(Accelerations::new(
            &config.acceleration,
            Arc::clone(&engine),
            audit.clone(),
        ));
        let registry = Arc::new(Registry::new(
            store.clone(),
            connectors,
            Arc::clone(&engine),
            accelerations,
        ));
        registry.load().await?;
        let scheduled = access
            .schedule_recertification(&|id| engine.dataset(id))
            .await
            .map_err(StartupError::Access)?;
        if scheduled > 0 {
            tracing::info!(
                grants = scheduled,
                "grants made before recertification now lapse unless confirmed"
            );
        }
        if let Some(dir) = &config.policies.dir {
            load_policies(dir, &access, &engine, &audit)
                .await
                .map_err(StartupError::Policies)?;
        }
        Ok(Self {
            config,
            store,
            access,
            registry,
            engine,
            audit,
            usage: Arc::new(usage),
            alerts,
            config_file: None,
            log_ended_at,
        })
    }

    /// Binds every configured address at once, so that a port already taken is found before
    /// anything is said to be served; the real addresses are known before serving.
    pub async fn bind(&self) -> Result<Listeners, StartupError> {
        let server = &self.config.server;
        if let Some(address) = server.postgres_listen
            && server.tls.is_none()
            && !address.ip().is_loopback()
        {
            return Err(StartupError::PlainWire(address.to_string()));
        }
        let optional = async |address: Option<std::net::SocketAddr>| match address {
            Some(address) => bind(address).await.map(Some),
            None => Ok(None),
        };
        Ok(Listeners {
            http: bind(server.listen).await?.0,
            flight: optional(server.flight_listen).await?,
            postgres: optional(server.postgres_listen).await?,
            metrics: optional(server.metrics_listen).await?,
        })
    }

    /// The hub's identity for its listeners: its own URL is the built-in issuer.
    pub fn identity(&self, listeners: &Listeners) -> Result<Arc<Identity>, StartupError> {
        let bound = listeners
            .http
            .local_addr()
            .map_err(|source| StartupError::Listen {
                address: self.config.server.listen.to_string(),
                source,
            })?;
        let url = self.config.public_url(bound);
        Ok(Arc::new(Identity::new(&self.config, &url, self.store.clone())?))
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn serve(self, listeners: Listeners, identity: Arc<Identity>) -> Result<(), StartupError> {
        self.serve_until(listeners, identity, shutdown_signal()).await
    }

    /// Serves until `shutdown` resolves, then lets open connections finish (up to 30 s)
    /// and closes the audit log with a last checkpoint.
    pub async fn serve_until(
        self,
        listeners: Listeners,
        identity: Arc<Identity>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), StartupError> {
        let Listeners {
            http: listener,
            flight,
            postgres,
            metrics,
        } = listeners;
        let tls = self
            .config
            .server
            .tls
            .as_ref()
            .map(server::server_config)
            .transpose()?;
        reload_on_hangup(Reloaded {
            config_file: self.config_file.clone(),
            policies: self.config.policies.dir.clone(),
            access: Arc::clone(&self.access),
            engine: Arc::clone(&self.engine),
            alerts: Arc::clone(&self.alerts),
            audit: self.audit.clone(),
        });
        watch_expiries(Arc::clone(&self.access), self.audit.clone(), self.log_ended_at);
        identity
            .refresh_revocations()
            .await
            .map_err(|error| StartupError::Identity(IdentityError::Revocations(error)))?;
        if self.config.audit.enabled {
            let revoking = Arc::clone(&identity);
            let on_change: OnChange = Arc::new(move |action, detail| {
                if action == Action::ClientDisabled
                    && let Some(client) = detail.get("client").and_then(serde_json::Value::as_str)
                {
                    revoking.revoke(client);
                }
            });
            operator::serve(
                &self.config.data_paths().operator_socket(),
                self.audit.clone(),
                on_change,
            )?;
        }
        let refusals = Arc::new(Refusals::new(self.audit.clone()));
        refusals.watch();
        let client_timeout = self.config.server.client_timeout;
        self.alerts.end_work_on_suspension(identity.ongoing());
        let queries = QueryService::new(
            Arc::clone(&self.engine),
            self.audit.clone(),
            Arc::clone(&self.alerts),
            Arc::clone(&self.usage),
            identity.ongoing(),
        );
        // Every front door stops when `shutdown` resolves; each has its own connection table
        // under the same limits.
        let stopping = tokio_util::sync::CancellationToken::new();
        // The store's changes are followed until every front door has drained: a client
        // disabled meanwhile is refused at its next statement on a session still open.
        let unfollow = tokio_util::sync::CancellationToken::new();
        let following = replicas::follow(
            self.store.clone(),
            replicas::Holders {
                registry: Arc::clone(&self.registry),
                access: Arc::clone(&self.access),
                identity: Arc::clone(&identity),
                alerts: Arc::clone(&self.alerts),
            },
            unfollow.clone(),
        );
        let state = AppState {
            registry: self.registry,
            engine: self.engine,
            queries,
            identity,
            access: self.access,
            audit: self.audit.clone(),
            usage: self.usage,
            alerts: self.alerts,
            refusals,
            audit_chains: self.config.audit_chains(),
            keys_dir: self.config.data_paths().keys(),
            shutdown: stopping.clone(),
            following,
        };
        let server = &self.config.server;
        let limits = server::ConnectionLimits::new(
            server.max_connections,
            server.max_connections_per_address,
            server.idle_timeout,
            client_timeout,
        );
        let flight = match flight {
            Some((listener, bound)) => {
                let routes = FlightSql::new(state.clone())?.router();
                let tls = tls.clone();
                let connections = server::Connections::new("flight_sql", limits);
                let stop = stopping.clone().cancelled_owned();
                tracing::info!(flight = %bound, tls = tls.is_some(), "Arrow Flight SQL listening");
                Some(tokio::spawn(server::serve(
                    listener,
                    routes,
                    tls,
                    connections,
                    stop,
                )))
            }
            None => None,
        };
        let postgres = match postgres {
            Some((listener, bound)) => {
                tracing::info!(postgres = %bound, tls = tls.is_some(), "PostgreSQL wire protocol listening");
                Some(tokio::spawn(crate::postgres::serve(
                    listener,
                    state.clone(),
                    tls.clone(),
                    server::Connections::new("postgres", limits),
                    stopping.clone().cancelled_owned(),
                )))
            }
            None => None,
        };
        let scrape = match metrics {
            Some((listener, bound)) => {
                tracing::info!(metrics = %bound, "Prometheus metrics at /metrics");
                Some(tokio::spawn(server::serve(
                    listener,
                    api::metrics::scrape_router(Arc::clone(&state.registry)),
                    None,
                    server::Connections::new("metrics", limits),
                    stopping.clone().cancelled_owned(),
                )))
            }
            None => None,
        };
        let shutdown = {
            let stopping = stopping.clone();
            async move {
                shutdown.await;
                tracing::info!(
                    "shutting down: no new connections; requests in flight may finish for up to 30 s"
                );
                stopping.cancel();
            }
        };
        let proxies = api::forwarded::TrustedProxies::new(self.config.server.trusted_proxies.clone());
        let app = api::router(state, self.config.limits.max_request_bytes, proxies)
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(client_timeout))
            .layer(
                tower_http::trace::TraceLayer::new_for_http().on_failure(crate::telemetry::http::on_failure),
            );
        let connections = server::Connections::new("http", limits);
        server::serve(listener, app, tls, connections, shutdown).await;
        stopping.cancel();
        for door in [flight, postgres, scrape].into_iter().flatten() {
            let _ = door.await;
        }
        unfollow.cancel();
        self.audit.close().await;
        tracing::info!(
            audit = self.config.audit.enabled,
            "stopped; the audit log is sealed with a checkpoint"
        );
        Ok(())
    }
}

/// The hub's listeners, bound before it serves: HTTP, and each other front door configured
/// with the address it is bound to.
pub struct Listeners {
    pub http: TcpListener,
    flight: Option<(TcpListener, std::net::SocketAddr)>,
    postgres: Option<(TcpListener, std::net::SocketAddr)>,
    metrics: Option<(TcpListener, std::net::SocketAddr)>,
}

impl Listeners {
    /// Where Arrow Flight SQL is bound, when configured.
    pub fn flight_address(&self) -> Option<std::net::SocketAddr> {
        self.flight.as_ref().map(|(_, bound)| *bound)
    }

    /// Where the PostgreSQL wire protocol is bound, when configured.
    pub fn postgres_address(&self) -> Option<std::net::SocketAddr> {
        self.postgres.as_ref().map(|(_, bound)| *bound)
    }
}

/// A listener on `address`, and the address it is bound to (the port chosen for `:0`).
async fn bind(address: std::net::SocketAddr) -> Result<(TcpListener, std::net::SocketAddr), StartupError> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| StartupError::Listen {
            address: address.to_string(),
            source,
        })?;
    let bound = listener.local_addr().unwrap_or(address);
    Ok((listener, bound))
}

/// Reads the policy files of `dir` into force, and records that it did or why not.
pub async fn load_policies(
    dir: &Path,
    access: &Access,
    engine: &QueryEngine,
    audit: &AuditLog,
) -> Result<(), Vec<FileError>> {
    let session = engine.session();
    let record = Event::new(Action::PoliciesLoaded, Outcome::Ok)
        .with_detail(serde_json::json!({ "dir": dir.display().to_string() }));
    let mut gate = Gate::new(audit, record);
    let result = access
        .load_files(dir, &|id| engine.dataset(id), &session, &mut gate)
        .await;
    let message = result.as_ref().err().map(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    });
    if let Err(error) = gate
        .close(
            message
                .as_deref()
                .map(|message| (Outcome::Error, "invalid_policies", message)),
        )
        .await
    {
        tracing::error!(%error, "the loading of policy files could not be recorded");
    }
    result.map(|_| ())
}

/// What SIGHUP reads again.
struct Reloaded {
    /// The configuration file, for its alert rules.
    config_file: Option<PathBuf>,
    /// The policy files' folder.
    policies: Option<PathBuf>,
    access: Arc<Access>,
    engine: Arc<QueryEngine>,
    alerts: Arc<Alerts>,
    audit: AuditLog,
}

/// Reads the policy files and the configuration's alert rules again whenever the hub gets
/// SIGHUP; a broken file leaves what was in force as it was. Other settings (addresses,
/// limits, the store) take a restart.
fn reload_on_hangup(reloaded: Reloaded) {
    if reloaded.config_file.is_none() && reloaded.policies.is_none() {
        return;
    }
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; policy files and alert rules are read at start only");
            return;
        };
        while hangups.recv().await.is_some() {
            if let Some(path) = &reloaded.config_file {
                let rules = Config::load(Some(path))
                    .map_err(|error| error.to_string())
                    .and_then(|config| {
                        reloaded
                            .alerts
                            .replace_rules(&config.alerts.rules)
                            .map(|()| config.alerts.rules.len())
                            .map_err(|error| error.to_string())
                    });
                match rules {
                    Ok(count) => {
                        tracing::info!(rules = count, file = %path.display(), "alert rules read again")
                    }
                    Err(error) => {
                        tracing::error!(%error, "alert rules not reloaded; the rules before stay in force")
                    }
                }
            }
            if let Some(dir) = &reloaded.policies
                && let Err(errors) =
                    load_policies(dir, &reloaded.access, &reloaded.engine, &reloaded.audit).await
            {
                for error in errors {
                    tracing::error!(%error, "policy files not reloaded");
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = reloaded;
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
