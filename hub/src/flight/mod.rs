//! The Arrow Flight SQL front door (`[server] flight_listen`), for ADBC, pyarrow's Flight
//! client and the Flight SQL JDBC driver. Every statement goes through the one query service
//! HTTP uses ([`crate::query::service`]): the same identity, policies, quotas, suspension,
//! audit records and alerts. Errors are the API's redacted errors ([`ApiError`]) with the
//! gRPC status of their HTTP status and the same message.
//!
//! Identity: a bearer token in the `authorization` header of every call; the handshake (or
//! `authorization: Basic` on it) exchanges a client id and secret for a token through the
//! built-in issuer, answered in the `authorization` header as Flight clients expect. The
//! purpose of a statement is the `x-causeway-purpose` header. Statements are run by ticket:
//! `GetFlightInfo` plans the statement under the caller's policies and answers a signed
//! ticket ([`tickets`]) that only the same caller can redeem with `DoGet`, within five
//! minutes, on any replica.

mod door;
mod handshake;
mod metadata;
mod prepared;
mod running;
mod sessions;
mod statements;
mod status;
pub mod tickets;

use std::pin::Pin;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, CommandGetCatalogs, CommandGetDbSchemas, CommandGetPrimaryKeys,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, Ticket,
};
use causeway_policies::Principal;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::RecordBatch;
use futures::{Stream, StreamExt};
use prost::Message;
use tonic::{Request, Response, Status, Streaming};

use crate::api::{AppState, PeerAddress, PeerCertificate, authenticate};

use status::to_status;
use tickets::{PREPARED_SECONDS, Statement, TICKET_SECONDS, Tickets};

/// The header that names a statement's purpose.
pub const PURPOSE_HEADER: &str = "x-causeway-purpose";

/// The refusal of a command the hub does not serve.
const NOT_SERVED: &str = "the hub does not serve this command: it serves Flight SQL's queries, prepared statements and metadata commands";

type FlightStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The Flight SQL service of one hub.
pub struct FlightSql {
    state: AppState,
    tickets: Tickets,
    sessions: sessions::Sessions,
    sql_info: SqlInfoData,
    running: std::sync::Arc<running::Running>,
}

#[derive(Debug, thiserror::Error)]
pub enum FlightSetupError {
    #[error("cannot derive the key that signs Flight SQL tickets and sessions")]
    TicketKey,
    #[error("cannot describe the Flight SQL server: {0}")]
    SqlInfo(String),
}

impl FlightSql {
    pub fn new(state: AppState) -> Result<Self, FlightSetupError> {
        let key = state
            .access
            .derived_key(b"flight-sql-tickets")
            .ok_or(FlightSetupError::TicketKey)?;
        let session_key = state
            .access
            .derived_key(b"flight-sql-sessions")
            .ok_or(FlightSetupError::TicketKey)?;
        let mut info = SqlInfoDataBuilder::new();
        info.append(SqlInfo::FlightSqlServerName, "Causeway");
        info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        info.append(SqlInfo::FlightSqlServerArrowVersion, "59");
        info.append(SqlInfo::FlightSqlServerReadOnly, true);
        info.append(SqlInfo::FlightSqlServerSql, true);
        info.append(SqlInfo::FlightSqlServerSubstrait, false);
        info.append(SqlInfo::FlightSqlServerTransaction, 0i32);
        info.append(SqlInfo::FlightSqlServerCancel, true);
        let sql_info = info
            .build()
            .map_err(|error| FlightSetupError::SqlInfo(error.to_string()))?;
        Ok(Self {
            state,
            tickets: Tickets::new(key),
            sessions: sessions::Sessions::new(session_key),
            sql_info,
            running: std::sync::Arc::default(),
        })
    }

    /// The gRPC service as routes, served by the hub's own connection handling
    /// ([`crate::server::serve`]): the same TLS and mutual TLS, connection caps per address,
    /// first-request and idle timeouts, and HTTP/2 keep-alive as the HTTP API.
    pub fn router(self) -> axum::Router {
        axum::Router::new().route_service(
            "/arrow.flight.protocol.FlightService/{*method}",
            FlightServiceServer::new(door::Door(self)),
        )
    }

    /// The caller of a request: as the gate (`door`) authenticated it, or by the bearer token
    /// in its `authorization` header.
    async fn caller<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        if let Some(authenticated) = request.extensions().get::<door::Authenticated>() {
            return Ok(authenticated.caller.clone());
        }
        let authorization = request
            .metadata()
            .get("authorization")
            .map(|value| value.to_str().unwrap_or(""));
        let certificate = request
            .extensions()
            .get::<PeerCertificate>()
            .map(|certificate| certificate.0.clone());
        authenticate(&self.state, authorization, peer_address(request), certificate)
            .await
            .map_err(to_status)
    }

    /// The purpose a statement is run for: the `x-causeway-purpose` header's, else the
    /// session's.
    fn purpose<T>(request: &Request<T>) -> Result<String, Status> {
        stated_purpose(request).ok_or_else(|| {
                Status::invalid_argument(format!(
                    "say why the data is read: send the purpose in the '{PURPOSE_HEADER}' header (e.g. housing-subsidy-review), or set the session option '{}' (SetSessionOptions; in ADBC, adbc.flight.sql.session.option.{})",
                    sessions::PURPOSE_OPTION,
                    sessions::PURPOSE_OPTION,
                ))
            })
    }

    /// The catalog as the caller of `request` sees it, under the call's purpose if it names
    /// one.
    async fn catalog_view<T>(&self, request: &Request<T>) -> Result<Vec<crate::query::CatalogTable>, Status> {
        let caller = self.caller(request).await?;
        Ok(self
            .state
            .queries
            .catalog(&caller, &metadata::purpose_or_listing(request)))
    }

    /// The FlightInfo of a catalog command, for a signed-in caller.
    async fn command_info(
        &self,
        command: impl ProstMessageExt,
        schema: &Schema,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request).await?;
        Self::info_of(command, schema, request.into_inner())
    }

    /// A FlightInfo whose one endpoint's ticket is `command` itself: for the catalog
    /// commands, whose answer depends on the caller of the `DoGet` alone.
    fn info_of(
        command: impl ProstMessageExt,
        schema: &Schema,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let ticket = Ticket::new(command.as_any().encode_to_vec());
        let info = FlightInfo::new()
            .try_with_schema(schema)
            .map_err(|error| Status::internal(error.to_string()))?
            .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
            .with_descriptor(descriptor);
        Ok(Response::new(info))
    }
}

/// A batch stream as Flight data, errors as statuses.
fn flight_data(
    schema: datafusion::arrow::datatypes::SchemaRef,
    batches: impl Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static,
) -> FlightStream<arrow_flight::FlightData> {
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(batches)
        .map(|data| {
            data.map_err(|error| match error {
                FlightError::Tonic(status) => *status,
                other => Status::internal(other.to_string()),
            })
        });
    Box::pin(stream)
}

/// One batch, answered as a `DoGet` stream.
fn one_batch(batch: RecordBatch) -> Response<FlightStream<arrow_flight::FlightData>> {
    let schema = batch.schema();
    Response::new(flight_data(schema, futures::stream::once(async { Ok(batch) })))
}

/// A catalog command's answer as built, its error as an internal one (the builders fail on
/// nothing a caller sends).
fn built(
    batch: Result<RecordBatch, impl std::fmt::Display>,
) -> Result<Response<FlightStream<arrow_flight::FlightData>>, Status> {
    batch
        .map(one_batch)
        .map_err(|error| Status::internal(error.to_string()))
}

/// The `x-causeway-purpose` header of a call, if it names one.
/// The purpose the call states: its `x-causeway-purpose` header, else its session's.
fn stated_purpose<T>(request: &Request<T>) -> Option<String> {
    request
        .metadata()
        .get(PURPOSE_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|purpose| !purpose.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            request
                .extensions()
                .get::<door::Authenticated>()
                .and_then(|authenticated| authenticated.session.as_ref())
                .and_then(|session| session.purpose.clone())
        })
}

/// The address a request came from, as the connection handling recorded it.
fn peer_address<T>(request: &Request<T>) -> Option<std::net::SocketAddr> {
    request.extensions().get::<PeerAddress>().map(|peer| peer.0)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

#[tonic::async_trait]
impl FlightSqlService for FlightSql {
    type FlightService = FlightSql;

    /// Exchanges `authorization: Basic base64(id:secret)` (or a handshake payload of
    /// `id:secret`) for a bearer token of the built-in issuer, recorded as `token.issued`.
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<FlightStream<HandshakeResponse>>, Status> {
        handshake::handshake(&self.state, request).await
    }

    /// Plans the statement under the caller's policies (a refusal is recorded and answered
    /// now) and answers a ticket for it.
    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let caller = self.caller(&request).await?;
        let purpose = Self::purpose(&request)?;
        let described = self.described(&caller, &query.query, &purpose, &request).await?;
        let statement = Statement {
            sql: query.query,
            purpose,
            principal: caller.id,
            issuer: caller.issuer,
            expires: now() + TICKET_SECONDS,
            parameters: None,
            prepared: false,
        };
        let handle = TicketStatementQuery {
            statement_handle: self.tickets.issue(&statement).into(),
        };
        let ticket = Ticket::new(handle.as_any().encode_to_vec());
        let info = FlightInfo::new()
            .try_with_schema(&described.schema)
            .map_err(|error| Status::internal(error.to_string()))?
            .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
            .with_descriptor(request.into_inner());
        Ok(Response::new(info))
    }

    /// Runs the ticket's statement for its caller and streams the batches as they are
    /// computed; `query.started` is on disk before the first leaves.
    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<FlightStream<arrow_flight::FlightData>>, Status> {
        let caller = self.caller(&request).await?;
        let statement = self.redeem(&ticket.statement_handle, &caller, false)?;
        self.run(caller, statement, &request).await
    }

    /// Prepares a statement under the caller's policies and purpose: the handle holds both.
    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let caller = self.caller(&request).await?;
        let purpose = Self::purpose(&request)?;
        let described = self.described(&caller, &query.query, &purpose, &request).await?;
        let statement = Statement {
            sql: query.query,
            purpose,
            principal: caller.id,
            issuer: caller.issuer,
            expires: now() + PREPARED_SECONDS,
            parameters: None,
            prepared: true,
        };
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: self.tickets.issue(&statement).into(),
            dataset_schema: prepared::schema_bytes(&described.schema)?.into(),
            parameter_schema: prepared::schema_bytes(&prepared::parameter_schema(&described.parameters))?
                .into(),
        })
    }

    /// Binds one row of parameters: the answer is a new handle that holds them.
    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let caller = self.caller(&request).await?;
        let mut statement = self.redeem_prepared(&query.prepared_statement_handle, &caller, &request)?;
        statement.parameters = Some(prepared::bound_parameters(request.into_inner()).await?);
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(self.tickets.issue(&statement).into()),
        })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let caller = self.caller(&request).await?;
        let statement = self.redeem_prepared(&query.prepared_statement_handle, &caller, &request)?;
        let described = self
            .described(&caller, &statement.sql, &statement.purpose, &request)
            .await?;
        Self::info_of(query, &described.schema, request.into_inner())
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<FlightStream<arrow_flight::FlightData>>, Status> {
        let caller = self.caller(&request).await?;
        let statement = self.redeem_prepared(&query.prepared_statement_handle, &caller, &request)?;
        self.run(caller, statement, &request).await
    }

    /// Nothing is kept for a prepared statement; closing one checks it is the caller's.
    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<(), Status> {
        let caller = self.caller(&request).await?;
        self.redeem_prepared(&query.prepared_statement_handle, &caller, &request)
            .map(drop)
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        self.command_info(query, &schema, request).await
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<FlightStream<arrow_flight::FlightData>>, Status> {
        self.caller(&request).await?;
        let mut builder = query.into_builder();
        builder.append(crate::query::CATALOG);
        built(builder.build())
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.command_info(query, &schema, request).await
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<FlightStream<arrow_flight::FlightData>>, Status> {
        let tables = self.catalog_view(&request).await?;
        Ok(one_batch(metadata::schemas(query, &tables)?))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.command_info(query, &schema, request).await
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<FlightStream<arrow_flight::FlightData>>, Status> {
        let tables = self.catalog_view(&request).await?;
        Ok(one_batch(metadata::tables(query, &tables)?))
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(query, &metadata::primary_keys_schema(), request)
            .await
    }

    async fn do_get_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<Ticket>,
    ) -> Result<Response<FlightStream<arrow_flight::FlightData>>, Status> {
        self.caller(&request).await?;
        let department = query.db_schema.clone().unwrap_or_default();
        let key = match self.state.registry.get(&department, &query.table).await {
            Ok(dataset) => dataset.record.contract.primary_key.clone(),
            Err(_) => Vec::new(),
        };
        Ok(one_batch(metadata::primary_keys(&query, &key)?))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        self.command_info(query, &schema, request).await
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<FlightStream<arrow_flight::FlightData>>, Status> {
        self.caller(&request).await?;
        let mut builder = query.into_builder();
        builder.append(metadata::TABLE_TYPE);
        built(builder.build())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(&self.sql_info).schema();
        self.command_info(query, &schema, request).await
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<FlightStream<arrow_flight::FlightData>>, Status> {
        self.caller(&request).await?;
        built(query.into_builder(&self.sql_info).build())
    }

    // The fallbacks answer a command the hub does not serve without repeating its type
    // URL, which is the client's text (arrow-flight's defaults would echo it).
    async fn get_flight_info_fallback(
        &self,
        _command: arrow_flight::sql::Command,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        Err(Status::unimplemented(NOT_SERVED))
    }

    async fn do_get_fallback(
        &self,
        _request: Request<Ticket>,
        _message: arrow_flight::sql::Any,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Err(Status::unimplemented(NOT_SERVED))
    }

    async fn do_put_fallback(
        &self,
        _request: Request<PeekableFlightDataStream>,
        _message: arrow_flight::sql::Any,
    ) -> Result<Response<<Self as FlightService>::DoPutStream>, Status> {
        Err(Status::unimplemented(NOT_SERVED))
    }

    /// `CancelFlightInfo`: stops the queries of the FlightInfo's tickets that stream here for
    /// the caller; NOT_FOUND when none does (done already, another caller's, or on another
    /// replica).
    async fn do_action_fallback(
        &self,
        request: Request<arrow_flight::Action>,
    ) -> Result<Response<FlightStream<arrow_flight::Result>>, Status> {
        let caller = self.caller(&request).await?;
        let session = request
            .extensions()
            .get::<door::Authenticated>()
            .and_then(|authenticated| authenticated.session.clone());
        if let Some(answer) = sessions::answer(&self.sessions, request.get_ref(), &caller, session, now()) {
            return answer;
        }
        if request.get_ref().r#type != "CancelFlightInfo" {
            return Err(Status::invalid_argument(
                "unknown action: the hub serves CancelFlightInfo, the prepared statements' and the session options' actions",
            ));
        }
        let cancel = arrow_flight::CancelFlightInfoRequest::decode(request.get_ref().body.clone())
            .map_err(|error| Status::invalid_argument(format!("not a CancelFlightInfoRequest: {error}")))?;
        let cancelled = cancel
            .info
            .into_iter()
            .flat_map(|info| info.endpoint)
            .filter_map(|endpoint| endpoint.ticket)
            .filter(|ticket| self.running.cancel(&ticket.ticket, &caller.id))
            .count();
        if cancelled == 0 {
            return Err(Status::not_found(
                "no query of that FlightInfo is running for you here",
            ));
        }
        let result = arrow_flight::CancelFlightInfoResult::new(arrow_flight::CancelStatus::Cancelled);
        let answer = arrow_flight::Result {
            body: result.encode_to_vec().into(),
        };
        Ok(Response::new(Box::pin(futures::stream::once(async {
            Ok(answer)
        }))))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}
