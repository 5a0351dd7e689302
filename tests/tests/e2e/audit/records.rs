//! What each access leaves in the log: queries, refusals, tokens, changes, expiring grants
//! and what an operator changes with the CLI.

use super::*;

#[tokio::test]
async fn a_query_is_recorded_with_what_it_read_and_how_it_ended() {
    let (hub, analyst, grant_id) = setup().await;
    let response = ask(
        &hub,
        &analyst,
        "SELECT id_number, name FROM civil_affairs.residents",
    )
    .await;
    let query_id = response.headers()["x-causeway-query-id"]
        .to_str()
        .expect("query id")
        .to_owned();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"].as_array().map(Vec::len), Some(2));

    let (status, refused) = json_of(
        ask(
            &hub,
            &analyst,
            "SELECT * FROM civil_affairs.residents WHERE grid_id = 'DL-003' AND phone = '1'",
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    // The finished record follows the response's end: wait for it and the refusal's.
    let records = eventually(
        "the query's finished and refused records",
        Duration::from_secs(10),
        async || {
            let records = records(&audit_dir(&hub));
            let finished = records.iter().any(|record| {
                record["action"] == "query.finished" && record["query_id"] == query_id.as_str()
            });
            let refused = records.iter().any(|record| record["action"] == "query.refused");
            (finished && refused).then_some(records)
        },
    )
    .await;
    let started = find(&records, "query.started", &query_id);
    assert_eq!(started["principal"], "grid-worker");
    assert_eq!(started["department"], "town_office");
    assert_eq!(started["roles"], json!(["analyst"]));
    assert_eq!(started["client_address"], "127.0.0.1");
    assert_eq!(started["purpose"], PURPOSE);
    assert_eq!(
        started["sql"],
        "SELECT id_number, name FROM civil_affairs.residents"
    );
    assert_eq!(started["datasets"], json!(["civil_affairs.residents"]));
    assert_eq!(
        started["columns"],
        json!([
            "civil_affairs.residents.id_number",
            "civil_affairs.residents.name"
        ])
    );
    // The grant's hash, and the default mask of the name's classification.
    assert_eq!(
        started["masks"],
        json!([
            "civil_affairs.residents.id_number: keyed hash",
            "civil_affairs.residents.name: partial (first 1, last 0)"
        ])
    );
    assert_eq!(
        started["row_filters"],
        json!(["civil_affairs.residents: grid_id = principal.grid_id"])
    );
    assert_eq!(started["grants"], json!([grant_id]));
    assert_eq!(started["outcome"], "ok");

    let finished = find(&records, "query.finished", &query_id);
    assert_eq!(finished["rows"], 2);
    assert!(finished["bytes"].as_u64().unwrap_or(0) > 0, "{finished}");
    assert!(finished["duration_ms"].is_u64(), "{finished}");
    assert_eq!(finished["outcome"], "ok");
    assert!(
        started["seq"].is_u64() && finished["seq"].is_u64(),
        "{started} {finished}"
    );
    assert!(
        started["seq"].as_u64() < finished["seq"].as_u64(),
        "started comes first"
    );

    let refusal = records
        .iter()
        .find(|record| record["action"] == "query.refused")
        .expect("a query.refused record");
    assert_eq!(refusal["principal"], "grid-worker");
    assert_eq!(refusal["error_class"], refused["error"]["code"]);
    assert_eq!(refusal["outcome"], "error");
    assert_eq!(refusal["datasets"], json!(["civil_affairs.residents"]));
    assert!(
        !refusal.to_string().contains("Li Na"),
        "no value reaches the log that the query did not name"
    );
}

#[tokio::test]
async fn refusals_tokens_and_changes_are_recorded() {
    let (hub, analyst, grant_id) = setup().await;
    let response = ask(&hub, &analyst, "SELECT name FROM civil_affairs.residents").await;
    assert_eq!(response.status(), StatusCode::OK);
    let (_, body) = json_of(response).await;
    assert_eq!(
        body["rows"].as_array().map(Vec::len),
        Some(2),
        "the two residents of GC-001: {body}"
    );
    let denied = analyst
        .post(format!("{}/v1/query", hub.url))
        .json(&json!({"sql": "SELECT name FROM civil_affairs.residents", "purpose": "census"}))
        .send()
        .await
        .expect("query");
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let wrong_secret = hub
        .anonymous()
        .post(format!("{}/oauth/token", hub.url))
        .basic_auth("grid-worker", Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request");
    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(hub.revoke(&grant_id).await, StatusCode::NO_CONTENT);

    let records = records(&audit_dir(&hub));
    let with = |action: &str, outcome: &str| {
        records
            .iter()
            .filter(|record| record["action"] == action && record["outcome"] == outcome)
            .collect::<Vec<_>>()
    };
    let refusal = with("query.refused", "denied");
    assert_eq!(refusal.len(), 1, "{refusal:?}");
    assert_eq!(refusal[0]["error_class"], "access_denied");
    assert_eq!(refusal[0]["purpose"], "census");
    assert_eq!(refusal[0]["datasets"], json!(["civil_affairs.residents"]));

    let issued = with("token.issued", "ok");
    assert!(
        issued
            .iter()
            .any(|record| record["principal"] == "grid-worker" && record["department"] == "town_office"),
        "{issued:?}"
    );
    let refused = with("token.refused", "denied");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["principal"], "grid-worker");
    assert_eq!(refused[0]["client_address"], "127.0.0.1");
    assert!(!refused[0].to_string().contains("not-the-secret"));

    let published = with("dataset.published", "ok");
    assert_eq!(published[0]["datasets"], json!(["civil_affairs.residents"]));
    let created = with("client.created", "ok");
    assert!(
        created
            .iter()
            .any(|record| record["principal"] == crate::support::SYSTEM_ADMIN
                && record["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("grid-worker")),
        "{created:?}"
    );
    let granted = with("grant.created", "ok");
    let granted = granted
        .iter()
        .find(|record| record["grants"] == json!([grant_id]))
        .expect("the grant's record");
    assert_eq!(granted["datasets"], json!(["civil_affairs.residents"]));
    assert_eq!(granted["principal"], crate::support::SECURITY_ADMIN);
    let revoked = with("grant.revoked", "ok");
    assert_eq!(revoked[0]["grants"], json!([grant_id]));
    assert_eq!(revoked[0]["datasets"], json!(["civil_affairs.residents"]));
}

/// A grant that runs out is recorded when it does.
#[tokio::test]
async fn an_expiring_grant_is_recorded_when_it_runs_out() {
    let (hub, _, _) = setup().await;
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let grant = hub
        .grant(json!({
            "subject": {"client": "grid-worker"},
            "dataset": "civil_affairs.residents",
            "purposes": ["census"],
            "expires_at": expires_at.to_rfc3339(),
        }))
        .await;
    let expired = eventually("a grant.expired record", Duration::from_secs(15), async || {
        let (status, body) = hub
            .auditor()
            .await
            .get("/v1/audit/events?action=grant.expired")
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["events"]
            .as_array()
            .and_then(|events| events.first())
            .cloned()
    })
    .await;
    assert_eq!(expired["grants"], json!([grant["id"]]), "{expired}");
    assert_eq!(expired["datasets"], json!(["civil_affairs.residents"]));
}

/// What an operator changes with the CLI on the hub's machine is recorded too: straight into
/// the log while no hub runs, through the running hub's inbox while one does.
#[tokio::test]
async fn changes_made_with_the_cli_are_recorded() {
    let hub = Hub::start("").await;
    let config = hub.dir().join("causeway.toml");
    let config = config.to_string_lossy();
    let output = causeway(&[
        "client",
        "add",
        "--config",
        &config,
        "--id",
        "late-client",
        "--dept",
        "statistics",
        "--roles",
        "analyst",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = causeway(&["keys", "rotate", "--config", &config]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let actions: Vec<(Value, Value)> = eventually(
        "the six records of local changes",
        Duration::from_secs(10),
        async || {
            let (_, body) = hub.auditor().await.get("/v1/audit/events?limit=10000").await;
            let actions: Vec<(Value, Value)> = body["events"]
                .as_array()
                .map(|events| {
                    events
                        .iter()
                        .filter(|event| {
                            event["principal"]
                                .as_str()
                                .is_some_and(|who| who.starts_with("local:"))
                        })
                        .map(|event| (event["action"].clone(), event["detail"].clone()))
                        .collect()
                })
                .unwrap_or_default();
            (actions.len() >= 6).then_some(actions)
        },
    )
    .await;
    let names: Vec<&Value> = actions.iter().map(|(action, _)| action).collect();
    assert_eq!(
        names,
        [
            &json!("client.created"),
            &json!("client.created"),
            &json!("client.created"),
            &json!("client.created"),
            &json!("client.created"),
            &json!("keys.rotated")
        ],
        "the reader and the three administrators made before the hub started, then the two changes made while it ran: {actions:?}"
    );
    assert!(actions[4].1.as_str().unwrap_or_default().contains("late-client"));
    let output = verify_cli(&hub);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
