//! Tokens: from the built-in authorization server, every way one can be wrong, and the CLI
//! renewing its own.

use super::*;

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
