//! The tables a statement names, resolved in the query's catalog before it is planned. A
//! name that is no table there is refused as [`UnknownDataset`], a typed error, rather than
//! recognised afterwards in the text of DataFusion's planning error.

use causeway_policies::DatasetId;
use datafusion::common::{ResolvedTableReference, TableReference};
use datafusion::error::DataFusionError;
use datafusion::execution::session_state::SessionState;
use datafusion::sql::parser::Statement;

use super::CATALOG;

/// A table name that is no dataset of the hub, nor a table of `audit` or
/// `information_schema`. It names what the query wrote, resolved; within the hub's own
/// catalog without the catalog's name, as callers write it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("table '{name}' not found")]
pub struct UnknownDataset {
    name: String,
}

impl UnknownDataset {
    fn new(reference: &ResolvedTableReference) -> Self {
        let name = if reference.catalog.as_ref() == CATALOG {
            format!("{}.{}", reference.schema, reference.table)
        } else {
            reference.to_string()
        };
        Self { name }
    }

    /// A dataset the catalog lists but the hub's map of datasets no longer holds (it was
    /// withdrawn while the query was being planned).
    pub fn dataset(id: &DatasetId) -> Self {
        Self { name: id.to_string() }
    }
}

impl From<UnknownDataset> for DataFusionError {
    fn from(unknown: UnknownDataset) -> Self {
        DataFusionError::External(Box::new(unknown))
    }
}

/// Resolves every table `statement` names (common table expressions aside) against the
/// catalog of `state`, as DataFusion's planner will. A name that resolves to no table is
/// an [`UnknownDataset`], unless it is a table function's (`generate_series(1, 3)`), which
/// the planner calls instead.
pub fn check_names(state: &SessionState, statement: &Statement) -> Result<(), DataFusionError> {
    let defaults = &state.config_options().catalog;
    for reference in state.resolve_table_references(statement)? {
        let resolved = reference
            .clone()
            .resolve(&defaults.default_catalog, &defaults.default_schema);
        let exists = state
            .schema_for_ref(TableReference::from(resolved.clone()))
            .is_ok_and(|schema| schema.table_exist(&resolved.table));
        if !exists && !state.table_functions().contains_key(reference.table()) {
            return Err(UnknownDataset::new(&resolved).into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
    use datafusion::datasource::empty::EmptyTable;
    use datafusion::prelude::{SessionConfig, SessionContext};
    use datafusion::sql::parser::DFParser;

    use super::*;

    fn state() -> SessionState {
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, "public")
            .with_create_default_catalog_and_schema(true)
            .with_information_schema(true);
        let context = SessionContext::new_with_config(config);
        let department = Arc::new(MemorySchemaProvider::new());
        let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, true)]));
        department
            .register_table("people".into(), Arc::new(EmptyTable::new(schema)))
            .expect("table");
        context
            .catalog(CATALOG)
            .expect("catalog")
            .register_schema("civil_affairs", department)
            .expect("schema");
        context.state()
    }

    /// The unknown dataset `sql` names, if any.
    fn unknown(sql: &str) -> Option<UnknownDataset> {
        let statement = DFParser::parse_sql(sql)
            .expect("sql")
            .pop_front()
            .expect("statement");
        match check_names(&state(), &statement) {
            Ok(()) => None,
            Err(DataFusionError::External(inner)) => match inner.downcast::<UnknownDataset>() {
                Ok(unknown) => Some(*unknown),
                Err(other) => panic!("{sql}: {other}"),
            },
            Err(other) => panic!("{sql}: {other}"),
        }
    }

    #[test]
    fn names_that_resolve_to_no_table_are_unknown_datasets() {
        for sql in [
            "SELECT * FROM civil_affairs.people",
            "SELECT * FROM causeway.civil_affairs.people",
            "SELECT * FROM generate_series(1, 3)",
            "WITH t AS (SELECT 1) SELECT * FROM t",
            "SELECT * FROM information_schema.tables",
            "SHOW TABLES",
        ] {
            assert_eq!(unknown(sql), None, "{sql}");
        }
        for (sql, message) in [
            (
                "SELECT * FROM civil_affairs.nobody",
                "table 'civil_affairs.nobody' not found",
            ),
            ("SELECT * FROM nowhere.people", "table 'nowhere.people' not found"),
            (
                "SELECT * FROM datafusion.public.people",
                "table 'datafusion.public.people' not found",
            ),
            (
                "SELECT * FROM 'people.csv'",
                "table 'public.people.csv' not found",
            ),
        ] {
            let unknown = unknown(sql).map(|unknown| unknown.to_string());
            assert_eq!(unknown.as_deref(), Some(message), "{sql}");
        }
    }
}
