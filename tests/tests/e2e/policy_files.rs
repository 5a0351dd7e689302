//! Policies as code: grants, deny rules and automatic-approval conditions in YAML files,
//! read at start and on SIGHUP, checked with file and line.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Caller, Hub, causeway, eventually, json_of, residents_spec};

const RESIDENTS_CSV: &str = "id_number,name,phone,town,grid_id\n\
440605199001011234,Chen Wei,13800001111,Guicheng,GC-001\n\
440605198502022345,Li Na,13900002222,Guicheng,GC-002\n";

const POLICIES: &str = r#"
grants:
  - id: grid-workers-see-their-grid
    subject: { department: civil_affairs, role: analyst }
    dataset: civil_affairs.residents
    row_filter: grid_id = principal.grid_id
    unmasked: [name]
    purposes: [grid-management]
deny:
  - id: phones-stay-home
    datasets: civil_affairs.*
    subject: { department: civil_affairs, role: analyst }
    columns: [phone]
    reason: phone numbers are not shared
auto_approve:
  - dataset: civil_affairs.residents
    departments: [land_registry]
    purposes: [parcel-check]
    columns: [town]
    max_days: 10
"#;

async fn hub_with(policies: &str) -> Hub {
    let policies = policies.to_owned();
    let hub = Hub::start_with(move |dir: &Path| {
        std::fs::create_dir_all(dir.join("policies")).expect("dir");
        std::fs::write(dir.join("policies/residents.yaml"), &policies).expect("policies");
        std::fs::write(dir.join("residents.csv"), RESIDENTS_CSV).expect("csv");
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndata_dir = \"{}\"\n[policies]\ndir = \"policies\"\n",
            dir.display()
        )
    })
    .await;
    hub.publish_ok(&residents_spec(RESIDENTS_CSV.lines().next().expect("header"), ""))
        .await;
    hub
}

async fn grid_worker(hub: &Hub) -> Caller {
    let secret = hub
        .add_client(
            "gw-1",
            "civil_affairs",
            &["analyst"],
            json!({"grid_id": "GC-001"}),
        )
        .await;
    hub.caller(&hub.authorized(&hub.token("gw-1", &secret).await))
}

/// A file grant with a row filter and a deny rule apply; a deny rule beats a grant made
/// over the API; file grants are listed and cannot be revoked over the API.
#[tokio::test]
async fn file_grants_and_deny_rules_apply() {
    let hub = hub_with(POLICIES).await;
    let worker = grid_worker(&hub).await;
    let (status, body) = worker
        .query(
            "SELECT name, grid_id FROM civil_affairs.residents",
            "grid-management",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{"name": "Chen Wei", "grid_id": "GC-001"}]));

    hub.grant(
        json!({"subject": {"client": "gw-1"}, "dataset": "civil_affairs.residents",
                     "unmasked": ["phone"], "purposes": ["grid-management"]}),
    )
    .await;
    let (status, body) = worker
        .query("SELECT phone FROM civil_affairs.residents", "grid-management")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the deny rule wins: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("column phone of civil_affairs.residents")
    );

    // Asking for a column a deny rule keeps back is refused when filed, naming the rule;
    // so is asking for every column; the other columns may be asked for.
    let ask = |columns: Value| {
        json!({"dataset": "civil_affairs.residents", "columns": columns, "purpose": "grid-management",
               "justification": "visits", "days": 5})
    };
    for columns in [json!(["name", "phone"]), json!(["*"])] {
        let (status, body) = worker.post("/v1/access-requests", ask(columns.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{columns}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("phones-stay-home") && message.contains("column phone"),
            "{body}"
        );
    }
    let (status, body) = worker
        .post("/v1/access-requests", ask(json!(["name", "town"])))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (_, grants) = hub.security().await.get("/v1/grants").await;
    let file_grant = grants
        .as_array()
        .expect("grants")
        .iter()
        .find(|grant| grant["id"] == "grid-workers-see-their-grid")
        .expect("file grant listed")
        .clone();
    assert_eq!(file_grant["origin"], "file");
    assert!(
        file_grant["created_by"]
            .as_str()
            .unwrap_or_default()
            .ends_with("residents.yaml:3")
    );
    let response = hub
        .http
        .delete(format!("{}/v1/grants/grid-workers-see-their-grid", hub.url))
        .send()
        .await
        .expect("revoke");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("residents.yaml:3"),
        "{body}"
    );
}

/// Conditions written in files are published in the catalog and approve at once.
#[tokio::test]
async fn file_conditions_approve_requests() {
    let hub = hub_with(POLICIES).await;
    let (_, catalog) = hub.get("/v1/catalog").await;
    assert_eq!(
        catalog["departments"][0]["datasets"][0]["access_conditions"]["auto_approve"][0]["purposes"],
        json!(["parcel-check"])
    );
    let land = hub.caller_as("land-analyst", "land_registry", &["analyst"]).await;
    let (status, body) = land
        .post(
            "/v1/access-requests",
            json!({"dataset": "civil_affairs.residents", "columns": ["town"], "purpose": "parcel-check",
                   "justification": "checking parcel towns", "days": 7}),
        )
        .await;
    assert_eq!(
        (status, body["state"].clone()),
        (StatusCode::CREATED, json!("approved")),
        "{body}"
    );
}

/// SIGHUP reads the files again: a removed grant stops counting; a broken file leaves the
/// policies in force as they were.
#[tokio::test]
async fn sighup_reloads_the_files() {
    let hub = hub_with(POLICIES).await;
    let worker = grid_worker(&hub).await;
    let sql = "SELECT grid_id FROM civil_affairs.residents";
    let (status, body) = worker.query(sql, "grid-management").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["rows"],
        json!([{"grid_id": "GC-001"}]),
        "only the worker's grid"
    );

    let file = hub.dir().join("policies/residents.yaml");
    std::fs::write(&file, "grants: [\n").expect("broken");
    hub.hangup();
    eventually(
        "the hub says the broken files were not reloaded",
        std::time::Duration::from_secs(10),
        async || hub.log().contains("policy files not reloaded").then_some(()),
    )
    .await;
    let (status, body) = worker.query(sql, "grid-management").await;
    assert_eq!(status, StatusCode::OK, "a broken file changes nothing");
    assert_eq!(
        body["rows"],
        json!([{"grid_id": "GC-001"}]),
        "still only the worker's grid"
    );
    assert!(hub.log().contains("policy files not reloaded"), "{}", hub.log());

    std::fs::write(&file, POLICIES.replace("grid-management", "something-else")).expect("edit");
    hub.hangup();
    let status = eventually(
        "the edited files in force",
        std::time::Duration::from_secs(10),
        async || {
            let status = worker.query(sql, "grid-management").await.0;
            (status == StatusCode::FORBIDDEN).then_some(status)
        },
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = worker.query(sql, "something-else").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["rows"], json!([{"grid_id": "GC-001"}]), "{body}");
}

/// `causeway policy check` names the file and line of a problem; a hub refuses to start on
/// files that do not fit its datasets; `causeway policy explain` tells a client's view.
#[tokio::test]
async fn policy_files_are_checked_and_explained() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("ok.yaml"), POLICIES).expect("write");
    let path = dir.path().to_string_lossy().into_owned();
    let output = causeway(&["policy", "check", &path]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("1 grants, 1 deny rules, 1 automatic-approval conditions")
    );

    std::fs::write(
        dir.path().join("ok.yaml"),
        POLICIES.replace("    purposes: [grid-management]\n", ""),
    )
    .expect("write");
    let output = causeway(&["policy", "check", &path]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ok.yaml:") && stderr.contains("purposes"),
        "{stderr}"
    );

    // Without a hub's datasets, what needs none is still checked, and the rest is named as
    // not checked rather than passed as valid.
    std::fs::write(dir.path().join("ok.yaml"), POLICIES).expect("write");
    let output = causeway(&["policy", "check", &path]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("not checked against a contract") && stdout.contains("civil_affairs.residents"),
        "{stdout}"
    );
    std::fs::write(
        dir.path().join("ok.yaml"),
        POLICIES.replace(
            "    max_days: 10\n",
            "    max_days: 10\n    verify: { max_attempts_per_subject: 2 }\n",
        ),
    )
    .expect("write");
    let output = causeway(&["policy", "check", &path]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("ok.yaml:16: grant auto-approval of civil_affairs.residents: only a verify grant"),
        "{stderr}"
    );
    std::fs::write(
        dir.path().join("ok.yaml"),
        POLICIES.replace(
            "    unmasked: [name]\n",
            "    kind: verify\n    unmasked: [name]\n",
        ),
    )
    .expect("write");
    let output = causeway(&["policy", "check", &path]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("ok.yaml:3: grant grid-workers-see-their-grid: a verify grant names the columns it matches on, not *"),
        "{stderr}"
    );

    // Against a hub's datasets: a column it does not have.
    let hub = hub_with(POLICIES).await;
    let config = hub.dir().join("causeway.toml").to_string_lossy().into_owned();
    std::fs::write(
        dir.path().join("ok.yaml"),
        POLICIES.replace("unmasked: [name]", "unmasked: [shoe_size]"),
    )
    .expect("write");
    let output = causeway(&["policy", "check", &path, "--config", &config]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("ok.yaml:3: grant grid-workers-see-their-grid: 'shoe_size' is not a column"),
        "{stderr}"
    );

    grid_worker(&hub).await;
    let output = causeway(&[
        "policy",
        "explain",
        "--client",
        "gw-1",
        "--dataset",
        "civil_affairs.residents",
        "--purpose",
        "grid-management",
        "--config",
        &config,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let explained = String::from_utf8_lossy(&output.stdout);
    assert!(explained.contains("grid_id = principal.grid_id"), "{explained}");
    assert!(
        explained.contains("phone") && explained.contains("denied: phone numbers are not shared"),
        "{explained}"
    );
    assert!(
        explained.contains("id_number") && explained.contains("partial (first 0, last 4)"),
        "{explained}"
    );
    let output = causeway(&[
        "policy",
        "explain",
        "--client",
        "gw-1",
        "--dataset",
        "civil_affairs.residents",
        "--purpose",
        "fun",
        "--config",
        &config,
    ]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("may not read"));
}
