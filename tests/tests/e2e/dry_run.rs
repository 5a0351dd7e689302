//! A reviewer's dry run of an access request: the rows the requester would receive under
//! the grant being approved, read through the real policy path as the requester, for
//! whoever could decide the request now and no one else, changing nothing and recorded.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Hub;

/// Three residents of GC-001, one of DL-003.
const RESIDENTS_CSV: &str = "id_number,name,town,grid_id\n\
440605199001011234,Chen Wei,Guicheng,GC-001\n\
440605198502022345,Li Na,Dali,DL-003\n\
440605197703033456,Wang Fang,Guicheng,GC-001\n\
440605196604044567,Zhao Lei,Guicheng,GC-001\n";

const PURPOSE: &str = "elderly-care";
const SQL: &str = "SELECT id_number, name, town, grid_id FROM civil_affairs.residents";

fn rows(body: &Value) -> Vec<Value> {
    let mut rows = body["rows"].as_array().cloned().unwrap_or_default();
    rows.sort_by_key(ToString::to_string);
    rows
}

/// The publisher and the officer each try the decision before giving it; what they see is
/// exactly what the requester reads once the grant exists (masks, keyed pseudonyms and the
/// row filter on the requester's own attributes).
#[tokio::test]
async fn reviewers_see_the_requesters_rows_before_approving() {
    let hub = Hub::start("").await;
    hub.publish_residents(RESIDENTS_CSV, "").await;
    let secret = hub
        .add_client(
            "grid-analyst",
            "town_office",
            &["analyst"],
            json!({"grid_id": "GC-001"}),
        )
        .await;
    let analyst = hub.caller_of("grid-analyst", &secret).await;
    let steward = hub
        .caller_as("cad-steward", "civil_affairs", &["publisher"])
        .await;
    let officer = hub.caller_as("officer-1", "security", &["security_admin"]).await;
    let (status, filed) = analyst
        .post(
            "/v1/access-requests",
            json!({"dataset": "civil_affairs.residents", "columns": ["id_number", "name", "town", "grid_id"],
                   "purpose": PURPOSE, "justification": "home visits", "days": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let id = filed["id"].as_str().expect("id").to_owned();
    let dry_run = format!("/v1/access-requests/{id}/dry-run");
    let decision = format!("/v1/access-requests/{id}/decision");
    let proposal = json!({"masks": {"name": {"kind": "partial", "first": 1}},
                          "row_filter": "grid_id = principal.grid_id"});

    // Nobody but a reviewer who could decide now tries it.
    let (status, body) = analyst.post(&dry_run, proposal.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "one's own request: {body}");
    let outsider = hub.caller_as("land-analyst", "land_registry", &["analyst"]).await;
    let (status, body) = outsider.post(&dry_run, proposal.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = steward
        .post(
            &dry_run,
            json!({"masks": {"town": {"kind": "null"}}, "row_filter": "1 = 1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "a mask that reveals less: {body}");
    let (status, body) = steward
        .post(&dry_run, json!({"masks": {"phone": {"kind": "null"}}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a column not asked for: {body}");
    let (status, body) = steward
        .post(&dry_run, json!({"row_filter": "no_such_column = 1"}))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "as the decision would be: {body}"
    );
    // The try's grant id is made up: the error names the grant proposed, not that id.
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("grant proposed: the row filter 'no_such_column = 1' is not valid"),
        "{body}"
    );
    // Which column, and the dataset's, for the console to say so in the reviewer's language.
    let details = &body["error"]["details"];
    assert_eq!(
        (&details["reason"], &details["column"]),
        (&json!("unknown_column"), &json!("no_such_column")),
        "{body}"
    );
    assert!(
        details["columns"]
            .as_array()
            .is_some_and(|columns| columns.contains(&json!("grid_id"))),
        "{body}"
    );
    // An SQL mask shows its own column only: one over another would show that one.
    let (status, body) = steward
        .post(
            &dry_run,
            json!({"masks": {"town": {"kind": "sql", "expression": "concat(town, id_number)"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("its own column only"), "{body}");
    let (status, body) = analyst
        .post(
            "/v1/access-requests",
            json!({"dataset": "civil_affairs.residents", "columns": ["town"], "purpose": PURPOSE,
                   "justification": "visits", "days": 30,
                   "masks": {"town": {"kind": "sql", "expression": "name"}}}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "asked for so, refused when filed: {body}"
    );
    // A row filter's functions are held to the query's memory limit like a query's: an
    // error, not an allocation that ends the hub.
    let (status, body) = steward
        .post(
            &dry_run,
            json!({"row_filter": "length(repeat(town, 1000000000)) > 0"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "memory_limit", "{body}");

    // The publisher's try: masked names, the analyst's own grid only.
    let (status, tried) = steward.post(&dry_run, proposal.clone()).await;
    assert_eq!(status, StatusCode::OK, "{tried}");
    assert_eq!(tried["read_as"]["id"], "grid-analyst", "{tried}");
    assert_eq!(
        tried["grant"]["row_filter"], "grid_id = principal.grid_id",
        "{tried}"
    );
    let sample = rows(&tried["sample"]);
    assert_eq!(sample.len(), 3, "{tried}");
    assert!(sample.iter().all(|row| row["grid_id"] == "GC-001"), "{tried}");
    let names: Vec<&str> = sample.iter().filter_map(|row| row["name"].as_str()).collect();
    assert!(
        names.len() == 3
            && names
                .iter()
                .all(|name| !["Chen Wei", "Wang Fang", "Zhao Lei"].contains(name)),
        "names masked as proposed: {tried}"
    );
    assert!(
        !tried.to_string().contains("440605199001011234"),
        "ID numbers in their default form: {tried}"
    );
    // The answer names the masks the classifications put on the columns the grant leaves
    // alone (the console shows the sample's cells by them), not those it masks itself.
    assert_eq!(tried["default_masks"]["id_number"]["kind"], "partial", "{tried}");
    assert!(tried["default_masks"].get("name").is_none(), "{tried}");

    // Trying changed nothing: the request waits, the analyst reads nothing.
    let (_, request) = steward.get(&format!("/v1/access-requests/{id}")).await;
    assert_eq!(request["state"], "pending", "{request}");
    assert!(request.get("publisher_review").is_none(), "{request}");
    assert_eq!(analyst.query(SQL, PURPOSE).await.0, StatusCode::FORBIDDEN);

    // The publisher decides as tried; the officer's try then has the publisher's terms.
    let (status, body) = steward
        .post(
            &decision,
            json!({"approve": true, "masks": proposal["masks"], "row_filter": proposal["row_filter"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = steward.post(&dry_run, proposal.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "decided already: {body}");
    let (status, officers) = officer.post(&dry_run, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{officers}");
    assert_eq!(rows(&officers["sample"]), sample, "{officers}");

    // What the reviewers saw is what the analyst reads once both approved.
    let (status, body) = officer.post(&decision, json!({"approve": true})).await;
    assert_eq!(
        (status, body["state"].clone()),
        (StatusCode::OK, json!("approved")),
        "{body}"
    );
    let (status, read) = analyst.query(SQL, PURPOSE).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(rows(&read), sample, "{read}");

    // Each try is in the audit log as the reviewer's, with what it read; the analyst's only
    // records are of their own queries.
    let records = hub
        .audit_rows(
            "SELECT principal, outcome, rows, masks, row_filters, detail FROM audit.events \
             WHERE action = 'request.dry_run' ORDER BY seq",
        )
        .await;
    let by = |principal: &str, outcome: &str| {
        records
            .iter()
            .filter(|record| record["principal"] == principal && record["outcome"] == outcome)
            .count()
    };
    assert_eq!(
        (by("cad-steward", "ok"), by("officer-1", "ok")),
        (2, 1),
        "{records:?}"
    );
    assert_eq!(by("grid-analyst", "denied"), 1, "{records:?}");
    let officers_try = records
        .iter()
        .rfind(|record| record["principal"] == "officer-1")
        .expect("the officer's try");
    assert_eq!(officers_try["rows"], 3, "{officers_try}");
    assert!(
        officers_try["row_filters"]
            .to_string()
            .contains("principal.grid_id"),
        "{officers_try}"
    );
    assert!(
        officers_try["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("grid-analyst")),
        "{officers_try}"
    );
    let analysts = hub
        .audit_rows(
            "SELECT action FROM audit.events WHERE principal = 'grid-analyst' AND action LIKE 'query.%'",
        )
        .await;
    assert_eq!(
        analysts.len(),
        3,
        "one refused query, one started and finished: {analysts:?}"
    );
}
