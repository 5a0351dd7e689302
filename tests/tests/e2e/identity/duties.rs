//! Separation of duties: the system administrator, the security administrator and the
//! auditor are each refused the others' actions, cannot reach them by making or changing
//! accounts, and every attempt is on the record the auditor reads.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{AUDITOR, Caller, Hub, SECURITY_ADMIN, SYSTEM_ADMIN, eventually, json_of};

const RESIDENTS_CSV: &str = "id_number,name,phone,town,grid_id\n\
    440605199001011234,Chen Jing,13800000001,Guicheng,GC-001\n";

const RESIDENT: &str = "440605199001011234";

/// A request as `caller`: `method` on `path` with a JSON body, answered with its status and
/// the error code, if any.
pub(super) async fn send(
    hub: &Hub,
    caller: &Caller,
    method: &str,
    path: &str,
    body: Value,
) -> (StatusCode, String) {
    let url = format!("{}{path}", hub.url);
    let request = match method {
        "GET" => caller.http.get(url),
        "DELETE" => caller.http.delete(url),
        "PUT" => caller.http.put(url).json(&body),
        _ => caller.http.post(url).json(&body),
    };
    let (status, answer) = json_of(request.send().await.expect("request")).await;
    let code = answer["error"]["code"].as_str().unwrap_or_default().to_owned();
    (status, code)
}

#[tokio::test]
async fn each_administrator_is_refused_the_others_actions() {
    let hub = Hub::start("").await;
    hub.publish_residents(RESIDENTS_CSV, "").await;
    let grant = hub
        .grant(
            json!({"subject": {"department": "land_registry"}, "dataset": "civil_affairs.residents",
                      "columns": ["town"], "purposes": ["review"]}),
        )
        .await;
    let grant_path = format!("/v1/grants/{}", grant["id"].as_str().expect("id"));
    hub.add_client("land-analyst", "land_registry", &["analyst"], json!({}))
        .await;
    let (system, security, auditor) = (hub.system().await, hub.security().await, hub.auditor().await);
    let query = json!({"sql": "SELECT town FROM civil_affairs.residents", "purpose": "review"});
    let new_grant = |subject: Value| json!({"subject": subject, "dataset": "civil_affairs.residents", "columns": ["town"], "purposes": ["review"]});
    let client = |id: &str, roles: &[&str]| json!({"id": id, "department": "land_registry", "roles": roles});

    #[rustfmt::skip]
    let cases: Vec<(&str, &Caller, &str, String, Value)> = vec![
        // The system administrator reads no data, grants nothing, reads no audit record.
        ("system: query", &system, "POST", "/v1/query".into(), query.clone()),
        ("system: grant", &system, "POST", "/v1/grants".into(), new_grant(json!({"client": SYSTEM_ADMIN}))),
        ("system: revoke", &system, "DELETE", grant_path.clone(), json!({})),
        ("system: audit events", &system, "GET", "/v1/audit/events".into(), json!({})),
        ("system: audit verify", &system, "GET", "/v1/audit/verify".into(), json!({})),
        ("system: reveal", &system, "POST", "/v1/audit/reveal".into(), json!({"seq": 1})),
        ("system: alerts", &system, "GET", "/v1/alerts".into(), json!({})),
        ("system: remove a dataset", &system, "DELETE", "/v1/datasets/civil_affairs/residents".into(), json!({})),
        ("system: request access", &system, "POST", "/v1/access-requests".into(), json!({"dataset": "civil_affairs.residents", "columns": ["town"], "purpose": "review", "justification": "x", "days": 1})),
        // ... nor reaches another administrator's powers through accounts.
        ("system: make a security administrator", &system, "POST", "/v1/clients".into(), client("sec-2", &["security_admin"])),
        ("system: make an auditor", &system, "POST", "/v1/clients".into(), client("aud-2", &["auditor"])),
        ("system: make a system administrator", &system, "POST", "/v1/clients".into(), client("sys-2", &["system_admin"])),
        ("system: two roles of which one administrative", &system, "POST", "/v1/clients".into(), client("mixed", &["analyst", "auditor"])),
        ("system: its own roles", &system, "PUT", format!("/v1/clients/{SYSTEM_ADMIN}/roles"), json!({"roles": ["analyst"]})),
        ("system: an analyst made security administrator", &system, "PUT", "/v1/clients/land-analyst/roles".into(), json!({"roles": ["security_admin"]})),
        ("system: the auditor's roles", &system, "PUT", format!("/v1/clients/{AUDITOR}/roles"), json!({"roles": ["analyst"]})),
        ("system: the auditor's secret", &system, "POST", format!("/v1/clients/{AUDITOR}/rotate-secret"), json!({})),
        ("system: the security administrator's secret", &system, "POST", format!("/v1/clients/{SECURITY_ADMIN}/rotate-secret"), json!({})),
        ("system: disable the auditor", &system, "POST", format!("/v1/clients/{AUDITOR}/disable"), json!({})),
        // The security administrator manages no accounts and reads no data.
        ("security: make a client", &security, "POST", "/v1/clients".into(), client("friend", &["analyst"])),
        ("security: rotate a secret", &security, "POST", "/v1/clients/land-analyst/rotate-secret".into(), json!({})),
        ("security: disable a client", &security, "POST", "/v1/clients/land-analyst/disable".into(), json!({})),
        ("security: change roles", &security, "PUT", "/v1/clients/land-analyst/roles".into(), json!({"roles": ["publisher"]})),
        ("security: query", &security, "POST", "/v1/query".into(), query.clone()),
        ("security: grant itself", &security, "POST", "/v1/grants".into(), new_grant(json!({"client": SECURITY_ADMIN}))),
        ("security: grant the system administrator", &security, "POST", "/v1/grants".into(), new_grant(json!({"client": SYSTEM_ADMIN}))),
        ("security: grant the auditors", &security, "POST", "/v1/grants".into(), new_grant(json!({"department": "audit", "role": "auditor"}))),
        ("security: verify the log", &security, "GET", "/v1/audit/verify".into(), json!({})),
        ("security: reveal", &security, "POST", "/v1/audit/reveal".into(), json!({"seq": 1})),
        ("security: rotate the signing keys", &security, "POST", "/v1/keys/rotate".into(), json!({})),
        // The auditor changes nothing and reads no data.
        ("auditor: grant", &auditor, "POST", "/v1/grants".into(), new_grant(json!({"department": "land_registry"}))),
        ("auditor: revoke", &auditor, "DELETE", grant_path.clone(), json!({})),
        ("auditor: make a client", &auditor, "POST", "/v1/clients".into(), client("friend", &["analyst"])),
        ("auditor: disable a client", &auditor, "POST", "/v1/clients/land-analyst/disable".into(), json!({})),
        ("auditor: query", &auditor, "POST", "/v1/query".into(), query.clone()),
        ("auditor: rotate the signing keys", &auditor, "POST", "/v1/keys/rotate".into(), json!({})),
        ("auditor: clear an alert", &auditor, "POST", "/v1/alerts/alert-1/clear".into(), json!({})),
        ("auditor: remove a dataset", &auditor, "DELETE", "/v1/datasets/civil_affairs/residents".into(), json!({})),
    ];
    for (case, caller, method, path, body) in &cases {
        let (status, code) = send(&hub, caller, method, path, body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{case}: {code}");
    }
    assert!(cases.len() >= 15);

    // What each may do, it does.
    let (status, _) = security.get("/v1/audit/events?limit=1").await;
    assert_eq!(status, StatusCode::OK, "the security administrator reads the log");
    let (status, report) = auditor.get("/v1/audit/verify").await;
    assert_eq!(
        (status, report["valid"].clone()),
        (StatusCode::OK, json!(true)),
        "{report}"
    );
    let (status, body) = auditor
        .query("SELECT count(*) AS records FROM audit.events", "audit")
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the auditor reads the log with SQL: {body}"
    );
    let (status, clients) = auditor.get("/v1/clients").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the auditor reads the accounts: {clients}"
    );
    let (status, body) = system
        .post("/v1/clients/e2e-system/rotate-secret", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "its own secret: {body}");
    let own = body["client_secret"].as_str().expect("secret").to_owned();
    // The tokens of the old secret end with it.
    let system = hub.renewed_caller_of(SYSTEM_ADMIN, &own).await;
    let (status, body) = system.post("/v1/keys/rotate", json!({})).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the system administrator rotates keys: {body}"
    );
    let grant_type = [("grant_type", "client_credentials")];
    let (status, body, _) = super::token_request(&hub, &grant_type, Some((SYSTEM_ADMIN, &own))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "its own new secret needs no approval: {body}"
    );

    // Every refusal is on the record the auditor reads, the auditor's own reading included.
    let denied = eventually(
        "the refusals recorded",
        std::time::Duration::from_secs(10),
        async || {
            let (_, body) = auditor.get("/v1/audit/events?outcome=denied&limit=10000").await;
            let events = body["events"].as_array().cloned().unwrap_or_default();
            (events.len() >= cases.len()).then_some(events)
        },
    )
    .await;
    for admin in [SYSTEM_ADMIN, SECURITY_ADMIN, AUDITOR] {
        let count = denied.iter().filter(|event| event["principal"] == admin).count();
        assert!(count >= 6, "{admin}: {count} refusals recorded");
    }
    let (_, reads) = auditor
        .get(&format!("/v1/audit/events?action=audit.read&principal={AUDITOR}"))
        .await;
    let details: Vec<&str> = reads["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|event| event["detail"].as_str())
        .collect();
    assert!(
        details.iter().any(|detail| detail.contains("\"verified\":true")),
        "the verification is recorded: {details:?}"
    );
    // What an administrator reads of accounts, grants, requests and alerts is recorded too.
    let (_, lists) = auditor
        .get(&format!("/v1/audit/events?action=admin.read&principal={AUDITOR}"))
        .await;
    assert!(
        lists.to_string().contains("GET /v1/clients"),
        "the auditor's reading of the accounts: {lists}"
    );
}

/// The values typed into a query reach the auditor's eyes only through `reveal`, which is
/// itself recorded; publishers and the security administrator see pseudonyms only.
#[tokio::test]
async fn only_the_auditor_opens_the_values_typed_into_queries() {
    let hub = Hub::start("").await;
    hub.publish_residents(RESIDENTS_CSV, "").await;
    let sql = format!("SELECT name FROM civil_affairs.residents WHERE id_number = '{RESIDENT}'");
    assert_eq!(hub.rows(&sql).await.len(), 1);
    let auditor = hub.auditor().await;
    let started = eventually(
        "the query's record",
        std::time::Duration::from_secs(10),
        async || {
            let (_, body) = auditor
                .get("/v1/audit/events?action=query.started&principal=e2e-admin")
                .await;
            body["events"]
                .as_array()
                .and_then(|events| events.last().cloned())
        },
    )
    .await;
    let readers = [
        ("security", hub.security().await),
        ("publisher", hub.publisher("civil_affairs").await),
        ("auditor", auditor.clone()),
    ];
    for (who, reader) in &readers {
        let (status, body) = reader
            .get("/v1/audit/events?dataset=civil_affairs.residents")
            .await;
        assert_eq!(status, StatusCode::OK, "{who}: {body}");
        assert!(
            !body.to_string().contains(RESIDENT),
            "{who} reads a raw ID number"
        );
    }
    // The auditor exports the log in any format; lists are written as JSON text in CSV.
    let response = auditor
        .http
        .post(format!("{}/v1/query", hub.url))
        .header("accept", "text/csv")
        .json(&json!({"sql": "SELECT principal, roles FROM audit.events WHERE action = 'query.started'", "purpose": "audit"}))
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    let csv = response.text().await.expect("csv");
    assert!(csv.starts_with("principal,roles\n"), "{csv}");
    assert!(csv.contains(r#"e2e-admin,"[""analyst""]""#), "{csv}");
    assert!(!csv.contains(RESIDENT), "{csv}");
    let seq = started["seq"].clone();
    let (status, opened) = auditor.post("/v1/audit/reveal", json!({"seq": seq})).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    assert!(opened.to_string().contains(RESIDENT), "{opened}");
    let (status, _) = hub
        .security()
        .await
        .post("/v1/audit/reveal", json!({"seq": seq}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, reads) = auditor.get("/v1/audit/events?action=audit.read").await;
    assert!(
        reads["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|event| event["principal"] == AUDITOR
                && event["detail"].as_str().unwrap_or_default().contains("revealed")),
        "the opening is recorded: {reads}"
    );
}
