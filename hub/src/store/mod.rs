//! The metadata store: departments, datasets and contract versions now; clients, grants and
//! access requests as they come. SQLite under the data directory by default, PostgreSQL
//! when the URL says so; one interface and one set of versioned migrations for both.

mod alerts;
mod changes;
mod clients;
mod datasets;
mod dump;
mod grants;
mod requests;
mod sign_ins;
#[cfg(test)]
mod tests;
mod usage;

use std::str::FromStr;

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;

pub use alerts::AlertRecord;
pub use changes::{CHANNEL as CHANGES_CHANNEL, Change};
pub use clients::{AccountKind, ClientRecord, NewClient, Refusal, Refused};
pub use datasets::{ContractVersion, DatasetRecord, NewDataset};
pub use dump::TableRows;
pub use grants::{GrantOrigin, GrantRecord};
pub use sign_ins::{CodeRecord, NewCode, RefreshRecord, Taken, unix_now};

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported metadata store URL: use sqlite://PATH or postgres://...")]
    UnsupportedUrl,
    #[error("cannot open the metadata store: {0}")]
    Connect(String),
    #[error("cannot migrate the metadata store: {0}")]
    Migrate(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0} was changed by someone else meanwhile; try again")]
    Conflict(String),
    #[error("the metadata store holds a damaged record: {0}")]
    Corrupt(String),
    #[error("metadata store: {0}")]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct MetadataStore {
    pool: AnyPool,
    /// The URL of a PostgreSQL store, for listening to the changes other hubs announce;
    /// `None` for SQLite.
    postgres_url: Option<std::sync::Arc<secrecy::SecretString>>,
}

impl std::fmt::Debug for MetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataStore")
            .field("postgres", &self.is_postgres())
            .finish_non_exhaustive()
    }
}

impl MetadataStore {
    /// Connects and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_at(url, None).await
    }

    /// Connects and applies the migrations up to `version` (all when `None`): a restore
    /// writes a backup's rows at the version they were read at, then [`Self::migrate`]s.
    pub async fn connect_at(url: &str, version: Option<i64>) -> Result<Self> {
        sqlx::any::install_default_drivers();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres:") || url.starts_with("postgresql:")) {
            return Err(StoreError::UnsupportedUrl);
        }
        let options =
            AnyConnectOptions::from_str(url).map_err(|error| StoreError::Connect(error.to_string()))?;
        // SQLite allows one writer at a time; more connections would only queue on its lock.
        let max_connections = if url.starts_with("sqlite:") { 1 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await
            .map_err(|error| {
                StoreError::Connect(format!(
                    "{} ({})",
                    redact_url(&error.to_string(), url),
                    where_of(url)
                ))
            })?;
        let postgres_url =
            (!url.starts_with("sqlite:")).then(|| std::sync::Arc::new(secrecy::SecretString::from(url)));
        let store = Self { pool, postgres_url };
        match version {
            None => store.migrate().await?,
            Some(version) => MIGRATIONS
                .run_to(version, &store.pool)
                .await
                .map_err(migrate_error)?,
        }
        Ok(store)
    }

    /// Applies the migrations not yet applied.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATIONS.run(&self.pool).await.map_err(migrate_error)
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres_url.is_some()
    }

    /// A listener of the changes other hubs announce on a PostgreSQL store; `None` on
    /// SQLite, where hubs look at the `changes` table instead.
    pub async fn listen_for_changes(&self) -> Option<Result<sqlx::postgres::PgListener>> {
        use secrecy::ExposeSecret;
        let url = self.postgres_url.as_ref()?;
        Some(
            async {
                let mut listener = sqlx::postgres::PgListener::connect(url.expose_secret())
                    .await
                    .map_err(|error| {
                        StoreError::Connect(redact_url(&error.to_string(), url.expose_secret()))
                    })?;
                listener.listen(CHANGES_CHANNEL).await?;
                Ok(listener)
            }
            .await,
        )
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// What went wrong migrating, said so that an operator knows which release to run.
fn migrate_error(error: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError;
    StoreError::Migrate(match error {
        MigrateError::VersionMissing(version) => format!(
            "the store was brought to migration {version} by a newer release of Causeway (this one knows up to {}): run that release, or restore a backup made before the upgrade",
            MIGRATIONS
                .iter()
                .map(|migration| migration.version)
                .max()
                .unwrap_or(0)
        ),
        MigrateError::VersionMismatch(version) => format!(
            "migration {version} applied to the store differs from this release's: the store was made by a development build"
        ),
        other => other.to_string(),
    })
}

/// Where a store URL points, without its password: `storage.metadata_url` names
/// `postgres://HOST:PORT/DATABASE` (with the schema its `options=-c search_path=...` names,
/// as replicas sharing one database in schemas of their own are told apart), or an SQLite
/// file.
pub fn where_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.scheme() != "sqlite" => {
            let schema = parsed
                .query_pairs()
                .filter(|(key, _)| key == "options")
                .find_map(|(_, options)| {
                    options
                        .split_whitespace()
                        .find_map(|option| option.split_once("search_path=").map(|(_, path)| path.to_owned()))
                })
                .map(|path| format!(" (schema {path})"))
                .unwrap_or_default();
            format!(
                "storage.metadata_url: {}://{}:{}{}{schema}",
                parsed.scheme(),
                parsed.host_str().unwrap_or("localhost"),
                parsed.port().unwrap_or(5432),
                parsed.path()
            )
        }
        _ => format!("storage.metadata_url: {}", url.split('?').next().unwrap_or(url)),
    }
}

fn redact_url(message: &str, url: &str) -> String {
    match url::Url::parse(url)
        .ok()
        .and_then(|url| url.password().map(str::to_owned))
    {
        Some(password) if !password.is_empty() => message.replace(&password, "[redacted]"),
        _ => message.to_owned(),
    }
}

/// A value stored as JSON text.
fn json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// A value read back from JSON text.
fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// A time stored as RFC 3339 text.
fn time(text: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("'{text}' is not a time")))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod where_tests {
    #[test]
    fn a_store_is_named_by_host_database_and_schema_never_its_password() {
        assert_eq!(
            super::where_of(
                "postgres://hub:s3cret@db.example:6432/causeway?options=-c%20search_path%3Dreplica_b"
            ),
            "storage.metadata_url: postgres://db.example:6432/causeway (schema replica_b)"
        );
        assert_eq!(
            super::where_of("postgres://hub:s3cret@db.example/causeway"),
            "storage.metadata_url: postgres://db.example:5432/causeway"
        );
    }
}
