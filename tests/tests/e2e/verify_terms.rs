//! A verify grant's terms (per-column answers, attempts a subject, records a day) as the
//! access workflow sets them: a verify permit grants at most its own, a request asks for
//! its own, and each reviewer may narrow them, never widen them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::verify::{CHEN, LI, PURPOSE, hub_with, hub_with_policies, matches, verify};

/// `causeway access request` for a verify grant matching names against the register.
const ASK_TO_VERIFY: [&str; 9] = [
    "access",
    "request",
    "--dataset",
    "civil_affairs.residents",
    "--verify",
    "--columns",
    "id_number,name",
    "--purpose",
    PURPOSE,
];

/// The grant a request made, as the security administrator lists it.
async fn grant_of(hub: &crate::support::Hub, request: &Value) -> Value {
    let (_, grants) = hub.security().await.get("/v1/grants").await;
    grants
        .as_array()
        .into_iter()
        .flatten()
        .find(|grant| grant["id"] == request["grant_id"])
        .cloned()
        .unwrap_or_else(|| panic!("the grant of {request} in {grants}"))
}

#[tokio::test]
async fn verify_terms_come_from_the_permit_the_request_and_both_reviewers() {
    let hub = hub_with(
        "",
        "access:\n  auto_approve:\n    - { kind: verify, departments: [benefits], purposes: [benefit-eligibility], columns: [id_number, name], max_days: 30, verify: { column_matches: true, max_attempts_per_subject: 2 } }\n",
    )
    .await;
    // The catalog shows what the permit grants.
    let (_, catalog) = hub.get("/v1/catalog").await;
    let permit = &catalog["departments"][0]["datasets"][0]["access_conditions"]["auto_approve"][0];
    assert_eq!(
        permit["verify"],
        json!({"column_matches": true, "max_attempts_per_subject": 2, "max_records_per_day": 10000}),
        "{permit}"
    );
    let secret = hub
        .add_client("benefits-clerk", "benefits", &["analyst"], json!({}))
        .await;
    let clerk_token = hub.token_of("benefits-clerk", &secret).await;
    let clerk = hub.caller_of("benefits-clerk", &secret).await;

    // Asking for no terms under the permit gets the permit's, at once.
    let said = hub.cli_ok(
        &clerk_token,
        &[
            &ASK_TO_VERIFY[..],
            &["--justification", "claimants' identities", "--days", "30"],
        ]
        .concat(),
    );
    assert!(said.contains("approved at once"), "{said}");
    let (_, requests) = clerk.get("/v1/access-requests").await;
    let first = grant_of(&hub, &requests[0]).await;
    let grant = &first;
    assert_eq!(
        grant["verify"],
        json!({"column_matches": true, "max_attempts_per_subject": 2, "max_records_per_day": 10000}),
        "{grant}"
    );
    // Which columns match is answered, and a third guess at Chen's name is refused.
    let (status, body) = verify(
        &clerk,
        json!([
            {"id_number": CHEN, "name": "Chen Wen"},
            {"id_number": CHEN, "name": "Chen Hui"},
            {"id_number": CHEN, "name": "Chen Wei"},
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"][0],
        json!({"match": false, "columns": {"id_number": true, "name": false}})
    );
    assert_eq!(
        body["results"][2]["refused"], "subject_attempts_exhausted",
        "{body}"
    );

    // Terms a read request cannot take, from the CLI and the API alike.
    let (ok, _, stderr) = hub.cli(
        &clerk_token,
        &[
            "access",
            "request",
            "--dataset",
            "civil_affairs.residents",
            "--columns",
            "town",
            "--purpose",
            PURPOSE,
            "--justification",
            "towns",
            "--attempts-per-subject",
            "1",
        ],
    );
    assert!(!ok && stderr.contains("add --verify"), "{stderr}");
    let (status, body) = clerk
        .post(
            "/v1/access-requests",
            json!({"dataset": "civil_affairs.residents", "columns": ["town"], "purpose": PURPOSE,
                   "justification": "towns", "days": 30, "verify": {"column_matches": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("only a verify grant"),
        "{body}"
    );

    // More attempts than the permit grants is for people to decide.
    let id = hub.cli_ok(
        &clerk_token,
        &[
            &ASK_TO_VERIFY[..],
            &[
                "--justification",
                "claimants often misspell",
                "--days",
                "30",
                "--attempts-per-subject",
                "5",
                "--quiet",
            ],
        ]
        .concat(),
    );
    let id = id.trim();
    let (_, filed) = clerk.get(&format!("/v1/access-requests/{id}")).await;
    assert_eq!(filed["state"], "pending", "{filed}");
    assert_eq!(filed["verify"]["max_attempts_per_subject"], 5, "{filed}");

    // Reviewers narrow, and may not widen: per-column answers were not asked for, nor more
    // than five attempts.
    let decision = format!("/v1/access-requests/{id}/decision");
    let steward = hub.publisher("civil_affairs").await;
    for widened in [
        json!({"column_matches": true}),
        json!({"max_attempts_per_subject": 6}),
    ] {
        let (status, body) = steward
            .post(&decision, json!({"approve": true, "verify": widened}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{widened}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("not widen"),
            "{body}"
        );
    }
    let (status, tried) = steward
        .post(
            &decision.replace("/decision", "/dry-run"),
            json!({"verify": {"max_attempts_per_subject": 4}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tried}");
    assert_eq!(tried["verify"]["terms"]["max_attempts_per_subject"], 4, "{tried}");
    let (status, body) = steward
        .post(
            &decision,
            json!({"approve": true, "verify": {"max_attempts_per_subject": 4}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The officer narrows the records a day; the grant keeps both narrowings.
    let said = hub.cli_ok(
        &hub.security_token().await,
        &["access", "decide", id, "--records-per-day", "50"],
    );
    assert!(said.contains("approved"), "{said}");
    let (_, decided) = clerk.get(&format!("/v1/access-requests/{id}")).await;
    let grant = grant_of(&hub, &decided).await;
    assert_eq!(
        grant["verify"],
        json!({"column_matches": false, "max_attempts_per_subject": 4, "max_records_per_day": 50}),
        "{grant}"
    );
    // Under the narrowed grant alone (the permit's, more generous with column answers, is
    // revoked), Li, not guessed at yet, takes four attempts, the fifth refused, and the
    // answers say only whether all columns match.
    let revoked = hub
        .security()
        .await
        .delete(&format!(
            "/v1/grants/{}",
            first["id"].as_str().unwrap_or_default()
        ))
        .await;
    assert!(revoked.is_success(), "{revoked}");
    let guesses: Vec<Value> = ["Li A", "Li B", "Li C", "Li Na", "Li Na"]
        .iter()
        .map(|name| json!({"id_number": LI, "name": name}))
        .collect();
    let (status, body) = verify(&clerk, Value::Array(guesses)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        matches(&body),
        [json!(false), json!(false), json!(false), json!(true), Value::Null],
        "{body}"
    );
    assert!(body["results"][0].get("columns").is_none(), "{body}");
}

#[tokio::test]
async fn a_permit_gives_only_what_a_grant_could_and_the_key_alone_only_when_it_says_so() {
    // A published permit whose grant could not be made is refused at publish, naming it.
    let hub = hub_with("", "").await;
    for (permit, says) in [
        (
            "{ purposes: [p], columns: [town], max_days: 9, verify: { column_matches: true } }",
            "only a verify grant",
        ),
        (
            "{ kind: verify, purposes: [p], columns: [name], max_days: 9 }",
            "add 'id_number'",
        ),
        (
            "{ kind: verify, purposes: [p], columns: [id_number, name], max_days: 9, verify: { max_attempts_per_subject: 0 } }",
            "at least one attempt",
        ),
    ] {
        let spec = crate::verify::residents_spec(&format!("access:\n  auto_approve:\n    - {permit}\n"))
            .replace("name: residents", "name: residents_again");
        let (status, body) = hub.publish(&spec).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{permit}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("access.auto_approve[0]") && message.contains(says),
            "{permit}: {body}"
        );
    }

    let hub = hub_with(
        "",
        "access:\n  auto_approve:\n    - { kind: verify, departments: [benefits], purposes: [benefit-eligibility], columns: [id_number, name], max_days: 30, verify: { column_matches: true, max_attempts_per_subject: 2 } }\n",
    )
    .await;
    let secret = hub
        .add_client("benefits-clerk", "benefits", &["analyst"], json!({}))
        .await;
    let clerk = hub.caller_of("benefits-clerk", &secret).await;
    let ask = |columns: Value, verify: Value| {
        json!({"dataset": "civil_affairs.residents", "kind": "verify", "columns": columns,
               "purpose": PURPOSE, "justification": "claimants", "days": 30, "verify": verify})
    };
    // Terms left out are the permit's: per-column answers alone are within it.
    let (status, request) = clerk
        .post(
            "/v1/access-requests",
            ask(json!(["id_number", "name"]), json!({"column_matches": true})),
        )
        .await;
    assert_eq!(
        (status, request["state"].clone()),
        (StatusCode::CREATED, json!("approved")),
        "{request}"
    );
    let grant = grant_of(&hub, &request).await;
    assert_eq!(grant["verify"]["max_attempts_per_subject"], 2, "{grant}");
    // Whether someone is registered at all is for people to decide: the permit is for
    // matching names, not for the ID number alone.
    let (status, request) = clerk
        .post("/v1/access-requests", ask(json!(["id_number"]), Value::Null))
        .await;
    assert_eq!(
        (status, request["state"].clone()),
        (StatusCode::CREATED, json!("pending")),
        "{request}"
    );
}

/// A deny rule keeps a column from a department. A verify grant matching on it could never
/// answer (a verify call naming a kept column is refused whole), so it is not made, for one
/// of the department's people or for the department; a read grant naming it is, since deny
/// rules win over read grants column by column and its other columns still serve.
#[tokio::test]
async fn a_verify_grant_a_deny_rule_makes_useless_is_not_made() {
    let hub = hub_with_policies(
        "",
        "",
        Some(
            "deny:\n  - id: birth-dates-stay\n    datasets: civil_affairs.residents\n    subject: { department: benefits }\n    columns: [birth_date]\n    reason: birth dates stay with civil affairs\n",
        ),
    )
    .await;
    hub.add_client("benefits-clerk", "benefits", &["analyst"], json!({}))
        .await;
    let security = hub.security().await;
    let verify_grant = |subject: Value, columns: Value| {
        json!({"subject": subject, "dataset": "civil_affairs.residents", "kind": "verify",
               "columns": columns, "purposes": [PURPOSE]})
    };
    for subject in [
        json!({"client": "benefits-clerk"}),
        json!({"department": "benefits"}),
    ] {
        let (status, body) = security
            .post(
                "/v1/grants",
                verify_grant(subject.clone(), json!(["id_number", "birth_date"])),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{subject}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("column birth_date of civil_affairs.residents is never shown to them")
                && message.contains("(deny rule birth-dates-stay)"),
            "{body}"
        );
    }
    // The rule is for benefits: another department's verify grant, and a read grant, are made.
    let (status, body) = security
        .post(
            "/v1/grants",
            verify_grant(json!({"department": "tax"}), json!(["id_number", "birth_date"])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = security
        .post(
            "/v1/grants",
            json!({"subject": {"client": "benefits-clerk"}, "dataset": "civil_affairs.residents",
                   "columns": ["town", "birth_date"], "purposes": [PURPOSE]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A verify grant on what the rule leaves is made.
    let (status, body) = security
        .post(
            "/v1/grants",
            verify_grant(json!({"client": "benefits-clerk"}), json!(["id_number", "name"])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
