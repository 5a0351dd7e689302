//! Connectors: one module per source kind, each turning a registered dataset into a
//! DataFusion [`TableProvider`](datafusion::catalog::TableProvider).
//!
//! Files (Parquet, CSV, NDJSON) are read with DataFusion's listing tables (CSV decimals
//! through [`exact_decimals`], which converts them exactly); SQLite and PostgreSQL with
//! Causeway's own SQL connector ([`sql`]), MySQL/MariaDB with `datafusion-table-providers`:
//! each scan becomes SQL with projections, filters and limits pushed down. Every source is wrapped in a
//! [`PublishedTable`] that exposes exactly the contract's fields and decides which filters
//! a database may evaluate without changing the result. An accelerated dataset is served
//! from an [`AcceleratedTable`](accelerated::AcceleratedTable): its rows in memory, sorted
//! by a one-column primary key for lookups, replaced whole by each refresh.

pub mod accelerated;
mod database;
mod error;
mod exact_decimals;
mod files;
mod health;
mod kind;
mod mysql;
mod postgres;
mod published;
mod pushdown;
pub mod secrets;
mod settings;
mod source;
mod sql;
mod sqlite;

pub use error::{ConnectorError, Result, SourceReadError, describe_failure, messages};
pub use health::{SourceFailure, SourceHealth};
pub use published::{PublishedTable, SourceLabel};
pub use pushdown::SqlDialect;
pub use settings::{ConnectionSettings, ConnectorSettings, DatabaseKind};
pub use source::{Connectors, OpenedSource, SourceSpec};
