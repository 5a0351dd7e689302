//! `pg_catalog` and `information_schema` for the introspection statements tools send on
//! connect and while browsing (psql's `\dt` and `\d`, pgjdbc's `DatabaseMetaData`,
//! SQLAlchemy's inspector, DBeaver, Metabase).
//!
//! They are answered from a schema-only copy of the catalog: every dataset as an empty
//! table with its contract's columns (what `GET /v1/catalog` shows any signed-in caller),
//! under datafusion-pg-catalog's `pg_catalog` and DataFusion's `information_schema` (with
//! PostgreSQL's type names: `information_schema.rs`). No
//! dataset row is in that copy, so a statement that names only catalog relations reads
//! nothing the grants protect: it is not a query of the query service, and is not recorded
//! one by one (as `GET /v1/catalog` is not), which keeps a tool's dozens of such
//! statements on connect fast. A statement that names a dataset, or mixes both, is a query
//! like any other. The copy is rebuilt when the catalog changes; its statements run under
//! the query slots and timeout, and a memory limit of their own.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, PoisonError};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::datasource::empty::EmptyTable;
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{ColumnarValue, LogicalPlan, Volatility, create_udf};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::sqlparser::ast::{
    Expr, ObjectName, SelectItem, SetExpr, Statement, visit_expressions, visit_relations,
};
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use futures::StreamExt;

use super::information_schema::PgInformationSchema;
use super::typmods::{Typmods, WithTypmods, typmod};
use crate::query::CatalogTable;

/// The catalog name clients see (`current_database()`); the wire protocol's database.
pub const DATABASE: &str = "causeway";

/// Memory one catalog statement may use.
const MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// The schemas whose relations are the catalog's.
const CATALOG_SCHEMAS: [&str; 2] = ["pg_catalog", "information_schema"];

/// PostgreSQL's functions about the server and its catalog, which drivers call on connect
/// (SQLAlchemy's `select pg_catalog.version()`, `select current_schema()`).
const CATALOG_FUNCTIONS: [&str; 20] = [
    "version",
    "current_user",
    "session_user",
    "current_role",
    "user",
    "to_regtype",
    "pg_type_is_visible",
    "current_schema",
    "current_schemas",
    "current_database",
    "pg_backend_pid",
    "pg_table_is_visible",
    "format_type",
    "pg_get_userbyid",
    "pg_encoding_to_char",
    "has_table_privilege",
    "has_schema_privilege",
    "has_database_privilege",
    "pg_get_expr",
    "pg_get_constraintdef",
];

/// Whether `statement` names catalog relations only (at least one), or names no relation
/// and calls a catalog function.
pub fn is_catalog_statement(statement: &Statement) -> bool {
    let mut catalog = 0usize;
    let mut other = 0usize;
    let _ = visit_relations(statement, |name: &ObjectName| {
        if is_catalog_relation(name) {
            catalog += 1;
        } else {
            other += 1;
        }
        ControlFlow::<()>::Continue(())
    });
    if other > 0 {
        return false;
    }
    catalog > 0 || calls_catalog_function(statement)
}

fn calls_catalog_function(statement: &Statement) -> bool {
    let mut found = false;
    let _ = visit_expressions(statement, |expr: &Expr| {
        if let Expr::Function(function) = expr {
            let parts: Vec<String> = function
                .name
                .0
                .iter()
                .filter_map(|part| part.as_ident().map(|ident| ident.value.to_lowercase()))
                .collect();
            found |= match parts.as_slice() {
                [schema, _] => schema == "pg_catalog",
                [name] => CATALOG_FUNCTIONS.contains(&name.as_str()),
                _ => false,
            };
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

fn is_catalog_relation(name: &ObjectName) -> bool {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|part| part.as_ident().map(|ident| ident.value.to_lowercase()))
        .collect();
    match parts.as_slice() {
        [table] => table.starts_with("pg_"),
        [schema, _] => CATALOG_SCHEMAS.contains(&schema.as_str()),
        [database, schema, _] => database == DATABASE && CATALOG_SCHEMAS.contains(&schema.as_str()),
        _ => false,
    }
}

/// A catalog statement planned: what it answers with and the types of its placeholders.
#[derive(Clone)]
pub struct CatalogPlan {
    pub plan: LogicalPlan,
    pub schema: SchemaRef,
    pub parameters: Vec<Option<DataType>>,
    context: SessionContext,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("syntax error: {0}")]
    Syntax(String),
    #[error("{0}")]
    Plan(String),
    #[error("the catalog statement's answer is larger than {} MiB; narrow it", .0 / (1024 * 1024))]
    TooLarge(usize),
}

impl CatalogError {
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Self::Syntax(_) => "42601",
            Self::Plan(_) => "42000",
            // program_limit_exceeded
            Self::TooLarge(_) => "54000",
        }
    }
}

/// The schema-only copy of the catalog, rebuilt when the datasets change. Its statements
/// are run where the query engine runs statements aside (`QueryEngine::run_aside`), under
/// the query slots and timeout.
#[derive(Default)]
pub struct CatalogMirror {
    cached: Mutex<Option<(u64, SessionContext)>>,
}

impl CatalogMirror {
    /// The copy for `tables`: the cached one if they are what it was built from.
    fn context(&self, tables: &[CatalogTable]) -> Result<SessionContext, CatalogError> {
        let mut hasher = DefaultHasher::new();
        for table in tables {
            table.dataset.id.to_string().hash(&mut hasher);
            for column in &table.dataset.columns {
                column.name.hash(&mut hasher);
                column.data_type.to_string().hash(&mut hasher);
            }
        }
        let fingerprint = hasher.finish();
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((built, context)) = cached.as_ref()
            && *built == fingerprint
        {
            return Ok(context.clone());
        }
        let context = build(tables).map_err(|error| CatalogError::Plan(error.to_string()))?;
        *cached = Some((fingerprint, context.clone()));
        Ok(context)
    }

    /// Plans `sql`, a catalog statement of `user` (the caller's id), over the copy of
    /// `tables`.
    pub async fn plan(
        &self,
        sql: &str,
        user: &str,
        tables: &[CatalogTable],
    ) -> Result<CatalogPlan, CatalogError> {
        let context = self.context(tables)?;
        let sql = super::catalog_rewrites::users_named_in(sql);
        let mut statements = PostgresCompatibilityParser::new()
            .parse(&sql)
            .map_err(|error| CatalogError::Syntax(error.to_string()))?;
        if statements.len() != 1 {
            return Err(CatalogError::Syntax(format!(
                "send exactly one statement, not {}",
                statements.len()
            )));
        }
        let mut statement = statements.remove(0);
        super::catalog_rewrites::array_subqueries_as_aggregates(&mut statement);
        super::catalog_rewrites::user_in(&mut statement, user);
        let planned = context
            .state()
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                statement.clone(),
            )))
            .await;
        let plan = match planned {
            Ok(plan) => plan,
            // The hub has no row-level security policies, statistics objects,
            // publications, inheritance or triggers: a statement over those that
            // datafusion-pg-catalog's tables cannot plan (psql's `\d` asks with array
            // types they lack) has no rows either way.
            Err(_) if names_always_empty(&statement) => empty_answer(&statement),
            Err(error) => return Err(CatalogError::Plan(error.strip_backtrace())),
        };
        // Types are checked when the plan is analysed, not when it is made.
        let plan = if names_always_empty(&statement) && context.state().optimize(&plan).is_err() {
            empty_answer(&statement)
        } else {
            plan
        };
        let schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
        let mut parameters: Vec<(usize, Option<DataType>)> = plan
            .get_parameter_types()
            .map_err(|error| CatalogError::Plan(error.strip_backtrace()))?
            .into_iter()
            .filter_map(|(name, data_type)| {
                name.trim_start_matches('$')
                    .parse::<usize>()
                    .ok()
                    .map(|index| (index, data_type))
            })
            .collect();
        parameters.sort_by_key(|(index, _)| *index);
        let count = parameters.last().map_or(0, |(index, _)| *index);
        let mut types = vec![None; count];
        for (index, data_type) in parameters {
            if let Some(slot) = index.checked_sub(1).and_then(|slot| types.get_mut(slot)) {
                *slot = data_type;
            }
        }
        Ok(CatalogPlan {
            plan,
            schema,
            parameters: types,
            context,
        })
    }

    /// Runs a planned catalog statement with `parameters`; its whole answer, which may
    /// hold at most [`MEMORY_BYTES`] (the memory pool bounds what operators hold, not
    /// what a cross join of catalog tables answers).
    pub async fn run(
        &self,
        planned: CatalogPlan,
        parameters: Vec<ScalarValue>,
    ) -> Result<Vec<RecordBatch>, CatalogError> {
        let plan = if parameters.is_empty() {
            planned.plan
        } else {
            planned
                .plan
                .with_param_values(ParamValues::List(
                    parameters.into_iter().map(Into::into).collect(),
                ))
                .map_err(|error| CatalogError::Plan(error.strip_backtrace()))?
        };
        let context = planned.context;
        let plan_error = |error: DataFusionError| CatalogError::Plan(error.strip_backtrace());
        let frame = context.execute_logical_plan(plan).await.map_err(plan_error)?;
        let mut stream = frame.execute_stream().await.map_err(plan_error)?;
        let mut batches = Vec::new();
        let mut held = 0usize;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(plan_error)?;
            held = held.saturating_add(batch.get_array_memory_size());
            if held > MEMORY_BYTES {
                return Err(CatalogError::TooLarge(MEMORY_BYTES));
            }
            batches.push(batch);
        }
        Ok(batches)
    }
}

/// The relations of `pg_catalog` that never have a row in the hub.
const ALWAYS_EMPTY: [&str; 12] = [
    "pg_policy",
    "pg_statistic_ext",
    "pg_statistic_ext_data",
    "pg_publication",
    "pg_publication_rel",
    "pg_publication_namespace",
    "pg_inherits",
    "pg_trigger",
    "pg_rewrite",
    "pg_partitioned_table",
    "pg_foreign_table",
    "pg_event_trigger",
];

fn names_always_empty(statement: &Statement) -> bool {
    let mut found = false;
    let _ = visit_relations(statement, |name: &ObjectName| {
        let last = name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .map(|ident| ident.value.to_lowercase());
        found |= last.is_some_and(|table| ALWAYS_EMPTY.contains(&table.as_str()));
        ControlFlow::<()>::Continue(())
    });
    found
}

/// No rows, under the names of the statement's columns (as text).
fn empty_answer(statement: &Statement) -> LogicalPlan {
    let mut names = Vec::new();
    if let Statement::Query(query) = statement {
        let mut body = query.body.as_ref();
        while let SetExpr::SetOperation { left, .. } = body {
            body = left.as_ref();
        }
        if let SetExpr::Select(select) = body {
            for (index, item) in select.projection.iter().enumerate() {
                names.push(match item {
                    SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
                    SelectItem::UnnamedExpr(Expr::Identifier(ident)) => ident.value.clone(),
                    SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => parts
                        .last()
                        .map_or_else(|| format!("column{}", index + 1), |ident| ident.value.clone()),
                    _ => format!("column{}", index + 1),
                });
            }
        }
    }
    let fields: Vec<Field> = names
        .iter()
        .map(|name| Field::new(name, DataType::Utf8, true))
        .collect();
    let schema = datafusion::common::DFSchema::try_from(Schema::new(fields))
        .unwrap_or_else(|_| datafusion::common::DFSchema::empty());
    LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(schema),
    })
}

/// The oid of a built-in type by any of its names, as PostgreSQL's `to_regtype`; NULL for
/// a type the hub does not have (`hstore`, ...).
fn to_regtype(arguments: &[ColumnarValue]) -> Result<ColumnarValue, DataFusionError> {
    const TYPES: [(&str, i32); 27] = [
        ("bool", 16),
        ("boolean", 16),
        ("bytea", 17),
        ("int8", 20),
        ("bigint", 20),
        ("int2", 21),
        ("smallint", 21),
        ("int4", 23),
        ("integer", 23),
        ("int", 23),
        ("text", 25),
        ("oid", 26),
        ("json", 114),
        ("float4", 700),
        ("real", 700),
        ("float8", 701),
        ("double precision", 701),
        ("varchar", 1043),
        ("character varying", 1043),
        ("date", 1082),
        ("time", 1083),
        ("timestamp", 1114),
        ("timestamp without time zone", 1114),
        ("timestamptz", 1184),
        ("timestamp with time zone", 1184),
        ("numeric", 1700),
        ("uuid", 2950),
    ];
    let oid = |name: Option<&str>| {
        let name = name?.trim().trim_start_matches("pg_catalog.").to_lowercase();
        TYPES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, oid)| *oid)
    };
    match arguments {
        [ColumnarValue::Scalar(ScalarValue::Utf8(name))] => {
            Ok(ColumnarValue::Scalar(ScalarValue::Int32(oid(name.as_deref()))))
        }
        [ColumnarValue::Array(names)] => {
            let names = datafusion::common::cast::as_string_array(names)?;
            let oids: datafusion::arrow::array::Int32Array = names.iter().map(oid).collect();
            Ok(ColumnarValue::Array(Arc::new(oids)))
        }
        _ => Ok(ColumnarValue::Scalar(ScalarValue::Int32(None))),
    }
}

/// A session with every dataset of `tables` as an empty table of its contract's columns,
/// `pg_catalog` over them and `information_schema`.
fn build(tables: &[CatalogTable]) -> Result<SessionContext, DataFusionError> {
    let config = SessionConfig::new()
        .with_default_catalog_and_schema(DATABASE, "public")
        .with_create_default_catalog_and_schema(true)
        // DataFusion's names column types as Arrow does; ours as PostgreSQL does (below).
        .with_information_schema(false);
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(MEMORY_BYTES)))
        .build_arc()?;
    let context = SessionContext::new_with_config_rt(config, runtime);
    let catalog = context
        .catalog(DATABASE)
        .ok_or_else(|| DataFusionError::Configuration("no default catalog".into()))?;
    for table in tables {
        let id = &table.dataset.id;
        let schema = match catalog.schema(&id.department) {
            Some(schema) => schema,
            None => {
                let schema = Arc::new(MemorySchemaProvider::new());
                catalog.register_schema(&id.department, schema.clone())?;
                schema
            }
        };
        let fields: Vec<Field> = table
            .dataset
            .columns
            .iter()
            .map(|column| Field::new(&column.name, column.data_type.clone(), true))
            .collect();
        schema.register_table(
            id.name.clone(),
            Arc::new(EmptyTable::new(Arc::new(Schema::new(fields)))),
        )?;
    }
    datafusion_pg_catalog::setup_pg_catalog(&context, DATABASE, EmptyContextProvider)
        .map_err(|error| *error)?;
    // Its `pg_attribute` with the decimal columns' modifiers (`numeric(12,2)` in `\d`).
    let typmods: Typmods = tables
        .iter()
        .flat_map(|table| {
            let id = &table.dataset.id;
            table.dataset.columns.iter().filter_map(move |column| {
                typmod(&column.data_type).map(|typmod| {
                    (
                        (id.department.clone(), id.name.clone(), column.name.clone()),
                        typmod,
                    )
                })
            })
        })
        .collect();
    let pg_catalog = catalog
        .schema("pg_catalog")
        .ok_or_else(|| DataFusionError::Configuration("no pg_catalog".into()))?;
    catalog.register_schema("pg_catalog", Arc::new(WithTypmods::new(pg_catalog, typmods)))?;
    let catalogs = Arc::clone(context.state().catalog_list());
    catalog.register_schema("information_schema", Arc::new(PgInformationSchema::new(catalogs)))?;
    // DataFusion's own `version()` names DataFusion; clients parse PostgreSQL's.
    let version = format!(
        "PostgreSQL {} (Causeway {})",
        super::SERVER_VERSION,
        env!("CARGO_PKG_VERSION")
    );
    context.register_udf(create_udf(
        "version",
        Vec::new(),
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(version.clone()))))),
    ));
    // Every type is in the search path (SQLAlchemy's inspector asks of domains).
    context.register_udf(create_udf(
        "pg_type_is_visible",
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(|_| Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))),
    ));
    // `to_regtype(name)`: psycopg (and SQLAlchemy through it) looks types up with it.
    context.register_udf(create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Immutable,
        Arc::new(to_regtype),
    ));
    Ok(context)
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn catalog(sql: &str) -> bool {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0);
        is_catalog_statement(&statement)
    }

    #[test]
    fn only_statements_that_name_catalog_relations_alone_are_catalog_statements() {
        assert!(catalog("SELECT relname FROM pg_catalog.pg_class"));
        assert!(catalog(
            "SELECT * FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        ));
        assert!(catalog("SELECT table_name FROM information_schema.tables"));
        assert!(catalog("SELECT 1 FROM causeway.information_schema.columns"));
        assert!(!catalog("SELECT 1"));
        assert!(catalog("select pg_catalog.version()"));
        assert!(catalog("select current_schema()"));
        assert!(catalog("SELECT current_user"));
        assert!(catalog("select session_user, current_database()"));
        assert!(!catalog("SELECT version() FROM civil_affairs.residents"));
        assert!(!catalog("SELECT * FROM civil_affairs.residents"));
        assert!(!catalog(
            "SELECT * FROM civil_affairs.residents r WHERE r.id IN (SELECT oid FROM pg_class)"
        ));
        // A dataset of a department called pg_catalog could not be published; a table
        // named pg_x in another schema is not the catalog's.
        assert!(!catalog("SELECT * FROM land.pg_things"));
    }

    /// psycopg looks types up by name (`TypeInfo.fetch`), as SQLAlchemy does on connect.
    #[tokio::test]
    async fn types_are_looked_up_by_name() {
        let mirror = CatalogMirror::default();
        let sql = "SELECT typname AS name, oid, typarray AS array_oid, typdelim AS delimiter \
                   FROM pg_type t WHERE t.oid = to_regtype($1) ORDER BY t.oid";
        let planned = mirror.plan(sql, "analyst", &[]).await.expect("planned");
        let found = mirror
            .run(planned.clone(), vec![ScalarValue::Utf8(Some("int4".into()))])
            .await
            .expect("answered");
        assert_eq!(found.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
        let missing = mirror
            .run(planned, vec![ScalarValue::Utf8(Some("hstore".into()))])
            .await
            .expect("answered");
        assert_eq!(missing.iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
    }

    /// psql's `\d` asks for a table's row-level policies with `ARRAY(SELECT ...)`; the
    /// answer (none) has the columns psql expects.
    #[tokio::test]
    async fn psqls_introspection_is_answered() {
        let mirror = CatalogMirror::default();
        let sql = "SELECT pol.polname, pol.polpermissive, CASE WHEN pol.polroles = '{0}' THEN NULL \
                   ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles \
                   where oid = any (pol.polroles) order by 1),',') END, \
                   pg_catalog.pg_get_expr(pol.polqual, pol.polrelid) FROM pg_catalog.pg_policy pol \
                   WHERE pol.polrelid = '16393' ORDER BY 1";
        let planned = mirror.plan(sql, "analyst", &[]).await.expect("planned");
        assert_eq!(planned.schema.fields().len(), 4);
        let batches = mirror.run(planned, Vec::new()).await.expect("answered");
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
    }

    /// Tools show who is signed in: the caller's id, not datafusion-pg-catalog's `postgres`.
    #[tokio::test]
    async fn the_user_is_the_caller() {
        let mirror = CatalogMirror::default();
        let sql = "SELECT current_user, session_user, CURRENT_USER AS shouting, user, current_role";
        // An external issuer's subject may hold quotes and backslashes: still one value.
        for user in ["wang.analyst", r"o'brien\' OR true --", r"a\b"] {
            let planned = mirror.plan(sql, user, &[]).await.expect("planned");
            let batches = mirror.run(planned, Vec::new()).await.expect("answered");
            let batch = &batches[0];
            assert_eq!(batch.num_columns(), 5);
            for column in batch.columns() {
                let column = datafusion::common::cast::as_string_array(column).expect("text");
                assert_eq!(column.value(0), user);
            }
        }
    }
}
