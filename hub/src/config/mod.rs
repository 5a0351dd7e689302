//! The hub's configuration: a TOML file, then `CAUSEWAY_...` environment variables over it.
//!
//! Environment variables name a setting by its path with double underscores, e.g.
//! `CAUSEWAY_SERVER__LISTEN=0.0.0.0:8080` or `CAUSEWAY_LIMITS__QUERY_TIMEOUT=30s`.
//! Relative paths in the file are relative to the file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod data_paths;
mod errors;
mod limits;

use causeway_connectors::ConnectorSettings;

use crate::access::calendar::CalendarConfig;
pub use crate::audit::settings::AuditConfig;
use crate::supervision::AlertsConfig;
pub use data_paths::DataPaths;
use data_paths::sqlite_url;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
pub use limits::LimitsConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub connectors: ConnectorSettings,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub policies: PoliciesConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    #[serde(default)]
    pub acceleration: AccelerationConfig,
    /// Working days and public holidays, for decision deadlines.
    #[serde(default)]
    pub calendar: CalendarConfig,
    #[serde(default)]
    pub log: crate::telemetry::LogConfig,
}

/// Datasets held in memory (`acceleration: { mode: memory }` in their spec).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccelerationConfig {
    /// The most memory, in MiB, the copies being served may take together; a load or a
    /// refresh that would go beyond it is refused. A refresh builds its copy beside the one
    /// it replaces, which is held until the swap: the process briefly needs that much more.
    pub memory_budget_mb: u64,
    /// Partitions each copy is split into, read in parallel; 0 is one per core.
    pub partitions: usize,
}

impl Default for AccelerationConfig {
    fn default() -> Self {
        Self {
            memory_budget_mb: 2048,
            partitions: 0,
        }
    }
}

/// Policies as code.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoliciesConfig {
    /// A directory of YAML files of grants, deny rules and automatic-approval conditions,
    /// read at start and again on SIGHUP.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port of the HTTP API.
    pub listen: SocketAddr,
    /// The hub's URL as clients reach it; default `http(s)://LISTEN` with the bound port.
    #[serde(default)]
    pub public_url: Option<String>,
    /// TLS for the API; without it the hub speaks plain HTTP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Longest wait for a request's headers, and then for each part of its body; also how
    /// long a new connection may take to send its first request.
    #[serde(with = "humantime_serde", default = "default_client_timeout")]
    pub client_timeout: Duration,
    /// How long a connection may stay open with no request in flight after its last one
    /// (HTTP/1 keep-alive, HTTP/2).
    #[serde(with = "humantime_serde", default = "default_idle_timeout")]
    pub idle_timeout: Duration,
    /// Connections open at once; 0 is three quarters of the file descriptors the process
    /// may open, less 256 kept for sources and files. At the cap, the connection idle
    /// longest is closed for a new one.
    #[serde(default)]
    pub max_connections: usize,
    /// Connections open at once from one address; 0 is half of `max_connections`.
    #[serde(default)]
    pub max_connections_per_address: usize,
    /// Reverse proxies (addresses or CIDR blocks, e.g. `["10.0.0.0/8"]`) whose
    /// `X-Forwarded-For` names the client, for audit records and per-address sign-in limits;
    /// from any other peer the header is ignored. None by default.
    #[serde(default, deserialize_with = "addresses_or_blocks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Address and port of the Arrow Flight SQL service (gRPC); none by default. It uses the
    /// API's TLS settings (`[server.tls]`), mutual TLS included.
    #[serde(default)]
    pub flight_listen: Option<SocketAddr>,
    /// Address and port of the PostgreSQL wire protocol (psql, JDBC, BI tools); none by
    /// default. With `[server.tls]` connections must use TLS; without it, only a loopback
    /// address may be given.
    #[serde(default)]
    pub postgres_listen: Option<SocketAddr>,
    /// Address and port where Prometheus scrapes `GET /metrics` without a token; none by
    /// default (the API's `/metrics` needs one). Keep it off the public network: plain HTTP,
    /// no token, and the metrics name datasets and alert rules.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
}

/// Addresses (`127.0.0.1`, `::1`) and CIDR blocks (`10.0.0.0/8`), an address being a block
/// of one.
fn addresses_or_blocks<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ipnet::IpNet>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|text| {
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| serde::de::Error::custom(format!("'{text}' is no address or CIDR block")))
        })
        .collect()
}

fn default_idle_timeout() -> Duration {
    Duration::from_secs(30)
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            tls: None,
            client_timeout: default_client_timeout(),
            idle_timeout: default_idle_timeout(),
            max_connections: 0,
            max_connections_per_address: 0,
            trusted_proxies: Vec::new(),
            flight_listen: None,
            postgres_listen: None,
            metrics_listen: None,
        }
    }
}

fn default_client_timeout() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain of the server.
    pub cert: PathBuf,
    /// PEM private key of the server.
    pub key: PathBuf,
    /// PEM CA certificates: when set, every client must present a certificate they signed
    /// (mutual TLS), and its subject is recorded with the caller.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// Who may call: tokens from the built-in authorization server and from external OpenID
/// Connect providers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Whether the hub issues tokens to its own clients (`POST /oauth/token`).
    pub builtin_issuer: bool,
    /// The audience of the hub's tokens, and the audience required of external tokens
    /// unless their issuer says otherwise.
    pub audience: String,
    /// How long a token from the built-in issuer lasts.
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Clock difference tolerated when checking `exp` and `nbf`.
    #[serde(with = "humantime_serde")]
    pub clock_skew: Duration,
    /// Failed client authentications allowed per client id within `failure_window`; more
    /// are refused with 429 until the window passes.
    pub max_failed_attempts: u32,
    /// Failed client authentications allowed per address, whatever the client id, within
    /// `failure_window`: larger, so that one client's failures do not lock out the others
    /// behind the same address.
    pub max_failed_attempts_per_address: u32,
    #[serde(with = "humantime_serde")]
    pub failure_window: Duration,
    /// External OpenID Connect providers whose tokens are accepted.
    pub issuers: Vec<ExternalIssuerConfig>,
    /// How long a person's sign-in lasts, however often its tokens are refreshed; then the
    /// person signs in again.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Applications people sign in to through the built-in provider, beside the hub's own
    /// console (which is always registered at `PUBLIC_URL/console/callback`).
    pub applications: Vec<ApplicationConfig>,
    /// Where this hub's console signs people in.
    pub console: ConsoleSignInConfig,
}

/// The provider of the console's sign-in: the built-in one (default), or one of
/// `auth.issuers` (a department's Keycloak or Azure AD, another hub), at which the console is
/// a public client (authorization code with PKCE) whose redirect URI is
/// `PUBLIC_URL/console/callback` and whose web origin (CORS) is this hub's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSignInConfig {
    /// The `issuer` of one of `auth.issuers`; none for the built-in provider.
    pub provider: Option<String>,
    /// The console's client id at that provider.
    pub client_id: Option<String>,
}

/// An application of the built-in OpenID Connect provider: a public client (PKCE, no
/// secret) and the exact redirect URIs it may receive codes at.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationConfig {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            builtin_issuer: true,
            audience: "causeway".into(),
            token_ttl: Duration::from_secs(3600),
            clock_skew: Duration::from_secs(60),
            max_failed_attempts: 10,
            max_failed_attempts_per_address: 100,
            failure_window: Duration::from_secs(300),
            issuers: Vec::new(),
            session_ttl: Duration::from_secs(8 * 3600),
            applications: Vec::new(),
            console: ConsoleSignInConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalIssuerConfig {
    /// The issuer's URL, exactly as its tokens' `iss`; its discovery document is at
    /// `ISSUER/.well-known/openid-configuration`.
    pub issuer: String,
    /// The audience its tokens must carry; default `auth.audience`.
    #[serde(default)]
    pub audience: Option<String>,
    /// Signature algorithms accepted from it.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Which claims hold the principal's parts.
    #[serde(default)]
    pub claims: ClaimMapping,
}

fn default_algorithms() -> Vec<String> {
    ["RS256", "PS256", "ES256", "EdDSA"].map(String::from).to_vec()
}

/// Where a provider's tokens keep the principal's parts: claim names, or dotted paths into
/// nested claims (`realm_access.roles`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimMapping {
    pub subject: String,
    pub department: String,
    /// An array of role names, or one space-separated string.
    pub roles: String,
    /// An object whose members become attributes.
    pub attributes: String,
    /// Single claims that become attributes: attribute name to claim path.
    pub attribute_claims: std::collections::BTreeMap<String, String>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            subject: "sub".into(),
            department: "department".into(),
            roles: "roles".into(),
            attributes: "attributes".into(),
            attribute_claims: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Where the hub keeps its state. Default: `./causeway-data`.
    pub data_dir: Option<PathBuf>,
    /// The metadata store: `sqlite://PATH` or `postgres://...`. Default: SQLite at
    /// `DATA_DIR/metadata.db`.
    pub metadata_url: Option<String>,
    /// Where the audit log is written. Default: `DATA_DIR/audit`. Replicas each write their
    /// own (`/var/lib/causeway/audit/NODE`, say), never one another's.
    pub audit_dir: Option<PathBuf>,
    /// The folder of the keys that sign tokens and audit checkpoints. Default:
    /// `DATA_DIR/keys`. Replicas share one (a shared volume), so that a token one issues
    /// verifies at every other and a key rotated through one is used by all.
    pub keys_dir: Option<PathBuf>,
    /// The secret of keyed pseudonyms (32 bytes, made at first start when missing). Default:
    /// `DATA_DIR/pseudonym.key`. Replicas share one, or their pseudonyms would not join.
    pub pseudonym_key: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Reads `path` (when given) and the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new()
            .merge(Serialized::default("server", ServerConfig::default()))
            .merge(Serialized::default("limits", LimitsConfig::default()))
            .merge(Serialized::default("auth", AuthConfig::default()))
            .merge(Serialized::default("audit", AuditConfig::default()));
        if let Some(path) = path {
            if !path.is_file() {
                return Err(ConfigError(format!("{} is not a file", path.display())));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let mut config: Config = figment
            // Only `CAUSEWAY_SECTION__SETTING` names settings; the CLI's own variables
            // (CAUSEWAY_HUB, CAUSEWAY_TOKEN, ...) are not configuration.
            .merge(
                Env::prefixed("CAUSEWAY_")
                    .filter(|key| key.as_str().contains("__"))
                    .split("__"),
            )
            .extract()
            .map_err(|error| ConfigError(errors::describe(error)))?;
        // Every relative path resolves once, against the file's folder made absolute, so that
        // every command finds the same files whatever folder it runs in.
        let base = path
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let base = std::path::absolute(&base).unwrap_or(base);
        config.resolve_paths(&base);
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let absolute = |path: &Path| {
            if path.is_absolute() {
                path.to_path_buf()
            } else {
                base.join(path)
            }
        };
        let data_dir = absolute(
            self.storage
                .data_dir
                .as_deref()
                .unwrap_or(Path::new("causeway-data")),
        );
        // Defaults under the data directory are already resolved: joined once, never twice.
        self.storage.audit_dir = Some(
            self.storage
                .audit_dir
                .as_deref()
                .map_or_else(|| DataPaths::new(&data_dir).audit(), absolute),
        );
        self.audit.chains_root = self.audit.chains_root.as_deref().map(absolute);
        self.storage.keys_dir = self.storage.keys_dir.as_deref().map(absolute);
        self.storage.pseudonym_key = self.storage.pseudonym_key.as_deref().map(absolute);
        self.connectors.file_roots = if self.connectors.file_roots.is_empty() {
            vec![data_dir.clone()]
        } else {
            self.connectors
                .file_roots
                .iter()
                .map(|root| absolute(root))
                .collect()
        };
        if let Some(dir) = &self.policies.dir {
            self.policies.dir = Some(absolute(dir));
        }
        self.limits.spill_dir = Some(
            self.limits
                .spill_dir
                .as_deref()
                .map_or_else(|| DataPaths::new(&data_dir).spill(), absolute),
        );
        if let Some(tls) = &mut self.server.tls {
            tls.cert = absolute(&tls.cert);
            tls.key = absolute(&tls.key);
            tls.client_ca = tls.client_ca.as_deref().map(absolute);
        }
        for connection in self.connectors.connections.values_mut() {
            connection.tls_root_cert = connection.tls_root_cert.as_deref().map(absolute);
        }
        if let Some(url) = &self.storage.metadata_url {
            self.storage.metadata_url = Some(sqlite_url(url, &absolute));
        }
        self.storage.data_dir = Some(data_dir);
    }

    /// Whether the hub's metadata store exists: a PostgreSQL store is assumed to; an SQLite
    /// one is a file. Commands that change a hub's state refuse to make an empty store.
    pub fn metadata_exists(&self) -> bool {
        let url = self.metadata_url();
        match url.strip_prefix("sqlite://") {
            Some(rest) => Path::new(rest.split('?').next().unwrap_or_default()).is_file(),
            None => true,
        }
    }

    /// The hub's own URL for a listener bound at `bound`.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.server.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if self.server.tls.is_some() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{bound}")
            }
        }
    }

    /// Where the audit log is written.
    pub fn audit_dir(&self) -> PathBuf {
        self.storage
            .audit_dir
            .clone()
            .unwrap_or_else(|| self.data_paths().audit())
    }

    /// The audit chains this hub reads: its own, and every node's under `audit.chains_root`.
    pub fn audit_chains(&self) -> crate::audit::Chains {
        crate::audit::Chains::new(
            self.audit.node_name(),
            self.audit_dir(),
            self.audit.chains_root.clone(),
        )
    }

    pub fn data_dir(&self) -> &Path {
        self.storage
            .data_dir
            .as_deref()
            .unwrap_or(Path::new("causeway-data"))
    }

    /// What the hub keeps under its data directory.
    pub fn data_paths(&self) -> DataPaths {
        DataPaths::new(self.data_dir()).with_keys(
            self.storage.keys_dir.as_deref(),
            self.storage.pseudonym_key.as_deref(),
        )
    }

    pub fn metadata_url(&self) -> String {
        self.storage
            .metadata_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_paths().metadata().display()))
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail runs closures that return its own, large error"
)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_without_a_file() {
        figment::Jail::expect_with(|_| {
            let config = Config::load(None).unwrap();
            assert_eq!(config.server.listen.port(), 8080);
            assert_eq!(config.limits.query_timeout, Duration::from_secs(300));
            assert!(config.metadata_url().starts_with("sqlite://"));
            assert_eq!(
                config.connectors.file_roots,
                vec![config.data_dir().to_path_buf()]
            );
            Ok(())
        });
    }

    #[test]
    fn the_environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "hub.toml",
                r#"
                [server]
                listen = "127.0.0.1:9000"
                [storage]
                data_dir = "state"
                [limits]
                query_timeout = "30s"
                [connectors.connections.land]
                kind = "postgres"
                url = "postgres://app:${env:LAND_PASSWORD}@db/land"
                "#,
            )?;
            jail.set_env("CAUSEWAY_SERVER__LISTEN", "0.0.0.0:9100");
            jail.set_env("CAUSEWAY_LIMITS__QUERY_MEMORY_MB", "64");
            jail.set_env("CAUSEWAY_TOKEN", "not a setting");
            let path = jail.directory().join("hub.toml");
            let config = Config::load(Some(&path)).unwrap();
            assert_eq!(config.server.listen.to_string(), "0.0.0.0:9100");
            assert_eq!(config.limits.query_timeout, Duration::from_secs(30));
            assert_eq!(config.limits.query_memory_mb, 64);
            assert_eq!(config.data_dir(), jail.directory().join("state"));
            assert!(config.connectors.connections.contains_key("land"));
            Ok(())
        });
    }

    #[test]
    fn relative_paths_resolve_once_against_the_files_folder() {
        figment::Jail::expect_with(|jail| {
            jail.create_dir("demo")?;
            jail.create_file(
                "demo/causeway.toml",
                "[storage]\ndata_dir = \".\"\n[policies]\ndir = \"policies\"\n",
            )?;
            // As `causeway serve --config demo/causeway.toml` run from the folder above.
            let config = Config::load(Some(Path::new("demo/causeway.toml"))).unwrap();
            let folder = jail.directory().join("demo");
            assert_eq!(config.data_dir(), folder);
            assert_eq!(config.audit_dir(), folder.join("audit"));
            assert_eq!(
                config.limits.spill_dir.as_deref(),
                Some(folder.join("spill").as_path())
            );
            assert_eq!(
                config.policies.dir.as_deref(),
                Some(folder.join("policies").as_path())
            );
            assert!(
                config.audit_dir().is_absolute(),
                "the same folder from any working folder"
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_settings_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("hub.toml", "[server]\nlisten = \"127.0.0.1:1\"\nport = 3\n")?;
            let error = Config::load(Some(&jail.directory().join("hub.toml"))).unwrap_err();
            assert!(error.to_string().contains("port"), "{error}");
            Ok(())
        });
    }
}
