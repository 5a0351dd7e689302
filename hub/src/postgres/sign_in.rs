//! Signing in over the wire protocol. The client sends its password in clear text
//! (`AuthenticationCleartextPassword`), inside TLS: the user name is a client id and the
//! password its client secret, exchanged for a token through the built-in issuer (the
//! same rate limits and `token.issued`/`token.refused` records as `POST /oauth/token`), or
//! the password is a bearer token itself (any user name), so that identities of trusted
//! external issuers sign in too. SCRAM-SHA-256 is not offered: it needs the server to keep
//! a salted SCRAM verifier of each secret, and the hub keeps only an Argon2id hash, which
//! SCRAM cannot be run against; a token as password could not be used with it either.
//!
//! Without `[server.tls]` the wire port only listens on a loopback address (checked at
//! start); with it, a connection that does not negotiate TLS is refused before it can send
//! a password.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{DefaultServerParameterProvider, StartupHandler, finish_authentication};
use pgwire::api::{
    ClientInfo, METADATA_USER, PgWireConnectionState, PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::cancel::Cancels;
use super::session::WireSession;
use super::sqlstate;
use crate::api::oauth::SignInError;
use crate::api::{ApiError, AppState, authenticate};
use crate::identity::ExchangeError;

pub struct SignIn {
    state: AppState,
    require_tls: bool,
    keys: RandomPidSecretKeyGenerator,
    parameters: DefaultServerParameterProvider,
    cancels: Arc<Cancels>,
}

impl SignIn {
    pub fn new(state: AppState, require_tls: bool, cancels: Arc<Cancels>) -> Self {
        let mut parameters = DefaultServerParameterProvider::default();
        parameters.server_version = super::SERVER_VERSION.to_owned();
        parameters.is_superuser = false;
        parameters.default_transaction_read_only = true;
        parameters.date_style = "ISO, MDY".to_owned();
        Self {
            state,
            require_tls,
            keys: RandomPidSecretKeyGenerator::default(),
            parameters,
            cancels,
        }
    }

    /// The token `user` and `password` sign in with.
    async fn token(&self, user: &str, password: &str, client: &impl ClientInfo) -> PgWireResult<String> {
        let address = Some(client.socket_addr());
        if looks_like_a_token(password) {
            return Ok(password.to_owned());
        }
        match crate::api::oauth::sign_in(&self.state, user, password, address).await {
            Ok(token) => Ok(token),
            Err(SignInError::Refused(ExchangeError::RateLimited(seconds))) => Err(sqlstate::response(
                "FATAL",
                "28000",
                format!("too many failed sign-ins; try again in {seconds} seconds"),
            )),
            Err(SignInError::Refused(ExchangeError::Store | ExchangeError::Signing)) => {
                Err(sqlstate::response(
                    "FATAL",
                    "58000",
                    "the hub could not check the credentials; try again",
                ))
            }
            Err(SignInError::Refused(error)) => Err(sqlstate::response(
                "FATAL",
                "28P01",
                format!("password authentication failed for user \"{user}\": {error}"),
            )),
            Err(SignInError::Audit(error)) => Err(fatal(&ApiError::from(error))),
        }
    }
}

/// A JSON Web Token: three base64url parts, the first a JSON header (`eyJ`).
fn looks_like_a_token(password: &str) -> bool {
    password.starts_with("eyJ") && password.split('.').count() == 3
}

fn fatal(error: &ApiError) -> PgWireError {
    sqlstate::response("FATAL", sqlstate::sqlstate(error.code), error.message.clone())
}

/// The subject of the client's certificate, under mutual TLS.
fn certificate_subject(client: &impl ClientInfo) -> Option<String> {
    client
        .client_certificates()
        .and_then(|certificates| certificates.first())
        .and_then(|certificate| crate::server::tls::subject(certificate))
}

#[async_trait]
impl StartupHandler for SignIn {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                if self.require_tls && !client.is_secure() {
                    return Err(sqlstate::response(
                        "FATAL",
                        "28000",
                        "this hub takes PostgreSQL connections over TLS only: connect with sslmode=require (or verify-full)",
                    ));
                }
                pgwire::api::auth::protocol_negotiation(client, startup).await?;
                pgwire::api::auth::save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::CleartextPassword,
                    ))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(password) => {
                let password = password.into_password()?;
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .ok_or(PgWireError::UserNameRequired)?;
                let token = self.token(&user, &password.password, client).await?;
                let certificate = certificate_subject(client);
                // The token is checked as every front door checks one (a disabled client,
                // an untrusted issuer, separation of duties).
                authenticate(
                    &self.state,
                    Some(&format!("Bearer {token}")),
                    Some(client.socket_addr()),
                    certificate.clone(),
                )
                .await
                .map_err(|error| match error.code {
                    "invalid_token" | "unauthenticated" => sqlstate::response(
                        "FATAL",
                        "28P01",
                        format!(
                            "password authentication failed for user \"{user}\": {}",
                            error.message
                        ),
                    ),
                    _ => fatal(&error),
                })?;
                let (pid, secret) = self.keys.generate(client);
                let registered = self.cancels.register(pid, &secret);
                client.set_pid_and_secret_key(pid, secret);
                let options = client.metadata().get("options").cloned();
                client.session_extensions().insert(WireSession::new(
                    token,
                    client.socket_addr(),
                    certificate,
                    options.as_deref(),
                    registered,
                ));
                finish_authentication(client, &self.parameters).await?;
            }
            _ => {}
        }
        Ok(())
    }
}
