//! The Flight handshake: a client id and secret exchanged for a bearer token of the
//! built-in issuer ([`crate::identity::Identity::exchange`], as `POST /oauth/token` does),
//! answered in the `authorization` header as Flight clients expect.

use futures::StreamExt;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use arrow_flight::{HandshakeRequest, HandshakeResponse};

use super::FlightStream;
use super::status::to_status;
use crate::api::oauth::SignInError;
use crate::api::{ApiError, AppState};
use crate::identity::ExchangeError;

/// Exchanges `authorization: Basic base64(id:secret)`, or a first handshake payload of
/// `id:secret`, for a token; recorded as `token.issued` or `token.refused` first.
pub async fn handshake(
    state: &AppState,
    request: Request<Streaming<HandshakeRequest>>,
) -> Result<Response<FlightStream<HandshakeResponse>>, Status> {
    let basic = request
        .metadata()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(crate::api::oauth::basic_user_pass);
    let address = super::peer_address(&request);
    let credentials = match basic {
        Some(credentials) => credentials,
        None => {
            let mut stream = request.into_inner();
            let first = stream.next().await.transpose()?.unwrap_or_default();
            String::from_utf8(first.payload.to_vec()).unwrap_or_default()
        }
    };
    let Some((client_id, secret)) = credentials.split_once(':') else {
        return Err(Status::unauthenticated(
            "send the client id and secret as 'authorization: Basic base64(id:secret)'",
        ));
    };
    let token = match crate::api::oauth::sign_in(state, client_id, secret, address).await {
        Ok(token) => token,
        Err(SignInError::Refused(error)) => {
            let message = error.to_string();
            return Err(match error {
                ExchangeError::RateLimited(_) => Status::resource_exhausted(message),
                ExchangeError::Store | ExchangeError::Signing => Status::internal(message),
                _ => Status::unauthenticated(message),
            });
        }
        Err(SignInError::Audit(error)) => return Err(to_status(ApiError::from(error))),
    };
    let bearer = MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| Status::internal("the token cannot be sent as a header"))?;
    let answer = HandshakeResponse {
        protocol_version: 0,
        payload: token.into_bytes().into(),
    };
    let mut response: Response<FlightStream<HandshakeResponse>> =
        Response::new(Box::pin(futures::stream::once(async { Ok(answer) })));
    response.metadata_mut().insert("authorization", bearer);
    Ok(response)
}
