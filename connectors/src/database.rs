//! What the database connectors share: one bounded pool per database, opened on first use
//! and reused by every dataset of that database, and the rules for table names.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::error::{ConnectorError, Result};
use crate::settings::{ConnectionSettings, ConnectorSettings, DatabaseKind};

/// The open pools by kind and by connection name (or file, for SQLite). Each kind's module
/// says what its pool is; this only keeps them, so that it needs to know none of them.
#[derive(Default)]
pub(crate) struct DatabasePools {
    open: Mutex<HashMap<(&'static str, String), AnyPool>>,
}

type AnyPool = Arc<dyn Any + Send + Sync>;

impl std::fmt::Debug for DatabasePools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabasePools")
    }
}

impl DatabasePools {
    /// The pool of `kind` named `key`, opened with `open` the first time it is asked for.
    /// Opening holds the others back, so that one database is never connected twice.
    pub(crate) async fn get_or_open<P, F, Fut>(
        &self,
        kind: &'static str,
        key: &str,
        open: F,
    ) -> Result<Arc<P>>
    where
        P: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<P>>,
    {
        let mut pools = self.open.lock().await;
        let entry = (kind, key.to_owned());
        if let Some(pool) = pools.get(&entry) {
            // A kind keeps one type of pool under its name, so this cannot fail; if it
            // did, the source would not open rather than read another's pool.
            return Arc::clone(pool).downcast::<P>().map_err(|_| {
                ConnectorError::Settings(format!("the {kind} pool for '{key}' is of another kind"))
            });
        }
        let pool = Arc::new(open().await?);
        pools.insert(entry, Arc::clone(&pool) as AnyPool);
        Ok(pool)
    }
}

/// The settings of the connection `name`, which must be of the `expected` kind.
pub(crate) fn connection<'a>(
    settings: &'a ConnectorSettings,
    name: &str,
    expected: DatabaseKind,
) -> Result<&'a ConnectionSettings> {
    let connection = settings
        .connections
        .get(name)
        .ok_or_else(|| ConnectorError::UnknownConnection(name.to_owned()))?;
    if connection.kind != expected {
        return Err(ConnectorError::WrongConnectionKind {
            name: name.to_owned(),
            actual: connection.kind.name(),
            expected: expected.name(),
        });
    }
    Ok(connection)
}

/// The checks of a database table's spec that need no I/O: a plain table name, and a
/// connection of that name and kind in the configuration.
pub(crate) fn check_table(
    settings: &ConnectorSettings,
    connection_name: &str,
    table: &str,
    kind: DatabaseKind,
) -> Result<()> {
    check_table_name(table)?;
    connection(settings, connection_name, kind).map(|_| ())
}

/// What to check when a table of a database server cannot be read.
pub(crate) fn table_advice(location: &str) -> String {
    format!(
        "that the database is up and the table ({location}) exists with the contract's columns and the hub's user may read it"
    )
}

/// Table names go into the SQL the hub sends, so they are kept to plain identifiers:
/// `table` or `schema.table`.
pub(crate) fn check_table_name(table: &str) -> Result<()> {
    let plain = |part: &str| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && part.len() <= 63
    };
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|part| plain(part)) {
        Ok(())
    } else {
        Err(ConnectorError::InvalidSource(format!(
            "invalid table name '{table}': use table or schema.table, with letters, digits and underscores"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_plain_identifiers() {
        assert!(check_table_name("public.parcels").is_ok());
        assert!(check_table_name("parcels").is_ok());
        assert!(check_table_name("parcels; drop table x").is_err());
        assert!(check_table_name("a.b.c").is_err());
        assert!(check_table_name("\"quoted\"").is_err());
    }
}
