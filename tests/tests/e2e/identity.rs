//! Identity: tokens from the built-in authorization server and from an external issuer,
//! every way a token can be wrong, roles, rate limits and key rotation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::files::{PEOPLE_CSV, people_spec};
use crate::support::{ADMIN, Hub, causeway, eventually, json_of};

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

/// A token from `/oauth/token`, obtained with the `oauth2` crate as a client application
/// would, lets its client query; `/v1/me` shows the principal the token describes.
#[tokio::test]
async fn a_token_from_the_oauth2_crate_lets_a_client_query() {
    use oauth2::basic::BasicClient;
    use oauth2::{ClientId, ClientSecret, TokenResponse, TokenUrl};

    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    let secret = hub
        .add_client(
            "grid-worker",
            "civil_affairs",
            &["analyst"],
            json!({"town": "Guicheng", "grid_id": "GC-012"}),
        )
        .await;
    hub.grant_everything("civil_affairs.people", json!({"client": "grid-worker"}))
        .await;

    let client = BasicClient::new(ClientId::new("grid-worker".into()))
        .set_client_secret(ClientSecret::new(secret))
        .set_token_uri(TokenUrl::new(format!("{}/oauth/token", hub.url)).expect("url"));
    let http = hub.anonymous();
    let send = |request: oauth2::HttpRequest| {
        let http = http.clone();
        async move {
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
            Ok::<_, reqwest::Error>(builder.body(response.bytes().await?.to_vec()).expect("response"))
        }
    };
    let token = client
        .exchange_client_credentials()
        .request_async(&send)
        .await
        .expect("token");
    assert_eq!(token.expires_in().map(|lifetime| lifetime.as_secs()), Some(3600));

    let analyst = hub.authorized(token.access_token().secret());
    let response = analyst
        .post(format!("{}/v1/query", hub.url))
        .json(&json!({"sql": "SELECT count(*) AS n FROM civil_affairs.people", "purpose": "testing"}))
        .send()
        .await
        .expect("query");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{"n": 3}]));

    let (_, me) = json_of(
        analyst
            .get(format!("{}/v1/me", hub.url))
            .send()
            .await
            .expect("me"),
    )
    .await;
    assert_eq!(me["id"], "grid-worker");
    assert_eq!(me["department"], "civil_affairs");
    assert_eq!(me["roles"], json!(["analyst"]));
    assert_eq!(me["attributes"], json!({"town": "Guicheng", "grid_id": "GC-012"}));
    assert_eq!(me["issuer"], hub.url);
}

/// Every kind of bad token gets 401 with an RFC 6750 challenge, and nothing else.
#[tokio::test]
async fn every_bad_token_is_refused_with_a_challenge() {
    let hub = Hub::start("").await;
    let (key, kid) = hub_signing_key(&hub).await;
    let good = claims(&hub);
    let with = |change: Value| {
        let mut claims = good.clone();
        for (name, value) in change.as_object().expect("object") {
            claims[name] = value.clone();
        }
        claims
    };
    let stranger = {
        let pkcs8 =
            ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).expect("key");
        EncodingKey::from_ed_der(pkcs8.as_ref())
    };
    let (_, jwks) = hub.get("/.well-known/jwks.json").await;
    let public_key = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().expect("x"))
        .expect("x bytes");
    let confused = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(&public_key)).expect("hs256")
    };
    let tampered = {
        let token = sign(&good, &key, &kid);
        let parts: Vec<&str> = token.split('.').collect();
        let richer = URL_SAFE_NO_PAD.encode(with(json!({"department": "land_registry"})).to_string());
        format!("{}.{richer}.{}", parts[0], parts[2])
    };
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, ""),
        (
            "not a JWT",
            Some("Bearer abc.def".into()),
            "not a well-formed JWT",
        ),
        (
            "wrong scheme",
            Some(format!("Basic {}", sign(&good, &key, &kid))),
            "Bearer",
        ),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                sign(&with(json!({"exp": now() - 3600})), &key, &kid)
            )),
            "expired",
        ),
        (
            "not yet valid",
            Some(format!(
                "Bearer {}",
                sign(&with(json!({"nbf": now() + 3600})), &key, &kid)
            )),
            "not valid yet",
        ),
        (
            "wrong issuer",
            Some(format!(
                "Bearer {}",
                sign(&with(json!({"iss": "https://evil.example"})), &key, &kid)
            )),
            "issuer",
        ),
        (
            "wrong audience",
            Some(format!(
                "Bearer {}",
                sign(&with(json!({"aud": "another-hub"})), &key, &kid)
            )),
            "audience",
        ),
        (
            "unknown key",
            Some(format!("Bearer {}", sign(&good, &stranger, "no-such-kid"))),
            "unknown key",
        ),
        (
            "forged with a known kid",
            Some(format!("Bearer {}", sign(&good, &stranger, &kid))),
            "signature",
        ),
        ("tampered claims", Some(format!("Bearer {tampered}")), "signature"),
        (
            "alg none",
            Some(format!(
                "Bearer {}",
                unsigned(json!({"alg": "none", "typ": "JWT"}), &good)
            )),
            "",
        ),
        ("algorithm confusion", Some(format!("Bearer {confused}")), "HS256"),
    ];
    for (case, authorization, fragment) in cases {
        let mut request = hub.anonymous().get(format!("{}/v1/catalog", hub.url));
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("request");
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert!(
            challenge.starts_with("Bearer realm=\"causeway\""),
            "{case}: {challenge}"
        );
        if authorization.is_some() {
            assert!(
                challenge.contains("error=\"invalid_token\""),
                "{case}: {challenge}"
            );
            assert_eq!(body["error"]["code"], "invalid_token", "{case}");
        } else {
            assert!(
                !challenge.contains("error="),
                "no error for a missing token: {challenge}"
            );
        }
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(fragment),
            "{case}: '{fragment}' not in '{message}'"
        );
    }
    // The genuine token of the same claims is accepted.
    let response = hub
        .anonymous()
        .get(format!("{}/v1/me", hub.url))
        .bearer_auth(sign(&good, &key, &kid))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
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

/// The token endpoint answers as RFC 6749 says, and a failure never tells whether the
/// client id exists: unknown, wrong secret and disabled look the same.
#[tokio::test]
async fn the_token_endpoint_follows_rfc_6749_and_hides_which_clients_exist() {
    let hub = Hub::start("").await;
    let secret = hub
        .add_client("land-analyst", "land_registry", &["analyst"], json!({}))
        .await;
    let grant = [("grant_type", "client_credentials")];

    let (status, body, cache) = token_request(&hub, &grant, Some(("land-analyst", &secret))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(cache, "no-store");
    let form_auth = [
        ("grant_type", "client_credentials"),
        ("client_id", "land-analyst"),
        ("client_secret", secret.as_str()),
    ];
    let (status, _, _) = token_request(&hub, &form_auth, None).await;
    assert_eq!(status, StatusCode::OK, "form fields authenticate too");

    let wrong_secret = token_request(&hub, &grant, Some(("land-analyst", "cws_wrong"))).await;
    let unknown = token_request(&hub, &grant, Some(("no-such-client", "cws_wrong"))).await;
    assert_eq!(wrong_secret.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong_secret.1,
        json!({"error": "invalid_client", "error_description": "client authentication failed"})
    );
    assert_eq!((unknown.0, &unknown.1), (wrong_secret.0, &wrong_secret.1));
    let output = causeway(&[
        "client",
        "disable",
        "land-analyst",
        "--config",
        &hub.dir().join("causeway.toml").to_string_lossy(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let disabled = token_request(&hub, &grant, Some(("land-analyst", &secret))).await;
    assert_eq!((disabled.0, &disabled.1), (wrong_secret.0, &wrong_secret.1));

    let (status, body, _) = token_request(
        &hub,
        &[("grant_type", "password")],
        Some((ADMIN, &hub.admin_secret)),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("unsupported_grant_type"))
    );
    let (status, body, _) = token_request(&hub, &[], Some((ADMIN, &hub.admin_secret))).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_request"))
    );
    let both = [("grant_type", "client_credentials"), ("client_secret", "x")];
    let (status, body, _) = token_request(&hub, &both, Some((ADMIN, &hub.admin_secret))).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_request"))
    );
    let (status, body, _) = token_request(&hub, &grant, None).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_client"))
    );
}

/// Repeated failures are refused with 429 and Retry-After, per client id and per address,
/// whether or not the client exists.
#[tokio::test]
async fn failed_attempts_are_limited() {
    let hub = Hub::start("[auth]\nmax_failed_attempts = 3\nfailure_window = \"1m\"\n").await;
    let grant = [("grant_type", "client_credentials")];
    for _ in 0..3 {
        let (status, _, _) = token_request(&hub, &grant, Some(("ghost", "guess"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = hub
        .anonymous()
        .post(format!("{}/oauth/token", hub.url))
        .basic_auth("ghost", Some("guess"))
        .form(&grant)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // The same address is held back for a real client too, for the rest of the window.
    let (status, _, _) = token_request(&hub, &grant, Some((ADMIN, &hub.admin_secret))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

/// Analysts cannot publish, publishers only for their department, and only admins manage
/// clients: 403 with an insufficient_scope challenge.
#[tokio::test]
async fn roles_decide_what_a_caller_may_do() {
    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    let analyst = hub.client_as("cad-analyst", "civil_affairs", &["analyst"]).await;
    let outsider = hub
        .client_as("land-steward", "land_registry", &["publisher"])
        .await;
    let steward = hub
        .client_as("cad-steward", "civil_affairs", &["publisher"])
        .await;
    let publish = |client: reqwest::Client| {
        let url = format!("{}/v1/datasets", hub.url);
        async move {
            let response = client
                .post(url)
                .header("content-type", "application/yaml")
                .body(people_spec("people.csv"))
                .send()
                .await
                .expect("publish");
            json_of(response).await
        }
    };
    let (status, body) = publish(analyst.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = publish(outsider).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("civil_affairs")
    );
    let (status, body) = publish(steward).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let response = analyst
        .get(format!("{}/v1/clients", hub.url))
        .send()
        .await
        .expect("clients");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap_or_default()
            .contains("insufficient_scope")
    );
    let (status, clients) = hub.get("/v1/clients").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(clients.as_array().map(Vec::len), Some(4));
    assert!(
        !clients.to_string().contains("argon2"),
        "no secret hashes in the listing"
    );
}

/// Secrets can be rotated through the admin API: the old one stops working at once.
#[tokio::test]
async fn rotating_a_secret_ends_the_old_one() {
    let hub = Hub::start("").await;
    let old = hub.add_client("rotating", "tax", &["analyst"], json!({})).await;
    let response = hub
        .http
        .post(format!("{}/v1/clients/rotating/rotate-secret", hub.url))
        .send()
        .await
        .expect("rotate");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = body["client_secret"].as_str().expect("secret");
    let grant = [("grant_type", "client_credentials")];
    assert_eq!(
        token_request(&hub, &grant, Some(("rotating", &old))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        token_request(&hub, &grant, Some(("rotating", new))).await.0,
        StatusCode::OK
    );
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

/// After `causeway keys rotate`, tokens signed before stay valid and new tokens carry the
/// new key's id.
#[tokio::test]
async fn rotated_keys_keep_earlier_tokens_valid() {
    let hub = Hub::start("").await;
    let before = hub.token(ADMIN, &hub.admin_secret).await;
    let output = causeway(&[
        "keys",
        "rotate",
        "--config",
        &hub.dir().join("causeway.toml").to_string_lossy(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let after = hub.token(ADMIN, &hub.admin_secret).await;
    assert_ne!(kid_of(&before), kid_of(&after));
    for token in [&before, &after] {
        let response = hub
            .authorized(token)
            .get(format!("{}/v1/me", hub.url))
            .send()
            .await
            .expect("me");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json_of(response).await.1["id"], ADMIN);
    }
    let (_, jwks) = hub.get("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&kid_of(&after).as_str()));
}

/// Tokens of an external OpenID Connect provider (here another hub, found through its
/// discovery document) are accepted with its keys, including keys it adds later.
#[tokio::test]
async fn tokens_of_an_external_issuer_are_accepted() {
    let provider = Hub::start("").await;
    let hub = Hub::start(&format!(
        "[[auth.issuers]]\nissuer = \"{}\"\nalgorithms = [\"EdDSA\"]\n",
        provider.url
    ))
    .await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;

    let secret = provider
        .add_client("tax-analyst", "tax", &["analyst"], json!({"town": "Dali"}))
        .await;
    hub.grant_everything("civil_affairs.people", json!({"department": "tax"}))
        .await;
    let token = provider.token("tax-analyst", &secret).await;
    let external = hub.authorized(&token);
    let (status, me) = json_of(
        external
            .get(format!("{}/v1/me", hub.url))
            .send()
            .await
            .expect("me"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        (me["id"].clone(), me["department"].clone()),
        (json!("tax-analyst"), json!("tax"))
    );
    assert_eq!(me["issuer"], provider.url);
    let response = external
        .post(format!("{}/v1/query", hub.url))
        .json(&json!({"sql": "SELECT count(*) AS n FROM civil_affairs.people", "purpose": "testing"}))
        .send()
        .await
        .expect("query");
    assert_eq!(json_of(response).await.1["rows"], json!([{"n": 3}]));

    // The provider rotates its key; the hub fetches the new key when a token names it.
    let output = causeway(&[
        "keys",
        "rotate",
        "--config",
        &provider.dir().join("causeway.toml").to_string_lossy(),
    ]);
    assert!(output.status.success());
    // The hub fetches a provider's keys at most every ten seconds: until then a token with
    // the new key is refused, then it is accepted.
    let (rotated, response) = eventually(
        "the hub accepts a token signed with the provider's new key",
        std::time::Duration::from_secs(30),
        async || {
            let rotated = provider.token("tax-analyst", &secret).await;
            if kid_of(&rotated) == kid_of(&token) {
                return None;
            }
            let response = hub
                .authorized(&rotated)
                .get(format!("{}/v1/me", hub.url))
                .send()
                .await
                .expect("me");
            (response.status() == StatusCode::OK).then_some((rotated, response))
        },
    )
    .await;
    assert_ne!(kid_of(&rotated), kid_of(&token));
    assert_eq!(response.status(), StatusCode::OK);
    let (_, me) = json_of(response).await;
    assert_eq!(
        (me["id"].clone(), me["issuer"].clone()),
        (json!("tax-analyst"), json!(provider.url)),
        "{me}"
    );

    // A token of the provider for another audience is not for this hub.
    let (key, kid) = hub_signing_key(&provider).await;
    let mut claims = claims(&provider);
    claims["aud"] = json!("somewhere-else");
    let response = hub
        .anonymous()
        .get(format!("{}/v1/me", hub.url))
        .bearer_auth(sign(&claims, &key, &kid))
        .send()
        .await
        .expect("me");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

/// A client that sends its headers too slowly is disconnected.
#[tokio::test]
async fn slow_clients_time_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hub = Hub::start_with(|dir| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nclient_timeout = \"1s\"\n[storage]\ndata_dir = \"{}\"\n",
            dir.display()
        )
    })
    .await;
    let address = hub.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
    stream
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut buffer),
    )
    .await;
    assert!(read.is_ok(), "the hub kept the slow connection open");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// The CLI keeps its token and renews it with the kept client secret when it runs out.
#[tokio::test]
async fn the_cli_renews_its_token_when_it_runs_out() {
    let hub = Hub::start("[auth]\ntoken_ttl = \"30s\"\n").await;
    let home = tempfile::tempdir().expect("config dir");
    let home_path = home.path().to_string_lossy().into_owned();
    let env = [
        ("CAUSEWAY_CONFIG_DIR", home_path.as_str()),
        ("CAUSEWAY_CLIENT_SECRET", hub.admin_secret.as_str()),
    ];
    let output = crate::support::causeway_with(&["login", "--hub", &hub.url, "--client-id", ADMIN], &env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let kept = || -> Value {
        serde_json::from_slice(&std::fs::read(home.path().join("credentials.json")).expect("kept"))
            .expect("json")
    };
    let first = kept()["hubs"][&hub.url]["access_token"].clone();
    assert!(first.is_string());
    assert!(!kept().to_string().contains("argon2"));

    // A token that lasts 30 seconds is within a minute of its end: the next command renews it.
    let output = crate::support::causeway_with(
        &[
            "query",
            "--hub",
            &hub.url,
            "--purpose",
            "testing",
            "--format",
            "csv",
            "SELECT 1 AS one",
        ],
        &env[..1],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "one\n1\n");
    let renewed = kept()["hubs"][&hub.url]["access_token"].clone();
    assert_ne!(renewed, first);
}
