//! Verify-only grants: records matched against the resident register through
//! `POST /v1/verify`, no value of it read through any front door, and guessing cut short by
//! the per-subject and daily limits, across restarts.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::flight::signed_in;
use crate::postgres_wire::{connect, sqlstate};
use crate::support::{Caller, Hub};

const RESIDENTS_CSV: &str = "id_number,name,birth_date,town\n\
440605199001011234,Chen Wei,1990-01-01,Guicheng\n\
440605198502022345,Li Na,1985-02-02,Dali\n\
440605197703033456,Wang Fang,1977-03-03,Dali\n";

pub(crate) const CHEN: &str = "440605199001011234";
pub(crate) const LI: &str = "440605198502022345";
pub(crate) const PURPOSE: &str = "benefit-eligibility";

/// The register, whose rows are about the person of `id_number`, and `access` (its
/// published access conditions, or nothing).
pub(crate) fn residents_spec(access: &str) -> String {
    format!(
        r#"
contract:
  department: civil_affairs
  name: residents
  title: Resident register
  owner: {{ name: Desk, email: desk@example.gov }}
  primary_key: [id_number]
  subject_key: [id_number]
  fields:
    - {{ name: id_number, type: string, nullable: false, classification: pii.national_id }}
    - {{ name: name, type: string, classification: pii.name }}
    - {{ name: birth_date, type: date, classification: pii.birth_date }}
    - {{ name: town, type: string, classification: public }}
source: {{ kind: csv, path: residents.csv }}
{access}
"#
    )
}

pub(crate) async fn hub_with(extra: &str, access: &str) -> Hub {
    hub_with_policies(extra, access, None).await
}

/// [`hub_with`], with `policies` as its policy file when given.
pub(crate) async fn hub_with_policies(extra: &str, access: &str, policies: Option<&str>) -> Hub {
    let hub = Hub::start_with(|dir| {
        let extra = match policies {
            Some(policies) => {
                std::fs::create_dir_all(dir.join("policies")).expect("dir");
                std::fs::write(dir.join("policies/policies.yaml"), policies).expect("policies");
                format!("{extra}[policies]\ndir = \"policies\"\n")
            }
            None => extra.to_owned(),
        };
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nflight_listen = \"127.0.0.1:0\"\npostgres_listen = \"127.0.0.1:0\"\n\
             [storage]\ndata_dir = \"{}\"\n{extra}",
            dir.display()
        )
    })
    .await;
    std::fs::write(hub.dir().join("residents.csv"), RESIDENTS_CSV).expect("csv");
    hub.publish_ok(&residents_spec(access)).await;
    hub
}

pub(crate) async fn verify(caller: &Caller, records: Value) -> (StatusCode, Value) {
    caller
        .post(
            "/v1/verify",
            json!({"dataset": "civil_affairs.residents", "purpose": PURPOSE, "records": records}),
        )
        .await
}

/// The `match` of each answer: true, false, or null for a refused record.
pub(crate) fn matches(body: &Value) -> Vec<Value> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results in {body}"))
        .iter()
        .map(|answer| answer["match"].clone())
        .collect()
}

#[tokio::test]
async fn a_verify_only_grant_answers_matches_and_reads_nothing_through_any_front_door() {
    let hub = hub_with(
        "",
        "access:\n  auto_approve:\n    - { kind: verify, departments: [benefits], purposes: [benefit-eligibility], columns: [id_number, name, birth_date], max_days: 30 }\n",
    )
    .await;
    // The catalog says what the register offers and by which field it counts people.
    let (status, catalog) = hub.get("/v1/catalog").await;
    assert_eq!(status, StatusCode::OK);
    let entry = &catalog["departments"][0]["datasets"][0];
    assert_eq!(entry["subject_key"], json!(["id_number"]), "{entry}");
    assert_eq!(entry["offers"], json!(["read", "verify"]));
    assert_eq!(entry["access_conditions"]["auto_approve"][0]["kind"], "verify");

    let secret = hub
        .add_client("benefits-clerk", "benefits", &["analyst"], json!({}))
        .await;
    let clerk = hub.caller_of("benefits-clerk", &secret).await;
    // Asked for under the published conditions, the verify grant is made at once; a read
    // grant is not.
    let (status, request) = clerk
        .post(
            "/v1/access-requests",
            json!({"dataset": "civil_affairs.residents", "kind": "verify",
                   "columns": ["id_number", "name", "birth_date"], "purpose": PURPOSE,
                   "justification": "claimants' identities", "days": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    assert_eq!(request["state"], "approved", "{request}");
    let (status, refused) = clerk
        .post(
            "/v1/access-requests",
            json!({"dataset": "civil_affairs.residents", "kind": "verify", "columns": ["name"],
                   "purpose": PURPOSE, "justification": "names", "days": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("add 'id_number'") && message.starts_with("grant asked for:"),
        "no grant exists yet to name: {refused}"
    );
    // The administrator's explanation of the clerk's view says what they may verify.
    let config = hub.dir().join("causeway.toml");
    let output = crate::support::causeway(&[
        "policy",
        "explain",
        "--client",
        "benefits-clerk",
        "--dataset",
        "civil_affairs.residents",
        "--purpose",
        PURPOSE,
        "--config",
        &config.to_string_lossy(),
    ]);
    let explained = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        explained.contains("verify-only")
            && explained.contains("benefits-clerk verifies records against civil_affairs.residents")
            && explained.contains("matches on: birth_date, id_number, name")
            && explained.contains("3 attempts per person"),
        "{explained}"
    );

    let (status, body) = verify(
        &clerk,
        json!([
            {"id_number": CHEN, "name": "Chen Wei", "birth_date": "1990-01-01"},
            {"id_number": CHEN, "name": "Chen Wei", "birth_date": "1990-01-02"},
            {"id_number": LI, "name": "Chen Wei", "birth_date": "1985-02-02"},
            {"id_number": "000000000000000000", "name": "Li Na", "birth_date": "1985-02-02"},
            {"id_number": LI, "name": "Li Na", "birth_date": "not a date"},
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        matches(&body),
        [
            json!(true),
            json!(false),
            json!(false),
            json!(false),
            json!(false)
        ]
    );
    assert!(
        body["results"][0].get("columns").is_none(),
        "the grant does not name matching columns: {body}"
    );
    let text = body.to_string();
    for value in ["Guicheng", "Dali", "Wang Fang", "1977"] {
        assert!(!text.contains(value), "{value} in {text}");
    }

    // The same from the command line: one record as arguments, many from a CSV file.
    let token = hub.token("benefits-clerk", &secret).await;
    let one = hub.cli_ok(
        &token,
        &[
            "verify",
            "civil_affairs.residents",
            "--purpose",
            PURPOSE,
            "id_number=440605197703033456",
            "name=Wang Fang",
            "birth_date=1977-3-3",
        ],
    );
    assert!(
        one.contains("1        yes") && one.contains("1 of 1 matched"),
        "{one}"
    );
    let claimants = hub.dir().join("claimants.csv");
    std::fs::write(
        &claimants,
        "id_number,name,birth_date\n440605197703033456,Wang Fang,1977-03-04\n000000000000000001,\"Doe, Jo\",2000-01-01\n",
    )
    .expect("csv");
    let many = hub.cli_ok(
        &token,
        &[
            "verify",
            "civil_affairs.residents",
            "--purpose",
            PURPOSE,
            "--records",
            &claimants.to_string_lossy(),
        ],
    );
    assert!(many.contains("0 of 2 matched"), "{many}");
    let (ok, _, stderr) = hub.cli(
        &token,
        &[
            "verify",
            "civil_affairs.residents",
            "--purpose",
            PURPOSE,
            "id_number=1",
        ],
    );
    assert!(!ok && stderr.contains("only"), "the subject key alone: {stderr}");

    // Nothing of the register is read under the grant, through any front door.
    for sql in [
        "SELECT name FROM civil_affairs.residents",
        "SELECT count(*) FROM civil_affairs.residents",
        "SELECT 1 FROM civil_affairs.residents WHERE id_number = '440605199001011234'",
    ] {
        let (status, body) = clerk.query(sql, PURPOSE).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{sql}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("verify-only"),
            "{body}"
        );
    }
    let mut flight = signed_in(&hub, "benefits-clerk", &secret, PURPOSE).await;
    let status = flight
        .execute("SELECT name FROM civil_affairs.residents".to_owned(), None)
        .await
        .expect_err("Flight SQL reads nothing under a verify grant");
    assert!(status.to_string().contains("verify-only"), "{status}");
    assert!(
        status.to_string().contains("PermissionDenied") || status.to_string().contains("permission"),
        "{status}"
    );
    let wire = connect(
        &hub,
        "benefits-clerk",
        &secret,
        Some(&format!("-c causeway.purpose={PURPOSE}")),
    )
    .await
    .expect("a wire session");
    let error = wire
        .simple_query("SELECT name FROM civil_affairs.residents")
        .await
        .expect_err("the wire protocol reads nothing under a verify grant");
    assert_eq!(sqlstate(&error), "42501", "{error}");

    // Only granted columns are matched on, and always with the subject key.
    let (status, body) = verify(&clerk, json!([{"id_number": CHEN, "town": "Guicheng"}])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "columns_not_matchable");
    let (status, body) = verify(&clerk, json!([{"name": "Chen Wei"}])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "subject_key_missing");
    let (status, body) = clerk
        .post(
            "/v1/verify",
            json!({"dataset": "civil_affairs.residents", "purpose": "curiosity", "records": [{"id_number": CHEN}]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "no_verify_grant");

    // Explained as what it is.
    let (status, explained) = clerk
        .get(&format!(
            "/v1/access/explain?dataset=civil_affairs.residents&purpose={PURPOSE}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{explained}");
    assert_eq!(explained["allowed"], false);
    assert!(
        explained["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("verify-only"),
        "{explained}"
    );
    assert_eq!(
        explained["verify"]["grants"][0]["columns"],
        json!(["birth_date", "id_number", "name"])
    );

    // Asked for outside the permit list, a verify grant takes both approvals, like any
    // other; a reviewer may narrow the rows matched against, and may not add masks.
    let (status, filed) = clerk
        .post(
            "/v1/access-requests",
            json!({"dataset": "civil_affairs.residents", "kind": "verify",
                   "columns": ["id_number", "name"], "purpose": "pension-eligibility",
                   "justification": "claimants' identities", "days": 30}),
        )
        .await;
    assert_eq!(
        (status, filed["state"].clone()),
        (StatusCode::CREATED, json!("pending")),
        "{filed}"
    );
    let decision = format!(
        "/v1/access-requests/{}/decision",
        filed["id"].as_str().expect("id")
    );
    let steward = hub.publisher("civil_affairs").await;
    let (status, body) = steward
        .post(
            &decision,
            json!({"approve": true, "masks": {"name": {"kind": "null"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The dry run of a verify grant shows what each record is answered with, and no row.
    let dry_run = decision.replace("/decision", "/dry-run");
    let (status, tried) = steward
        .post(&dry_run, json!({"row_filter": "town = 'Dali'"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{tried}");
    assert!(tried.get("sample").is_none(), "{tried}");
    assert_eq!(tried["grant"]["kind"], "verify", "{tried}");
    assert_eq!(tried["grant"]["row_filter"], "town = 'Dali'", "{tried}");
    assert_eq!(
        tried["verify"]["matched_on"],
        json!(["id_number", "name"]),
        "{tried}"
    );
    assert_eq!(tried["verify"]["answer"]["match"], true, "{tried}");
    assert_eq!(
        tried["verify"]["terms"]["max_attempts_per_subject"], 3,
        "the default terms, stated: {tried}"
    );
    let shown = tried.to_string();
    for value in [CHEN, LI, "Chen Wei", "Li Na"] {
        assert!(!shown.contains(value), "{value} in {tried}");
    }
    let (status, body) = steward
        .post(&decision, json!({"approve": true, "row_filter": "town = 'Dali'"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = hub
        .security()
        .await
        .post(&decision, json!({"approve": true}))
        .await;
    assert_eq!(
        (status, body["state"].clone()),
        (StatusCode::OK, json!("approved")),
        "{body}"
    );
    let (status, body) = clerk
        .post(
            "/v1/verify",
            json!({"dataset": "civil_affairs.residents", "purpose": "pension-eligibility",
                   "records": [{"id_number": CHEN, "name": "Chen Wei"}, {"id_number": LI, "name": "Li Na"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        matches(&body),
        [json!(false), json!(true)],
        "Chen lives in Guicheng: {body}"
    );

    // The audit log has the counts and the subjects' pseudonyms, never the ID numbers.
    let records = hub
        .audit_rows(
            "SELECT action, outcome, grants, detail FROM audit.events \
             WHERE action LIKE 'verification.%' ORDER BY seq",
        )
        .await;
    let answered = &records[0];
    assert_eq!(answered["action"], "verification.answered", "{records:?}");
    assert_eq!(answered["outcome"], "ok");
    let detail: Value = serde_json::from_str(answered["detail"].as_str().expect("detail")).expect("json");
    assert_eq!(detail["records"], 5);
    assert_eq!(detail["matched"], 1);
    assert_eq!(detail["subjects"].as_array().map(Vec::len), Some(3), "{detail}");
    let logged = serde_json::to_string(&records).expect("json");
    assert!(!logged.contains(CHEN) && !logged.contains(LI), "{logged}");
    assert!(
        records
            .iter()
            .any(|record| record["action"] == "verification.refused" && record["outcome"] == "denied"),
        "{records:?}"
    );
}

#[tokio::test]
async fn guessing_runs_into_the_per_subject_and_daily_limits_across_restarts() {
    let mut hub = hub_with("[limits]\nmax_records_per_verification = 4\n", "").await;
    let secret = hub
        .add_client("benefits-clerk", "benefits", &["analyst"], json!({}))
        .await;
    hub.grant(json!({
        "subject": {"client": "benefits-clerk"},
        "dataset": "civil_affairs.residents",
        "kind": "verify",
        "columns": ["id_number", "name"],
        "purposes": [PURPOSE],
        "verify": {"column_matches": true, "max_attempts_per_subject": 3, "max_records_per_day": 9},
    }))
    .await;
    let clerk = hub.caller_of("benefits-clerk", &secret).await;

    // The grant names which columns match.
    let (status, body) = verify(&clerk, json!([{"id_number": CHEN, "name": "Chen W."}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"][0],
        json!({"match": false, "columns": {"id_number": true, "name": false}})
    );

    // Guessing Chen's name: the third attempt is the last, the right name too late.
    let (status, body) = verify(
        &clerk,
        json!([
            {"id_number": CHEN, "name": "Chen Wen"},
            {"id_number": CHEN, "name": "Chen Hui"},
            {"id_number": CHEN, "name": "Chen Wei"},
            {"id_number": LI, "name": "Li Na"},
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        matches(&body),
        [json!(false), json!(false), Value::Null, json!(true)]
    );
    assert_eq!(body["results"][2]["refused"], "subject_attempts_exhausted");
    // A call that only guesses on used-up subjects answers nothing, and is logged as the
    // refusal it is.
    let (status, body) = verify(&clerk, json!([{"id_number": CHEN, "name": "Chen Wei"}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["refused"], "subject_attempts_exhausted");

    let (status, body) = verify(&clerk, json!([{}, {}, {}, {}, {}])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "too_many_records");
    // The ID number alone would tell whether someone is registered: a grant for matching
    // names does not answer it.
    let (status, body) = verify(&clerk, json!([{"id_number": LI}])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "subject_key_only");
    let (status, body) = verify(&clerk, json!([{"id_number": LI, "name": ["Li Na"]}])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a list is no name: {body}");
    assert_eq!(body["error"]["code"], "invalid_records");

    // Six of nine used: three more reach the day's limit, and one more would pass it.
    let (status, body) = verify(
        &clerk,
        json!([
            {"id_number": "1", "name": "a"}, {"id_number": "2", "name": "a"},
            {"id_number": "3", "name": "a"},
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = verify(&clerk, json!([{"id_number": LI, "name": "Li Na"}])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "verify_quota_exceeded");

    // The counts are the store's: a restart forgets none of them.
    hub.restart().await;
    let clerk = hub.caller_of("benefits-clerk", &secret).await;
    let (status, body) = verify(&clerk, json!([{"id_number": LI, "name": "Li Na"}])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, body) = hub
        .security()
        .await
        .post(
            "/v1/verify",
            json!({"dataset": "civil_affairs.residents", "purpose": PURPOSE, "records": [{"id_number": CHEN}]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "officers verify nothing: {body}");

    // The refusals' records say what was asked and the limit that refused it.
    let refused = hub
        .audit_rows(
            "SELECT error_class, detail FROM audit.events WHERE action = 'verification.refused' \
             AND principal = 'benefits-clerk' ORDER BY seq",
        )
        .await;
    let detail = |class: &str| -> Value {
        let row = refused
            .iter()
            .find(|row| row["error_class"] == class)
            .unwrap_or_else(|| panic!("no {class} refusal in {refused:?}"));
        serde_json::from_str(row["detail"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
    };
    let guessed = detail("subject_attempts_exhausted");
    assert_eq!(
        (guessed["records"].clone(), guessed["refused"].clone()),
        (json!(1), json!(1)),
        "{guessed}"
    );
    let too_many = detail("too_many_records");
    assert_eq!(too_many["records"], 5, "{too_many}");
    assert_eq!(too_many["max_records_per_verification"], 4, "{too_many}");
    let daily = detail("verify_quota_exceeded");
    assert_eq!(daily["records"], 1, "{daily}");
    assert_eq!(daily["max_records_per_day"], 9, "{daily}");
    assert_eq!(daily["control"], "verify", "{daily}");
}
