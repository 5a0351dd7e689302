//! The CLI's sign-in: `causeway login` obtains a token with the client-credentials grant,
//! or for a person with the authorization-code grant and PKCE through their browser (RFC
//! 8252: a native application receiving the code on a loopback address), through the
//! `oauth2` crate, and keeps it, with the client's secret or the person's refresh token to
//! renew it, in the user's configuration directory, readable by the user alone. Other
//! commands take the token from there, renewed when it is about to expire, or from
//! `CAUSEWAY_TOKEN`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, Scope, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

/// Why the CLI has no token for a hub.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("no configuration directory for this user")]
    NoConfigDirectory,
    #[error("{} is damaged: {source}", path.display())]
    Damaged {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid hub URL: {0}")]
    HubUrl(#[source] oauth2::url::ParseError),
    /// The token endpoint refused or could not be reached; says which, without the secret.
    #[error("{0}")]
    TokenRequest(String),
    #[error(
        "not signed in to {hub}: run `causeway login --hub {hub} --person` (a person) or `--client-id ID` (a service), or set CAUSEWAY_TOKEN"
    )]
    NotSignedIn { hub: String },
    #[error("your sign-in to {hub} has ended ({reason}): run `causeway login --hub {hub} --person` again")]
    SignInEnded { hub: String, reason: String },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CredentialFile {
    hubs: BTreeMap<String, HubCredentials>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HubCredentials {
    client_id: String,
    /// A service's secret; empty for a person.
    client_secret: String,
    /// A person's refresh token, replaced by the one each renewal returns (they rotate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    access_token: String,
    /// Seconds since 1970 when the token expires.
    expires_at: u64,
}

/// Where credentials are kept: `CAUSEWAY_CONFIG_DIR`, else the user's configuration
/// directory (`~/.config/causeway` on Linux).
fn credentials_path() -> Result<PathBuf, CredentialsError> {
    let dir = match std::env::var_os("CAUSEWAY_CONFIG_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => dirs::config_dir()
            .ok_or(CredentialsError::NoConfigDirectory)?
            .join("causeway"),
    };
    Ok(dir.join("credentials.json"))
}

fn load() -> Result<CredentialFile, CredentialsError> {
    let path = credentials_path()?;
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|source| CredentialsError::Damaged { path, source })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(CredentialFile::default()),
        Err(source) => Err(CredentialsError::Read { path, source }),
    }
}

/// Writes the file with mode 0600 (through a temporary file, so a crash never leaves half).
fn save(file: &CredentialFile) -> Result<(), CredentialsError> {
    let path = credentials_path()?;
    let failed = |source: std::io::Error| CredentialsError::Write {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let temporary = path.with_extension("json.new");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut out = options.open(&temporary).map_err(failed)?;
    let text = serde_json::to_vec_pretty(file).map_err(|error| failed(std::io::Error::other(error)))?;
    out.write_all(&text).map_err(failed)?;
    out.sync_all().map_err(failed)?;
    std::fs::rename(&temporary, &path).map_err(failed)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// Asks the hub's token endpoint for a token with the client-credentials grant.
async fn request_token(
    http: &reqwest::Client,
    hub: &str,
    client_id: &str,
    secret: &str,
) -> Result<(String, u64), CredentialsError> {
    let token_url = TokenUrl::new(format!("{hub}/oauth/token")).map_err(CredentialsError::HubUrl)?;
    let client = BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_client_secret(ClientSecret::new(secret.to_owned()))
        .set_token_uri(token_url);
    let token = client
        .exchange_client_credentials()
        .request_async(&|request| send(http, request))
        .await
        .map_err(|error| CredentialsError::TokenRequest(describe(&error)))?;
    let lifetime = token.expires_in().map_or(3600, |lifetime| lifetime.as_secs());
    Ok((token.access_token().secret().clone(), now() + lifetime))
}

/// Sends one of the `oauth2` crate's requests with the CLI's HTTP client (its TLS settings).
async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(builder.body(body).unwrap_or_default())
}

/// A person's sign-in under way: the address their browser opens, and what redeems the code
/// it brings back.
pub struct PersonSignIn {
    pub url: oauth2::url::Url,
    /// The `state` the code must come back with.
    pub state: CsrfToken,
    verifier: PkceCodeVerifier,
    redirect: String,
}

/// Starts a person's sign-in to `hub` whose code comes back to `redirect` (a loopback
/// address this process listens on), as the hub's command-line application.
pub fn start_person_sign_in(hub: &str, redirect: &str) -> Result<PersonSignIn, CredentialsError> {
    let client = BasicClient::new(ClientId::new(crate::identity::CLI_APPLICATION.to_owned()))
        .set_auth_uri(AuthUrl::new(format!("{hub}/oauth/authorize")).map_err(CredentialsError::HubUrl)?)
        .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).map_err(CredentialsError::HubUrl)?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    Ok(PersonSignIn {
        url,
        state,
        verifier,
        redirect: redirect.to_owned(),
    })
}

/// Redeems the `code` a person's browser brought back, and keeps the tokens for `hub`;
/// returns when the access token expires.
pub async fn finish_person_sign_in(
    http: &reqwest::Client,
    hub: &str,
    sign_in: PersonSignIn,
    code: String,
) -> Result<u64, CredentialsError> {
    let client = BasicClient::new(ClientId::new(crate::identity::CLI_APPLICATION.to_owned()))
        .set_token_uri(TokenUrl::new(format!("{hub}/oauth/token")).map_err(CredentialsError::HubUrl)?)
        .set_redirect_uri(RedirectUrl::new(sign_in.redirect).map_err(CredentialsError::HubUrl)?);
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(sign_in.verifier)
        .request_async(&|request| send(http, request))
        .await
        .map_err(|error| CredentialsError::TokenRequest(describe(&error)))?;
    let lifetime = token.expires_in().map_or(300, |lifetime| lifetime.as_secs());
    let expires_at = now() + lifetime;
    let mut file = load()?;
    file.hubs.insert(
        hub.to_owned(),
        HubCredentials {
            client_id: crate::identity::CLI_APPLICATION.to_owned(),
            client_secret: String::new(),
            refresh_token: token.refresh_token().map(|refresh| refresh.secret().clone()),
            access_token: token.access_token().secret().clone(),
            expires_at,
        },
    );
    save(&file)?;
    Ok(expires_at)
}

/// A person's new access and refresh tokens for the refresh token `refresh`.
async fn refresh_person(
    http: &reqwest::Client,
    hub: &str,
    refresh: &str,
) -> Result<(String, u64, Option<String>), CredentialsError> {
    let client = BasicClient::new(ClientId::new(crate::identity::CLI_APPLICATION.to_owned()))
        .set_token_uri(TokenUrl::new(format!("{hub}/oauth/token")).map_err(CredentialsError::HubUrl)?);
    let token = client
        .exchange_refresh_token(&RefreshToken::new(refresh.to_owned()))
        .request_async(&|request| send(http, request))
        .await
        .map_err(|error| match &error {
            oauth2::RequestTokenError::ServerResponse(response) => CredentialsError::SignInEnded {
                hub: hub.to_owned(),
                reason: response
                    .error_description()
                    .cloned()
                    .unwrap_or_else(|| response.error().to_string()),
            },
            _ => CredentialsError::TokenRequest(describe(&error)),
        })?;
    let lifetime = token.expires_in().map_or(300, |lifetime| lifetime.as_secs());
    Ok((
        token.access_token().secret().clone(),
        now() + lifetime,
        token.refresh_token().map(|refresh| refresh.secret().clone()),
    ))
}

fn describe<E: std::error::Error>(
    error: &oauth2::RequestTokenError<E, oauth2::basic::BasicErrorResponse>,
) -> String {
    match error {
        oauth2::RequestTokenError::ServerResponse(response) => {
            let refused = match response.error_description() {
                Some(description) => format!("the hub refused: {description} ({})", response.error()),
                None => format!("the hub refused: {}", response.error()),
            };
            // The hub does not say whether the account exists; a person's has a password,
            // not a secret, and signs in in a browser.
            match response.error() {
                oauth2::basic::BasicErrorResponseType::InvalidClient => {
                    format!("{refused}; if the account is a person's, sign in with `causeway login --person`")
                }
                _ => refused,
            }
        }
        oauth2::RequestTokenError::Request(error) => format!("cannot reach the hub: {error}"),
        other => other.to_string(),
    }
}

/// Signs in to `hub` as `client_id` and keeps the token; returns when it expires.
pub async fn login(
    http: &reqwest::Client,
    hub: &str,
    client_id: &str,
    secret: &str,
) -> Result<u64, CredentialsError> {
    let (access_token, expires_at) = request_token(http, hub, client_id, secret).await?;
    let mut file = load()?;
    file.hubs.insert(
        hub.to_owned(),
        HubCredentials {
            client_id: client_id.to_owned(),
            client_secret: secret.to_owned(),
            refresh_token: None,
            access_token,
            expires_at,
        },
    );
    save(&file)?;
    Ok(expires_at)
}

/// A valid token for `hub`: `CAUSEWAY_TOKEN`, or the one `causeway login` kept, renewed when
/// it expires within a minute.
pub async fn token(http: &reqwest::Client, hub: &str) -> Result<String, CredentialsError> {
    if let Ok(token) = std::env::var("CAUSEWAY_TOKEN")
        && !token.is_empty()
    {
        return Ok(token);
    }
    let mut file = load()?;
    let Some(credentials) = file.hubs.get(hub).cloned() else {
        return Err(CredentialsError::NotSignedIn { hub: hub.to_owned() });
    };
    if credentials.expires_at > now() + 60 {
        return Ok(credentials.access_token);
    }
    let (access_token, expires_at, refresh_token) = match &credentials.refresh_token {
        // A person's: a new pair, the old refresh token spent.
        Some(refresh) => refresh_person(http, hub, refresh).await?,
        None => {
            let (access_token, expires_at) =
                request_token(http, hub, &credentials.client_id, &credentials.client_secret).await?;
            (access_token, expires_at, None)
        }
    };
    file.hubs.insert(
        hub.to_owned(),
        HubCredentials {
            access_token: access_token.clone(),
            expires_at,
            refresh_token: refresh_token.or(credentials.refresh_token.clone()),
            ..credentials
        },
    );
    save(&file)?;
    Ok(access_token)
}
