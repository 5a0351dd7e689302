//! What a dataset's source is, and the registry that opens sources.

use std::collections::HashSet;
use std::sync::Arc;

use causeway_schemas::{Contract, SourceTyping, check_against_source};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use serde::{Deserialize, Serialize};

use crate::database::DatabasePools;
use crate::error::{ConnectorError, Result};
use crate::health::SourceHealth;
use crate::published::{PublishedTable, SourceLabel};
use crate::pushdown::SqlDialect;
use crate::settings::{ConnectorSettings, DatabaseKind};
use crate::{files, mysql, postgres, sqlite};

/// Where a dataset's rows live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceSpec {
    /// One Parquet file or a directory of them.
    Parquet { path: String },
    /// One CSV file with a header row, or a directory of them.
    Csv {
        path: String,
        #[serde(default = "comma", skip_serializing_if = "is_comma")]
        delimiter: char,
    },
    /// One newline-delimited JSON file, or a directory of them.
    Ndjson { path: String },
    /// A table of an SQLite database file.
    Sqlite { path: String, table: String },
    /// A table of a PostgreSQL connection named in the configuration.
    Postgres { connection: String, table: String },
    /// A table of a MySQL or MariaDB connection named in the configuration.
    Mysql { connection: String, table: String },
}

fn comma() -> char {
    ','
}

fn is_comma(delimiter: &char) -> bool {
    *delimiter == ','
}

impl SourceSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Parquet { .. } => "parquet",
            Self::Csv { .. } => "csv",
            Self::Ndjson { .. } => "ndjson",
            Self::Sqlite { .. } => "sqlite",
            Self::Postgres { .. } => "postgres",
            Self::Mysql { .. } => "mysql",
        }
    }

    /// Where the rows are, for people: a path, or a connection name and table. Never holds
    /// a secret, since connections are referred to by name.
    pub fn location(&self) -> String {
        match self {
            Self::Parquet { path } | Self::Csv { path, .. } | Self::Ndjson { path } => path.clone(),
            Self::Sqlite { path, table } => format!("{path} table {table}"),
            Self::Postgres { connection, table } | Self::Mysql { connection, table } => {
                format!("connection {connection} table {table}")
            }
        }
    }
}

/// A source opened and checked against its contract.
#[derive(Debug, Clone)]
pub struct OpenedSource {
    /// The table the hub publishes: exactly the contract's fields.
    pub table: Arc<PublishedTable>,
    /// The schema the source itself reports, before the contract's selection.
    pub source_schema: SchemaRef,
}

/// A source as its connector opened it, before the contract's selection.
struct RawSource {
    table: Arc<dyn TableProvider>,
    /// The schema the contract is checked against.
    checked_schema: SchemaRef,
    typing: SourceTyping,
    dialect: Option<SqlDialect>,
    pushable: Option<HashSet<String>>,
    stop: Option<crate::published::StopStatement>,
}

impl RawSource {
    /// A database table whose reported types are the types it stores.
    fn declared(table: Arc<dyn TableProvider>, dialect: SqlDialect) -> Self {
        Self {
            checked_schema: table.schema(),
            table,
            typing: SourceTyping::Declared,
            dialect: Some(dialect),
            pushable: None,
            stop: None,
        }
    }
}

impl From<files::FileSource> for RawSource {
    fn from(source: files::FileSource) -> Self {
        Self {
            table: source.table,
            checked_schema: source.checked_schema,
            typing: source.typing,
            dialect: None,
            pushable: None,
            stop: None,
        }
    }
}

/// Opens sources. Holds the settings and one bounded connection pool per database, shared
/// by every dataset of that database.
#[derive(Debug)]
pub struct Connectors {
    settings: ConnectorSettings,
    pools: DatabasePools,
    /// The datasets whose last read failed.
    health: Arc<SourceHealth>,
}

impl Connectors {
    pub fn new(settings: ConnectorSettings) -> Self {
        Self {
            pools: DatabasePools::default(),
            settings,
            health: Arc::default(),
        }
    }

    pub fn settings(&self) -> &ConnectorSettings {
        &self.settings
    }

    /// The datasets whose last read failed, and why.
    pub fn health(&self) -> &Arc<SourceHealth> {
        &self.health
    }

    /// How a dataset's source is named in its errors.
    fn label(&self, spec: &SourceSpec, contract: &Contract) -> SourceLabel {
        let files = match spec {
            SourceSpec::Parquet { path } | SourceSpec::Csv { path, .. } | SourceSpec::Ndjson { path } => {
                files::allowed_path(&self.settings, path).ok()
            }
            _ => None,
        };
        let check = match spec {
            SourceSpec::Parquet { .. } | SourceSpec::Csv { .. } | SourceSpec::Ndjson { .. } => format!(
                "that {} exists, the hub may read it, and every file is whole and has the contract's columns",
                spec.location()
            ),
            SourceSpec::Sqlite { .. } => format!(
                "that the database file and table ({}) exist and the hub may read them",
                spec.location()
            ),
            SourceSpec::Postgres { .. } | SourceSpec::Mysql { .. } => format!(
                "that the database is up and the table ({}) exists with the contract's columns and the hub's user may read it",
                spec.location()
            ),
        };
        SourceLabel {
            dataset: format!("{}.{}", contract.department, contract.name),
            kind: spec.kind(),
            check,
            files,
            health: Arc::clone(&self.health),
        }
    }

    /// Opens the source of a dataset and checks it against the contract: every contract
    /// field must exist in the source with the same type. The returned table shows only the
    /// contract's fields.
    pub async fn open(
        &self,
        spec: &SourceSpec,
        contract: &Contract,
        session: &dyn Session,
    ) -> Result<OpenedSource> {
        let raw = self.open_raw(spec, contract, session).await?;
        let mismatches = check_against_source(contract, &raw.checked_schema, raw.typing);
        if !mismatches.is_empty() {
            return Err(ConnectorError::ContractMismatch(mismatches));
        }
        let mut table = PublishedTable::new(raw.table, contract, raw.dialect, self.label(spec, contract))?;
        if let Some(columns) = raw.pushable {
            table = table.with_pushable_columns(columns);
        }
        if let Some(stop) = raw.stop {
            table = table.with_stop(stop);
        }
        Ok(OpenedSource {
            table: Arc::new(table),
            source_schema: raw.checked_schema,
        })
    }

    async fn open_raw(
        &self,
        spec: &SourceSpec,
        contract: &Contract,
        session: &dyn Session,
    ) -> Result<RawSource> {
        Ok(match spec {
            SourceSpec::Parquet { path } => {
                files::parquet(&files::allowed_path(&self.settings, path)?, session)
                    .await?
                    .into()
            }
            SourceSpec::Csv { path, delimiter } => {
                let path = files::allowed_path(&self.settings, path)?;
                files::csv(&path, *delimiter, contract, session).await?.into()
            }
            SourceSpec::Ndjson { path } => {
                let path = files::allowed_path(&self.settings, path)?;
                files::ndjson(&path, contract, session).await?.into()
            }
            SourceSpec::Sqlite { path, table } => {
                let path = files::allowed_path(&self.settings, path)?;
                let source = sqlite::open(self.pools.sqlite(&path).await, table, contract).await?;
                RawSource {
                    table: source.table,
                    checked_schema: source.checked_schema,
                    typing: source.typing,
                    dialect: Some(SqlDialect::Sqlite),
                    pushable: Some(source.pushable),
                    stop: None,
                }
            }
            SourceSpec::Postgres { connection, table } => {
                let pool = self.pools.postgres(&self.settings, connection).await?;
                let source = postgres::open(pool, table, contract).await?;
                RawSource {
                    table: source.table,
                    checked_schema: source.checked_schema,
                    typing: postgres::TYPING,
                    dialect: Some(SqlDialect::Postgres),
                    pushable: None,
                    stop: None,
                }
            }
            SourceSpec::Mysql { connection, table } => {
                let pool = self.pools.mysql(&self.settings, connection).await?;
                let mut source = RawSource::declared(
                    mysql::table(Arc::clone(&pool), connection, table).await?,
                    SqlDialect::Mysql,
                );
                source.stop = Some(mysql::stopper(pool));
                source
            }
        })
    }

    /// A cheap estimate of the source's row count, where the source keeps one.
    pub async fn estimate_rows(
        &self,
        spec: &SourceSpec,
        opened: &OpenedSource,
        session: &dyn Session,
    ) -> Result<Option<u64>> {
        match spec {
            SourceSpec::Parquet { .. } | SourceSpec::Csv { .. } | SourceSpec::Ndjson { .. } => {
                files::estimate_rows(spec, &opened.table, session).await
            }
            SourceSpec::Sqlite { path, table } => {
                let path = files::allowed_path(&self.settings, path)?;
                sqlite::estimate_rows(self.pools.sqlite(&path).await, table).await
            }
            SourceSpec::Postgres { connection, table } => {
                postgres::estimate_rows(self.pools.postgres(&self.settings, connection).await?, table).await
            }
            SourceSpec::Mysql { connection, table } => {
                mysql::estimate_rows(self.pools.mysql(&self.settings, connection).await?, table).await
            }
        }
    }

    /// Checks the parts of a source that need no I/O: the kind's own fields and, for
    /// databases, that the named connection exists and is of the right kind.
    pub fn check_spec(&self, spec: &SourceSpec) -> Result<()> {
        match spec {
            SourceSpec::Parquet { path } | SourceSpec::Csv { path, .. } | SourceSpec::Ndjson { path } => {
                files::allowed_path(&self.settings, path).map(|_| ())
            }
            SourceSpec::Sqlite { path, table } => {
                crate::database::check_table_name(table)?;
                files::allowed_path(&self.settings, path).map(|_| ())
            }
            SourceSpec::Postgres { connection, table } => {
                crate::database::check_table_name(table)?;
                self.pools
                    .connection(&self.settings, connection, DatabaseKind::Postgres)
                    .map(|_| ())
            }
            SourceSpec::Mysql { connection, table } => {
                crate::database::check_table_name(table)?;
                self.pools
                    .connection(&self.settings, connection, DatabaseKind::Mysql)
                    .map(|_| ())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_read_from_yaml_with_their_kind() {
        let spec: SourceSpec = parse("{\"kind\":\"csv\",\"path\":\"/data/parcels.csv\"}");
        assert_eq!(
            spec,
            SourceSpec::Csv {
                path: "/data/parcels.csv".into(),
                delimiter: ','
            }
        );
        let spec: SourceSpec =
            parse("{\"kind\":\"postgres\",\"connection\":\"land\",\"table\":\"public.parcels\"}");
        assert_eq!(spec.kind(), "postgres");
        assert_eq!(spec.location(), "connection land table public.parcels");
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused() {
        assert!(serde_json::from_str::<SourceSpec>("{\"kind\":\"excel\",\"path\":\"x\"}").is_err());
        assert!(
            serde_json::from_str::<SourceSpec>("{\"kind\":\"parquet\",\"path\":\"x\",\"pass\":\"y\"}")
                .is_err()
        );
    }

    fn parse(json: &str) -> SourceSpec {
        serde_json::from_str(json).unwrap()
    }
}
