//! The gate in front of arrow-flight's Flight SQL dispatcher. Every call but the handshake
//! is authenticated here before anything in it is parsed, so that a caller without a valid
//! token learns nothing (not even which actions exist) and every later step knows its
//! caller; and a command, ticket or action body that is not the Flight SQL message it claims
//! to be is refused as `InvalidArgument` with a plain message, where the dispatcher would
//! answer `Internal` with the decoder's debug text.

use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, Any, Command,
};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo, HandshakeRequest,
    PollInfo, SchemaResult, Ticket,
};
use causeway_policies::Principal;
use futures::StreamExt;
use prost::Message;
use tonic::{Request, Response, Status, Streaming};

use super::FlightSql;
use super::sessions::Session;

/// The caller of a call, as the gate authenticated it, and the caller's session, if the
/// call carries one.
#[derive(Clone)]
pub(super) struct Authenticated {
    pub caller: Principal,
    pub session: Option<Session>,
}

/// The Flight SQL service behind its gate.
pub struct Door(pub(super) FlightSql);

/// The actions of Flight SQL this hub does not offer: answered `Unimplemented` whatever
/// their body holds.
const UNOFFERED_ACTIONS: [&str; 6] = [
    "CreatePreparedSubstraitPlan",
    "BeginTransaction",
    "EndTransaction",
    "BeginSavepoint",
    "EndSavepoint",
    "CancelQuery",
];

impl Door {
    /// Authenticates `request` and keeps its caller with it.
    async fn admit<T>(&self, mut request: Request<T>) -> Result<Request<T>, Status> {
        let caller = self.0.caller(&request).await?;
        let session = self
            .0
            .sessions
            .open(request.metadata(), &caller.id, &caller.issuer, super::now());
        request.extensions_mut().insert(Authenticated { caller, session });
        Ok(request)
    }
}

/// `bytes` as a Flight SQL command (`Any` holding one of its messages); `what` names it in
/// the refusal.
fn command(bytes: &[u8], what: &str) -> Result<(), Status> {
    let any = Any::decode(bytes)
        .map_err(|_| Status::invalid_argument(format!("the {what} is not a protobuf Any message")))?;
    let type_url = any.type_url.clone();
    Command::try_from(any).map(|_| ()).map_err(|_| {
        Status::invalid_argument(format!(
            "the {what} claims to be {type_url} but does not decode as one"
        ))
    })
}

/// An action's body as the message its type names.
fn action_body(action: &Action) -> Result<(), Status> {
    fn holds<M: arrow_flight::sql::ProstMessageExt + Default>(body: &[u8]) -> bool {
        Any::decode(body).is_ok_and(|any| any.unpack::<M>().is_ok_and(|message| message.is_some()))
    }
    let fits = match action.r#type.as_str() {
        "CreatePreparedStatement" => holds::<ActionCreatePreparedStatementRequest>(&action.body),
        "ClosePreparedStatement" => holds::<ActionClosePreparedStatementRequest>(&action.body),
        // The other actions' bodies (CancelFlightInfo's, the session actions' bare
        // messages) are read where they are answered.
        _ => true,
    };
    if fits {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "the body of the {} action is not the message that action takes",
            action.r#type
        )))
    }
}

type Inner = FlightSql;

#[tonic::async_trait]
impl FlightService for Door {
    type HandshakeStream = <Inner as FlightService>::HandshakeStream;
    type ListFlightsStream = <Inner as FlightService>::ListFlightsStream;
    type DoGetStream = <Inner as FlightService>::DoGetStream;
    type DoPutStream = <Inner as FlightService>::DoPutStream;
    type DoActionStream = <Inner as FlightService>::DoActionStream;
    type ListActionsStream = <Inner as FlightService>::ListActionsStream;
    type DoExchangeStream = <Inner as FlightService>::DoExchangeStream;

    /// The one call without a token: it is how a client gets one.
    async fn handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        FlightService::handshake(&self.0, request).await
    }

    async fn list_flights(
        &self,
        request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        let request = self.admit(request).await?;
        FlightService::list_flights(&self.0, request).await
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let request = self.admit(request).await?;
        command(&request.get_ref().cmd, "command")?;
        FlightService::get_flight_info(&self.0, request).await
    }

    async fn poll_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        let request = self.admit(request).await?;
        FlightService::poll_flight_info(&self.0, request).await
    }

    async fn get_schema(&self, request: Request<FlightDescriptor>) -> Result<Response<SchemaResult>, Status> {
        let request = self.admit(request).await?;
        FlightService::get_schema(&self.0, request).await
    }

    async fn do_get(&self, request: Request<Ticket>) -> Result<Response<Self::DoGetStream>, Status> {
        let request = self.admit(request).await?;
        command(&request.get_ref().ticket, "ticket")?;
        FlightService::do_get(&self.0, request).await
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        let request = self.admit(request).await?;
        // The descriptor is in the stream's first message, which the dispatcher reads: a
        // command that does not decode is refused there, with the decoder's debug text
        // (`DecodeError { .. }`, or `ParseError(..)` as Internal), put plainly here.
        FlightService::do_put(&self.0, request)
            .await
            .map_err(|status| match status.code() {
                tonic::Code::InvalidArgument if status.message().starts_with("DecodeError") => {
                    Status::invalid_argument("the descriptor's command is not a protobuf Any message")
                }
                tonic::Code::Internal if status.message().starts_with("ParseError") => {
                    Status::invalid_argument(
                        "the descriptor's command does not decode as the message it claims to be",
                    )
                }
                _ => status,
            })
    }

    async fn do_exchange(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        let request = self.admit(request).await?;
        FlightService::do_exchange(&self.0, request).await
    }

    async fn do_action(&self, request: Request<Action>) -> Result<Response<Self::DoActionStream>, Status> {
        let request = self.admit(request).await?;
        let action = request.get_ref();
        if UNOFFERED_ACTIONS.contains(&action.r#type.as_str()) {
            return Err(Status::unimplemented(format!(
                "the {} action is not offered: the hub only reads",
                action.r#type
            )));
        }
        action_body(action)?;
        FlightService::do_action(&self.0, request).await
    }

    async fn list_actions(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        let request = self.admit(request).await?;
        let actions = FlightService::list_actions(&self.0, request).await?.into_inner();
        let offered = actions.filter(|action| {
            let offered = action.as_ref().map_or(true, |action: &ActionType| {
                !UNOFFERED_ACTIONS.contains(&action.r#type.as_str())
            });
            std::future::ready(offered)
        });
        Ok(Response::new(Box::pin(offered)))
    }
}
