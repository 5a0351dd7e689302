//! Running a statement for a ticket or a prepared statement's handle.

use arrow_flight::Ticket;
use arrow_flight::error::FlightError;
use causeway_policies::Principal;
use tonic::{Request, Response, Status};

use super::status::to_status;
use super::tickets::Statement;
use super::{FlightSql, FlightStream, flight_data, now, prepared};
use crate::api::ApiError;
use crate::query::service::{FrontDoor, QueryCall, Started};

impl FlightSql {
    /// Runs `statement` for `caller` through the query service and streams its batches as
    /// they are computed; `query.started` is on disk before the first leaves.
    pub(super) async fn run(
        &self,
        caller: Principal,
        statement: Statement,
        request: &Request<Ticket>,
    ) -> Result<Response<FlightStream<arrow_flight::FlightData>>, Status> {
        let parameters = prepared::parameter_values(statement.parameters.as_deref())?;
        // Listed by its ticket while it streams, for `CancelFlightInfo`.
        let (cancel, listed) = self.running.start(&request.get_ref().ticket, &caller.id);
        let mut call = QueryCall::new(caller, statement.sql, statement.purpose, FrontDoor::FlightSql);
        call.client_address = request.remote_addr();
        call.parameters = parameters;
        call.cancel = Some(cancel);
        let Started { schema, results, .. } = self
            .state
            .queries
            .execute(call)
            .await
            .map_err(|error| to_status(ApiError::from(error)))?;
        // Dropping the results before their end (a client that went away) records it.
        let batches = futures::stream::unfold(Some((results, listed)), |state| async move {
            let (mut results, listed) = state?;
            match results.next().await {
                Some(Ok(batch)) => {
                    results.sent(batch.get_array_memory_size());
                    Some((Ok(batch), Some((results, listed))))
                }
                Some(Err(error)) => {
                    let status = to_status(ApiError::from(&error));
                    results.failed(error);
                    Some((Err(FlightError::Tonic(Box::new(status))), None))
                }
                None => {
                    results.completed();
                    None
                }
            }
        });
        Ok(Response::new(flight_data(schema, batches)))
    }

    /// The statement of a handle or ticket, if it is the caller's and still valid.
    pub(super) fn redeem(&self, handle: &[u8], caller: &Principal) -> Result<Statement, Status> {
        self.tickets
            .redeem(handle, &caller.id, &caller.issuer, now())
            .map_err(|error| Status::permission_denied(error.to_string()))
    }
}
