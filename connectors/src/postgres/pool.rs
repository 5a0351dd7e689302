//! A bounded pool of read-only PostgreSQL sessions for one named connection.

use std::str::FromStr;
use std::time::Duration;

use bb8::{Pool, PooledConnection};
use bb8_postgres::PostgresConnectionManager;
use postgres_native_tls::MakeTlsConnector;
use secrecy::ExposeSecret;
use tokio_postgres::config::SslMode;

use crate::error::ConnectorError;
use crate::secrets::{redact, resolve_env_references};
use crate::settings::ConnectionSettings;

type Manager = PostgresConnectionManager<MakeTlsConnector>;

pub(crate) struct PostgresPool {
    name: String,
    pool: Pool<Manager>,
    tls: MakeTlsConnector,
    /// Values that must never appear in a message: the password and the URL.
    secrets: Vec<String>,
}

impl std::fmt::Debug for PostgresPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresPool({})", self.name)
    }
}

/// Session settings every connection starts with: read-only, UTC, ISO dates, and floats
/// written with all their digits, so the text of every value reads back exactly.
const SESSION_OPTIONS: &str = "-c default_transaction_read_only=on -c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=3 -c IntervalStyle=iso_8601";

impl PostgresPool {
    pub(crate) async fn connect(name: &str, settings: &ConnectionSettings) -> Result<Self, ConnectorError> {
        let url = resolve_env_references(&settings.url)?;
        let url = url.expose_secret();
        let mut secrets = vec![url.to_owned()];
        let invalid = |message: &str| ConnectorError::Settings(format!("connection '{name}': {message}"));
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid("the URL must start with postgres://"));
        }
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|_| invalid("the connection URL does not parse"))?;
        if let Some(password) = config.get_password() {
            secrets.push(String::from_utf8_lossy(password).into_owned());
        }
        let options = match config.get_options() {
            Some(options) => format!("{options} {SESSION_OPTIONS}"),
            None => SESSION_OPTIONS.to_owned(),
        };
        config.options(options);
        if config.get_application_name().is_none() {
            config.application_name("causeway");
        }
        let (ssl_mode, tls) = tls(settings).map_err(|error| invalid(&error.to_string()))?;
        if let Some(mode) = ssl_mode {
            config.ssl_mode(mode);
        }
        // Fail at publish, not at the first query, when the database cannot be reached; a
        // direct connection reports why (the pool would only report that it timed out).
        let redacted =
            |message: String| redact(&message, &secrets.iter().map(String::as_str).collect::<Vec<_>>());
        match tokio::time::timeout(Duration::from_secs(10), config.connect(tls.clone())).await {
            Ok(Ok((client, connection))) => {
                drop(client);
                let _ = connection.await;
            }
            Ok(Err(error)) => {
                let message = match error.as_db_error() {
                    Some(db) => format!("{} ({})", db.message(), db.code().code()),
                    None => chain(&error),
                };
                return Err(ConnectorError::Connect {
                    kind: "postgres",
                    name: name.to_owned(),
                    message: redacted(message),
                });
            }
            Err(_) => {
                return Err(ConnectorError::Connect {
                    kind: "postgres",
                    name: name.to_owned(),
                    message: "no answer within 10 seconds".into(),
                });
            }
        }
        let manager = PostgresConnectionManager::new(config, tls.clone());
        let pool = Pool::builder()
            .max_size(settings.pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .await
            .map_err(|error| ConnectorError::Connect {
                kind: "postgres",
                name: name.to_owned(),
                message: redact(
                    &chain(&error),
                    &secrets.iter().map(String::as_str).collect::<Vec<_>>(),
                ),
            })?;
        let pool = Self {
            name: name.to_owned(),
            pool,
            tls,
            secrets,
        };
        // Fail at publish, not at the first query, when the database cannot be reached.
        pool.get().await.map_err(|error| ConnectorError::Connect {
            kind: "postgres",
            name: name.to_owned(),
            message: error.to_string(),
        })?;
        Ok(pool)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) async fn get(&self) -> Result<PooledConnection<'_, Manager>, PostgresError> {
        self.pool.get().await.map_err(|error| match error {
            bb8::RunError::User(error) => self.describe(error),
            bb8::RunError::TimedOut => PostgresError::PoolTimedOut,
        })
    }

    /// An error as PostgreSQL explains it, its text without any secret.
    pub(crate) fn describe(&self, error: tokio_postgres::Error) -> PostgresError {
        let message = match error.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => chain(&error),
        };
        let redacted = redact(
            &message,
            &self.secrets.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        PostgresError::Server {
            redacted,
            source: error,
        }
    }

    /// The columns of `table` as PostgreSQL declares them, in table order.
    pub(crate) async fn columns(&self, table: &str) -> Result<Vec<SourceColumn>, PostgresError> {
        let connection = self.get().await?;
        // `collisdeterministic` is false for ICU collations with `deterministic = false`
        // (PostgreSQL 12 and later), which compare strings equal that differ in bytes.
        let rows = connection
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), \
                        coalesce(c.collisdeterministic, true) \
                 FROM pg_catalog.pg_attribute a \
                 LEFT JOIN pg_catalog.pg_collation c ON c.oid = a.attcollation \
                 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
                &[&table],
            )
            .await
            .map_err(|error| self.describe(error))?;
        Ok(rows
            .iter()
            .map(|row| SourceColumn {
                name: row.get(0),
                declared: row.get(1),
                deterministic: row.get(2),
            })
            .collect())
    }

    pub(crate) async fn estimate_rows(&self, table: &str) -> Result<Option<u64>, PostgresError> {
        let connection = self.get().await?;
        let row = connection
            .query_opt(
                "SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE oid = to_regclass($1)",
                &[&table],
            )
            .await
            .map_err(|error| self.describe(error))?;
        Ok(row
            .map(|row| row.get::<_, i64>(0))
            .and_then(|rows| u64::try_from(rows).ok()))
    }

    /// Asks the server to stop whatever `connection` is running.
    pub(crate) async fn cancel(&self, connection: &tokio_postgres::Client) {
        if let Err(error) = connection.cancel_token().cancel_query(self.tls.clone()).await {
            tracing::debug!(error = %self.describe(error), "cancelling a PostgreSQL query failed");
        }
    }
}

/// A column as PostgreSQL declares it.
#[derive(Debug, Clone)]
pub(crate) struct SourceColumn {
    pub name: String,
    /// The type as `format_type` prints it: `character(10)`, `numeric(10,2)`, `text`.
    pub declared: String,
    /// Whether its collation compares equal only strings of equal bytes.
    pub deterministic: bool,
}

/// Why an exchange with PostgreSQL failed. What it shows is redacted of the connection's
/// secrets; the driver's error is kept as the source for the hub's log.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostgresError {
    #[error("{redacted}")]
    Server {
        redacted: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("timed out waiting for a connection")]
    PoolTimedOut,
}

impl PostgresError {
    /// What may be shown of a failed read: the SQLSTATE, with the server's message only for
    /// classes whose messages name objects and never values (08 connection, 28 and 42
    /// authorization, syntax and access, 3D catalog, 53 resources, 57 operator
    /// intervention); a data exception (class 22) may quote the value it failed on.
    pub(crate) fn shown(&self) -> String {
        const NAMING_CLASSES: [&str; 6] = ["08", "28", "3D", "42", "53", "57"];
        match self {
            Self::Server { redacted, source } => match source.as_db_error() {
                Some(db) => {
                    let code = db.code().code();
                    if NAMING_CLASSES.iter().any(|class| code.starts_with(class)) {
                        redacted.clone()
                    } else {
                        format!("the server failed with SQLSTATE {code}")
                    }
                }
                None if source.is_closed() => "the connection to the server closed".to_owned(),
                None => "the driver failed to read the server's answer".to_owned(),
            },
            Self::PoolTimedOut => self.to_string(),
        }
    }
}

/// Why a connection's TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    ReadCertificate {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a PEM certificate: {source}", path.display())]
    NotPem {
        path: std::path::PathBuf,
        #[source]
        source: native_tls::Error,
    },
    #[error("unknown tls mode '{0}': use disable, prefer, require, verify-ca or verify-full")]
    UnknownMode(String),
    #[error("cannot set up TLS: {0}")]
    Setup(#[source] native_tls::Error),
}

/// The TLS mode, as libpq names them: `disable`, `prefer` (the default), `require` (encrypt,
/// trust any certificate), `verify-ca` (the certificate must be signed by a trusted CA) and
/// `verify-full` (and name the host).
fn tls(settings: &ConnectionSettings) -> Result<(Option<SslMode>, MakeTlsConnector), TlsError> {
    let mode = settings.tls.as_deref();
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(path) = &settings.tls_root_cert {
        let pem = std::fs::read(path).map_err(|source| TlsError::ReadCertificate {
            path: path.clone(),
            source,
        })?;
        let certificate = native_tls::Certificate::from_pem(&pem).map_err(|source| TlsError::NotPem {
            path: path.clone(),
            source,
        })?;
        builder.add_root_certificate(certificate);
    }
    let ssl_mode = match mode {
        None => None,
        Some("disable") => Some(SslMode::Disable),
        Some("prefer") | Some("require") => {
            builder
                .danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
            Some(if mode == Some("prefer") {
                SslMode::Prefer
            } else {
                SslMode::Require
            })
        }
        Some("verify-ca") => {
            builder.danger_accept_invalid_hostnames(true);
            Some(SslMode::Require)
        }
        Some("verify-full") => Some(SslMode::Require),
        Some(other) => return Err(TlsError::UnknownMode(other.to_owned())),
    };
    if mode.is_none() {
        // Without a mode the URL's own sslmode applies (prefer by default): encrypt when the
        // server offers it, as libpq does, without requiring a trusted certificate.
        builder
            .danger_accept_invalid_certs(true)
            .danger_accept_invalid_hostnames(true);
    }
    let connector = builder.build().map_err(TlsError::Setup)?;
    Ok((ssl_mode, MakeTlsConnector::new(connector)))
}

/// An error and its causes, as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
