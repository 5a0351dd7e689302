//! People's sign-in: the built-in issuer as an OpenID Connect provider for the console and
//! other registered applications. The authorization-code flow (RFC 6749 §4.1) with PKCE
//! S256 required (RFC 7636; OAuth 2.0 Security BCP, RFC 9700 §2.1.1), redirect URIs
//! compared exactly with the registered ones (RFC 9700 §4.1.3), authorization codes used
//! once and a minute long, and refresh tokens rotated at every use: a refresh token or code
//! used twice revokes the whole sign-in (RFC 9700 §4.14.2), and every sign-in ends after
//! `auth.session_ttl` whatever is refreshed.
//!
//! Applications are public clients (a browser holds no secret): each is a client id and the
//! redirect URIs it may receive codes at. The hub's own console is always registered.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

use super::Identity;
use super::errors::IssuerConfigError;
use super::exchange::ExchangeError;
use super::tokens::IssuedToken;
use crate::store::{AccountKind, ClientRecord, NewCode, RefreshRecord, StoreError, Taken, unix_now};

/// The client id of the hub's own web console.
pub const CONSOLE_APPLICATION: &str = "console";
/// Where the console receives its authorization code, under the hub's public URL.
pub const CONSOLE_CALLBACK: &str = "/console/callback";
/// The client id of the command line, signing a person in through their browser.
pub const CLI_APPLICATION: &str = "causeway-cli";
/// Where the command line receives its code: a loopback address without a port, at which
/// it may listen on any (RFC 8252 §7.3).
pub const CLI_CALLBACK: &str = "http://127.0.0.1/callback";
/// How long an authorization code may wait to be exchanged (RFC 6749 §4.1.2: at most ten
/// minutes recommended; a browser redirect takes a second).
const CODE_TTL: Duration = Duration::from_secs(60);

/// An application people sign in to: a public client and its registered redirect URIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
}

/// An authorization request whose application and redirect URI are registered, with a
/// PKCE challenge (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub nonce: Option<String>,
}

/// What a person signed in to an application holds.
pub struct PersonTokens {
    pub person: ClientRecord,
    pub access: IssuedToken,
    pub id_token: String,
    pub refresh_token: String,
    /// The sign-in these tokens belong to.
    pub family: String,
}

/// Why a code or refresh token gave no tokens (RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// `invalid_grant`: a code or refresh token that is unknown, expired, used, revoked, for
    /// another application or redirect URI, or whose PKCE verifier does not match; or an
    /// account that may no longer sign in. The account, when the code or token named one.
    #[error("{reason}")]
    InvalidGrant {
        reason: &'static str,
        account: Option<String>,
    },
    /// `invalid_client`: no such application.
    #[error("unknown application")]
    InvalidClient,
    /// A code or refresh token used a second time: its sign-in is revoked.
    #[error("the code or refresh token was already used; that sign-in is ended")]
    Replayed { family: String, account: String },
    #[error("this hub does not issue tokens; use its identity provider")]
    NoIssuer,
    #[error("the hub could not keep or read the sign-in")]
    Store(#[from] StoreError),
    #[error("the hub could not sign a token")]
    Signing,
}

impl Identity {
    /// The registered application of `client_id`.
    pub fn application(&self, client_id: &str) -> Option<&Application> {
        self.applications
            .iter()
            .find(|application| application.client_id == client_id)
    }

    /// The person whose name and password these are (the limits of client secrets apply).
    pub async fn check_password(
        &self,
        id: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<ClientRecord, ExchangeError> {
        self.check_credentials(id, password, address, AccountKind::Person)
            .await
    }

    /// A new authorization code for `person`, answering `request`.
    pub async fn issue_code(
        &self,
        person: &ClientRecord,
        request: &AuthorizationRequest,
    ) -> Result<String, StoreError> {
        let code = random_token().ok_or_else(no_randomness)?;
        let family = random_token().ok_or_else(no_randomness)?;
        self.store
            .insert_authorization_code(NewCode {
                code_hash: &hash(&code),
                account: &person.id,
                application: &request.client_id,
                redirect_uri: &request.redirect_uri,
                code_challenge: &request.code_challenge,
                nonce: request.nonce.as_deref(),
                family: &family,
                auth_time: unix_now(),
                expires_at: unix_now() + CODE_TTL.as_secs() as i64,
            })
            .await?;
        Ok(code)
    }

    /// Tokens for the code `code` that `client_id` received at `redirect_uri`, proven by
    /// the PKCE `verifier` (RFC 6749 §4.1.3, RFC 7636 §4.6).
    pub async fn redeem_code(
        &self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<PersonTokens, GrantError> {
        self.application(client_id).ok_or(GrantError::InvalidClient)?;
        let taken = self.store.take_authorization_code(&hash(code)).await?;
        let record = self
            .first_use(taken, "unknown authorization code", |record| {
                (record.family, record.account)
            })
            .await?;
        let refused = |reason| invalid(reason, Some(&record.account));
        if record.expires_at < unix_now() {
            return Err(refused("the authorization code has expired"));
        }
        if record.application != client_id || record.redirect_uri != redirect_uri {
            return Err(refused(
                "the authorization code was issued to another application or redirect URI",
            ));
        }
        if !valid_verifier(verifier) || challenge(verifier) != record.code_challenge {
            return Err(refused("the code_verifier does not match the code_challenge"));
        }
        let sign_in = SignIn {
            family: &record.family,
            auth_time: record.auth_time,
            expires_at: unix_now() + self.session_ttl.as_secs() as i64,
        };
        self.tokens(&record.account, client_id, &sign_in, record.nonce.as_deref())
            .await
    }

    /// New tokens for a refresh token of `client_id`, which is used up; its sign-in's end
    /// stays where it was.
    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> Result<PersonTokens, GrantError> {
        self.application(client_id).ok_or(GrantError::InvalidClient)?;
        let taken = self.store.take_refresh_token(&hash(refresh_token)).await?;
        let record = self
            .first_use(taken, "unknown refresh token", |record| {
                (record.family, record.account)
            })
            .await?;
        let refused = |reason| invalid(reason, Some(&record.account));
        if record.application != client_id {
            return Err(refused("the refresh token was issued to another application"));
        }
        if record.expires_at < unix_now() {
            return Err(refused("the sign-in has expired; sign in again"));
        }
        if self.store.sign_in_revoked(&record.family).await? {
            return Err(refused("the sign-in has ended; sign in again"));
        }
        let sign_in = SignIn {
            family: &record.family,
            auth_time: record.auth_time,
            expires_at: record.expires_at,
        };
        self.tokens(&record.account, client_id, &sign_in, None).await
    }

    /// A code or refresh token at its first use; at a second, its sign-in (`sign_in` gives
    /// its family and account) is ended and the use refused as a replay.
    async fn first_use<T>(
        &self,
        taken: Taken<T>,
        unknown: &'static str,
        sign_in: impl FnOnce(T) -> (String, String),
    ) -> Result<T, GrantError> {
        match taken {
            Taken::Fresh(record) => Ok(record),
            Taken::Reused(record) => {
                let (family, account) = sign_in(record);
                // One of a sign-in already ended (signed out, a new password) was used up by
                // that end, not by a thief: refused as ended, not recorded as a replay.
                if self.store.sign_in_revoked(&family).await? {
                    return Err(invalid("the sign-in has ended; sign in again", Some(&account)));
                }
                self.store.revoke_sign_in(&family).await?;
                Err(GrantError::Replayed { family, account })
            }
            Taken::Unknown => Err(invalid(unknown, None)),
        }
    }

    /// Ends the sign-in a refresh token of `client_id` belongs to (RFC 7009): the account
    /// and sign-in ended, or none for a token that is unknown or another application's
    /// (which RFC 7009 §2.2 answers alike).
    pub async fn sign_out(
        &self,
        client_id: &str,
        refresh_token: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let Some(record) = self.store.refresh_token(&hash(refresh_token)).await? else {
            return Ok(None);
        };
        if record.application != client_id {
            return Ok(None);
        }
        self.store.revoke_sign_in(&record.family).await?;
        Ok(Some((record.account, record.family)))
    }

    /// An access token, an ID token and a refresh token for `account`, if it may still sign
    /// in: a person, enabled, approved, with roles one account may hold together.
    async fn tokens(
        &self,
        account: &str,
        client_id: &str,
        sign_in: &SignIn<'_>,
        nonce: Option<&str>,
    ) -> Result<PersonTokens, GrantError> {
        let issuer = self.issuer().ok_or(GrantError::NoIssuer)?;
        let person = self
            .store
            .client(account)
            .await?
            .filter(|person| {
                person.kind == AccountKind::Person
                    && !person.disabled
                    && person.approved_by.is_some()
                    && causeway_policies::check_separation(&person.roles).is_ok()
            })
            .ok_or_else(|| invalid("the account may not sign in", Some(account)))?;
        let refresh_token = random_token().ok_or(GrantError::Signing)?;
        self.store
            .insert_refresh_token(
                &hash(&refresh_token),
                &RefreshRecord {
                    family: sign_in.family.to_owned(),
                    account: person.id.clone(),
                    application: client_id.to_owned(),
                    auth_time: sign_in.auth_time,
                    expires_at: sign_in.expires_at,
                },
            )
            .await?;
        // No access token outlives its sign-in.
        let left = Duration::from_secs(u64::try_from(sign_in.expires_at - unix_now()).unwrap_or_default());
        let access = issuer
            .issue_for(&person, issuer.ttl.min(left))
            .map_err(|_| GrantError::Signing)?;
        let id_token = issuer
            .issue_id_token(
                &person,
                client_id,
                nonce,
                u64::try_from(sign_in.auth_time).unwrap_or_default(),
            )
            .map_err(|_| GrantError::Signing)?;
        Ok(PersonTokens {
            person,
            access,
            id_token,
            refresh_token,
            family: sign_in.family.to_owned(),
        })
    }
}

/// A sign-in as its tokens carry it on.
struct SignIn<'a> {
    family: &'a str,
    auth_time: i64,
    /// Its end (Unix seconds), however often it is refreshed.
    expires_at: i64,
}

fn invalid(reason: &'static str, account: Option<&str>) -> GrantError {
    GrantError::InvalidGrant {
        reason,
        account: account.map(str::to_owned),
    }
}

/// The applications of a hub at `public_url` whose access tokens are for `audience`: its
/// console and its command line, then those configured, whose redirect URIs must be absolute, without a fragment,
/// and HTTPS unless on loopback. No application may be named as the audience: its ID tokens,
/// signed by the same keys, would pass for access tokens.
pub fn applications(
    public_url: &str,
    audience: &str,
    configured: &[Application],
) -> Result<Vec<Application>, IssuerConfigError> {
    for application in configured {
        if application.client_id == audience {
            return Err(IssuerConfigError::ApplicationIsAudience(
                application.client_id.clone(),
            ));
        }
        for uri in &application.redirect_uris {
            let acceptable = url::Url::parse(uri).is_ok_and(|parsed| {
                parsed.fragment().is_none()
                    && (parsed.scheme() == "https"
                        || (parsed.scheme() == "http"
                            && match parsed.host() {
                                Some(url::Host::Domain(name)) => name == "localhost",
                                Some(url::Host::Ipv4(address)) => address.is_loopback(),
                                Some(url::Host::Ipv6(address)) => address.is_loopback(),
                                None => false,
                            }))
            });
            if !acceptable {
                return Err(IssuerConfigError::RedirectUri {
                    application: application.client_id.clone(),
                    uri: uri.clone(),
                });
            }
        }
    }
    let console = Application {
        client_id: CONSOLE_APPLICATION.to_owned(),
        redirect_uris: vec![format!("{}{CONSOLE_CALLBACK}", public_url.trim_end_matches('/'))],
    };
    let cli = Application {
        client_id: CLI_APPLICATION.to_owned(),
        redirect_uris: vec![CLI_CALLBACK.to_owned()],
    };
    let mut applications = vec![console, cli];
    for application in configured {
        match applications
            .iter_mut()
            .find(|known| known.client_id == application.client_id)
        {
            // More redirect URIs for the console (another name the hub is reached by).
            Some(known) => known
                .redirect_uris
                .extend(application.redirect_uris.iter().cloned()),
            None => applications.push(application.clone()),
        }
    }
    Ok(applications)
}

/// Whether a registered redirect URI is a loopback IP literal without a port, at which a
/// native or local application may be reached on any port (RFC 8252 §7.3).
pub fn any_port(registered: &url::Url) -> bool {
    registered.scheme() == "http"
        && registered.port().is_none()
        && match registered.host() {
            Some(url::Host::Ipv4(address)) => address.is_loopback(),
            Some(url::Host::Ipv6(address)) => address.is_loopback(),
            _ => false,
        }
}

/// Whether `requested` is the registered redirect URI `registered`: the same string
/// (RFC 9700 §4.1.3: exact matching), or, for a loopback IP literal registered without a
/// port, the same URI with any port.
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(registered), Ok(mut requested)) = (url::Url::parse(registered), url::Url::parse(requested))
    else {
        return false;
    };
    any_port(&registered) && requested.set_port(None).is_ok() && requested == registered
}

/// Whether `text` is a PKCE code verifier: 43 to 128 unreserved characters (RFC 7636 §4.1).
pub fn valid_verifier(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `text` can be an S256 code challenge: base64url of a SHA-256, 43 characters.
pub fn valid_challenge(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'))
}

/// The S256 challenge of a verifier: BASE64URL(SHA256(verifier)) (RFC 7636 §4.2).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

/// 32 random bytes, base64url: a code, a refresh token or a sign-in family.
pub fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// What is kept of a code or refresh token: enough to find it, nothing to use it with.
fn hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()))
}

fn no_randomness() -> StoreError {
    StoreError::Corrupt("no randomness available".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s_example() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(valid_verifier(verifier));
        assert_eq!(challenge(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(valid_challenge(&challenge(verifier)));
        assert!(!valid_verifier("short"));
        assert!(!valid_verifier(&format!("{verifier} with spaces")));
    }

    #[test]
    fn the_console_is_registered_at_the_hubs_own_url() {
        let configured = [
            Application {
                client_id: "console".into(),
                redirect_uris: vec!["https://hub.example/console/callback".into()],
            },
            Application {
                client_id: "district-console".into(),
                redirect_uris: vec!["https://district.example/console/callback".into()],
            },
        ];
        let applications = applications("http://127.0.0.1:8080/", "causeway", &configured).unwrap();
        assert_eq!(applications.len(), 3);
        assert_eq!(applications[1].client_id, "causeway-cli");
        assert_eq!(
            applications[0].redirect_uris,
            [
                "http://127.0.0.1:8080/console/callback",
                "https://hub.example/console/callback"
            ]
        );
        assert_eq!(applications[2].client_id, "district-console");
        for uri in [
            "http://district.example/cb",
            "https://district.example/cb#x",
            "console/callback",
        ] {
            let bad = Application {
                client_id: "bad".into(),
                redirect_uris: vec![uri.into()],
            };
            assert!(
                super::applications("http://127.0.0.1:8080", "causeway", &[bad]).is_err(),
                "{uri}"
            );
        }
        let audience = Application {
            client_id: "causeway".into(),
            redirect_uris: vec!["https://district.example/cb".into()],
        };
        assert!(super::applications("http://127.0.0.1:8080", "causeway", &[audience]).is_err());
    }
}
