//! Statements over the wire protocol, simple and extended: the session's own statements
//! (`session`), and every other through the one query service HTTP and Flight SQL use,
//! under the caller's token checked again for each statement, with the session's purpose.
//! Rows are encoded by arrow-pg (text or binary, as the client asks per column) as the
//! batches are computed; pgwire keeps a portal's rest for its next `Execute`.

use std::fmt::Debug;
use std::sync::Arc;

use arrow_pg::datatypes::into_pg_type;
use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::{Sink, SinkExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldFormat, FieldInfo, QueryResponse, Response};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::startup::ParameterStatus;

use super::catalog::{CatalogError, CatalogMirror, CatalogPlan, is_catalog_statement};
use super::rows::{described_fields, encoded, rows};
use super::session::{Local, PURPOSE, WireSession};
use super::sqlstate;
use crate::api::{ApiError, AppState, authenticate};
use crate::query::service::{FrontDoor, QueryCall, ServiceError};
use crate::query::{Described, QueryError};

/// A statement as parsed for the extended protocol.
#[derive(Clone)]
pub enum Prepared {
    /// A read, planned under the caller's policies when it was parsed.
    Query {
        sql: String,
        described: Arc<Described>,
    },
    /// A statement of the catalog's relations alone (`catalog`).
    Catalog(Arc<CatalogPlan>),
    Local(Local),
}

/// The query handler of every connection.
pub struct Statements {
    state: AppState,
    catalog: Arc<CatalogMirror>,
}

impl Statements {
    pub fn new(state: AppState) -> Arc<Self> {
        let catalog = Arc::new(CatalogMirror::default());
        Arc::new(Self { state, catalog })
    }

    /// Plans a catalog statement over the catalog as the session's caller sees it.
    async fn plan_catalog(&self, session: &WireSession, sql: &str) -> PgWireResult<CatalogPlan> {
        let caller = self.caller(session).await?;
        let purpose = session
            .purpose()
            .unwrap_or_else(|| crate::query::service::LISTING_PURPOSE.to_owned());
        let tables = self.state.queries.catalog(&caller, &purpose);
        self.catalog
            .plan(sql, &caller.id, &tables)
            .await
            .map_err(catalog_error)
    }

    /// Runs a planned catalog statement for the session's caller, checked again now, and
    /// answers its rows in `format`. It reads no dataset, but takes a query slot of the
    /// hub's and of the caller's and runs on the query threads, as a query does, so that
    /// statements over the catalog's relations cannot keep requests or queries waiting.
    async fn run_catalog(
        &self,
        session: &WireSession,
        planned: CatalogPlan,
        parameters: Vec<ScalarValue>,
        format: &Format,
    ) -> PgWireResult<Response> {
        let caller = self.caller(session).await?;
        let fields = Arc::new(described_fields(planned.schema.as_ref(), format)?);
        let catalog = Arc::clone(&self.catalog);
        let described = Arc::clone(&fields);
        // Run and encoded on the query threads, stopped by a cancel request as a query is.
        let work = self.state.engine.run_aside(&caller.id, async move {
            let mut rows = Vec::new();
            for batch in catalog.run(planned, parameters).await.map_err(catalog_error)? {
                rows.extend(encoded(&described, batch)?.into_iter().map(Ok));
            }
            PgWireResult::Ok(rows)
        });
        let cancel = session.cancel.current.next();
        let done = tokio::select! {
            done = work => done,
            () = cancel.cancelled() => Err(QueryError::Cancelled),
        };
        let rows = done.map_err(|error| sqlstate::error(&ApiError::from(ServiceError::from(error))))??;
        Ok(Response::Query(QueryResponse::new(
            fields,
            futures::stream::iter(rows),
        )))
    }

    /// The caller of the session, by its token checked again now.
    async fn caller(&self, session: &WireSession) -> PgWireResult<causeway_policies::Principal> {
        authenticate(
            &self.state,
            Some(&format!("Bearer {}", session.token)),
            Some(session.address),
            session.certificate.clone(),
        )
        .await
        .map_err(|error| {
            let message = format!("{}; sign in again", error.message);
            sqlstate::response("FATAL", sqlstate::sqlstate(error.code), message)
        })
    }

    /// Runs `sql` for the session and answers its rows in `format`.
    async fn run(
        &self,
        session: &WireSession,
        sql: String,
        parameters: Vec<ScalarValue>,
        format: &Format,
    ) -> PgWireResult<Response> {
        let caller = self.caller(session).await?;
        let purpose = purpose(session)?;
        let mut call = QueryCall::new(caller, sql, purpose, FrontDoor::PostgresWire);
        call.client_address = Some(session.address);
        call.parameters = parameters;
        call.cancel = Some(session.cancel.current.next());
        let started = self
            .state
            .queries
            .execute(call)
            .await
            .map_err(|error| sqlstate::error(&ApiError::from(error)))?;
        let fields = Arc::new(described_fields(started.schema.as_ref(), format)?);
        Ok(Response::Query(QueryResponse::new(
            Arc::clone(&fields),
            rows(started.results, fields),
        )))
    }

    /// Answers one statement of a simple query.
    async fn answer<C>(
        &self,
        client: &mut C,
        session: &WireSession,
        statement: Step,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match statement {
            Step::Local(local) => answer_local(client, session, &local, FieldFormat::Text).await,
            Step::Query(sql) => self.run(session, sql, Vec::new(), &Format::UnifiedText).await,
            Step::Catalog(sql) => {
                let planned = self.plan_catalog(session, &sql).await?;
                self.run_catalog(session, planned, Vec::new(), &Format::UnifiedText)
                    .await
            }
        }
    }
}

/// The session of a signed-in connection.
fn session_of(client: &impl ClientInfo) -> PgWireResult<Arc<WireSession>> {
    client
        .session_extensions()
        .get::<WireSession>()
        .ok_or_else(|| sqlstate::response("FATAL", "08P01", "the connection has not signed in"))
}

fn purpose(session: &WireSession) -> PgWireResult<String> {
    session.purpose().ok_or_else(|| {
        sqlstate::response(
            "ERROR",
            "42501",
            format!(
                "say why the data is read: SET {PURPOSE} = 'housing-subsidy-review', or connect with options='-c {PURPOSE}=housing-subsidy-review'"
            ),
        )
    })
}

/// A session statement answered, its parameter change reported, and, in a failed
/// transaction, anything but its end refused as PostgreSQL refuses it.
async fn answer_local<C>(
    client: &mut C,
    session: &WireSession,
    local: &Local,
    format: FieldFormat,
) -> PgWireResult<Response>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    if client.transaction_status() == TransactionStatus::Error {
        match local {
            Local::Commit | Local::Rollback => {}
            Local::Savepoint("ROLLBACK") => client.set_transaction_status(TransactionStatus::Transaction),
            _ => return Err(aborted()),
        }
    }
    let (response, reported) = local.answer(session, format)?;
    if let Some((name, value)) = reported {
        client
            .send(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                name, value,
            )))
            .await?;
    }
    Ok(response)
}

fn aborted() -> PgWireError {
    sqlstate::response(
        "ERROR",
        "25P02",
        "current transaction is aborted, commands ignored until end of transaction block",
    )
}

/// A statement of a simple query: one the session answers, one of the catalog's
/// relations alone, or SQL for the query service.
enum Step {
    Local(Local),
    Catalog(String),
    Query(String),
}

/// The statements of `sql`, to tell what they are: as the PostgreSQL dialect reads them,
/// or, where it cannot, with the rewrites datafusion-pg-catalog makes for tools'
/// introspection (`OPERATOR(pg_catalog.~)`, ...). Not the rewritten statements first: that
/// parser replaces some whole statements psql sends by constants, which name no relation.
fn parse(sql: &str) -> Vec<Statement> {
    Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .or_else(|_| datafusion_pg_catalog::sql::PostgresCompatibilityParser::new().parse(sql))
        .unwrap_or_default()
}

/// The statements of a simple query, in order. SQL that does not parse is passed whole to
/// the query service, which says what is wrong with it.
fn steps(sql: &str) -> Vec<Step> {
    let statements = parse(sql);
    let step = |statement: &Statement, text: String| match Local::of(statement) {
        Some(local) => Step::Local(local),
        None if is_catalog_statement(statement) => Step::Catalog(text),
        None => Step::Query(text),
    };
    match statements.as_slice() {
        [] => vec![Step::Query(sql.to_owned())],
        // One statement keeps its own text.
        [statement] => vec![step(statement, sql.to_owned())],
        many => many
            .iter()
            .map(|statement| step(statement, statement.to_string()))
            .collect(),
    }
}

fn catalog_error(error: CatalogError) -> PgWireError {
    sqlstate::response("ERROR", error.sqlstate(), error.to_string())
}

#[async_trait]
impl SimpleQueryHandler for Statements {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let session = session_of(client)?;
        let mut responses = Vec::new();
        for step in steps(query) {
            if client.transaction_status() == TransactionStatus::Error && matches!(step, Step::Query(_)) {
                responses.push(Response::Error(Box::new(error_info(aborted()))));
                break;
            }
            match self.answer(client, &session, step).await {
                Ok(response) => responses.push(response),
                // Later statements are not run, as in PostgreSQL.
                Err(PgWireError::UserError(info)) if info.severity == "ERROR" => {
                    responses.push(Response::Error(info));
                    break;
                }
                Err(error) => return Err(error),
            }
        }
        Ok(responses)
    }
}

fn error_info(error: PgWireError) -> pgwire::error::ErrorInfo {
    match error {
        PgWireError::UserError(info) => *info,
        other => pgwire::error::ErrorInfo::new("ERROR".into(), "XX000".into(), other.to_string()),
    }
}

/// Plans statements at `Parse` for the extended protocol.
pub struct Planner {
    state: AppState,
    statements: Arc<Statements>,
}

impl Planner {
    pub fn new(state: AppState, statements: Arc<Statements>) -> Arc<Self> {
        Arc::new(Self { state, statements })
    }
}

#[async_trait]
impl QueryParser for Planner {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let parsed = parse(sql);
        if let [statement] = parsed.as_slice() {
            if let Some(local) = Local::of(statement) {
                return Ok(Some(Prepared::Local(local)));
            }
            if is_catalog_statement(statement) {
                let session = session_of(client)?;
                let planned = self.statements.plan_catalog(&session, sql).await?;
                return Ok(Some(Prepared::Catalog(Arc::new(planned))));
            }
        }
        if parsed.is_empty() && sql.trim().trim_matches(';').trim().is_empty() {
            return Ok(None);
        }
        let session = session_of(client)?;
        let caller = self.statements.caller(&session).await?;
        let purpose = purpose(&session)?;
        let described = self
            .state
            .queries
            .describe(&caller, sql, &purpose)
            .await
            .map_err(|error| sqlstate::error(&ApiError::from(error)))?;
        Ok(Some(Prepared::Query {
            sql: sql.to_owned(),
            described: Arc::new(described),
        }))
    }

    fn get_parameter_types(&self, statement: &Prepared) -> PgWireResult<Vec<Type>> {
        let expected = match statement {
            Prepared::Query { described, .. } => described.parameters.as_slice(),
            Prepared::Catalog(planned) => planned.parameters.as_slice(),
            Prepared::Local(_) => &[],
        };
        Ok(expected
            .iter()
            .map(|parameter| {
                parameter
                    .as_ref()
                    .and_then(|data_type| into_pg_type(data_type).ok())
                    .unwrap_or(Type::UNKNOWN)
            })
            .collect())
    }

    fn get_result_schema(
        &self,
        statement: &Prepared,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match statement {
            Prepared::Query { described, .. } => {
                described_fields(described.schema.as_ref(), format.unwrap_or(&Format::UnifiedText))
            }
            Prepared::Catalog(planned) => {
                described_fields(planned.schema.as_ref(), format.unwrap_or(&Format::UnifiedText))
            }
            Prepared::Local(local) => {
                let format = format.map_or(FieldFormat::Text, |format| format.format_for(0));
                Ok(local
                    .fields()
                    .into_iter()
                    .map(|field| {
                        FieldInfo::new(
                            field.name().to_owned(),
                            None,
                            None,
                            field.datatype().clone(),
                            format,
                        )
                    })
                    .collect())
            }
        }
    }
}

/// Extended-protocol handling: the planner for `Parse`, this for `Execute`.
pub struct Extended {
    statements: Arc<Statements>,
    planner: Arc<Planner>,
}

impl Extended {
    pub fn new(statements: Arc<Statements>, planner: Arc<Planner>) -> Arc<Self> {
        Arc::new(Self { statements, planner })
    }
}

/// The values bound to `portal`'s placeholders, typed as the statement's plan expects.
fn parameters(portal: &Portal<Prepared>, expected: &[Option<DataType>]) -> PgWireResult<Vec<ScalarValue>> {
    let expected: Vec<Option<&DataType>> = expected.iter().map(Option::as_ref).collect();
    for (index, value) in portal.parameters.iter().enumerate() {
        let client_type = portal.statement.parameter_types.get(index).cloned().flatten();
        let planned = expected.get(index).copied().flatten();
        // arrow-pg skips a NULL of no known type, which would shift every later value.
        if value.is_none() && client_type.is_none() && planned.is_none() {
            return Err(sqlstate::response(
                "ERROR",
                "42P18",
                format!(
                    "could not determine data type of parameter ${}; cast it, e.g. CAST(${} AS text)",
                    index + 1,
                    index + 1
                ),
            ));
        }
    }
    match arrow_pg::datatypes::df::deserialize_parameters(portal, &expected)? {
        ParamValues::List(values) => Ok(values.into_iter().map(|value| value.value).collect()),
        ParamValues::Map(_) => Err(sqlstate::response(
            "ERROR",
            "08P01",
            "named parameters are not supported",
        )),
    }
}

#[async_trait]
impl ExtendedQueryHandler for Extended {
    type Statement = Prepared;
    type QueryParser = Planner;

    fn query_parser(&self) -> Arc<Planner> {
        Arc::clone(&self.planner)
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let session = session_of(client)?;
        match &portal.statement.statement {
            Prepared::Local(local) => {
                let format = portal.result_column_format.format_for(0);
                answer_local(client, &session, local, format).await
            }
            Prepared::Catalog(planned) => {
                let values = parameters(portal, &planned.parameters)?;
                self.statements
                    .run_catalog(
                        &session,
                        planned.as_ref().clone(),
                        values,
                        &portal.result_column_format,
                    )
                    .await
            }
            Prepared::Query { sql, described } => {
                if client.transaction_status() == TransactionStatus::Error {
                    return Err(aborted());
                }
                let values = parameters(portal, &described.parameters)?;
                self.statements
                    .run(&session, sql.clone(), values, &portal.result_column_format)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simple_query_is_split_into_session_statements_and_sql() {
        let two = steps("SET causeway.purpose = 'testing'; SELECT 1");
        assert!(
            matches!(two.as_slice(), [Step::Local(Local::Set { .. }), Step::Query(sql)] if sql == "SELECT 1")
        );
        // One statement keeps its own text; text that does not parse goes whole.
        assert!(matches!(steps("select  1").as_slice(), [Step::Query(sql)] if sql == "select  1"));
        assert!(matches!(steps("SELEC 1").as_slice(), [Step::Query(sql)] if sql == "SELEC 1"));
        // psql's `\d` asks for policies in a statement of the catalog alone.
        let policies = "SELECT pol.polname, pol.polpermissive,\n  CASE WHEN pol.polroles = '{0}' THEN NULL \
             ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,\n  \
             pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),\n  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),\n  \
             CASE pol.polcmd\n    WHEN 'r' THEN 'SELECT'\n    WHEN 'a' THEN 'INSERT'\n    WHEN 'w' THEN 'UPDATE'\n    WHEN 'd' THEN 'DELETE'\n    END AS cmd\n\
             FROM pg_catalog.pg_policy pol\nWHERE pol.polrelid = '16387' ORDER BY 1;";
        let kinds: Vec<&str> = steps(policies)
            .iter()
            .map(|step| match step {
                Step::Local(_) => "local",
                Step::Catalog(_) => "catalog",
                Step::Query(_) => "query",
            })
            .collect();
        assert_eq!(kinds, ["catalog"]);
    }
}
