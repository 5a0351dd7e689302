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
        call.client_address = super::peer_address(request);
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
                    results.sent(sent_bytes(&batch));
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
    pub(super) fn redeem(
        &self,
        handle: &[u8],
        caller: &Principal,
        prepared: bool,
    ) -> Result<Statement, Status> {
        let statement = self
            .tickets
            .redeem(handle, &caller.id, &caller.issuer, now())
            .map_err(|error| Status::permission_denied(error.to_string()))?;
        // A statement's ticket is no prepared statement's handle, nor the other way round:
        // each keeps its own lifetime.
        if statement.prepared != prepared {
            return Err(Status::permission_denied(if prepared {
                "that is a statement's ticket, not a prepared statement's handle"
            } else {
                "that is a prepared statement's handle, not a statement's ticket"
            }));
        }
        Ok(statement)
    }

    /// A prepared statement's handle for `caller`; a purpose the call states (its header or
    /// its session's), if any, must be the purpose it was prepared for.
    pub(super) fn redeem_prepared<T>(
        &self,
        handle: &[u8],
        caller: &Principal,
        request: &Request<T>,
    ) -> Result<Statement, Status> {
        let statement = self.redeem(handle, caller, true)?;
        match super::stated_purpose(request) {
            Some(asked) if asked != statement.purpose => Err(Status::invalid_argument(format!(
                "the statement was prepared for the purpose '{}', not '{asked}'; prepare it again for that purpose",
                statement.purpose
            ))),
            _ => Ok(statement),
        }
    }

    /// What `sql` would answer `caller` for `purpose`; a refusal is recorded as
    /// `query.refused`, as every refused statement is.
    pub(super) async fn described<T>(
        &self,
        caller: &Principal,
        sql: &str,
        purpose: &str,
        request: &Request<T>,
    ) -> Result<crate::query::Described, Status> {
        let mut call = QueryCall::new(caller.clone(), sql, purpose, FrontDoor::FlightSql);
        call.client_address = super::peer_address(request);
        self.state
            .queries
            .describe_recorded(&call)
            .await
            .map_err(|error| to_status(ApiError::from(error)))
    }
}

/// The bytes of `batch`'s values as Arrow IPC carries them: the buffers of its rows (a
/// slice's, not the whole buffers it shares), without the messages' headers and padding.
fn sent_bytes(batch: &datafusion::arrow::record_batch::RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|column| column.to_data().get_slice_memory_size().unwrap_or_default())
        .sum()
}
