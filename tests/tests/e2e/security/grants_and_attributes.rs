//! Grants count only for their purpose, period and subject, stop at revocation, and crafted
//! attribute values stay literals.

use super::*;

/// Grants count only for their purposes, while in force, and for their subject: another
/// purpose, an expired or future grant, another client's, department's or role's grant,
/// and membership of the owning department without the publisher role give nothing.
#[tokio::test]
async fn grants_count_only_for_their_purpose_period_and_subject() {
    let setup = Setup::start().await;
    let hub = &setup.hub;
    let raw = |subject: Value, purpose: &str| {
        json!({
            "subject": subject,
            "dataset": RESIDENTS_TABLE,
            "unmasked": ["id_number", "name", "phone", "address", "birth_date"],
            "purposes": [purpose],
        })
    };
    let mut expired = raw(json!({"client": ANALYST}), "old-survey");
    expired["valid_from"] = json!("2020-01-01T00:00:00Z");
    expired["expires_at"] = json!("2021-01-01T00:00:00Z");
    let mut future = raw(json!({"client": ANALYST}), "future-study");
    future["valid_from"] = json!("2099-01-01T00:00:00Z");
    for grant in [
        expired,
        future,
        raw(json!({"client": "other-analyst"}), "audit-review"),
        raw(json!({"department": "tax"}), "tax-check"),
        raw(
            json!({"department": "town_office", "role": "publisher"}),
            "publishing-check",
        ),
    ] {
        hub.grant(grant).await;
    }
    let no_grant = |name, purpose: &'static str, dataset: &str| {
        attempt(
            name,
            purpose,
            &format!("SELECT name FROM {dataset}"),
            Expect::Error(
                StatusCode::FORBIDDEN,
                "access_denied",
                format!("no grant lets you read {dataset} for the purpose '{purpose}'"),
            ),
        )
    };
    let attempts = vec![
        no_grant("a purpose without a grant", "marketing", R),
        no_grant("an expired grant", "old-survey", R),
        no_grant("a grant not yet in force", "future-study", R),
        no_grant("another client's grant", "audit-review", R),
        no_grant("another department's grant", "tax-check", R),
        no_grant(
            "a grant for publishers of the analyst's department",
            "publishing-check",
            R,
        ),
        no_grant("the admin's purpose", "testing", R),
        attempt(
            "a join with a dataset not granted for the purpose",
            OUTREACH,
            "SELECT r.name FROM civil_affairs.residents r JOIN land_registry.parcels p ON p.owner_id_number = r.id_number",
            Expect::Error(
                StatusCode::FORBIDDEN,
                "access_denied",
                "no grant lets you read land_registry.parcels for the purpose 'phone-outreach'".into(),
            ),
        ),
        attempt(
            "a subquery on a dataset not granted for the purpose",
            OUTREACH,
            "SELECT name FROM civil_affairs.residents WHERE EXISTS (SELECT 1 FROM land_registry.parcels)",
            Expect::Error(
                StatusCode::FORBIDDEN,
                "access_denied",
                "no grant lets you read land_registry.parcels for the purpose 'phone-outreach'".into(),
            ),
        ),
        attempt(
            "an empty purpose",
            "",
            "SELECT name FROM civil_affairs.residents",
            Expect::Error(
                StatusCode::BAD_REQUEST,
                "missing_purpose",
                "every query must state its purpose".into(),
            ),
        ),
    ];
    run_attempts(&setup, attempts, &hidden_from_care()).await;

    // The owning department's analysts (not publishers) have no implicit grant.
    let insider = client(hub, "register-clerk", "civil_affairs", json!({})).await;
    for purpose in [CARE, "testing", "anything"] {
        let (status, body) = ask(hub, &insider, &format!("SELECT name FROM {R}"), purpose).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (StatusCode::FORBIDDEN, &json!("access_denied")),
            "[an analyst of the owning department, purpose {purpose}] {body}"
        );
    }
    // The same purpose name in other letters is another purpose.
    let (status, body) = setup.ask(&format!("SELECT name FROM {R}"), "Grid-Care").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "[purpose in capitals] {body}");
}

/// A revoked grant stops counting at the very next query.
#[tokio::test]
async fn a_revoked_grant_stops_at_the_next_query() {
    let setup = Setup::start().await;
    let grant = setup
        .hub
        .grant(json!({
            "subject": {"client": ANALYST},
            "dataset": RESIDENTS_TABLE,
            "columns": ["name", "grid_id"],
            "unmasked": ["name"],
            "row_filter": "grid_id = principal.grid_id",
            "purposes": ["census"],
        }))
        .await;
    let id = grant["id"].as_str().expect("grant id").to_owned();
    let sql = format!("SELECT name FROM {R} ORDER BY name");
    let (status, body) = setup.ask(&sql, "census").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rows"],
        json!([{"name": "张伟"}, {"name": "李娜"}, {"name": "赵磊"}])
    );

    // The analyst cannot revoke grants (nor keep one alive by trying).
    let response = setup
        .analyst
        .delete(format!("{}/v1/grants/{id}", setup.hub.url))
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    assert_eq!(setup.hub.revoke(&id).await, StatusCode::NO_CONTENT);
    let (status, body) = setup.ask(&sql, "census").await;
    assert_eq!(
        (status, &body["error"]["code"], &body["error"]["message"]),
        (
            StatusCode::FORBIDDEN,
            &json!("access_denied"),
            &json!("no grant lets you read civil_affairs.residents for the purpose 'census'")
        ),
        "the query right after the revocation: {body}"
    );
    let (status, body) = setup.ask(&format!("EXPLAIN {sql}"), "census").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "EXPLAIN after the revocation: {body}"
    );
    let (_, explained) = get(
        &setup.hub,
        &setup.analyst,
        "/v1/access/explain?dataset=civil_affairs.residents&purpose=census",
    )
    .await;
    assert_eq!(explained["allowed"], false, "{explained}");
}

/// Attribute values crafted to inject SQL stay literals: each crafted grid sees only the
/// rows whose grid is that very string.
#[tokio::test]
async fn crafted_attribute_values_stay_literals() {
    let setup = Setup::start().await;
    let hub = &setup.hub;
    // The same register in SQLite, whose provider sends filters to the database as SQL.
    let connection = rusqlite::Connection::open(hub.dir().join("register.db")).expect("sqlite");
    connection
        .execute("CREATE TABLE people (name TEXT, grid_id TEXT)", [])
        .expect("table");
    for resident in &RESIDENTS {
        connection
            .execute(
                "INSERT INTO people VALUES (?1, ?2)",
                [resident.name, resident.grid_id],
            )
            .expect("row");
    }
    drop(connection);
    hub.publish_ok(
        r#"
contract:
  department: civil_affairs
  name: register_db
  title: Register in SQLite
  owner: { name: Register desk, email: register@example.gov }
  fields:
    - { name: name, type: string, classification: pii.name }
    - { name: grid_id, type: string, classification: public }
source: { kind: sqlite, path: register.db, table: people }
"#,
    )
    .await;
    for dataset in [RESIDENTS_TABLE, "civil_affairs.register_db"] {
        hub.grant(json!({
            "subject": {"department": "probe"},
            "dataset": dataset,
            "columns": ["name", "grid_id"],
            "row_filter": "grid_id = principal.grid_id",
            "purposes": ["probe"],
        }))
        .await;
    }
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "a plain grid (the control)",
            json!("GC-001"),
            json!([
                {"name": "张****", "grid_id": "GC-001"},
                {"name": "李****", "grid_id": "GC-001"},
                {"name": "赵****", "grid_id": "GC-001"},
            ]),
        ),
        (
            "quote OR '1'='1",
            json!(INJECTION_GRID),
            json!([{"name": "黄****", "grid_id": INJECTION_GRID}]),
        ),
        ("closing parenthesis OR (1=1", json!("') OR (1=1"), json!([])),
        ("comment after the grid", json!("GC-001' --"), json!([])),
        ("backslash-escaped quote", json!("GC-001\\' OR 1=1 --"), json!([])),
        ("trailing backslash", json!("GC-001\\"), json!([])),
        ("double quotes", json!("GC-001\" OR \"1\"=\"1"), json!([])),
        (
            "UNION SELECT",
            json!("GC-001' UNION SELECT phone, grid_id FROM civil_affairs.residents --"),
            json!([]),
        ),
        ("LIKE wildcard", json!("%"), json!([])),
        ("statement separator", json!("GC-001'; SELECT 1; --"), json!([])),
        (
            "a list where one value is expected",
            json!(["GC-001", "x' OR 1=1 --"]),
            json!([]),
        ),
        ("empty string", json!(""), json!([])),
    ];
    let mut failures = Vec::new();
    for (index, (name, grid, expected)) in cases.iter().enumerate() {
        let id = format!("probe-{index}");
        let probe = client(hub, &id, "probe", json!({ "grid_id": grid })).await;
        for dataset in [RESIDENTS_TABLE, "civil_affairs.register_db"] {
            let sql = format!("SELECT name, grid_id FROM {dataset} ORDER BY name");
            let (status, body) = ask(hub, &probe, &sql, "probe").await;
            if status != StatusCode::OK || body["rows"] != *expected {
                failures.push(format!(
                    "[{name}, {dataset}] grid {grid}: expected {expected}, got {status} {body}"
                ));
            }
        }
    }
    let nobody = client(hub, "probe-without-grid", "probe", json!({})).await;
    for dataset in [RESIDENTS_TABLE, "civil_affairs.register_db"] {
        let sql = format!("SELECT count(*) AS n FROM {dataset}");
        let (status, body) = ask(hub, &nobody, &sql, "probe").await;
        if status != StatusCode::OK || body["rows"] != json!([{"n": 0}]) {
            failures.push(format!(
                "[no grid attribute, {dataset}] expected no rows, got {status} {body}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
