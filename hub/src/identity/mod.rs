//! Identity: who calls. The built-in OAuth2 authorization server (clients, signing keys,
//! tokens), external OpenID Connect providers, and the check of every bearer token.

mod clients;
mod console;
mod duties;
mod errors;
mod exchange;
mod external;
mod keys;
mod limiter;
mod ongoing;
mod sign_in;
mod tokens;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use causeway_policies::{Principal, Role, RolesConflict, check_separation};
pub use clients::{
    ClientError, ClientService, ClientSpec, MIN_PASSWORD_CHARS, PersonSpec, printable_client_id,
};
pub use duties::{AccountChange, DutyRefusal, check_account_change};

pub use console::{ConsoleProvider, ConsoleSignIn};
pub use errors::{IssueError, IssuerConfigError, KeysFetchError, TokenError};
pub use exchange::ExchangeError;
pub use keys::{KeyError, KeyRing, public_keys, verify_signature};
pub use limiter::FailureLimiter;
pub use ongoing::OngoingWork;
pub use sign_in::{
    Application, AuthorizationRequest, CLI_APPLICATION, CLI_CALLBACK, CONSOLE_APPLICATION, CONSOLE_CALLBACK,
    GrantError, PersonTokens, challenge, random_token, redirect_matches, valid_challenge,
};
pub use tokens::{Authenticator, BuiltinIssuer};

use crate::config::Config;
use crate::store::MetadataStore;

/// Everything identity needs at run time.
pub struct Identity {
    pub authenticator: Authenticator,
    pub clients: ClientService,
    pub limiter: FailureLimiter,
    /// Clients whose tokens are refused: disabled ones. Read at every request; changed at
    /// once when a client is disabled here or through the operator socket, and read again
    /// from the store every few seconds for changes made elsewhere.
    revoked: RwLock<HashSet<String>>,
    /// The roles each client of the built-in issuer holds now, read with the disabled ones:
    /// a token's roles count only while its client still holds them.
    roles: RwLock<HashMap<String, BTreeSet<Role>>>,
    /// When each client's secret or password last changed (milliseconds since the Unix
    /// epoch), read with the disabled ones: tokens of an older secret are refused, so that
    /// a reset ends whatever was signed in with the old one.
    secrets_changed: RwLock<HashMap<String, u64>>,
    /// The work under way of each principal, ended with their access.
    access: Arc<OngoingWork>,
    /// Reads of the clients take turns, so that an older read never replaces a newer one's
    /// roles.
    refreshing: tokio::sync::Mutex<()>,
    /// Authorization codes and refresh tokens of people's sign-ins.
    store: MetadataStore,
    /// Applications people sign in to (the console first).
    applications: Vec<Application>,
    session_ttl: std::time::Duration,
    /// Where the console signs people in.
    console: ConsoleSignIn,
}

/// Why a verified token is not let in.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the token's client is disabled")]
    Disabled,
    #[error("the token was issued before its client's secret or password changed; get a new one")]
    SecretChanged,
    #[error("{0}; the account must be split by an operator")]
    RolesConflict(#[from] RolesConflict),
}

impl Identity {
    /// Sets up identity for a hub reachable at `public_url`, which the built-in issuer uses
    /// as its `iss`.
    pub fn new(config: &Config, public_url: &str, store: MetadataStore) -> Result<Self, IdentityError> {
        let auth = &config.auth;
        let builtin = if auth.builtin_issuer {
            let keys = KeyRing::open(&config.data_paths().keys())?;
            Some(BuiltinIssuer {
                url: public_url.to_owned(),
                audience: auth.audience.clone(),
                ttl: auth.token_ttl,
                keys: Arc::new(keys),
            })
        } else {
            None
        };
        let http = reqwest::Client::new();
        let external = auth
            .issuers
            .iter()
            .map(|issuer| external::ExternalIssuer::new(issuer, &auth.audience, http.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let console = ConsoleSignIn::from_config(auth, &external)?;
        Ok(Self {
            authenticator: Authenticator {
                builtin,
                external,
                clock_skew: auth.clock_skew,
            },
            clients: ClientService::new(store.clone()),
            limiter: FailureLimiter::new(
                auth.max_failed_attempts,
                auth.max_failed_attempts_per_address,
                auth.failure_window,
            ),
            revoked: RwLock::new(HashSet::new()),
            roles: RwLock::new(HashMap::new()),
            secrets_changed: RwLock::new(HashMap::new()),
            access: Arc::new(OngoingWork::default()),
            refreshing: tokio::sync::Mutex::new(()),
            store,
            applications: sign_in::applications(
                public_url,
                &auth.audience,
                &auth
                    .applications
                    .iter()
                    .map(|application| Application {
                        client_id: application.client_id.clone(),
                        redirect_uris: application.redirect_uris.clone(),
                    })
                    .collect::<Vec<_>>(),
            )?,
            session_ttl: auth.session_ttl,
            console,
        })
    }

    /// Refuses the tokens of client `id` from now on, and ends the queries it is running.
    pub fn revoke(&self, id: &str) {
        // A poisoned set is still the set: recover it rather than forget revocations.
        let mut revoked = self.revoked.write().unwrap_or_else(PoisonError::into_inner);
        revoked.insert(id.to_owned());
        drop(revoked);
        self.access.end(id);
    }

    /// The work under way of each principal, which the query service ties its queries to.
    pub fn ongoing(&self) -> Arc<OngoingWork> {
        Arc::clone(&self.access)
    }

    /// Whether `principal`'s tokens are refused: a client of the built-in issuer that has
    /// been disabled.
    pub fn is_revoked(&self, principal: &Principal) -> bool {
        self.is_builtin(principal)
            && self
                .revoked
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&principal.id)
    }

    /// Lets a verified principal in, or says why not: a disabled client is refused; a
    /// client of the built-in issuer keeps only the roles it still holds (a role taken away
    /// counts no more, before its tokens expire); and no principal, whoever vouched for it,
    /// acts with roles that separation of duties keeps apart.
    pub fn admit(&self, mut principal: Principal) -> Result<Principal, Refusal> {
        if self.is_revoked(&principal) {
            return Err(Refusal::Disabled);
        }
        if self.is_builtin(&principal) {
            let changed = self
                .secrets_changed
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&principal.id)
                .copied();
            // A built-in token carries the secret it was issued under; one from before
            // that claim is judged by its `iat`, to the second, and one with neither is
            // refused.
            let version = principal.secret_version.unwrap_or_else(|| {
                principal
                    .issued_at
                    .map_or(0, |iat| iat.saturating_mul(1000) + 999)
            });
            if changed.is_some_and(|changed| version < changed) {
                return Err(Refusal::SecretChanged);
            }
        }
        if self.is_builtin(&principal) {
            let held = self.roles.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(held) = held.get(&principal.id) {
                principal.roles.retain(|role| held.contains(role));
            }
        }
        check_separation(&principal.roles)?;
        Ok(principal)
    }

    /// Records that client `id`'s secret or password changed at `changed_at` (its new
    /// `secret_rotated_at`): every token issued under an older one is refused from now on,
    /// and the queries it is running end.
    pub fn secret_changed(&self, id: &str, changed_at: &str) {
        let version = tokens::secret_version(changed_at);
        let mut changed = self
            .secrets_changed
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let known = changed.entry(id.to_owned()).or_insert(version);
        *known = (*known).max(version);
        drop(changed);
        self.access.end(id);
    }

    /// Records the roles a client holds now, after a change made here.
    pub fn holds(&self, id: &str, roles: BTreeSet<Role>) {
        let mut held = self.roles.write().unwrap_or_else(PoisonError::into_inner);
        held.insert(id.to_owned(), roles);
    }

    fn is_builtin(&self, principal: &Principal) -> bool {
        self.issuer().is_some_and(|issuer| issuer.url == principal.issuer)
    }

    /// Reads the disabled clients, and every client's roles, from the store. A client is
    /// never enabled again, so what is read only adds to the set of disabled ones.
    pub async fn refresh_revocations(&self) -> Result<(), ClientError> {
        let _turn = self.refreshing.lock().await;
        let clients = self.clients.list().await?;
        let mut revoked = self.revoked.write().unwrap_or_else(PoisonError::into_inner);
        // Disabled, or their secret changed, elsewhere (the operator's command line,
        // another replica): their work under way ends too.
        let mut ended = Vec::new();
        for client in clients.iter().filter(|client| client.disabled) {
            if revoked.insert(client.id.clone()) {
                ended.push(client.id.clone());
            }
        }
        drop(revoked);
        let mut changed = self
            .secrets_changed
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for client in &clients {
            let at = tokens::secret_version(&client.secret_rotated_at);
            let known = changed.entry(client.id.clone()).or_insert(at);
            if at > *known {
                *known = at;
                // Changed elsewhere (the operator's command line, another replica).
                ended.push(client.id.clone());
            }
        }
        drop(changed);
        for id in &ended {
            self.access.end(id);
        }
        let mut held = self.roles.write().unwrap_or_else(PoisonError::into_inner);
        *held = clients
            .into_iter()
            .map(|client| (client.id, client.roles))
            .collect();
        Ok(())
    }

    pub fn issuer(&self) -> Option<&BuiltinIssuer> {
        self.authenticator.builtin.as_ref()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("invalid [auth] configuration: {0}")]
    Config(#[from] IssuerConfigError),
    #[error("cannot read the disabled clients: {0}")]
    Revocations(#[source] ClientError),
}
