//! What a dataset's source is, and the registry that opens sources.

use std::sync::Arc;

use causeway_schemas::{Contract, check_against_source, unbounded_decimals};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use serde::{Deserialize, Serialize};

use crate::database::DatabasePools;
use crate::error::{ConnectorError, Result};
use crate::files::{FileFormat, FileSet};
use crate::health::SourceHealth;
use crate::kind::{Shared, SourceKind};
use crate::mysql::MysqlTable;
use crate::postgres::PostgresTable;
use crate::published::{PublishedTable, SourceLabel};
use crate::settings::ConnectorSettings;
use crate::sqlite::SqliteTable;

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

    /// The configured database connection the rows are read through, for database kinds.
    fn connection(&self) -> Option<&str> {
        match self {
            Self::Postgres { connection, .. } | Self::Mysql { connection, .. } => Some(connection),
            _ => None,
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
    /// Decimal fields whose source column holds numbers of any scale and that say no
    /// rounding ([`causeway_schemas::unbounded_decimals`]): refused at publish; a dataset
    /// published before that rule still serves, and a value that does not fit fails its
    /// query.
    pub unbounded_decimals: Vec<String>,
}

impl SourceSpec {
    /// The connector of this kind of source: the one place where the kind is matched.
    fn connector(&self) -> Box<dyn SourceKind + '_> {
        match self {
            Self::Parquet { path } => Box::new(FileSet {
                path,
                format: FileFormat::Parquet,
            }),
            Self::Csv { path, delimiter } => Box::new(FileSet {
                path,
                format: FileFormat::Csv {
                    delimiter: *delimiter,
                },
            }),
            Self::Ndjson { path } => Box::new(FileSet {
                path,
                format: FileFormat::Ndjson,
            }),
            Self::Sqlite { path, table } => Box::new(SqliteTable { path, table }),
            Self::Postgres { connection, table } => Box::new(PostgresTable { connection, table }),
            Self::Mysql { connection, table } => Box::new(MysqlTable { connection, table }),
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

    fn shared(&self) -> Shared<'_> {
        Shared {
            settings: &self.settings,
            pools: &self.pools,
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
        let connector = spec.connector();
        let raw = connector.open(self.shared(), contract, session).await?;
        let mismatches = check_against_source(contract, &raw.checked_schema, raw.typing);
        if !mismatches.is_empty() {
            return Err(ConnectorError::ContractMismatch(mismatches));
        }
        // How the dataset's source is named in its errors.
        let label = SourceLabel {
            dataset: format!("{}.{}", contract.department, contract.name),
            kind: spec.kind(),
            check: connector.advice(&spec.location()),
            files: connector.files(self.shared()),
            health: Arc::clone(&self.health),
        };
        // A connection may turn push-down off whatever its connector would push.
        let filter_pushdown = spec
            .connection()
            .and_then(|name| self.settings.connections.get(name))
            .is_none_or(|connection| connection.filter_pushdown);
        let pushdown = raw.pushdown.map(|rules| rules.enabled(filter_pushdown));
        let mut table = PublishedTable::new(raw.table, contract, pushdown, label)?;
        if let Some(stop) = raw.stop {
            table = table.with_stop(stop);
        }
        Ok(OpenedSource {
            table: Arc::new(table),
            unbounded_decimals: unbounded_decimals(contract, &raw.checked_schema, raw.typing),
            source_schema: raw.checked_schema,
        })
    }

    /// A cheap estimate of the source's row count, where the source keeps one.
    pub async fn estimate_rows(
        &self,
        spec: &SourceSpec,
        opened: &OpenedSource,
        session: &dyn Session,
    ) -> Result<Option<u64>> {
        spec.connector()
            .estimate_rows(self.shared(), &opened.table, session)
            .await
    }

    /// Checks the parts of a source that need no I/O: the kind's own fields and, for
    /// databases, that the named connection exists and is of the right kind.
    pub fn check_spec(&self, spec: &SourceSpec) -> Result<()> {
        spec.connector().check(self.shared())
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
