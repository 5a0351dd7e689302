//! The one interface every kind of source implements. The registry
//! ([`Connectors`](crate::Connectors)) matches a [`SourceSpec`](crate::SourceSpec) to its kind
//! once, and then only calls this trait: the checks that need no I/O, opening, and the
//! estimate of the row count. Checking what was opened against the contract, the contract's
//! selection of columns and the naming of errors are the registry's, the same for every kind.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use causeway_schemas::{Contract, SourceTyping};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};

use crate::database::DatabasePools;
use crate::error::Result;
use crate::published::{PublishedTable, StopStatement};
use crate::pushdown::PushdownRules;
use crate::settings::ConnectorSettings;

/// What every source of a hub shares: the settings, and one pool per database.
#[derive(Clone, Copy)]
pub(crate) struct Shared<'a> {
    pub settings: &'a ConnectorSettings,
    pub pools: &'a DatabasePools,
}

/// One kind of source (Parquet files, a PostgreSQL table, ...), as named by a dataset's spec.
#[async_trait]
pub(crate) trait SourceKind: Send + Sync {
    /// The checks that need no I/O: a path inside the file roots, a plain table name, a
    /// named connection of the right kind.
    fn check(&self, shared: Shared<'_>) -> Result<()>;

    /// Opens the source as its connector reads it, before the contract's selection; the
    /// contract tells connectors that guess types (CSV, NDJSON, SQLite) how to read.
    async fn open(&self, shared: Shared<'_>, contract: &Contract, session: &dyn Session)
    -> Result<RawSource>;

    /// A cheap estimate of the row count, where the source keeps one.
    async fn estimate_rows(
        &self,
        shared: Shared<'_>,
        table: &PublishedTable,
        session: &dyn Session,
    ) -> Result<Option<u64>>;

    /// What to check when reading fails, for people; never a secret.
    fn advice(&self, location: &str) -> String;

    /// The file or folder of a file source, which must still exist at every read.
    fn files(&self, _shared: Shared<'_>) -> Option<PathBuf> {
        None
    }
}

/// A source as its connector opened it, before the contract's selection.
pub(crate) struct RawSource {
    pub table: Arc<dyn TableProvider>,
    /// The schema the contract is checked against.
    pub checked_schema: SchemaRef,
    /// How strictly the checked schema's types must match the contract's.
    pub typing: SourceTyping,
    /// Which filters a database source may evaluate; `None` for other sources.
    pub pushdown: Option<PushdownRules>,
    /// Stops the source's statements on the server when a scan ends early.
    pub stop: Option<StopStatement>,
}
