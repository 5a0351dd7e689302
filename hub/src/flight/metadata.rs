//! The catalog commands of Flight SQL (`GetDbSchemas`, `GetTables`) answered from the
//! caller's own view of the catalog: every dataset is listed, as on `GET /v1/catalog`, each a
//! table of schema `department`, with its columns as its contract declares them.

use std::collections::BTreeSet;

use std::sync::Arc;

use arrow_flight::sql::{CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetTables};
use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use tonic::{Request, Status};

use crate::query::{CATALOG, CatalogTable};

/// The one table type there is.
pub const TABLE_TYPE: &str = "TABLE";

/// The purpose a catalog listing is asked under: the call's (header or session) when given, since what a
/// caller may read depends on it; listing alone reads no row.
pub fn purpose_or_listing<T>(request: &Request<T>) -> String {
    super::stated_purpose(request).unwrap_or_else(|| crate::query::service::LISTING_PURPOSE.to_owned())
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

/// The columns of a `GetPrimaryKeys` answer, as Flight SQL defines them.
pub fn primary_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// The primary key a dataset's contract declares, one row per column in key order; no rows
/// for a dataset without one, or one that is not published (the catalog lists every
/// published dataset, so this tells nothing more).
pub fn primary_keys(query: &CommandGetPrimaryKeys, key: &[String]) -> Result<RecordBatch, Status> {
    let schema = query.db_schema.clone().unwrap_or_default();
    let rows = key.len();
    let text = |value: &str| -> ArrayRef { Arc::new(StringArray::from(vec![value; rows])) };
    let sequence: Vec<i32> = (1..=rows)
        .map(|position| i32::try_from(position).unwrap_or(i32::MAX))
        .collect();
    RecordBatch::try_new(
        primary_keys_schema(),
        vec![
            text(CATALOG),
            text(&schema),
            text(&query.table),
            Arc::new(StringArray::from(key.to_vec())),
            Arc::new(StringArray::from(vec![None::<&str>; rows])),
            Arc::new(Int32Array::from(sequence)),
        ],
    )
    .map_err(|error| Status::internal(error.to_string()))
}
