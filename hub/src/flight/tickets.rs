//! Flight SQL tickets: opaque to clients, self-contained and signed, so that any replica
//! that shares the hub's keys can serve a ticket another made; bound to the principal and
//! purpose that asked for it, and short-lived.
//!
//! A ticket is `HMAC-SHA256(key, body) || body`, the body the JSON of [`Statement`]; the key
//! is derived from the pseudonym key ([`crate::access::Access::derived_key`]).

use ring::hmac;
use serde::{Deserialize, Serialize};

/// How long a ticket may be redeemed after it was made, in seconds.
pub const TICKET_SECONDS: u64 = 300;

/// How long a prepared statement's handle may be used, in seconds: as long as a token.
pub const PREPARED_SECONDS: u64 = 3600;

/// What a ticket stands for: a statement to run, for whom, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub sql: String,
    pub purpose: String,
    /// The principal that asked for it, and the identity provider that vouched for them.
    pub principal: String,
    pub issuer: String,
    /// Unix seconds after which the ticket is refused.
    pub expires: u64,
    /// A prepared statement's bound parameters: one row, as an Arrow IPC stream in
    /// standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<String>,
    /// A prepared statement's handle, not a statement's ticket.
    #[serde(default)]
    pub prepared: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TicketError {
    #[error("the ticket is not one this hub issued")]
    Forged,
    #[error("the ticket has expired; ask for the statement's FlightInfo again")]
    Expired,
    #[error("the ticket was issued to another caller")]
    NotYours,
}

pub struct Tickets {
    key: hmac::Key,
}

impl Tickets {
    pub fn new(key: hmac::Key) -> Self {
        Self { key }
    }

    pub fn issue(&self, statement: &Statement) -> Vec<u8> {
        let body = serde_json::to_vec(statement).unwrap_or_default();
        let tag = hmac::sign(&self.key, &body);
        let mut ticket = tag.as_ref().to_vec();
        ticket.extend_from_slice(&body);
        ticket
    }

    /// The statement of `ticket`, if this hub signed it, it has not expired at `now` (Unix
    /// seconds), and `principal` of `issuer` is who it was issued to.
    pub fn redeem(
        &self,
        ticket: &[u8],
        principal: &str,
        issuer: &str,
        now: u64,
    ) -> Result<Statement, TicketError> {
        const TAG: usize = 32;
        if ticket.len() <= TAG {
            return Err(TicketError::Forged);
        }
        let (tag, body) = ticket.split_at(TAG);
        hmac::verify(&self.key, body, tag).map_err(|_| TicketError::Forged)?;
        let statement: Statement = serde_json::from_slice(body).map_err(|_| TicketError::Forged)?;
        if statement.expires < now {
            return Err(TicketError::Expired);
        }
        if statement.principal != principal || statement.issuer != issuer {
            return Err(TicketError::NotYours);
        }
        Ok(statement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tickets(secret: &[u8]) -> Tickets {
        Tickets::new(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    fn statement() -> Statement {
        Statement {
            sql: "SELECT 1".into(),
            purpose: "testing".into(),
            principal: "ann".into(),
            issuer: "https://hub".into(),
            expires: 1_000,
            parameters: None,
            prepared: false,
        }
    }

    #[test]
    fn a_ticket_serves_its_caller_until_it_expires_and_no_one_else() {
        let hub = tickets(b"one key");
        let ticket = hub.issue(&statement());
        assert_eq!(hub.redeem(&ticket, "ann", "https://hub", 999), Ok(statement()));
        // Another replica with the same key serves it.
        assert_eq!(
            tickets(b"one key").redeem(&ticket, "ann", "https://hub", 999),
            Ok(statement())
        );
        assert_eq!(
            hub.redeem(&ticket, "bob", "https://hub", 999),
            Err(TicketError::NotYours)
        );
        assert_eq!(
            hub.redeem(&ticket, "ann", "https://other", 999),
            Err(TicketError::NotYours)
        );
        assert_eq!(
            hub.redeem(&ticket, "ann", "https://hub", 1_001),
            Err(TicketError::Expired)
        );
    }

    #[test]
    fn a_changed_or_foreign_ticket_is_refused() {
        let hub = tickets(b"one key");
        let mut ticket = hub.issue(&statement());
        assert_eq!(
            tickets(b"another key").redeem(&ticket, "ann", "https://hub", 0),
            Err(TicketError::Forged)
        );
        let last = ticket.len() - 2;
        ticket[last] ^= 1;
        assert_eq!(
            hub.redeem(&ticket, "ann", "https://hub", 0),
            Err(TicketError::Forged)
        );
        assert_eq!(
            hub.redeem(b"short", "ann", "https://hub", 0),
            Err(TicketError::Forged)
        );
    }
}
