//! Access tokens: JWTs signed by the built-in issuer, and the verification of any token the
//! hub accepts, ending in the [`Principal`] that made the request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use causeway_policies::{AttributeValue, Principal, Role};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::errors::{IssueError, TokenError};
use super::external::ExternalIssuer;
use super::keys::KeyRing;
use crate::config::ClaimMapping;
use crate::store::ClientRecord;

/// The claims of a token from the built-in issuer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    pub jti: String,
    pub department: String,
    pub roles: Vec<Role>,
    pub attributes: BTreeMap<String, AttributeValue>,
    /// When the client's secret or password last changed before this token was issued, in
    /// milliseconds since the Unix epoch (from its `secret_rotated_at`): a reset refuses
    /// every token of an older one, however close in time.
    #[serde(default)]
    pub secret_version: u64,
}

/// Milliseconds since the Unix epoch of a client's `secret_rotated_at` (RFC 3339); 0 when
/// it cannot be read.
pub fn secret_version(secret_rotated_at: &str) -> u64 {
    chrono::DateTime::parse_from_rfc3339(secret_rotated_at)
        .ok()
        .and_then(|at| u64::try_from(at.timestamp_millis()).ok())
        .unwrap_or(0)
}

/// The built-in authorization server's token minting.
pub struct BuiltinIssuer {
    pub url: String,
    pub audience: String,
    pub ttl: Duration,
    pub keys: Arc<KeyRing>,
}

/// A signed token and its lifetime in seconds.
pub struct IssuedToken {
    pub token: String,
    pub expires_in: u64,
}

impl BuiltinIssuer {
    pub fn issue(&self, client: &ClientRecord) -> Result<IssuedToken, IssueError> {
        self.issue_for(client, self.ttl)
    }

    /// A token that lasts `ttl` (a person's, no longer than their sign-in).
    pub fn issue_for(&self, client: &ClientRecord, ttl: Duration) -> Result<IssuedToken, IssueError> {
        let key = self.keys.current().ok_or(IssueError::NoSigningKey)?;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            iss: self.url.clone(),
            sub: client.id.clone(),
            aud: self.audience.clone(),
            exp: now + ttl.as_secs(),
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4().to_string(),
            department: client.department.clone(),
            roles: client.roles.iter().copied().collect(),
            attributes: client.attributes.clone(),
            secret_version: secret_version(&client.secret_rotated_at),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)?;
        Ok(IssuedToken {
            token,
            expires_in: ttl.as_secs(),
        })
    }
}

/// The claims of an ID token (OpenID Connect Core 1.0 §2) the built-in provider gives an
/// application a person signed in to.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    /// The application's client id.
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub auth_time: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub department: String,
    pub roles: Vec<Role>,
}

impl BuiltinIssuer {
    /// An ID token for `person`, for the application `audience`, signed like access tokens.
    pub fn issue_id_token(
        &self,
        person: &ClientRecord,
        audience: &str,
        nonce: Option<&str>,
        auth_time: u64,
    ) -> Result<String, IssueError> {
        let key = self.keys.current().ok_or(IssueError::NoSigningKey)?;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = IdClaims {
            iss: self.url.clone(),
            sub: person.id.clone(),
            aud: audience.to_owned(),
            exp: now + self.ttl.as_secs(),
            iat: now,
            auth_time,
            nonce: nonce.map(str::to_owned),
            name: person.name.clone(),
            department: person.department.clone(),
            roles: person.roles.iter().copied().collect(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &key.encoding)?)
    }
}

/// Every issuer the hub trusts, and how to check their tokens.
pub struct Authenticator {
    pub builtin: Option<BuiltinIssuer>,
    pub external: Vec<ExternalIssuer>,
    pub clock_skew: Duration,
}

impl Authenticator {
    /// Checks a bearer token: well-formed, from a trusted issuer, signed by one of its keys
    /// with an accepted asymmetric algorithm, for this audience, within its lifetime.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if !is_asymmetric(header.alg) {
            return Err(TokenError::AlgorithmNotAllowed(format!("{:?}", header.alg)));
        }
        let issuer = unverified_issuer(token)?;
        if let Some(builtin) = self.builtin.as_ref().filter(|builtin| builtin.url == issuer) {
            if header.alg != Algorithm::EdDSA {
                return Err(TokenError::AlgorithmNotAllowed(format!("{:?}", header.alg)));
            }
            let key = header
                .kid
                .as_deref()
                .and_then(|kid| builtin.keys.find(kid))
                .ok_or(TokenError::UnknownKey)?;
            let claims = self.check(token, header.alg, &key.decoding, &issuer, &builtin.audience)?;
            return principal(&claims, &ClaimMapping::default(), &issuer);
        }
        let external = self
            .external
            .iter()
            .find(|external| external.issuer() == issuer)
            .ok_or(TokenError::UnknownIssuer)?;
        if !external.allows(header.alg) {
            return Err(TokenError::AlgorithmNotAllowed(format!("{:?}", header.alg)));
        }
        let key = external.key(header.kid.as_deref(), header.alg).await?;
        let claims = self.check(token, header.alg, &key, &issuer, external.audience())?;
        principal(&claims, external.claims(), &issuer)
    }

    fn check(
        &self,
        token: &str,
        algorithm: Algorithm,
        key: &DecodingKey,
        issuer: &str,
        audience: &str,
    ) -> Result<serde_json::Map<String, Value>, TokenError> {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.clock_skew.as_secs();
        jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidIssuer => TokenError::UnknownIssuer,
                ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim.clone()),
                ErrorKind::InvalidAlgorithm
                | ErrorKind::InvalidAlgorithmName
                | ErrorKind::InvalidKeyFormat => TokenError::AlgorithmNotAllowed(format!("{algorithm:?}")),
                ErrorKind::InvalidSignature | ErrorKind::InvalidEddsaKey | ErrorKind::InvalidEcdsaKey => {
                    TokenError::BadSignature
                }
                _ => TokenError::Malformed,
            })
    }
}

/// Only signatures made with a private key are accepted: with a shared-secret algorithm
/// (HS256) anyone holding the public key could sign (the algorithm-confusion attack).
fn is_asymmetric(algorithm: Algorithm) -> bool {
    !matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The `iss` claim, read before the signature is checked only to choose whose keys check it.
fn unverified_issuer(token: &str) -> Result<String, TokenError> {
    let payload = token.split('.').nth(1).ok_or(TokenError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let claims: Value = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
    claims["iss"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| TokenError::MissingClaim("iss".into()))
}

/// The principal a verified token describes, read through the issuer's claim mapping.
fn principal(
    claims: &serde_json::Map<String, Value>,
    mapping: &ClaimMapping,
    issuer: &str,
) -> Result<Principal, TokenError> {
    let root = Value::Object(claims.clone());
    let text = |path: &str| -> Result<String, TokenError> {
        claim(&root, path)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| TokenError::MissingClaim(path.to_owned()))
    };
    let mut principal = Principal::new(text(&mapping.subject)?, text(&mapping.department)?);
    principal.issuer = issuer.to_owned();
    principal.issued_at = root.get("iat").and_then(Value::as_u64);
    principal.secret_version = root.get("secret_version").and_then(Value::as_u64);
    let roles: Vec<String> = match claim(&root, &mapping.roles) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(list)) => list.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    // Roles Causeway does not know are the provider's business, not an error.
    principal.roles = roles.iter().filter_map(|role| role.parse().ok()).collect();
    if let Some(Value::Object(attributes)) = claim(&root, &mapping.attributes) {
        for (name, value) in attributes {
            if let Some(value) = attribute(value) {
                principal.attributes.insert(name.clone(), value);
            }
        }
    }
    for (name, path) in &mapping.attribute_claims {
        if let Some(value) = claim(&root, path).and_then(attribute) {
            principal.attributes.insert(name.clone(), value);
        }
    }
    Ok(principal)
}

fn claim<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(root, |value, part| value.get(part))
}

fn attribute(value: &Value) -> Option<AttributeValue> {
    match value {
        Value::String(text) => Some(AttributeValue::One(text.clone())),
        Value::Number(number) => Some(AttributeValue::One(number.to_string())),
        Value::Bool(flag) => Some(AttributeValue::One(flag.to_string())),
        Value::Array(items) => Some(AttributeValue::Many(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn claims_map_to_a_principal_through_nested_paths() {
        let claims = json!({
            "sub": "u-17", "dept": "land_registry",
            "realm_access": {"roles": ["analyst", "offline_access"]},
            "attributes": {"town": "Guicheng", "grids": ["GC-001", "GC-002"]},
            "grid": "GC-001"
        });
        let mapping = ClaimMapping {
            department: "dept".into(),
            roles: "realm_access.roles".into(),
            attribute_claims: [("grid_id".to_owned(), "grid".to_owned())].into(),
            ..ClaimMapping::default()
        };
        let principal = principal(claims.as_object().unwrap(), &mapping, "https://idp").unwrap();
        assert_eq!(principal.id, "u-17");
        assert_eq!(principal.department, "land_registry");
        assert_eq!(principal.roles.iter().collect::<Vec<_>>(), vec![&Role::Analyst]);
        assert_eq!(
            principal.attributes["town"],
            AttributeValue::One("Guicheng".into())
        );
        assert_eq!(
            principal.attributes["grids"],
            AttributeValue::Many(vec!["GC-001".into(), "GC-002".into()])
        );
        assert_eq!(
            principal.attributes["grid_id"],
            AttributeValue::One("GC-001".into())
        );
        assert_eq!(principal.issuer, "https://idp");
    }

    #[test]
    fn a_token_without_a_department_is_refused() {
        let claims = json!({"sub": "u-17"});
        let error = principal(claims.as_object().unwrap(), &ClaimMapping::default(), "x").unwrap_err();
        assert_eq!(error, TokenError::MissingClaim("department".into()));
    }
}
