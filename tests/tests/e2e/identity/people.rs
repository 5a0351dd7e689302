//! People signing in: the built-in issuer as an OpenID Connect provider, driven as a browser
//! and an application drive it: the sign-in page, the authorization code with PKCE, ID
//! tokens, refresh tokens that rotate, sign-out, and everything it must refuse.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::support::{Hub, eventually, json_of};

pub(super) const PASSWORD: &str = "a long river crossing";

/// The sign-in page's URL with `query`.
fn authorize_url(hub: &Hub, query: &[(String, String)]) -> url::Url {
    let mut url = url::Url::parse(&format!("{}/oauth/authorize", hub.url)).expect("a URL");
    url.query_pairs_mut().extend_pairs(query);
    url
}

/// A browser: no redirects followed, so that each answer can be read.
pub(super) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A PKCE pair: a verifier and its S256 challenge.
fn pkce(seed: &str) -> (String, String) {
    let verifier = format!("{seed}-verifier-{}", "x".repeat(48));
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    (verifier, challenge)
}

fn console_redirect(hub: &Hub) -> String {
    format!("{}/console/callback", hub.url)
}

/// The query of an authorization request of the console.
fn authorization_query(hub: &Hub, challenge: &str, state: &str) -> Vec<(String, String)> {
    [
        ("response_type", "code"),
        ("client_id", "console"),
        ("redirect_uri", &console_redirect(hub)),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", state),
        ("nonce", "n-0S6_WzA2Mj"),
        ("scope", "openid profile"),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect()
}

/// The sign-in page's hidden fields and the form cookie it set.
pub(super) async fn open_page(hub: &Hub, query: &[(String, String)]) -> (Vec<(String, String)>, String) {
    let response = browser()
        .get(authorize_url(hub, query))
        .send()
        .await
        .expect("the sign-in page");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = form_cookie(response.headers());
    let page = response.text().await.expect("page");
    let mut fields = Vec::new();
    for input in page.split("<input type=\"hidden\" ").skip(1) {
        let attribute = |name: &str| {
            input
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default()
                .replace("&amp;", "&")
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&#39;", "'")
        };
        fields.push((attribute("name"), attribute("value")));
    }
    (fields, cookie)
}

fn form_cookie(headers: &HeaderMap) -> String {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("causeway_sign_in="))
        .and_then(|value| value.split(';').next())
        .expect("the page sets its form cookie")
        .to_owned()
}

/// Submits the sign-in form as a browser would.
pub(super) async fn submit(
    hub: &Hub,
    fields: &[(String, String)],
    cookie: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let mut form = fields.to_vec();
    form.push(("username".into(), user.into()));
    form.push(("password".into(), password.into()));
    browser()
        .post(format!("{}/oauth/authorize", hub.url))
        .header(reqwest::header::COOKIE, cookie)
        .form(&form)
        .send()
        .await
        .expect("submit the form")
}

/// Signs `user` in to the console: the code it receives, checked against the state sent.
async fn sign_in(hub: &Hub, user: &str, password: &str, challenge: &str) -> String {
    let query = authorization_query(hub, challenge, "state-1");
    let (fields, cookie) = open_page(hub, &query).await;
    let response = submit(hub, &fields, &cookie, user, password).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    let target = url::Url::parse(&location).expect("a URL");
    assert_eq!(
        format!("{}://{}{}", target.scheme(), target.authority(), target.path()),
        console_redirect(hub)
    );
    let parameter = |name: &str| {
        target
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    assert_eq!(parameter("state").as_deref(), Some("state-1"));
    assert_eq!(parameter("iss").as_deref(), Some(hub.url.as_str()), "RFC 9207");
    parameter("code").expect("a code")
}

async fn token(hub: &Hub, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = browser()
        .post(format!("{}/oauth/token", hub.url))
        .form(form)
        .send()
        .await
        .expect("token request");
    json_of(response).await
}

async fn redeem(hub: &Hub, code: &str, verifier: &str) -> (StatusCode, Value) {
    let redirect = console_redirect(hub);
    token(
        hub,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "console"),
            ("code", code),
            ("redirect_uri", &redirect),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(hub: &Hub, refresh_token: &str) -> (StatusCode, Value) {
    token(
        hub,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "console"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn people_sign_in_with_pkce_and_their_refresh_tokens_rotate_once() {
    let hub = Hub::start("").await;
    hub.add_person("li.wei", "civil_affairs", "analyst", "Li Wei", PASSWORD);

    let (_, discovery) = hub.get("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["authorization_endpoint"],
        json!(format!("{}/oauth/authorize", hub.url))
    );
    assert_eq!(discovery["code_challenge_methods_supported"], json!(["S256"]));

    // The page: no script may run on it, and it cannot be framed.
    let (_, challenge) = pkce("first");
    let query = authorization_query(&hub, &challenge, "state-1");
    let response = browser()
        .get(authorize_url(&hub, &query))
        .send()
        .await
        .expect("page");
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .expect("policy")
        .to_owned();
    assert!(
        policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"),
        "{policy}"
    );
    let page = response.text().await.expect("page");
    assert!(
        page.contains("<label for=\"password\">Password</label>"),
        "{page}"
    );

    // A wrong password: the page again, saying so; a form without its cookie: refused.
    let (fields, cookie) = open_page(&hub, &query).await;
    let wrong = submit(&hub, &fields, &cookie, "li.wei", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .text()
            .await
            .expect("page")
            .contains("user name or password is wrong")
    );
    let forged = submit(&hub, &fields, "causeway_sign_in=other", "li.wei", PASSWORD).await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST, "another site's form");

    // A code whose verifier is wrong is refused, and used up.
    let code = sign_in(&hub, "li.wei", PASSWORD, &challenge).await;
    let (status, body) = redeem(&hub, &code, &pkce("other").0).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_grant"))
    );
    let (status, _) = redeem(&hub, &code, &pkce("first").0).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a code is used once");

    let (verifier, challenge) = pkce("second");
    let code = sign_in(&hub, "li.wei", PASSWORD, &challenge).await;
    let (status, tokens) = redeem(&hub, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = payload(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(
        (
            &id_token["iss"],
            &id_token["sub"],
            &id_token["aud"],
            &id_token["nonce"],
            &id_token["name"]
        ),
        (
            &json!(hub.url),
            &json!("li.wei"),
            &json!("console"),
            &json!("n-0S6_WzA2Mj"),
            &json!("Li Wei")
        )
    );
    let person = hub.authorized(tokens["access_token"].as_str().expect("access_token"));
    let (status, me) = json_of(person.get(format!("{}/v1/me", hub.url)).send().await.expect("me")).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], json!("li.wei"), "{me}");
    assert_eq!(me["department"], json!("civil_affairs"), "{me}");

    // Each refresh answers a new refresh token; the old one, used again, ends the sign-in.
    let first = tokens["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();
    let (status, refreshed) = refresh(&hub, &first).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let second = refreshed["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();
    assert_ne!(first, second);
    let (status, body) = refresh(&hub, &first).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_grant"))
    );
    let (status, _) = refresh(&hub, &second).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the whole sign-in ended");

    // The code used twice ended its sign-in too; both are in the audit log.
    let (status, _) = redeem(&hub, &code, &verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let ended = eventually(
        "the ended sign-ins recorded",
        std::time::Duration::from_secs(10),
        async || {
            let rows = hub
                .audit_rows("SELECT principal, detail FROM audit.events WHERE action = 'sign_in.ended'")
                .await;
            (rows.len() >= 2).then_some(rows)
        },
    )
    .await;
    assert!(
        ended.iter().all(|row| row["principal"] == json!("li.wei")),
        "{ended:?}"
    );
    let signed_in = hub
        .audit_rows(
            "SELECT outcome, principal FROM audit.events WHERE action IN ('sign_in.succeeded', 'sign_in.refused') ORDER BY seq",
        )
        .await;
    assert_eq!(
        signed_in.first(),
        Some(&json!({"outcome": "denied", "principal": "li.wei"})),
        "{signed_in:?}"
    );
    assert_eq!(
        signed_in
            .iter()
            .filter(|row| row["outcome"] == json!("ok"))
            .count(),
        2
    );
}

#[tokio::test]
async fn people_made_through_the_api_sign_out_and_stop_when_disabled() {
    let hub = Hub::start("").await;
    let system = hub.system().await;
    let (status, made) = system
        .post(
            "/v1/clients",
            json!({"id": "chen.jing", "department": "land_registry", "roles": ["publisher"], "person_name": "Chen Jing"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let first_password = made["client_secret"]
        .as_str()
        .expect("a first password")
        .to_owned();
    let (_, challenge) = pkce("waiting");
    let (fields, cookie) = open_page(&hub, &authorization_query(&hub, &challenge, "s")).await;
    let waiting = submit(&hub, &fields, &cookie, "chen.jing", &first_password).await;
    assert_eq!(waiting.status(), StatusCode::FORBIDDEN, "not approved yet");
    assert!(waiting.text().await.expect("page").contains("approval"));
    let (status, _) = hub
        .security()
        .await
        .post(
            "/v1/clients/chen.jing/approve",
            json!({"department": "land_registry", "roles": ["publisher"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // A person's password is no client secret, and a service's secret signs no one in.
    let (status, body) = token(
        &hub,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "chen.jing"),
            ("client_secret", &first_password),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_client"))
    );
    let (fields, cookie) = open_page(&hub, &authorization_query(&hub, &challenge, "s")).await;
    let service = submit(&hub, &fields, &cookie, crate::support::ADMIN, "cws_anything").await;
    assert_eq!(service.status(), StatusCode::UNAUTHORIZED);

    // Signed out: the refresh token stops at once.
    let (verifier, challenge) = pkce("out");
    let code = sign_in(&hub, "chen.jing", &first_password, &challenge).await;
    let (status, tokens) = redeem(&hub, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let refresh_token = tokens["refresh_token"].as_str().expect("refresh_token");
    let response = browser()
        .post(format!("{}/oauth/revoke", hub.url))
        .form(&[("client_id", "console"), ("token", refresh_token)])
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status(), StatusCode::OK);
    let (status, _) = refresh(&hub, refresh_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "signed out");

    // Disabled: the access token is refused at its next request, and nothing refreshes.
    let (verifier, challenge) = pkce("disabled");
    let code = sign_in(&hub, "chen.jing", &first_password, &challenge).await;
    let (_, tokens) = redeem(&hub, &code, &verifier).await;
    let (status, _) = system.post("/v1/clients/chen.jing/disable", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let person = hub.authorized(tokens["access_token"].as_str().expect("access_token"));
    let me = person.get(format!("{}/v1/me", hub.url)).send().await.expect("me");
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = refresh(&hub, tokens["refresh_token"].as_str().expect("refresh_token")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_sign_in_page_redirects_only_where_the_application_registered() {
    let hub = Hub::start("[auth]\nmax_failed_attempts = 3\n").await;
    hub.add_person("zhao.min", "civil_affairs", "analyst", "赵敏", PASSWORD);
    let (_, challenge) = pkce("checks");
    let page = async |query: Vec<(String, String)>| {
        browser()
            .get(authorize_url(&hub, &query))
            .header(reqwest::header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9")
            .send()
            .await
            .expect("page")
    };
    let with = |name: &str, value: &str| {
        let mut query = authorization_query(&hub, &challenge, "s-9");
        query.retain(|(key, _)| key != name);
        if !value.is_empty() {
            query.push((name.to_owned(), value.to_owned()));
        }
        query
    };

    // Not to be trusted with a redirect: said on the page, in the browser's language.
    for query in [
        with("client_id", "someone-else"),
        with("redirect_uri", "https://evil.example/cb"),
    ] {
        let response = page(query).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get(LOCATION).is_none());
        assert!(response.text().await.expect("page").contains("登录"));
    }
    // Anything else goes back to the application with an error and its state.
    for (query, error) in [
        (with("code_challenge", ""), "invalid_request"),
        (with("code_challenge_method", "plain"), "invalid_request"),
        (with("response_type", "token"), "unsupported_response_type"),
        (with("scope", "profile"), "invalid_scope"),
    ] {
        let response = page(query).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()[LOCATION]
            .to_str()
            .expect("location")
            .to_owned();
        assert!(location.starts_with(&console_redirect(&hub)), "{location}");
        assert!(
            location.contains(&format!("error={error}")) && location.contains("state=s-9"),
            "{location}"
        );
        assert!(location.contains("iss="), "RFC 9207 on errors too: {location}");
    }
    // What the application sent comes back escaped.
    let response = page(with("state", "\"><script>alert(1)</script>")).await;
    let text = response.text().await.expect("page");
    assert!(!text.contains("<script>alert"), "{text}");
    assert!(text.contains("&quot;&gt;&lt;script&gt;"), "{text}");

    // Failures are limited like client secrets'.
    let query = authorization_query(&hub, &challenge, "s");
    let mut last = StatusCode::OK;
    for _ in 0..4 {
        let (fields, cookie) = open_page(&hub, &query).await;
        last = submit(&hub, &fields, &cookie, "zhao.min", "wrong password!")
            .await
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let (fields, cookie) = open_page(&hub, &query).await;
    let locked = submit(&hub, &fields, &cookie, "zhao.min", PASSWORD).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even with the right one"
    );
}

/// A person changes their own password: the current one proves it is them; every sign-in
/// made with the old one ends (tokens and refresh tokens), and the new one signs them in.
#[tokio::test]
async fn a_person_changes_their_own_password_and_old_sign_ins_end() {
    let hub = Hub::start("").await;
    hub.add_person("zhou.min", "civil_affairs", "analyst", "Zhou Min", PASSWORD);
    let (verifier, challenge) = pkce("own");
    let code = sign_in(&hub, "zhou.min", PASSWORD, &challenge).await;
    let (status, tokens) = redeem(&hub, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let person = hub.caller(&hub.authorized(tokens["access_token"].as_str().expect("token")));
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let (status, body) = person
        .post("/v1/me/password", change("not it at all", "a new long password"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("wrong_password"))
    );
    let (status, _) = person.post("/v1/me/password", change(PASSWORD, "short")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let service = hub
        .caller_as("plain-service", "civil_affairs", &["analyst"])
        .await;
    let (status, _) = service
        .post("/v1/me/password", change("anything", "a new long password"))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a service has a secret, not a password"
    );

    // A second sign-in whose code waits to be redeemed when the password changes.
    let (waiting_verifier, waiting_challenge) = pkce("waiting");
    let waiting = sign_in(&hub, "zhou.min", PASSWORD, &waiting_challenge).await;
    // No pause: a token issued in the same second as the change ends with it too.
    let (status, body) = person
        .post("/v1/me/password", change(PASSWORD, "a new long password"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = person.get("/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "this sign-in ended too");
    let (status, _) = refresh(&hub, tokens["refresh_token"].as_str().expect("refresh")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "its refresh token too");
    let (status, body) = redeem(&hub, &waiting, &waiting_verifier).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_grant")),
        "the waiting code too: {body}"
    );
    let (fields, cookie) = open_page(&hub, &authorization_query(&hub, &challenge, "s")).await;
    let old = submit(&hub, &fields, &cookie, "zhou.min", PASSWORD).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let (verifier, challenge) = pkce("again");
    let code = sign_in(&hub, "zhou.min", "a new long password", &challenge).await;
    let (status, tokens) = redeem(&hub, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "no new approval needed: {tokens}");

    let changed = hub
        .audit_rows(
            "SELECT principal, detail FROM audit.events WHERE action = 'client.secret_rotated' AND outcome = 'ok'",
        )
        .await;
    assert!(
        changed.iter().any(|row| row["principal"] == "zhou.min"
            && row["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("own_password"))),
        "{changed:?}"
    );
}
