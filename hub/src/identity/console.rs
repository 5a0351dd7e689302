//! Where the hub's console signs people in: the built-in provider, or an external OpenID
//! Connect provider at which the console is registered as a public client
//! (`[auth.console]`). The console reads which from `GET /console/config.json`, then runs the
//! authorization-code flow with PKCE against it; the provider's token endpoint must let the
//! console's origin call it (CORS), as the built-in provider lets the applications registered
//! with it ([`Identity::registered_origin`]).

use serde::Serialize;

use super::external::ExternalIssuer;
use super::{CONSOLE_APPLICATION, Identity, IssuerConfigError, KeysFetchError};
use crate::config::AuthConfig;

/// The provider of the console's sign-in.
pub enum ConsoleSignIn {
    /// The built-in provider, as the application `console`.
    Builtin,
    /// `authenticator.external[issuer]`, as the application `client_id` there.
    External { issuer: usize, client_id: String },
}

impl ConsoleSignIn {
    pub fn from_config(auth: &AuthConfig, external: &[ExternalIssuer]) -> Result<Self, IssuerConfigError> {
        let Some(provider) = &auth.console.provider else {
            return Ok(Self::Builtin);
        };
        let issuer = external
            .iter()
            .position(|known| known.issuer().trim_end_matches('/') == provider.trim_end_matches('/'))
            .ok_or_else(|| IssuerConfigError::ConsoleProviderUnknown(provider.clone()))?;
        let client_id = auth
            .console
            .client_id
            .clone()
            .ok_or_else(|| IssuerConfigError::ConsoleClientIdMissing(provider.clone()))?;
        Ok(Self::External { issuer, client_id })
    }
}

/// What the console needs to sign a person in.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsoleProvider {
    /// The `iss` of the ID tokens the console accepts.
    pub issuer: String,
    /// The console's client id at the provider.
    pub client_id: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    /// Where a refresh token is revoked at sign-out (RFC 7009), when the provider has one.
    pub revocation_endpoint: Option<String>,
}

impl Identity {
    /// The console's provider; `None` when the built-in one is off and no other is named.
    pub async fn console_provider(&self) -> Result<Option<ConsoleProvider>, KeysFetchError> {
        match &self.console {
            ConsoleSignIn::Builtin => Ok(self.issuer().map(|issuer| ConsoleProvider {
                issuer: issuer.url.clone(),
                client_id: CONSOLE_APPLICATION.to_owned(),
                // The console's own origin, however the hub is reached.
                authorization_endpoint: "/oauth/authorize".into(),
                token_endpoint: "/oauth/token".into(),
                revocation_endpoint: Some("/oauth/revoke".into()),
            })),
            ConsoleSignIn::External { issuer, client_id } => {
                let Some(provider) = self.authenticator.external.get(*issuer) else {
                    return Ok(None);
                };
                let endpoints = provider.endpoints().await?;
                Ok(Some(ConsoleProvider {
                    issuer: provider.issuer().to_owned(),
                    client_id: client_id.clone(),
                    authorization_endpoint: endpoints.authorization_endpoint,
                    token_endpoint: endpoints.token_endpoint,
                    revocation_endpoint: endpoints.revocation_endpoint,
                }))
            }
        }
    }

    /// The origin of the console's external provider, which its pages call for tokens: for
    /// the `connect-src` of their Content-Security-Policy.
    pub fn console_provider_origin(&self) -> Option<String> {
        let ConsoleSignIn::External { issuer, .. } = &self.console else {
            return None;
        };
        let provider = self.authenticator.external.get(*issuer)?;
        let origin = url::Url::parse(provider.issuer()).ok()?.origin();
        origin.is_tuple().then(|| origin.ascii_serialization())
    }

    /// Whether a browser's `Origin` is that of an application registered with the built-in
    /// provider (another hub's console), which may then call its token and revocation
    /// endpoints from its pages (CORS).
    pub fn registered_origin(&self, origin: &str) -> bool {
        let Ok(origin) = url::Url::parse(origin) else {
            return false;
        };
        self.applications
            .iter()
            .flat_map(|application| &application.redirect_uris)
            .filter_map(|uri| url::Url::parse(uri).ok())
            .any(|registered| {
                registered.scheme() == origin.scheme()
                    && registered.host() == origin.host()
                    && (registered.port_or_known_default() == origin.port_or_known_default()
                        || super::sign_in::any_port(&registered))
            })
    }
}
