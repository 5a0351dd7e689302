//! Accounts under separation of duties: what the system administrator hands out waits for
//! the security administrator's approval of what it saw, secrets pasted where ids go never
//! reach the log, and roles kept apart are never held together, wherever they come from.

use reqwest::StatusCode;
use serde_json::json;

use super::duties::send;
use super::{claims, hub_signing_key, sign};
use crate::support::{Hub, SECURITY_ADMIN, SYSTEM_ADMIN, causeway};

/// Refusing a role added to an approved account takes the role away again and leaves the
/// account working with the roles that were approved; only an account with nothing approved
/// to go back to (a new one, or one waiting with a new secret) is disabled.
#[tokio::test]
async fn refusing_an_added_role_keeps_the_account_as_approved() {
    let hub = Hub::start("").await;
    let (system, security) = (hub.system().await, hub.security().await);
    let grant_type = [("grant_type", "client_credentials")];
    let (status, made) = system
        .post(
            "/v1/clients",
            json!({"id": "grown-reader", "department": "land_registry", "roles": ["analyst"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["client_secret"].as_str().expect("secret").to_owned();
    let approve = json!({"department": "land_registry", "roles": ["analyst"]});
    let (status, _) = send(
        &hub,
        &security,
        "POST",
        "/v1/clients/grown-reader/approve",
        approve,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let reader = hub.caller_of("grown-reader", &secret).await;

    let (status, _) = send(
        &hub,
        &system,
        "PUT",
        "/v1/clients/grown-reader/roles",
        json!({"roles": ["analyst", "publisher"]}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = super::token_request(&hub, &grant_type, Some(("grown-reader", &secret))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the added role waits");
    let entry = |listed: &serde_json::Value| {
        listed
            .as_array()
            .and_then(|clients| clients.iter().find(|client| client["id"] == "grown-reader"))
            .cloned()
            .expect("listed")
    };
    let (_, listed) = security.get("/v1/clients").await;
    assert_eq!(
        entry(&listed)["approved_roles"],
        json!(["analyst"]),
        "the officer sees what was approved beside what waits"
    );

    let (status, _) = send(
        &hub,
        &security,
        "POST",
        "/v1/clients/grown-reader/refuse",
        json!({"reason": "publishing is not this team's work"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, listed) = system.get("/v1/clients").await;
    let refused = entry(&listed);
    assert_eq!(
        (
            &refused["disabled"],
            &refused["roles"],
            &refused["approved_by"],
            &refused["refused"]["reason"]
        ),
        (
            &json!(false),
            &json!(["analyst"]),
            &json!(SECURITY_ADMIN),
            &json!("publishing is not this team's work")
        ),
        "{refused}"
    );
    assert!(refused.get("approved_roles").is_none(), "{refused}");
    // Its token from before works on, and new ones are issued, with the approved role only.
    let (status, me) = reader.get("/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (status, body, _) = super::token_request(&hub, &grant_type, Some(("grown-reader", &secret))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let renewed = hub.renewed_caller_of("grown-reader", &secret).await;
    let (status, me) = renewed.get("/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert!(
        !me.to_string().contains("publisher"),
        "the refused role is not held: {me}"
    );

    // A new secret that waits has nothing approved to go back to: refusing it disables.
    let (status, body) = system
        .post("/v1/clients/grown-reader/rotate-secret", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = send(
        &hub,
        &security,
        "POST",
        "/v1/clients/grown-reader/refuse",
        json!({"reason": "nobody asked for a new secret"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, listed) = system.get("/v1/clients").await;
    assert_eq!(entry(&listed)["disabled"], json!(true));
}

#[tokio::test]
async fn what_the_system_administrator_hands_out_waits_for_approval() {
    let hub = Hub::start("").await;
    let (system, security, auditor) = (hub.system().await, hub.security().await, hub.auditor().await);
    let client = |id: &str, roles: &[&str]| json!({"id": id, "department": "land_registry", "roles": roles});
    let grant_type = [("grant_type", "client_credentials")];
    // No pause: a token ends with its secret however close in time the rotation comes.
    let (status, body) = system
        .post("/v1/clients/e2e-system/rotate-secret", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "its own secret: {body}");
    let own = body["client_secret"].as_str().expect("secret").to_owned();
    // The token of the old secret ended with it; the new one keeps its approval.
    let (status, body) = system.get("/v1/clients").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let system = hub.renewed_caller_of("e2e-system", &own).await;

    // An account the system administrator makes is used only once the security
    // administrator approves it: the one knows the secret, the other makes it work.
    let (status, made) = system
        .post("/v1/clients", client("own-reader", &["analyst"]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["client_secret"].as_str().expect("secret").to_owned();
    let (status, body, _) = super::token_request(&hub, &grant_type, Some(("own-reader", &secret))).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("unauthorized_client")),
        "{body}"
    );
    let seen = json!({"department": "land_registry", "roles": ["analyst"]});
    let (status, _) = send(
        &hub,
        &system,
        "POST",
        "/v1/clients/own-reader/approve",
        seen.clone(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the system administrator approves nothing"
    );
    let (status, _) = send(
        &hub,
        &auditor,
        "POST",
        "/v1/clients/own-reader/approve",
        seen.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nor does the auditor");
    let (status, _) = send(
        &hub,
        &security,
        "POST",
        "/v1/clients/own-reader/approve",
        seen.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body, _) = super::token_request(&hub, &grant_type, Some(("own-reader", &secret))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A role added waits for approval again.
    let (status, _) = send(
        &hub,
        &system,
        "PUT",
        "/v1/clients/own-reader/roles",
        json!({"roles": ["analyst", "publisher"]}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = super::token_request(&hub, &grant_type, Some(("own-reader", &secret))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a new role waits for approval");
    // An approval is of what the approver saw: an account changed after it looked is refused.
    let (status, code) = send(
        &hub,
        &security,
        "POST",
        "/v1/clients/own-reader/approve",
        seen.clone(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "changed"),
        "roles changed since"
    );
    let saw_now = json!({"department": "land_registry", "roles": ["analyst", "publisher"]});
    let (status, _) = send(&hub, &security, "POST", "/v1/clients/own-reader/approve", saw_now).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // The security administrator may refuse instead: the account is disabled for good, and
    // the system administrator sees who refused it and why.
    let (status, made) = system
        .post("/v1/clients", client("refused-reader", &["analyst"]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let refused_secret = made["client_secret"].as_str().expect("secret").to_owned();
    let reason = json!({"reason": "no access request on file for this account"});
    for (who, caller) in [("the system administrator", &system), ("the auditor", &auditor)] {
        let (status, _) = send(
            &hub,
            caller,
            "POST",
            "/v1/clients/refused-reader/refuse",
            reason.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who} refuses nothing");
    }
    let (status, code) = send(
        &hub,
        &security,
        "POST",
        "/v1/clients/refused-reader/refuse",
        json!({"reason": "  "}),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_reason"),
        "a refusal says why"
    );
    let (status, code) = send(
        &hub,
        &security,
        "POST",
        "/v1/clients/refused-reader/refuse",
        json!({"reason": "looks fine\u{1b}[2K\nghost-admin  enabled"}),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_reason"),
        "no control characters, which would forge lines of the listings"
    );
    // A body that is not JSON is refused after the role, and recorded.
    for (caller, expected) in [
        (&system, StatusCode::FORBIDDEN),
        (&security, StatusCode::BAD_REQUEST),
    ] {
        let response = caller
            .http
            .post(format!("{}/v1/clients/refused-reader/refuse", hub.url))
            .header("Content-Type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("refuse");
        assert_eq!(response.status(), expected);
    }
    let (status, _) = send(
        &hub,
        &security,
        "POST",
        "/v1/clients/own-reader/refuse",
        reason.clone(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an approved account waits for nothing"
    );
    let (status, _) = send(
        &hub,
        &security,
        "POST",
        "/v1/clients/refused-reader/refuse",
        reason.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(
        &hub,
        &security,
        "POST",
        "/v1/clients/refused-reader/approve",
        json!({"department": "land_registry", "roles": ["analyst"]}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a refused account is approved no more"
    );
    let (status, code) = send(
        &hub,
        &system,
        "POST",
        "/v1/clients/refused-reader/rotate-secret",
        json!({}),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "disabled"),
        "nor given a secret that could never work"
    );
    let (status, body, _) =
        super::token_request(&hub, &grant_type, Some(("refused-reader", &refused_secret))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, listed) = system.get("/v1/clients").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let entry = listed
        .as_array()
        .and_then(|clients| clients.iter().find(|client| client["id"] == "refused-reader"))
        .cloned()
        .expect("the refused account is listed");
    assert_eq!(entry["disabled"], true, "{entry}");
    assert_eq!(
        entry["refused"],
        json!({"by": SECURITY_ADMIN, "reason": "no access request on file for this account"})
    );
    let (_, recorded) = auditor
        .get("/v1/audit/events?action=client.refused&outcome=ok")
        .await;
    assert!(
        recorded.to_string().contains("no access request on file"),
        "the refusal and its reason are recorded: {recorded}"
    );
    let (_, attempts) = auditor
        .get(&format!(
            "/v1/audit/events?action=client.refused&principal={SYSTEM_ADMIN}"
        ))
        .await;
    assert!(
        attempts["events"]
            .as_array()
            .is_some_and(|events| events.len() >= 2),
        "the system administrator's attempts are recorded, the one not JSON too: {attempts}"
    );
    let (_, malformed) = auditor
        .get("/v1/audit/events?action=client.refused&outcome=error")
        .await;
    assert!(
        malformed.to_string().contains("not JSON"),
        "a body that is not JSON is recorded: {malformed}"
    );

    // A secret pasted where an id goes never reaches the record.
    let leaked = own.clone();
    let (status, _, _) = super::token_request(
        &hub,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &leaked),
            ("client_secret", "x"),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(
        &hub,
        &system,
        "POST",
        "/v1/clients",
        json!({"id": leaked, "department": "it", "roles": ["analyst"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, code) = send(
        &hub,
        &system,
        "POST",
        "/v1/clients",
        json!({"id": "typo", "department": "it", "roles": ["Auditor"]}),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    let (_, everything) = auditor.get("/v1/audit/events?limit=10000").await;
    let everything = everything.to_string();
    assert!(!everything.contains(&own), "a secret reached the log");
    assert!(
        everything.contains("(not a client id)"),
        "the pasted secret is recorded as no client id"
    );
    let (_, malformed) = auditor
        .get(&format!(
            "/v1/audit/events?action=client.created&principal={SYSTEM_ADMIN}&outcome=error"
        ))
        .await;
    assert!(
        malformed.to_string().contains("invalid_request"),
        "a malformed request is recorded too: {malformed}"
    );
}

/// Roles one account may not hold together are refused wherever they come from: the CLI,
/// a token of another issuer, or an account of an earlier release, until an operator
/// splits it; roles taken away stop counting at once.
#[tokio::test]
async fn roles_kept_apart_are_never_held_together() {
    let hub = Hub::start("").await;
    let config = hub.dir().join("causeway.toml");
    let config = config.to_string_lossy();
    let add = |id: &str, roles: &str| {
        causeway(&[
            "client", "add", "--config", &config, "--id", id, "--dept", "it", "--roles", roles,
        ])
    };
    let refused = add("both", "system_admin,auditor");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("separation of duties"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // The names of earlier releases mean the new roles.
    let legacy = add("old-admin", "admin");
    assert!(
        legacy.status.success(),
        "{}",
        String::from_utf8_lossy(&legacy.stderr)
    );
    let (_, clients) = hub.system().await.get("/v1/clients").await;
    let old = clients
        .as_array()
        .expect("clients")
        .iter()
        .find(|client| client["id"] == "old-admin")
        .cloned()
        .expect("old-admin listed");
    assert_eq!(old["roles"], json!(["system_admin"]));
    // An account of an earlier release that held every role gets no token until it is split.
    let old_secret = String::from_utf8_lossy(&legacy.stdout).trim().to_owned();
    let store = rusqlite::Connection::open(hub.dir().join("metadata.db")).expect("store");
    store
        .execute(
            "UPDATE clients SET roles = ?1 WHERE id = 'old-admin'",
            [r#"["admin","publisher","analyst","security_officer"]"#],
        )
        .expect("an account of an earlier release");
    let (status, body, _) = super::token_request(
        &hub,
        &[("grant_type", "client_credentials")],
        Some(("old-admin", &old_secret)),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("unauthorized_client")),
        "{body}"
    );
    let listed = causeway(&["client", "list", "--config", &config]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("roles to split"));
    let split = causeway(&[
        "client",
        "roles",
        "old-admin",
        "--set",
        "system_admin",
        "--config",
        &config,
    ]);
    assert!(
        split.status.success(),
        "{}",
        String::from_utf8_lossy(&split.stderr)
    );
    let (status, body, _) = super::token_request(
        &hub,
        &[("grant_type", "client_credentials")],
        Some(("old-admin", &old_secret)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "split, it works again: {body}");

    // A token that claims roles kept apart is refused, whoever signed it.
    let (key, kid) = hub_signing_key(&hub).await;
    let mut forged = claims(&hub);
    forged["roles"] = json!(["system_admin", "security_admin"]);
    let token = sign(&forged, &key, &kid);
    let (status, body) = hub.caller(&hub.authorized(&token)).get("/v1/clients").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("separation_of_duties")),
        "{body}"
    );

    // A role taken away counts no more at the account's next request, with the same token.
    let secret = hub
        .add_client(
            "cad-steward",
            "civil_affairs",
            &["publisher", "analyst"],
            json!({}),
        )
        .await;
    let steward = hub.caller_of("cad-steward", &secret).await;
    let (status, _) = steward.get("/v1/grants/due").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = steward.get("/v1/audit/events?limit=1").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a publisher reads its department's records: {body}"
    );
    let (status, body) = send(
        &hub,
        &hub.system().await,
        "PUT",
        "/v1/clients/cad-steward/roles",
        json!({"roles": ["analyst"]}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = steward.get("/v1/audit/events?limit=1").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no longer a publisher");
    let (_, changed) = hub
        .auditor()
        .await
        .get(&format!(
            "/v1/audit/events?action=client.roles_changed&principal={SYSTEM_ADMIN}"
        ))
        .await;
    assert_eq!(changed["events"][0]["principal"], SYSTEM_ADMIN, "{changed}");

    // An operator splits an account on the hub's machine; the change is recorded.
    let split = causeway(&[
        "client",
        "roles",
        "cad-steward",
        "--set",
        "publisher",
        "--config",
        &config,
    ]);
    assert!(
        split.status.success(),
        "{}",
        String::from_utf8_lossy(&split.stderr)
    );
    let mixed = causeway(&[
        "client",
        "roles",
        "cad-steward",
        "--set",
        "publisher,auditor",
        "--config",
        &config,
    ]);
    assert!(
        !mixed.status.success(),
        "an operator cannot join roles kept apart either"
    );
    let listed = causeway(&["client", "list", "--config", &config]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("cad-steward"));
}
