//! Bad requests get a 4xx with the one JSON error shape, never a 500 or a panic.

use reqwest::StatusCode;
use serde_json::json;

use crate::files::{PEOPLE_CSV, people_spec};
use crate::support::{Hub, json_of};

#[tokio::test]
async fn bad_queries_are_refused_with_a_clear_message() {
    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    let cases = [
        ("SELEC name FROM civil_affairs.people", "syntax_error", "SELEC"),
        (
            "SELECT name FROM civil_affairs.nobody",
            "unknown_table",
            "table 'civil_affairs.nobody' not found",
        ),
        (
            "SELECT shoe_size FROM civil_affairs.people",
            "unknown_column",
            "shoe_size",
        ),
        (
            "DROP TABLE civil_affairs.people",
            "not_read_only",
            "not DROP TABLE",
        ),
        ("CREATE TABLE x AS SELECT 1", "not_read_only", "not CREATE TABLE"),
        (
            "INSERT INTO civil_affairs.people VALUES (9, 'x', 1, '2000-01-01')",
            "not_read_only",
            "not INSERT INTO",
        ),
        (
            "DELETE FROM civil_affairs.people",
            "not_read_only",
            "not DELETE FROM",
        ),
        (
            "COPY (SELECT * FROM civil_affairs.people) TO '/tmp/leak.csv'",
            "not_read_only",
            "not COPY",
        ),
        (
            "SET datafusion.execution.batch_size = 1",
            "not_read_only",
            "not SET",
        ),
        (
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "not_read_only",
            "CREATE EXTERNAL TABLE",
        ),
        ("SELECT 1; SELECT 2", "not_one_statement", "exactly one statement"),
        ("SELECT * FROM 'people.csv'", "unknown_table", "not found"),
    ];
    for (sql, code, fragment) in cases {
        let (status, body) = hub.query(sql).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sql}: {body}");
        assert_eq!(body["error"]["code"], code, "{sql}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(fragment),
            "{sql}: '{fragment}' not in '{message}'"
        );
    }
    // A misnamed column's particulars, for a program to act on: which, and those there are.
    let (_, body) = hub.query("SELECT p.nme FROM civil_affairs.people p").await;
    assert_eq!(
        body["error"]["details"],
        json!({"reason": "unknown_column", "column": "nme",
               "columns": ["id", "name", "amount", "born"]}),
        "{body}"
    );
    assert_eq!(
        hub.rows("SELECT count(*) AS n FROM civil_affairs.people").await,
        vec![json!({"n": 3})]
    );
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_4xx() {
    let hub = Hub::start("[limits]\nmax_request_bytes = 2048\n").await;
    let url = format!("{}/v1/query", hub.url);

    let huge = json!({ "sql": format!("SELECT '{}'", "x".repeat(4096)), "purpose": "testing" });
    let (status, body) = json_of(hub.http.post(&url).json(&huge).send().await.expect("send")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");

    // A purpose left out, or blank, is refused as such, not as malformed JSON.
    for request in [
        json!({"sql": "SELECT 1"}),
        json!({"sql": "SELECT 1", "purpose": " "}),
    ] {
        let (status, body) = json_of(hub.http.post(&url).json(&request).send().await.expect("send")).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::BAD_REQUEST, json!("missing_purpose")),
            "{request}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("purpose"),
            "{body}"
        );
    }

    let (status, body) = json_of(
        hub.http
            .post(&url)
            .header("content-type", "application/json")
            .body("{\"sql\": ")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_request"))
    );

    let (status, body) = json_of(hub.http.post(&url).body("SELECT 1").send().await.expect("send")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");

    let response = hub.query_raw("SELECT 1", "image/png").await;
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_ACCEPTABLE, json!("not_acceptable"))
    );

    let (status, body) = hub.get("/v1/nothing-here").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    let (status, body) = json_of(hub.http.delete(&url).send().await.expect("send")).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::METHOD_NOT_ALLOWED, json!("method_not_allowed"))
    );
    let (status, body) = hub.get("/v1/datasets/civil_affairs/nobody").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );

    let (status, health) = hub.get("/v1/health").await;
    assert_eq!((status, health["status"].clone()), (StatusCode::OK, json!("ok")));
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let hub = Hub::start("").await;
    let (status, document) = hub.get("/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        document["openapi"].as_str().unwrap_or_default().starts_with("3."),
        "{document}"
    );
    for (path, method) in [
        ("/v1/health", "get"),
        ("/v1/catalog", "get"),
        ("/v1/datasets", "post"),
        ("/v1/datasets/{department}/{name}", "get"),
        ("/v1/datasets/{department}/{name}", "delete"),
        ("/v1/datasets/{department}/{name}/contract", "put"),
        ("/v1/query", "post"),
        ("/v1/openapi.json", "get"),
    ] {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
}

/// `$1`, `$2`, ... take the request's `parameters`, typed from their JSON; the values go into
/// the plan, never into the SQL text, so a value with quotes is only a value.
#[tokio::test]
async fn query_parameters_are_bound_as_typed_values() {
    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    let caller = hub.caller(&hub.http);
    let ask = |sql: &'static str, parameters: serde_json::Value| {
        let caller = caller.clone();
        async move {
            caller
                .post(
                    "/v1/query",
                    json!({ "sql": sql, "purpose": "testing", "parameters": parameters }),
                )
                .await
        }
    };
    let (status, body) = ask(
        "SELECT name FROM civil_affairs.people WHERE id >= $1 AND name <> $2 ORDER BY id",
        json!([2, "Cy"]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{ "name": "Bob" }]));

    let (status, body) = ask(
        "SELECT count(*) AS n FROM civil_affairs.people WHERE name = $1",
        json!(["Ann' OR '1'='1"]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{ "n": 0 }]));

    let (status, body) = ask("SELECT name FROM civil_affairs.people WHERE id = $1", json!([])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_query");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("takes 1 parameters, but 0 were given")),
        "{body}"
    );
    let (status, body) = ask("SELECT $1 AS v", json!([[1, 2]])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_parameter");
}
