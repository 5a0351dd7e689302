//! The errors of identity that more than one of its modules name: why a token was refused,
//! why an external issuer is misconfigured or its keys cannot be fetched, why a token
//! cannot be signed. Kept apart so that tokens and external issuers both import them
//! without importing each other.

/// Why a token was not accepted. The messages are safe to show the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("tokens signed with {0} are not accepted")]
    AlgorithmNotAllowed(String),
    #[error("the token's issuer is not trusted")]
    UnknownIssuer,
    #[error("the token is signed with an unknown key")]
    UnknownKey,
    #[error("the token's signature is not valid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token lacks the claim '{0}'")]
    MissingClaim(String),
    #[error("the token's issuer cannot be reached to check it; try again shortly")]
    IssuerUnavailable,
}

/// An `[[auth.issuers]]` or `[[auth.applications]]` entry the hub cannot use.
#[derive(Debug, thiserror::Error)]
pub enum IssuerConfigError {
    /// RFC 6749 §3.1.2: an absolute URI without a fragment; RFC 9700 §2.1: HTTPS, or HTTP
    /// on a loopback address.
    #[error(
        "redirect URI '{uri}' of application {application}: use an absolute https:// URI (http:// only on a loopback address) without a fragment"
    )]
    RedirectUri { application: String, uri: String },
    #[error(
        "application {0} has the name of the hub's token audience (auth.audience): choose another client_id"
    )]
    ApplicationIsAudience(String),
    #[error(
        "auth.console.provider '{0}' is none of auth.issuers: name the issuer there too, or leave it out for the built-in provider"
    )]
    ConsoleProviderUnknown(String),
    #[error(
        "auth.console.provider '{0}' needs auth.console.client_id: the console's client id at that provider"
    )]
    ConsoleClientIdMissing(String),
    #[error("unknown algorithm '{name}' for issuer {issuer}")]
    UnknownAlgorithm {
        name: String,
        issuer: String,
        #[source]
        source: jsonwebtoken::errors::Error,
    },
}

/// Why an external issuer's keys could not be fetched. For the hub's log: it names URLs of
/// the provider, never a token.
#[derive(Debug, thiserror::Error)]
pub enum KeysFetchError {
    #[error("{url}: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: HTTP {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error("the discovery document names the issuer {named}, not {expected}")]
    WrongIssuer { named: String, expected: String },
}

/// Why the built-in issuer could not sign a token.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no signing key")]
    NoSigningKey,
    #[error(transparent)]
    Sign(#[from] jsonwebtoken::errors::Error),
}
