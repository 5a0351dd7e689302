//! Access recertification: a grant lapses unless the owning department confirms it within
//! its dataset's recertification interval; grants due soon are listed for their owners; a
//! lapse is recorded as `grant.expired` with its reason, a confirmation with who made it;
//! grants made before recertification get a deadline at the next start.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Hub, causeway_with, eventually, residents_spec};

const RESIDENTS: &str = "id_number,name,town\n440101,Ann,Guicheng\n440102,Bob,Dali\n";

/// A hub with the residents of civil affairs (grants lapse after 90 days unless
/// confirmed), and a grant-making helper.
async fn hub() -> Hub {
    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("residents.csv"), RESIDENTS).expect("csv");
    hub.publish_ok(&residents_spec(
        "id_number,name,town",
        "access: { recertification_days: 90 }",
    ))
    .await;
    hub
}

fn grant(purpose: &str, recertify_in: Option<chrono::Duration>) -> Value {
    let mut grant = json!({
        "subject": {"client": "reader"},
        "dataset": "civil_affairs.residents",
        "columns": ["town"],
        "purposes": [purpose],
    });
    if let Some(within) = recertify_in {
        grant["recertify_by"] = json!((chrono::Utc::now() + within).to_rfc3339());
    }
    grant
}

fn deadline(grant: &Value) -> chrono::DateTime<chrono::Utc> {
    grant["recertify_by"]
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|at| at.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| panic!("a recertification deadline in {grant}"))
}

fn days_from_now(at: chrono::DateTime<chrono::Utc>) -> i64 {
    (at - chrono::Utc::now()).num_hours().div_euclid(24)
}

#[tokio::test]
async fn a_grant_lapses_unless_its_owner_confirms_it_in_time() {
    let hub = hub().await;
    let reader = hub.caller_as("reader", "health", &["analyst"]).await;
    let owner_secret = hub
        .add_client("owner", "civil_affairs", &["publisher"], json!({}))
        .await;
    let owner = hub.caller(&hub.authorized(&hub.token("owner", &owner_secret).await));
    let stranger = hub.caller_as("stranger", "health", &["publisher"]).await;

    // Every grant gets the dataset's interval; one may ask for an earlier review, never a
    // later one.
    let whole = hub.grant(grant("census", None)).await;
    assert_eq!(days_from_now(deadline(&whole)), 89, "{whole}");
    let later = hub
        .grant(grant("planning", Some(chrono::Duration::days(400))))
        .await;
    assert_eq!(days_from_now(deadline(&later)), 89, "{later}");
    let confirmed = hub
        .grant(grant("housing", Some(chrono::Duration::seconds(3))))
        .await;
    let lapsing = hub
        .grant(grant("transport", Some(chrono::Duration::seconds(3))))
        .await;

    // The owner sees what is due soon, soonest first; the others' grants are not theirs.
    let (status, due) = owner.get("/v1/grants/due?within_days=1").await;
    assert_eq!(status, StatusCode::OK, "{due}");
    let due_ids: Vec<&Value> = due
        .as_array()
        .into_iter()
        .flatten()
        .map(|grant| &grant["id"])
        .collect();
    assert_eq!(due_ids, [&confirmed["id"], &lapsing["id"]], "{due}");
    let (_, later_due) = owner.get("/v1/grants/due?within_days=100").await;
    let readers = later_due
        .as_array()
        .into_iter()
        .flatten()
        .filter(|grant| grant["subject"] == json!({"client": "reader"}))
        .count();
    assert_eq!(readers, 4, "{later_due}");

    // Only a publisher of the owning department confirms.
    let confirm = |id: &Value| format!("/v1/grants/{}/confirm", id.as_str().unwrap_or_default());
    for (who, caller) in [
        ("another department's publisher", &stranger),
        ("the grantee", &reader),
    ] {
        let (status, body) = caller.post(&confirm(&confirmed["id"]), json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
    }
    // The owner works from the CLI: what is due, then a confirmation.
    let home = tempfile::tempdir().expect("config dir");
    let home = home.path().to_string_lossy().into_owned();
    let env = [
        ("CAUSEWAY_CONFIG_DIR", home.as_str()),
        ("CAUSEWAY_CLIENT_SECRET", owner_secret.as_str()),
    ];
    let run = |args: &[&str]| {
        let output = causeway_with(args, &env);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    run(&["login", "--hub", &hub.url, "--client-id", "owner"]);
    let listed = run(&["access", "due", "--hub", &hub.url, "--within-days", "1"]);
    let id = confirmed["id"].as_str().unwrap_or_default();
    assert!(listed.contains(id) && listed.contains("housing"), "{listed}");
    let said = run(&["access", "confirm", id, "--hub", &hub.url]);
    assert!(said.contains(&format!("grant {id} is confirmed until")), "{said}");
    let (_, grants) = owner.get("/v1/grants").await;
    let now_confirmed = grants
        .as_array()
        .into_iter()
        .flatten()
        .find(|grant| grant["id"] == confirmed["id"])
        .cloned()
        .unwrap_or_default();
    assert_eq!(days_from_now(deadline(&now_confirmed)), 89, "{now_confirmed}");

    // Past the first deadline: the confirmed grant reads on, the other has lapsed.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, body) = reader
        .query("SELECT town FROM civil_affairs.residents", "housing")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = reader
        .query("SELECT town FROM civil_affairs.residents", "transport")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = owner.post(&confirm(&lapsing["id"]), json!({})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a lapsed grant is asked for again: {body}"
    );

    // The log says why access ended, and who confirmed.
    let expired = eventually("a grant.expired record", Duration::from_secs(15), async || {
        let (_, body) = hub
            .auditor()
            .await
            .get("/v1/audit/events?action=grant.expired")
            .await;
        body["events"]
            .as_array()
            .and_then(|events| events.first())
            .cloned()
    })
    .await;
    assert_eq!(expired["grants"], json!([lapsing["id"]]), "{expired}");
    assert!(
        expired["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("not_recertified")),
        "{expired}"
    );
    let (_, confirmations) = hub
        .auditor()
        .await
        .get("/v1/audit/events?action=grant.confirmed")
        .await;
    let confirmations = confirmations["events"].as_array().cloned().unwrap_or_default();
    let by_owner: Vec<&Value> = confirmations
        .iter()
        .filter(|record| record["outcome"] == "ok")
        .collect();
    assert_eq!(by_owner.len(), 1, "{confirmations:?}");
    assert_eq!(by_owner[0]["principal"], "owner");
    assert_eq!(by_owner[0]["grants"], json!([confirmed["id"]]));
    assert!(
        confirmations
            .iter()
            .any(|record| record["principal"] == "stranger" && record["outcome"] != "ok"),
        "refused confirmations are recorded too: {confirmations:?}"
    );
}

/// A grant stored before grants were recertified (no deadline) gets a whole interval from
/// the next start, and lapses unless confirmed like the others.
#[tokio::test]
async fn grants_made_before_recertification_get_a_deadline_at_start() {
    let mut hub = hub().await;
    let made = hub.grant(grant("census", None)).await;
    hub.stop();
    let store = rusqlite::Connection::open(hub.dir().join("metadata.db")).expect("store");
    let body: String = store
        .query_row(
            "SELECT body FROM grants WHERE id = ?1",
            [made["id"].as_str()],
            |row| row.get(0),
        )
        .expect("the grant");
    let mut old: Value = serde_json::from_str(&body).expect("json");
    old.as_object_mut().map(|object| object.remove("recertify_by"));
    store
        .execute(
            "UPDATE grants SET body = ?1 WHERE id = ?2",
            [
                old.to_string(),
                made["id"].as_str().unwrap_or_default().to_owned(),
            ],
        )
        .expect("an old grant");
    drop(store);
    hub.restart().await;
    let (_, grants) = hub.security().await.get("/v1/grants").await;
    let grant = grants
        .as_array()
        .into_iter()
        .flatten()
        .find(|grant| grant["id"] == made["id"])
        .cloned()
        .unwrap_or_default();
    assert_eq!(days_from_now(deadline(&grant)), 89, "{grant}");
}
