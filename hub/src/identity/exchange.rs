//! The client-credentials exchange (RFC 6749 §4.4) of the built-in issuer, as every front
//! door makes it: `POST /oauth/token` over HTTP, the Flight SQL handshake and the
//! PostgreSQL wire protocol's password; and the check of credentials it shares with
//! people's sign-in page. A failure never
//! tells whether the client id exists, and repeated failures per client id and per address
//! are refused for a while.

use std::net::IpAddr;

use super::Identity;
use super::tokens::IssuedToken;
use crate::store::{AccountKind, ClientRecord};

/// Why no token was issued.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("this hub does not issue tokens; use its identity provider")]
    NoIssuer,
    #[error("too many failed attempts; try again in {0} seconds")]
    RateLimited(u64),
    /// Unknown client, wrong secret or disabled client: one answer for all three.
    #[error("client authentication failed")]
    InvalidClient,
    #[error("client {0} waits for a security administrator's approval of its secret and roles")]
    Unapproved(String),
    /// An account of an earlier release that holds roles kept apart (RFC 6749 §5.2: the
    /// client may not use this grant).
    #[error("{0}; an operator splits the account with `causeway client roles`")]
    Separation(String),
    #[error("the hub could not check the client")]
    Store,
    #[error("the hub could not sign a token")]
    Signing,
}

impl Identity {
    /// A token for the client `client_id` of `secret`, asked for from `address`.
    pub async fn exchange(
        &self,
        client_id: &str,
        secret: &str,
        address: Option<IpAddr>,
    ) -> Result<(ClientRecord, IssuedToken), ExchangeError> {
        let issuer = self.issuer().ok_or(ExchangeError::NoIssuer)?;
        let client = self
            .check_credentials(client_id, secret, address, AccountKind::Service)
            .await?;
        let token = issuer.issue(&client).map_err(|error| {
            tracing::error!(%error, "cannot sign a token");
            ExchangeError::Signing
        })?;
        tracing::info!(client = %client.id, "token issued");
        Ok((client, token))
    }

    /// The account `id` of `kind` whose secret or password is `secret`, enabled, approved
    /// and holding roles one account may hold together; failures counted per id and per
    /// address, past their limits refused for a while. A service's secret never signs a
    /// person in, nor a person's password a service: the answer is the same as for a wrong
    /// secret.
    pub async fn check_credentials(
        &self,
        id: &str,
        secret: &str,
        address: Option<IpAddr>,
        kind: AccountKind,
    ) -> Result<ClientRecord, ExchangeError> {
        self.issuer().ok_or(ExchangeError::NoIssuer)?;
        let mut keys = vec![format!("client:{id}")];
        if let Some(address) = address {
            keys.push(format!("address:{address}"));
        }
        // Counted as failed until it succeeds, so that many attempts sent at once cannot all
        // pass the limit before the first is checked.
        if let Err(wait) = self.limiter.attempt(&keys) {
            return Err(ExchangeError::RateLimited(wait.as_secs().max(1)));
        }
        let account = self.clients.authenticate(id, secret).await.map_err(|error| {
            tracing::error!(%error, "client authentication failed to run");
            ExchangeError::Store
        })?;
        let Some(account) = account.filter(|account| account.kind == kind) else {
            let client = super::printable_client_id(id);
            tracing::info!(%client, "client authentication failed");
            return Err(ExchangeError::InvalidClient);
        };
        self.limiter.succeeded(&keys);
        if account.approved_by.is_none() {
            return Err(ExchangeError::Unapproved(account.id));
        }
        if let Err(conflict) = causeway_policies::check_separation(&account.roles) {
            return Err(ExchangeError::Separation(conflict.to_string()));
        }
        Ok(account)
    }
}
