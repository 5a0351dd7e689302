//! Contracts checked against sources, and versions checked against each other.

use reqwest::StatusCode;
use serde_json::json;

use crate::files::{PEOPLE_CSV, people_spec};
use crate::support::Hub;

#[tokio::test]
async fn a_contract_that_does_not_match_its_source_is_refused_naming_the_field() {
    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    let wrong_type =
        people_spec("people.csv").replace("{ name: name, type: string", "{ name: name, type: bigint");
    let (status, body) = hub.publish(&wrong_type).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "contract_mismatch");
    assert_eq!(
        body["error"]["message"],
        "the source does not match the contract: field 'name' is Int64 in the contract but Utf8 in the source"
    );

    let missing = people_spec("people.csv").replace(
        "    - { name: born, type: date }",
        "    - { name: born, type: date }\n    - { name: ward, type: string }",
    );
    let (status, body) = hub.publish(&missing).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("field 'ward' (Utf8 in the contract) does not exist in the source"),
        "{body}"
    );
    let (_, catalog) = hub.get("/v1/catalog").await;
    assert_eq!(catalog["departments"], json!([]), "nothing was published");
}

#[tokio::test]
async fn contract_versions_must_stay_backward_compatible_unless_forced() {
    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    let contract_of = |spec: &str| {
        let value: serde_json::Value =
            serde_norway::from_str::<serde_json::Value>(spec).expect("yaml")["contract"].clone();
        serde_norway::to_string(&value).expect("yaml")
    };
    let v1 = contract_of(&people_spec("people.csv"));

    // Widening a decimal and adding a nullable column present in the source: compatible.
    let v2 = v1
        .replace("decimal(10,2)", "decimal(14,2)")
        .replace("type: date", "type: date\n- name: note\n  type: string");
    let (status, body) = hub.put_contract("civil_affairs.people", &v2, false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(
        hub.rows("SELECT note FROM civil_affairs.people WHERE id = 1")
            .await,
        vec![json!({"note": "a, b"})]
    );

    // Narrowing a type and dropping a column break readers: refused, naming both.
    let v3 = v2
        .replace("decimal(14,2)", "decimal(6,2)")
        .replace("- name: note\n  type: string\n", "");
    let (status, body) = hub.put_contract("civil_affairs.people", &v3, false).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "incompatible_contract");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("field 'amount' changes type from Decimal128(14, 2) to Decimal128(6, 2)"),
        "{message}"
    );
    assert!(message.contains("field 'note' was removed"), "{message}");

    // An admin may force it; every version is kept.
    let (status, body) = hub.put_contract("civil_affairs.people", &v3, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let versions: Vec<(i64, bool)> = body["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|version| {
            (
                version["version"].as_i64().unwrap_or_default(),
                version["forced"] == true,
            )
        })
        .collect();
    assert_eq!(versions, vec![(1, false), (2, false), (3, true)]);

    // A new version must still match the source.
    let v4 = v3.replace("type: date", "type: date\n- name: ward\n  type: string");
    let (status, body) = hub.put_contract("civil_affairs.people", &v4, false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("'ward'"),
        "{body}"
    );
}

#[tokio::test]
async fn invalid_contracts_and_sources_get_clear_errors() {
    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    let cases = [
        (
            people_spec("people.csv").replace("type: date", "type: datum"),
            StatusCode::BAD_REQUEST,
            "unknown type 'datum'",
        ),
        (
            people_spec("people.csv").replace("civil_affairs", "Civil Affairs"),
            StatusCode::BAD_REQUEST,
            "invalid department",
        ),
        (
            people_spec("missing.csv"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "'missing.csv' does not exist",
        ),
        (
            people_spec("/etc/passwd"),
            StatusCode::FORBIDDEN,
            "outside the directories this hub may read",
        ),
        (
            people_spec("people.csv").replace("kind: csv", "kind: excel"),
            StatusCode::BAD_REQUEST,
            "unknown variant `excel`",
        ),
        (
            "contract: [".to_owned(),
            StatusCode::BAD_REQUEST,
            "not valid YAML",
        ),
    ];
    for (spec, status, expected) in cases {
        let (got, body) = hub.publish(&spec).await;
        assert_eq!(got, status, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "expected '{expected}' in: {message}");
    }
    hub.publish_ok(&people_spec("people.csv")).await;
    let (status, body) = hub.publish(&people_spec("people.csv")).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("already_exists"))
    );
}
