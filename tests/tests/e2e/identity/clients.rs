//! Clients: the token endpoint, limits on failed attempts, roles, secret rotation and slow
//! connections.

use super::*;

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
/// whether or not the client exists; one client's failures do not lock out another client
/// at the same address, failures for many clients do.
#[tokio::test]
async fn failed_attempts_are_limited() {
    let hub = Hub::start(
        "[auth]\nmax_failed_attempts = 3\nmax_failed_attempts_per_address = 6\nfailure_window = \"1m\"\n",
    )
    .await;
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
    // Another client at the same address is not held back by the first one's failures.
    let (status, _, _) = token_request(&hub, &grant, Some((ADMIN, &hub.admin_secret))).await;
    assert_eq!(status, StatusCode::OK);
    // Guessing across clients from one address holds the address back, for every client.
    for ghost in ["ghost-2", "ghost-3", "ghost-4"] {
        let (status, _, _) = token_request(&hub, &grant, Some((ghost, "guess"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
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
    let (status, clients) = hub.system().await.get("/v1/clients").await;
    assert_eq!(status, StatusCode::OK);
    // The reader, the three administrators, and the three made here.
    assert_eq!(clients.as_array().map(Vec::len), Some(7));
    assert!(
        !clients.to_string().contains("argon2"),
        "no secret hashes in the listing"
    );
}

/// Secrets can be rotated through the system administrator's API: the old one stops working
/// at once, a token issued in the same second as the rotation included.
#[tokio::test]
async fn rotating_a_secret_ends_the_old_one() {
    let hub = Hub::start("").await;
    let old = hub.add_client("rotating", "tax", &["analyst"], json!({})).await;
    // A token of the old secret, issued just before the rotation (part of what is tested:
    // no pause between them, so that both usually fall in the same second).
    let signed_in = hub.caller_of("rotating", &old).await;
    let (status, body) = signed_in.get("/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = hub
        .system()
        .await
        .http
        .post(format!("{}/v1/clients/rotating/rotate-secret", hub.url))
        .send()
        .await
        .expect("rotate");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = body["client_secret"].as_str().expect("secret");
    // Whatever was signed in with the old secret ends with it.
    let (status, body) = signed_in.get("/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("secret or password changed")),
        "{body}"
    );
    let grant = [("grant_type", "client_credentials")];
    assert_eq!(
        token_request(&hub, &grant, Some(("rotating", &old))).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The system administrator knows the new secret; it works once a security
    // administrator approves it.
    let (status, body, _) = token_request(&hub, &grant, Some(("rotating", new))).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("unauthorized_client")),
        "{body}"
    );
    let (status, _) = hub
        .security()
        .await
        .post(
            "/v1/clients/rotating/approve",
            json!({"department": "tax", "roles": ["analyst"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body, _) = token_request(&hub, &grant, Some(("rotating", new))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A token of the new secret is taken at once, in the same second as the change or not.
    let token = body["access_token"].as_str().expect("token");
    let (status, body) = json_of(
        hub.authorized(token)
            .get(format!("{}/v1/me", hub.url))
            .send()
            .await
            .expect("me"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

const STREAMED: &str = r#"
contract:
  department: statistics
  name: streamed
  title: Streamed
  owner: { name: Desk, email: desk@example.gov }
  fields:
    - { name: id, type: bigint, nullable: false }
    - { name: name, type: string, nullable: false }
source: { kind: csv, path: streamed.csv }
"#;

/// A query under way ends when its caller's access ends, whether the client is disabled or
/// its secret reset while the rows stream: the rest is not sent, and the query is recorded
/// as ended for that reason (`access_ended`).
#[tokio::test]
async fn queries_under_way_end_with_their_callers_access() {
    let hub = Hub::start("").await;
    // 2,000 people: their pairs are 4,000,000 rows (about 100 MB of CSV), far more than
    // the connection holds before the client reads.
    let mut text = String::from("id,name\n");
    for id in 0..2_000 {
        text.push_str(&format!("{id},Person {id:05}\n"));
    }
    std::fs::write(hub.dir().join("streamed.csv"), text).expect("write");
    hub.publish_ok(STREAMED).await;
    let pairs = 4_000_000;
    for (id, end) in [
        ("ended-by-disable", "disable"),
        ("ended-by-reset", "rotate-secret"),
    ] {
        let secret = hub.add_client(id, "tax", &["analyst"], json!({})).await;
        hub.grant_everything("statistics.streamed", json!({"client": id}))
            .await;
        let client = hub.authorized(&hub.token(id, &secret).await);
        let mut response = client
            .post(format!("{}/v1/query", hub.url))
            .header("Accept", "text/csv")
            .json(&json!({
                "sql": "SELECT a.name, b.name AS other FROM statistics.streamed a, statistics.streamed b",
                "purpose": "testing",
            }))
            .send()
            .await
            .expect("query");
        assert_eq!(response.status(), StatusCode::OK, "{id}");
        let first = response.chunk().await.expect("read").expect("a first chunk");
        let mut rows = first.iter().filter(|byte| **byte == b'\n').count();
        let response_to_end = hub
            .system()
            .await
            .http
            .post(format!("{}/v1/clients/{id}/{end}", hub.url))
            .send()
            .await
            .expect(end);
        assert!(
            response_to_end.status().is_success(),
            "{end}: {}",
            response_to_end.status()
        );
        // What the connection already held arrives; then the stream stops, short of the end.
        let rest = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => rows += chunk.iter().filter(|byte| **byte == b'\n').count(),
                    Ok(None) | Err(_) => return,
                }
            }
        })
        .await;
        assert!(rest.is_ok(), "{id}: the stream still ran 30 s after the {end}");
        assert!(rows < pairs, "{id}: all {rows} rows were sent");
        let ended = eventually(
            "the query recorded as ended",
            std::time::Duration::from_secs(10),
            async || {
                let (status, body) = hub
                    .auditor()
                    .await
                    .get("/v1/audit/events?action=query.finished&limit=1000")
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                body["events"]
                    .as_array()
                    .and_then(|events| events.iter().find(|event| event["principal"] == id).cloned())
            },
        )
        .await;
        assert_eq!(ended["error_class"], "access_ended", "{ended}");
        assert!(
            ended["rows"].as_u64().is_some_and(|sent| sent < pairs as u64),
            "{ended}"
        );
    }
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

/// Behind a trusted reverse proxy, the client is the address the proxy forwards: in the
/// audit log and for sign-in limits, so that clients behind one proxy do not share a
/// lockout; from anyone else the header is ignored.
#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_no_one_else_does() {
    let hub = Hub::start(
        "[auth]\nmax_failed_attempts = 3\nmax_failed_attempts_per_address = 3\nfailure_window = \"1m\"\n",
    )
    .await;
    let from = |address: &str, id: &str, secret: &str| {
        hub.anonymous()
            .post(format!("{}/oauth/token", hub.url))
            .header("x-forwarded-for", address)
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    // Not a trusted proxy: the forwarded address is ignored, the peer is 127.0.0.1.
    let status = from("203.0.113.7", "ghost", "guess")
        .await
        .expect("token")
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, refused) = hub
        .auditor()
        .await
        .get("/v1/audit/events?action=token.refused")
        .await;
    assert_eq!(refused["events"][0]["client_address"], "127.0.0.1", "{refused}");

    let proxied = Hub::start_with(|dir| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n\
             [storage]\ndata_dir = \"{}\"\n\
             [auth]\nmax_failed_attempts = 3\nmax_failed_attempts_per_address = 3\nfailure_window = \"1m\"\n",
            dir.display()
        )
    })
    .await;
    let from = |address: &str, id: &str, secret: &str| {
        proxied
            .anonymous()
            .post(format!("{}/oauth/token", proxied.url))
            .header("x-forwarded-for", address)
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    for ghost in ["ghost-1", "ghost-2", "ghost-3"] {
        let response = from("6.6.6.6, 203.0.113.7", ghost, "guess").await.expect("token");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = from("203.0.113.7", "ghost-4", "guess").await.expect("token");
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "that client's address is held back"
    );
    let admin_secret = proxied.admin_secret.clone();
    let response = from("198.51.100.20", ADMIN, &admin_secret).await.expect("token");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "another client behind the same proxy is not"
    );
    let (_, refused) = proxied
        .auditor()
        .await
        .get("/v1/audit/events?action=token.refused")
        .await;
    assert_eq!(refused["events"][0]["client_address"], "203.0.113.7", "{refused}");
}
