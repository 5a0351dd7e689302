//! Signing keys: rotation keeps earlier tokens valid; an external issuer's keys are found
//! through its discovery document.

use super::*;

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
