//! An external OpenID Connect provider: its keys come from the JWKS its discovery document
//! names, fetched on first use, cached, and fetched again when a token names a key the
//! cache does not hold (the provider rotated), at most once per `REFRESH_INTERVAL`.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::errors::{IssuerConfigError, KeysFetchError, TokenError};
use crate::config::{ClaimMapping, ExternalIssuerConfig};

/// Shortest time between two fetches of a provider's keys.
const REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Keys older than this are fetched again even if every kid is known.
const MAX_AGE: Duration = Duration::from_secs(3600);

pub struct ExternalIssuer {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    claims: ClaimMapping,
    http: reqwest::Client,
    cache: Mutex<Option<CachedKeys>>,
    /// The sign-in endpoints, when the console signs people in here.
    endpoints: Mutex<Option<(Endpoints, Instant)>>,
}

struct CachedKeys {
    keys: JwkSet,
    fetched: Instant,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// Where a provider signs people in, from its discovery document (OpenID Connect Discovery
/// 1.0 §3; `revocation_endpoint` from RFC 8414).
#[derive(Debug, Clone, Deserialize)]
pub struct Endpoints {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
}

impl ExternalIssuer {
    pub fn new(
        config: &ExternalIssuerConfig,
        default_audience: &str,
        http: reqwest::Client,
    ) -> Result<Self, IssuerConfigError> {
        let algorithms = config
            .algorithms
            .iter()
            .map(|name| {
                name.parse::<Algorithm>()
                    .map_err(|source| IssuerConfigError::UnknownAlgorithm {
                        name: name.clone(),
                        issuer: config.issuer.clone(),
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            issuer: config.issuer.clone(),
            audience: config
                .audience
                .clone()
                .unwrap_or_else(|| default_audience.to_owned()),
            algorithms,
            claims: config.claims.clone(),
            http,
            cache: Mutex::new(None),
            endpoints: Mutex::new(None),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn claims(&self) -> &ClaimMapping {
        &self.claims
    }

    pub fn allows(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }

    /// The provider's key `kid` (or its only key, when the token names none), as a key for
    /// `algorithm`. Shared-secret keys are never used.
    pub async fn key(&self, kid: Option<&str>, algorithm: Algorithm) -> Result<DecodingKey, TokenError> {
        let mut cache = self.cache.lock().await;
        let stale = cache
            .as_ref()
            .is_none_or(|cached| cached.fetched.elapsed() > MAX_AGE);
        let unknown = cache
            .as_ref()
            .is_some_and(|cached| find(&cached.keys, kid, algorithm).is_none());
        let may_refresh = cache
            .as_ref()
            .is_none_or(|cached| cached.fetched.elapsed() > REFRESH_INTERVAL);
        if stale || (unknown && may_refresh) {
            match self.fetch().await {
                Ok(keys) => {
                    *cache = Some(CachedKeys {
                        keys,
                        fetched: Instant::now(),
                    })
                }
                Err(error) => {
                    tracing::warn!(issuer = %self.issuer, %error, "cannot fetch the issuer's keys");
                    if cache.is_none() {
                        return Err(TokenError::IssuerUnavailable);
                    }
                }
            }
        }
        let keys = cache.as_ref().ok_or(TokenError::IssuerUnavailable)?;
        find(&keys.keys, kid, algorithm).ok_or(TokenError::UnknownKey)
    }

    /// The provider's sign-in endpoints, read from its discovery document at most once an
    /// hour.
    pub async fn endpoints(&self) -> Result<Endpoints, KeysFetchError> {
        let mut cached = self.endpoints.lock().await;
        if let Some((endpoints, fetched)) = cached.as_ref()
            && fetched.elapsed() < MAX_AGE
        {
            return Ok(endpoints.clone());
        }
        let endpoints: Endpoints = self.get_json(&self.discovery_url()).await?;
        if endpoints.issuer.trim_end_matches('/') != self.issuer.trim_end_matches('/') {
            return Err(KeysFetchError::WrongIssuer {
                named: endpoints.issuer,
                expected: self.issuer.clone(),
            });
        }
        *cached = Some((endpoints.clone(), Instant::now()));
        Ok(endpoints)
    }

    fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    async fn fetch(&self) -> Result<JwkSet, KeysFetchError> {
        let discovery_url = self.discovery_url();
        let discovery: Discovery = self.get_json(&discovery_url).await?;
        if discovery.issuer.trim_end_matches('/') != self.issuer.trim_end_matches('/') {
            return Err(KeysFetchError::WrongIssuer {
                named: discovery.issuer,
                expected: self.issuer.clone(),
            });
        }
        self.get_json(&discovery.jwks_uri).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, KeysFetchError> {
        let request = |source| KeysFetchError::Request {
            url: url.to_owned(),
            source,
        };
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(request)?;
        if !response.status().is_success() {
            return Err(KeysFetchError::Status {
                url: url.to_owned(),
                status: response.status(),
            });
        }
        response.json().await.map_err(request)
    }
}

fn find(keys: &JwkSet, kid: Option<&str>, algorithm: Algorithm) -> Option<DecodingKey> {
    let usable: Vec<_> = keys
        .keys
        .iter()
        .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter(|jwk| {
            matches!(
                (&jwk.algorithm, algorithm),
                (
                    AlgorithmParameters::RSA(_),
                    Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
                ) | (
                    AlgorithmParameters::RSA(_),
                    Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512
                ) | (
                    AlgorithmParameters::EllipticCurve(_),
                    Algorithm::ES256 | Algorithm::ES384
                ) | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
            )
        })
        .collect();
    let jwk = match kid {
        Some(kid) => usable
            .into_iter()
            .find(|jwk| jwk.common.key_id.as_deref() == Some(kid))?,
        None if usable.len() == 1 => usable.into_iter().next()?,
        None => return None,
    };
    DecodingKey::from_jwk(jwk).ok()
}
