//! Connector settings from the hub configuration: which directories file sources may read,
//! and the named database connections that database sources refer to.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSettings {
    /// Directories that file and SQLite sources may read; a path anywhere else is refused,
    /// so publishing a dataset cannot expose arbitrary files of the hub's machine.
    #[serde(default)]
    pub file_roots: Vec<PathBuf>,
    /// Database connections by name. Datasets name a connection; its URL (which may hold a
    /// password or a `${env:NAME}` reference) stays in the configuration.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionSettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    Postgres,
    Mysql,
}

impl DatabaseKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSettings {
    pub kind: DatabaseKind,
    /// `postgres://user:password@host:port/database` or `mysql://...`; any part may be an
    /// `${env:NAME}` reference.
    pub url: SecretString,
    /// Most connections the hub opens to this database at once.
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// TLS to the database: for PostgreSQL `disable`, `prefer`, `require`, `verify-ca` or
    /// `verify-full`; for MySQL `disabled`, `preferred` or `required`.
    #[serde(default)]
    pub tls: Option<String>,
    /// Path of a PEM file with the CA certificates that sign the database's certificate.
    #[serde(default)]
    pub tls_root_cert: Option<PathBuf>,
    /// Whether filters may be evaluated by the database (`true`, the default) or only by
    /// the hub on the rows it reads. Off, every scan reads the whole table (its projection
    /// and limit still go to the database): for a database whose comparisons the hub cannot
    /// learn, and to check push-down against the hub's own answers.
    #[serde(default = "default_filter_pushdown")]
    pub filter_pushdown: bool,
}

fn default_filter_pushdown() -> bool {
    true
}

fn default_pool_size() -> u32 {
    8
}
