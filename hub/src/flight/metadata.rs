//! The catalog commands of Flight SQL (`GetDbSchemas`, `GetTables`) answered from the
//! caller's own view of the catalog: every dataset is listed, as on `GET /v1/catalog`, each a
//! table of schema `department`, with its columns as its contract declares them.

use std::collections::BTreeSet;

use arrow_flight::sql::{CommandGetDbSchemas, CommandGetTables};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use tonic::{Request, Status};

use crate::query::{CATALOG, CatalogTable};

/// The one table type there is.
pub const TABLE_TYPE: &str = "TABLE";

/// The purpose a catalog listing is asked under: the header's when given, since what a
/// caller may read depends on it; listing alone reads no row.
pub fn purpose_or_listing<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get(super::PURPOSE_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|purpose| !purpose.is_empty())
        .unwrap_or("catalog-listing")
        .to_owned()
}

pub fn schemas(query: CommandGetDbSchemas, tables: &[CatalogTable]) -> Result<RecordBatch, Status> {
    let departments: BTreeSet<&str> = tables
        .iter()
        .map(|table| table.dataset.id.department.as_str())
        .collect();
    let mut builder = query.into_builder();
    for department in departments {
        builder.append(CATALOG, department);
    }
    builder
        .build()
        .map_err(|error| Status::internal(error.to_string()))
}

pub fn tables(query: CommandGetTables, tables: &[CatalogTable]) -> Result<RecordBatch, Status> {
    let mut builder = query.into_builder();
    for table in tables {
        let schema = Schema::new(
            table
                .dataset
                .columns
                .iter()
                .map(|column| Field::new(&column.name, column.data_type.clone(), true))
                .collect::<Vec<_>>(),
        );
        builder
            .append(
                CATALOG,
                &table.dataset.id.department,
                &table.dataset.id.name,
                TABLE_TYPE,
                &schema,
            )
            .map_err(|error| Status::internal(error.to_string()))?;
    }
    builder
        .build()
        .map_err(|error| Status::internal(error.to_string()))
}
