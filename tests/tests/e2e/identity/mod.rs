//! Identity: tokens from the built-in authorization server and from an external issuer,
//! every way a token can be wrong, roles, rate limits and key rotation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::files::{PEOPLE_CSV, people_spec};
use crate::support::{ADMIN, Hub, causeway, eventually, json_of};

mod accounts;
mod clients;
mod command_line;
mod duties;
mod keys;
mod people;
mod tokens;

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// The hub's current signing key, read from its data directory, and its key id.
async fn hub_signing_key(hub: &Hub) -> (EncodingKey, String) {
    let (_, jwks) = hub.get("/.well-known/jwks.json").await;
    let kid = jwks["keys"][0]["kid"].as_str().expect("kid").to_owned();
    let key_file = std::fs::read_dir(hub.dir().join("keys"))
        .expect("keys dir")
        .map(|entry| entry.expect("entry").path())
        .find(|path| path.extension().is_some_and(|ext| ext == "key"))
        .expect("a key file");
    (
        EncodingKey::from_ed_der(&std::fs::read(key_file).expect("key")),
        kid,
    )
}

fn claims(hub: &Hub) -> Value {
    json!({
        "iss": hub.url, "sub": "forger", "aud": "causeway", "exp": now() + 600, "iat": now(), "nbf": now(),
        "jti": "t-1", "department": "civil_affairs", "roles": ["admin"], "attributes": {}
    })
}

fn sign(claims: &Value, key: &EncodingKey, kid: &str) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

fn unsigned(header: Value, claims: &Value) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.", part(&header), part(claims))
}

async fn token_request(
    hub: &Hub,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value, String) {
    let mut request = hub
        .anonymous()
        .post(format!("{}/oauth/token", hub.url))
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("token request");
    let cache = response
        .headers()
        .get("cache-control")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, body) = json_of(response).await;
    (status, body, cache)
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}
