//! `information_schema` as PostgreSQL answers it.
//!
//! DataFusion's own names a column's type by Arrow's name (`Int64`, `Utf8`,
//! `Decimal128(10, 2)`). PostgreSQL's `columns.data_type` is the type's SQL name (`bigint`,
//! `text`, `numeric`; an array is `ARRAY`: the PostgreSQL documentation, "information_schema
//! columns"), which tools and hand-written introspection compare against. The schema served
//! here is DataFusion's, registered as a schema of the catalog session (its built-in one is
//! turned off), with `columns.data_type` in those names: the types `pg_catalog` gives the
//! same columns (`into_pg_type`), so both views agree.

use std::str::FromStr;
use std::sync::Arc;

use arrow_pg::datatypes::into_pg_type;
use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, SchemaRef, UInt64Type};
use datafusion::catalog::information_schema::InformationSchemaProvider;
use datafusion::catalog::{CatalogProviderList, SchemaProvider, Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

use super::typmods::read;

/// DataFusion's `information_schema` over `catalogs`, with PostgreSQL's type names in
/// `columns.data_type`.
#[derive(Debug)]
pub struct PgInformationSchema {
    inner: InformationSchemaProvider,
}

impl PgInformationSchema {
    pub fn new(catalogs: Arc<dyn CatalogProviderList>) -> Self {
        Self {
            inner: InformationSchemaProvider::new(catalogs),
        }
    }
}

#[async_trait]
impl SchemaProvider for PgInformationSchema {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let table = self.inner.table(name).await?;
        Ok(match table {
            Some(columns) if name.eq_ignore_ascii_case("columns") => Some(Arc::new(Columns { columns })),
            other => other,
        })
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// `information_schema.columns` with each `data_type` in PostgreSQL's words.
#[derive(Debug)]
struct Columns {
    columns: Arc<dyn TableProvider>,
}

#[async_trait]
impl TableProvider for Columns {
    fn schema(&self) -> SchemaRef {
        self.columns.schema()
    }

    fn table_type(&self) -> TableType {
        self.columns.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let renamed = read(&*self.columns, state)
            .await?
            .iter()
            .map(with_sql_names)
            .collect::<Result<Vec<_>>>()?;
        MemTable::try_new(self.schema(), vec![renamed])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// `batch` of `columns` with each row's type as PostgreSQL describes it ([`Described`]); a
/// row whose `data_type` is not an Arrow type's name is kept as it is.
fn with_sql_names(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let index = schema.index_of("data_type")?;
    let names = batch.column(index).as_string_opt::<i32>().ok_or_else(|| {
        DataFusionError::Internal("information_schema.columns.data_type is not Utf8".into())
    })?;
    let described: Vec<Option<Described>> = names
        .iter()
        .map(|name| {
            let data_type = DataType::from_str(name?).ok()?;
            Described::of(&data_type)
        })
        .collect();
    let mut columns = batch.columns().to_vec();
    let renamed: StringArray = names
        .iter()
        .zip(&described)
        .map(|(name, described)| match described {
            Some(described) => Some(described.data_type.clone()),
            None => name.map(str::to_owned),
        })
        .collect();
    if let Some(column) = columns.get_mut(index) {
        *column = Arc::new(renamed);
    }
    let facts: [(&str, Fact); 6] = [
        ("character_maximum_length", |_| None),
        ("character_octet_length", |described| described.octet_length),
        ("numeric_precision", |described| described.precision),
        ("numeric_precision_radix", |described| described.radix),
        ("numeric_scale", |described| described.scale),
        ("datetime_precision", |described| described.datetime_precision),
    ];
    for (name, fact) in facts {
        let index = schema.index_of(name)?;
        let old = batch
            .column(index)
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| {
                DataFusionError::Internal(format!("information_schema.columns.{name} is not UInt64"))
            })?;
        let new: UInt64Array = described
            .iter()
            .enumerate()
            .map(|(row, described)| match described {
                Some(described) => fact(described),
                None => old.is_valid(row).then(|| old.value(row)),
            })
            .collect();
        if let Some(column) = columns.get_mut(index) {
            *column = Arc::new(new);
        }
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// One of the numbers [`Described`] gives, as the `columns` field it goes in.
type Fact = fn(&Described) -> Option<u64>;

/// What PostgreSQL's `information_schema.columns` says of a column's type (the PostgreSQL
/// documentation, "columns"; for the built-in types as `format_type` and
/// `information_schema._pg_numeric_precision` and its kin compute them): its name, and for
/// `text` its octet length, for a number its precision (in bits for integers and floats,
/// radix 2; in digits for `numeric`, radix 10) and exact scale, for a date or time its
/// fractional digits. `character_maximum_length` is null: the contracts' strings are `text`.
struct Described {
    data_type: String,
    octet_length: Option<u64>,
    precision: Option<u64>,
    radix: Option<u64>,
    scale: Option<u64>,
    datetime_precision: Option<u64>,
}

impl Described {
    fn of(data_type: &DataType) -> Option<Self> {
        let name = sql_name(data_type)?;
        let (precision, radix, scale) = match name.as_str() {
            "smallint" => (Some(16), Some(2), Some(0)),
            "integer" => (Some(32), Some(2), Some(0)),
            "bigint" => (Some(64), Some(2), Some(0)),
            "real" => (Some(24), Some(2), None),
            "double precision" => (Some(53), Some(2), None),
            "numeric" => match data_type {
                DataType::Decimal128(precision, scale) | DataType::Decimal256(precision, scale) => {
                    (Some(u64::from(*precision)), Some(10), u64::try_from(*scale).ok())
                }
                // An unsigned 64-bit integer: `numeric` without a declared precision.
                _ => (None, Some(10), None),
            },
            _ => (None, None, None),
        };
        let datetime_precision = match name.as_str() {
            "date" => Some(0),
            "time without time zone"
            | "time with time zone"
            | "timestamp without time zone"
            | "timestamp with time zone"
            | "interval" => Some(6),
            _ => None,
        };
        // A `text` value is at most 1 GB.
        let octet_length = (name == "text").then_some(1_073_741_824);
        Some(Self {
            data_type: name,
            octet_length,
            precision,
            radix,
            scale,
            datetime_precision,
        })
    }
}

/// PostgreSQL's SQL name of the type a column of `data_type` has over the wire (as
/// `format_type` writes it without a modifier): `bigint`, `double precision`, `timestamp
/// without time zone`; `ARRAY` for any array. `None` for a type the wire does not carry.
pub fn sql_name(data_type: &DataType) -> Option<String> {
    let pg = into_pg_type(data_type).ok()?;
    let name = match pg.oid() {
        16 => "boolean",
        17 => "bytea",
        18 => "\"char\"",
        19 => "name",
        20 => "bigint",
        21 => "smallint",
        23 => "integer",
        25 => "text",
        26 => "oid",
        114 => "json",
        700 => "real",
        701 => "double precision",
        1042 => "character",
        1043 => "character varying",
        1082 => "date",
        1083 => "time without time zone",
        1114 => "timestamp without time zone",
        1184 => "timestamp with time zone",
        1186 => "interval",
        1266 => "time with time zone",
        1700 => "numeric",
        2950 => "uuid",
        3802 => "jsonb",
        // PostgreSQL's array types are named after their element with a leading underscore.
        _ if pg.name().starts_with('_') => "ARRAY",
        _ => return Some(pg.name().to_owned()),
    };
    Some(name.to_owned())
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{Field, TimeUnit};

    use super::*;

    /// The names PostgreSQL's `information_schema.columns.data_type` gives the types a
    /// contract can declare.
    #[test]
    fn arrow_types_have_postgresqls_names() {
        for (data_type, name) in [
            (DataType::Int64, "bigint"),
            (DataType::Int32, "integer"),
            (DataType::Int16, "smallint"),
            (DataType::Boolean, "boolean"),
            (DataType::Utf8, "text"),
            (DataType::Float64, "double precision"),
            (DataType::Float32, "real"),
            (DataType::Decimal128(10, 2), "numeric"),
            (DataType::Date32, "date"),
            (
                DataType::Timestamp(TimeUnit::Microsecond, None),
                "timestamp without time zone",
            ),
            (
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                "timestamp with time zone",
            ),
            (DataType::Binary, "bytea"),
            (
                DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
                "ARRAY",
            ),
        ] {
            assert_eq!(sql_name(&data_type).as_deref(), Some(name), "{data_type}");
            // And from the name DataFusion's information_schema writes.
            let parsed = DataType::from_str(&data_type.to_string()).expect("Arrow reads its own names");
            assert_eq!(parsed, data_type);
        }
    }
}
