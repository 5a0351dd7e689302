//! `pg_attribute.atttypmod` of the datasets' decimal columns.
//!
//! datafusion-pg-catalog 0.19 answers -1 (no modifier) for every column, so psql's `\d`
//! shows a `decimal(12, 2)` column as plain `numeric`, and pgjdbc's
//! `DatabaseMetaData.getColumns` (DBeaver, Tableau) gives it no precision or scale. The
//! `pg_attribute` served here is the crate's with the modifier PostgreSQL stores for
//! `numeric(p, s)`: `((p << 16) | s) + 4` (`make_numeric_typmod`,
//! src/backend/utils/adt/numeric.c). The relation an attribute belongs to is found by its
//! `attrelid` in `pg_class` and `pg_namespace` of the same crate (whose oids it keeps
//! stable across its tables).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, Int32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int32Type, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::{ExecutionPlan, collect};

/// The type modifiers of the datasets' columns that have one, by schema (department),
/// relation (dataset) and column.
pub type Typmods = HashMap<(String, String, String), i32>;

/// PostgreSQL's type modifier of `numeric(precision, scale)`; `None` for other types and
/// for a negative scale, which `numeric` does not have before PostgreSQL 15's.
pub fn typmod(data_type: &DataType) -> Option<i32> {
    match data_type {
        DataType::Decimal128(precision, scale) | DataType::Decimal256(precision, scale) if *scale >= 0 => {
            Some(((i32::from(*precision) << 16) | i32::from(*scale)) + 4)
        }
        _ => None,
    }
}

/// `pg_catalog` as the crate serves it, but for `pg_attribute`, which carries `typmods`.
#[derive(Debug)]
pub struct WithTypmods {
    catalog: Arc<dyn SchemaProvider>,
    typmods: Arc<Typmods>,
}

impl WithTypmods {
    pub fn new(catalog: Arc<dyn SchemaProvider>, typmods: Typmods) -> Self {
        Self {
            catalog,
            typmods: Arc::new(typmods),
        }
    }
}

#[async_trait]
impl SchemaProvider for WithTypmods {
    fn table_names(&self) -> Vec<String> {
        self.catalog.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let table = self.catalog.table(name).await?;
        Ok(match table {
            Some(attributes) if name == "pg_attribute" && !self.typmods.is_empty() => {
                Some(Arc::new(AttributesWithTypmods {
                    attributes,
                    catalog: Arc::clone(&self.catalog),
                    typmods: Arc::clone(&self.typmods),
                }))
            }
            other => other,
        })
    }

    fn table_exist(&self, name: &str) -> bool {
        self.catalog.table_exist(name)
    }
}

#[derive(Debug)]
struct AttributesWithTypmods {
    attributes: Arc<dyn TableProvider>,
    catalog: Arc<dyn SchemaProvider>,
    typmods: Arc<Typmods>,
}

#[async_trait]
impl TableProvider for AttributesWithTypmods {
    fn schema(&self) -> SchemaRef {
        self.attributes.schema()
    }

    fn table_type(&self) -> TableType {
        self.attributes.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let attributes = read(&*self.attributes, state).await?;
        let relations = self.relations(state).await?;
        let with_typmods = attributes
            .iter()
            .map(|batch| with_typmods(batch, &relations, &self.typmods))
            .collect::<Result<Vec<_>>>()?;
        MemTable::try_new(self.schema(), vec![with_typmods])?
            .scan(state, projection, filters, limit)
            .await
    }
}

impl AttributesWithTypmods {
    /// Each relation's schema and name, by its oid.
    async fn relations(&self, state: &dyn Session) -> Result<HashMap<i32, (String, String)>> {
        let table = async |name: &str| match self.catalog.table(name).await? {
            Some(table) => read(&*table, state).await,
            None => Err(DataFusionError::Plan(format!("pg_catalog has no {name}"))),
        };
        let mut schemas = HashMap::new();
        for batch in table("pg_namespace").await? {
            let (oids, names) = (int32(&batch, "oid")?, utf8(&batch, "nspname")?);
            for row in 0..batch.num_rows() {
                schemas.insert(oids.value(row), names.value(row).to_owned());
            }
        }
        let mut relations = HashMap::new();
        for batch in table("pg_class").await? {
            let (oids, names, namespaces) = (
                int32(&batch, "oid")?,
                utf8(&batch, "relname")?,
                int32(&batch, "relnamespace")?,
            );
            for row in 0..batch.num_rows() {
                if let Some(schema) = schemas.get(&namespaces.value(row)) {
                    relations.insert(oids.value(row), (schema.clone(), names.value(row).to_owned()));
                }
            }
        }
        Ok(relations)
    }
}

/// Every row of a catalog table.
pub(super) async fn read(table: &dyn TableProvider, state: &dyn Session) -> Result<Vec<RecordBatch>> {
    let plan = table.scan(state, None, &[], None).await?;
    collect(plan, state.task_ctx()).await
}

/// `batch` of `pg_attribute` with the modifiers of `typmods` in `atttypmod`.
fn with_typmods(
    batch: &RecordBatch,
    relations: &HashMap<i32, (String, String)>,
    typmods: &Typmods,
) -> Result<RecordBatch> {
    let (relids, names, modifiers) = (
        int32(batch, "attrelid")?,
        utf8(batch, "attname")?,
        int32(batch, "atttypmod")?,
    );
    let replaced: Int32Array = (0..batch.num_rows())
        .map(|row| {
            let known = relations.get(&relids.value(row)).and_then(|(schema, relation)| {
                typmods.get(&(schema.clone(), relation.clone(), names.value(row).to_owned()))
            });
            Some(known.copied().unwrap_or_else(|| modifiers.value(row)))
        })
        .collect();
    let index = batch.schema().index_of("atttypmod")?;
    let mut columns = batch.columns().to_vec();
    if let Some(column) = columns.get_mut(index) {
        *column = Arc::new(replaced);
    }
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

fn int32<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a datafusion::arrow::array::PrimitiveArray<Int32Type>> {
    let column = batch.column_by_name(name).ok_or_else(|| missing(name))?;
    column
        .as_primitive_opt::<Int32Type>()
        .ok_or_else(|| missing(name))
}

fn utf8<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a datafusion::arrow::array::StringArray> {
    let column = batch.column_by_name(name).ok_or_else(|| missing(name))?;
    column.as_string_opt::<i32>().ok_or_else(|| missing(name))
}

fn missing(name: &str) -> DataFusionError {
    DataFusionError::Internal(format!(
        "pg_catalog has no Int32 or Utf8 column {name} where expected"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_modifiers_are_postgresqls() {
        // SELECT atttypmod FROM pg_attribute on PostgreSQL for numeric(12,2), (38,0), (5,5).
        assert_eq!(typmod(&DataType::Decimal128(12, 2)), Some(786_438));
        assert_eq!(typmod(&DataType::Decimal128(38, 0)), Some(2_490_372));
        assert_eq!(typmod(&DataType::Decimal128(5, 5)), Some(327_689));
        assert_eq!(typmod(&DataType::Decimal128(10, -2)), None);
        assert_eq!(typmod(&DataType::Utf8), None);
    }
}
