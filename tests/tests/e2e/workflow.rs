//! Access requests: two approvals, never one's own, automatic approval under published
//! conditions, deadlines, and revocation at the next query.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Caller, Hub};

const RESIDENTS_CSV: &str = "id_number,name,town,grid_id\n\
440605199001011234,Chen Wei,Guicheng,GC-001\n\
440605198502022345,Li Na,Dali,DL-003\n";

const CONDITIONS: &str = r#"access:
  decision_days: 3
  auto_approve:
    - departments: [land_registry]
      purposes: [subsidy-review]
      columns: [town, grid_id, name]
      masks: { name: { kind: partial, first: 2 } }
      max_days: 30
"#;

struct Parties {
    analyst: Caller,
    steward: Caller,
    officer: Caller,
    second_officer: Caller,
}

async fn setup(access: &str) -> (Hub, Parties) {
    let hub = Hub::start("").await;
    hub.publish_residents(RESIDENTS_CSV, access).await;
    let parties = Parties {
        analyst: hub.caller_as("land-analyst", "land_registry", &["analyst"]).await,
        steward: hub
            .caller_as("cad-steward", "civil_affairs", &["publisher"])
            .await,
        officer: hub.caller_as("officer-1", "security", &["security_admin"]).await,
        second_officer: hub.caller_as("officer-2", "security", &["security_admin"]).await,
    };
    (hub, parties)
}

async fn request(client: &Caller, columns: &[&str], purpose: &str, days: u32) -> Value {
    let (status, body) = client
        .post(
            "/v1/access-requests",
            json!({"dataset": "civil_affairs.residents", "columns": columns, "purpose": purpose,
               "justification": "housing subsidy cases of 2026", "days": days}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// A grant exists only after both the owning department's publisher and a security officer
/// approved; the masks they set are in it; revoking it ends access at the next query.
#[tokio::test]
async fn two_approvals_make_a_grant_and_revocation_ends_it() {
    let (hub, parties) = setup("").await;
    let filed = request(&parties.analyst, &["name", "town"], "housing-review", 10).await;
    assert_eq!(
        (filed["state"].clone(), filed["auto_approved"].clone()),
        (json!("pending"), json!(false))
    );
    let id = filed["id"].as_str().expect("id").to_owned();
    let sql = "SELECT name, town FROM civil_affairs.residents ORDER BY town";
    assert_eq!(
        parties.analyst.query(sql, "housing-review").await.0,
        StatusCode::FORBIDDEN
    );

    let decision = format!("/v1/access-requests/{id}/decision");
    let (status, body) = parties.steward.post(&decision, json!({"approve": true})).await;
    assert_eq!(
        (status, body["state"].clone()),
        (StatusCode::OK, json!("pending")),
        "{body}"
    );
    assert_eq!(
        parties.analyst.query(sql, "housing-review").await.0,
        StatusCode::FORBIDDEN,
        "one approval is not enough"
    );
    let (status, body) = parties.steward.post(&decision, json!({"approve": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the same slot twice: {body}");

    let (status, body) = parties
        .officer
        .post(
            &decision,
            json!({"approve": true, "masks": {"name": {"kind": "null"}}}),
        )
        .await;
    assert_eq!(
        (status, body["state"].clone()),
        (StatusCode::OK, json!("approved")),
        "{body}"
    );
    assert_eq!(body["publisher_review"]["by"], "cad-steward");
    assert_eq!(body["officer_review"]["by"], "officer-1");
    let grant = body["grant_id"].as_str().expect("grant").to_owned();

    let (status, rows) = parties.analyst.query(sql, "housing-review").await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    assert_eq!(
        rows["rows"],
        json!([{"name": null, "town": "Dali"}, {"name": null, "town": "Guicheng"}])
    );
    assert_eq!(
        parties.analyst.query(sql, "another-purpose").await.0,
        StatusCode::FORBIDDEN,
        "only for the purpose asked"
    );

    let (_, grants) = parties.analyst.get("/v1/grants").await;
    let mine = grants
        .as_array()
        .expect("grants")
        .iter()
        .find(|g| g["id"] == grant)
        .expect("own grant")
        .clone();
    assert_eq!(mine["origin"], "request");
    assert_eq!(mine["approved_by"], json!(["cad-steward", "officer-1"]));
    assert_eq!(mine["subject"], json!({"client": "land-analyst"}));

    let response = parties
        .steward
        .http
        .delete(format!(
            "{}/v1/grants/{grant}?reason=the+subsidy+cases+are+closed",
            hub.url
        ))
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, body) = parties.analyst.query(sql, "housing-review").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "revoked at the very next query: {body}"
    );
    // Who revoked it, and why, are kept with the grant.
    let (_, grants) = parties.analyst.get("/v1/grants").await;
    let revoked = grants
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["id"] == grant)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (&revoked["revoked_by"], &revoked["revoked_reason"]),
        (&json!("cad-steward"), &json!("the subsidy cases are closed")),
        "{revoked}"
    );
    let too_long = "x".repeat(501);
    let response = parties
        .steward
        .http
        .delete(format!("{}/v1/grants/{grant}?reason={too_long}", hub.url))
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// Nobody approves their own request, and one person cannot fill both approvals.
#[tokio::test]
async fn nobody_approves_their_own_request_or_both_slots() {
    let (hub, parties) = setup("").await;
    // A publisher of the owning department who is also an analyst may ask, not decide.
    let steward = hub
        .caller_as("cad-steward-2", "civil_affairs", &["publisher", "analyst"])
        .await;
    let filed = request(&steward, &["town"], "audit", 5).await;
    let decision = format!(
        "/v1/access-requests/{}/decision",
        filed["id"].as_str().expect("id")
    );
    let (status, body) = steward.post(&decision, json!({"approve": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("own request"),
        "{body}"
    );

    // An officer approves once; the second approval must come from someone else.
    let filed = request(&parties.analyst, &["town"], "audit", 5).await;
    let decision = format!(
        "/v1/access-requests/{}/decision",
        filed["id"].as_str().expect("id")
    );
    let (status, body) = parties
        .second_officer
        .post(&decision, json!({"approve": true}))
        .await;
    assert_eq!(
        (status, body["state"].clone()),
        (StatusCode::OK, json!("pending")),
        "{body}"
    );
    let (status, _) = parties
        .second_officer
        .post(&decision, json!({"approve": true}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = parties.analyst.post(&decision, json!({"approve": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = parties.steward.post(&decision, json!({"approve": true})).await;
    assert_eq!(
        (status, body["state"].clone()),
        (StatusCode::OK, json!("approved")),
        "{body}"
    );

    // No one can be both a publisher of the owning department and a security administrator,
    // so one person never fills both slots: such an account is not even made.
    let (status, body) = hub
        .system()
        .await
        .post(
            "/v1/clients",
            json!({"id": "cad-both", "department": "civil_affairs", "roles": ["publisher", "security_admin"]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "separation_of_duties", "{body}");
    let filed = request(&parties.analyst, &["town"], "dual-review", 5).await;
    let id = filed["id"].as_str().expect("id").to_owned();
    let (status, body) = hub
        .security()
        .await
        .get(&format!("/v1/access-requests/{id}"))
        .await;
    assert_eq!(
        (status, body["state"].clone()),
        (StatusCode::OK, json!("pending")),
        "{body}"
    );
    let (status, body) = parties
        .analyst
        .query("SELECT town FROM civil_affairs.residents", "dual-review")
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("access_denied")),
        "{body}"
    );
    // What the console links to ask for access by.
    assert_eq!(
        body["error"]["details"],
        json!({"reason": "no_grant", "dataset": "civil_affairs.residents", "purpose": "dual-review"}),
        "{body}"
    );
}

/// A request that meets the published conditions is granted at once, with the masks the
/// conditions keep; one that fails any condition waits for people.
#[tokio::test]
async fn requests_meeting_the_published_conditions_are_approved_at_once() {
    let (hub, parties) = setup(CONDITIONS).await;
    let (_, catalog) = hub.get("/v1/catalog").await;
    let conditions = &catalog["departments"][0]["datasets"][0]["access_conditions"];
    assert_eq!(conditions["decision_days"], 3);
    assert_eq!(
        conditions["auto_approve"][0]["purposes"],
        json!(["subsidy-review"])
    );

    let filed = request(&parties.analyst, &["name", "town"], "subsidy-review", 30).await;
    assert_eq!(
        (filed["state"].clone(), filed["auto_approved"].clone()),
        (json!("approved"), json!(true))
    );
    let (status, rows) = parties
        .analyst
        .query(
            "SELECT name, town FROM civil_affairs.residents ORDER BY town",
            "subsidy-review",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    assert_eq!(
        rows["rows"],
        // The conditions' mask (first two letters), not the name's default (first one).
        json!([{"name": "Li****", "town": "Dali"}, {"name": "Ch****", "town": "Guicheng"}])
    );
    let (status, body) = parties
        .analyst
        .query("SELECT id_number FROM civil_affairs.residents", "subsidy-review")
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("column_not_granted"))
    );

    for (columns, purpose, days, client) in [
        (vec!["town"], "marketing", 30, &parties.analyst),
        (vec!["town", "id_number"], "subsidy-review", 30, &parties.analyst),
        (vec!["town"], "subsidy-review", 31, &parties.analyst),
    ] {
        let filed = request(client, &columns, purpose, days).await;
        assert_eq!(filed["state"], "pending", "{columns:?} {purpose} {days}: {filed}");
        assert_eq!(filed["auto_approved"], false);
    }
}

/// Each role sees the requests that concern it; a refusal needs a reason; requests past
/// their deadline are listed as overdue.
#[tokio::test]
async fn requests_are_listed_to_whom_they_concern_with_deadlines() {
    let (hub, parties) = setup("access:\n  decision_days: 0\n").await;
    let filed = request(&parties.analyst, &["town"], "planning", 7).await;
    let id = filed["id"].as_str().expect("id").to_owned();
    let outsider = hub.caller_as("tax-analyst", "tax", &["analyst"]).await;

    for (client, sees) in [
        (&parties.analyst, true),
        (&parties.steward, true),
        (&parties.officer, true),
        (&outsider, false),
    ] {
        let (_, list) = client.get("/v1/access-requests").await;
        let found = list
            .as_array()
            .expect("list")
            .iter()
            .find(|entry| entry["id"] == id)
            .cloned();
        assert_eq!(found.is_some(), sees);
        if let Some(entry) = found {
            assert_eq!(entry["overdue"], true, "a decision was due at once: {entry}");
        }
    }
    let (status, _) = outsider.get(&format!("/v1/access-requests/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let decision = format!("/v1/access-requests/{id}/decision");
    let (status, body) = parties.steward.post(&decision, json!({"approve": false})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = parties
        .steward
        .post(
            &decision,
            json!({"approve": false, "reason": "the planning purpose does not need residents"}),
        )
        .await;
    assert_eq!(
        (status, body["state"].clone()),
        (StatusCode::OK, json!("rejected")),
        "{body}"
    );
    assert_eq!(body["overdue"], false);
    assert_eq!(
        body["publisher_review"]["reason"],
        "the planning purpose does not need residents"
    );
    let (status, _) = parties.officer.post(&decision, json!({"approve": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a decided request stays decided");
}

/// A request states each column's form (raw, a mask, or the classification's default); an
/// approval may keep it or show the column in a form that reveals no more, and the grant
/// shows what both approved: an ID number asked for raw for a join comes back raw.
#[tokio::test]
async fn requests_state_each_columns_form_and_approvals_reveal_no_more() {
    let (_hub, parties) = setup("").await;
    let ask = |body: Value| {
        let analyst = parties.analyst.clone();
        async move {
            let (status, filed) = analyst.post("/v1/access-requests", body).await;
            assert_eq!(status, StatusCode::CREATED, "{filed}");
            format!(
                "/v1/access-requests/{}/decision",
                filed["id"].as_str().expect("id")
            )
        }
    };
    let base = |purpose: &str| {
        json!({"dataset": "civil_affairs.residents", "columns": ["id_number", "town"], "purpose": purpose,
               "justification": "join with parcels", "days": 5})
    };

    // Raw, as asked, once both approve as asked.
    let mut raw = base("parcel-join");
    raw["unmasked"] = json!(["id_number"]);
    let decision = ask(raw).await;
    for reviewer in [&parties.steward, &parties.officer] {
        let (status, body) = reviewer.post(&decision, json!({"approve": true})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = parties
        .analyst
        .query(
            "SELECT id_number FROM civil_affairs.residents ORDER BY id_number",
            "parcel-join",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rows"],
        json!([{"id_number": "440605198502022345"}, {"id_number": "440605199001011234"}]),
        "lifted as both approved"
    );

    // An approver shows less than asked: a pseudonym instead of the raw number.
    let mut hashed = base("pseudonymous-join");
    hashed["unmasked"] = json!(["id_number"]);
    let decision = ask(hashed).await;
    let (status, body) = parties
        .steward
        .post(
            &decision,
            json!({"approve": true, "masks": {"id_number": {"kind": "hash"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = parties.officer.post(&decision, json!({"approve": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = parties
        .analyst
        .query(
            "SELECT id_number FROM civil_affairs.residents",
            "pseudonymous-join",
        )
        .await;
    let shown = body["rows"][0]["id_number"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !shown.starts_with("4406") && shown.len() == 32,
        "a keyed hash: {body}"
    );

    // Never more than asked, and no change the requester has not agreed to.
    let decision = ask(base("default-form")).await;
    for (mask, why) in [
        (json!({"kind": "partial", "first": 0, "last": 8}), "reveals more"),
        (json!({"kind": "hash"}), "cannot be compared"),
    ] {
        let (status, body) = parties
            .officer
            .post(&decision, json!({"approve": true, "masks": {"id_number": mask}}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.to_string().contains(why), "{body}");
    }
    let (status, body) = parties
        .officer
        .post(
            &decision,
            json!({"approve": true, "masks": {"id_number": {"kind": "null"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "null reveals nothing: {body}");

    // A form for a column not asked for is refused when filed.
    let mut stray = base("stray");
    stray["unmasked"] = json!(["name"]);
    let (status, body) = parties.analyst.post("/v1/access-requests", stray).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// A requester takes back a request that still waits: no reviewer can decide it afterwards,
/// nobody else can take it back, and a decided one cannot be withdrawn. From the CLI too,
/// and recorded.
#[tokio::test]
async fn a_requester_withdraws_a_waiting_request_and_nobody_decides_it_then() {
    let (hub, parties) = setup("").await;
    let filed = request(&parties.analyst, &["town"], "withdrawn-review", 5).await;
    let id = filed["id"].as_str().expect("id").to_owned();
    let withdraw = format!("/v1/access-requests/{id}/withdraw");

    let (status, body) = parties.steward.post(&withdraw, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the requester: {body}");
    let (status, body) = parties.analyst.post(&withdraw, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "withdrawn", "{body}");
    assert!(body["decided_at"].is_string(), "{body}");
    assert_eq!(body["overdue"], false, "{body}");

    let decision = format!("/v1/access-requests/{id}/decision");
    let (status, body) = parties.steward.post(&decision, json!({"approve": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("withdrawn already")),
        "{body}"
    );
    let (status, _) = parties.analyst.post(&withdraw, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "twice");

    // A decided request is not withdrawn: its grant is revoked instead.
    let decided = request(&parties.analyst, &["town"], "decided-review", 5).await;
    let decided_id = decided["id"].as_str().expect("id").to_owned();
    let decision = format!("/v1/access-requests/{decided_id}/decision");
    let (status, body) = parties
        .steward
        .post(&decision, json!({"approve": false, "reason": "not this year"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = parties
        .analyst
        .post(&format!("/v1/access-requests/{decided_id}/withdraw"), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // From the CLI, as another analyst.
    let secret = hub
        .add_client("cli-analyst", "land_registry", &["analyst"], json!({}))
        .await;
    let token = hub.token_of("cli-analyst", &secret).await;
    let third = request(
        &hub.caller_of("cli-analyst", &secret).await,
        &["town"],
        "cli-review",
        5,
    )
    .await;
    let third_id = third["id"].as_str().expect("id").to_owned();
    let said = hub.cli_ok(&token, &["access", "withdraw", &third_id]);
    assert_eq!(said.trim(), format!("request {third_id} is withdrawn"));

    let (_, events) = hub
        .auditor()
        .await
        .get("/v1/audit/events?action=request.withdrawn&outcome=ok")
        .await;
    let by: Vec<&Value> = events["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|event| &event["principal"])
        .collect();
    assert_eq!(by.len(), 2, "{events}");
    assert!(
        by.contains(&&json!("land-analyst")) && by.contains(&&json!("cli-analyst")),
        "{events}"
    );
}
