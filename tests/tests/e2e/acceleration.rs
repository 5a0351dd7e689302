//! Accelerated datasets: served from an in-memory copy, refreshed on demand and on a
//! schedule, kept when a refresh fails, limited by the memory budget, and under the same
//! policies and audit log as live sources.

use std::fmt::Write;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Hub, causeway_with, eventually, json_of};

fn spec(acceleration: &str) -> String {
    format!(
        r#"
contract:
  department: civil_affairs
  name: people
  title: People
  owner: {{ name: Desk, email: desk@example.gov }}
  primary_key: [id]
  fields:
    - {{ name: id, type: bigint, nullable: false, classification: public }}
    - {{ name: name, type: string, classification: pii.name }}
    - {{ name: town, type: string, classification: public }}
source: {{ kind: csv, path: people.csv }}
acceleration: {acceleration}
"#
    )
}

/// Writes people.csv with ids `0..rows`, in an order unrelated to the id, alternating
/// between two towns.
fn write_people(hub: &Hub, rows: usize) {
    let mut csv = String::from("id,name,town\n");
    for n in 0..rows {
        let id = (n * 7919) % rows;
        let town = if id.is_multiple_of(2) {
            "Guicheng"
        } else {
            "Lishui"
        };
        let _ = writeln!(csv, "{id},Person {id},{town}");
    }
    std::fs::write(hub.dir().join("people.csv"), csv).expect("csv");
}

async fn count(hub: &Hub) -> Value {
    hub.rows("SELECT count(*) AS n FROM civil_affairs.people").await[0]["n"].clone()
}

async fn catalog_entry(hub: &Hub) -> Value {
    let (status, detail) = hub.get("/v1/datasets/civil_affairs/people").await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    detail
}

async fn refresh(hub: &Hub) -> (StatusCode, Value) {
    json_of(
        hub.publisher("civil_affairs")
            .await
            .http
            .post(format!("{}/v1/datasets/civil_affairs/people/refresh", hub.url))
            .json(&json!({}))
            .send()
            .await
            .expect("refresh"),
    )
    .await
}

#[tokio::test]
async fn an_accelerated_dataset_is_served_from_memory_until_refreshed() {
    let mut hub = Hub::start("").await;
    write_people(&hub, 1000);
    hub.publish_ok(&spec("{ mode: memory }")).await;

    let entry = catalog_entry(&hub).await;
    assert_eq!(entry["accelerated"], true, "{entry}");
    assert_eq!(entry["acceleration"]["mode"], "memory");
    assert_eq!(entry["acceleration"]["rows"], 1000);
    assert!(entry["acceleration"]["bytes"].as_u64().unwrap_or_default() > 0);
    let first_refresh = entry["acceleration"]["refreshed_at"].clone();
    assert!(first_refresh.is_string(), "{entry}");
    assert_eq!(count(&hub).await, 1000);

    // The source changes; the copy does not, until it is refreshed.
    write_people(&hub, 1500);
    assert_eq!(count(&hub).await, 1000);
    let token = hub.publisher_token("civil_affairs").await;
    let output = causeway_with(
        &["dataset", "refresh", "civil_affairs.people", "--hub", &hub.url],
        &[("CAUSEWAY_TOKEN", token.as_str())],
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("1500 rows"), "{printed}");
    assert_eq!(count(&hub).await, 1500);
    let entry = catalog_entry(&hub).await;
    assert_eq!(entry["acceleration"]["rows"], 1500);
    assert_ne!(entry["acceleration"]["refreshed_at"], first_refresh);

    // A lookup by the primary key reads the matching row only, not the whole copy.
    let plan = hub
        .physical_plan("SELECT name FROM civil_affairs.people WHERE id = 1234")
        .await;
    assert!(plan.contains("partitions=1, partition_sizes=[1]"), "{plan}");
    assert_eq!(
        hub.rows("SELECT name, town FROM civil_affairs.people WHERE id = 1234")
            .await,
        vec![json!({"name": "Person 1234", "town": "Guicheng"})]
    );
    assert_eq!(
        hub.rows("SELECT name FROM civil_affairs.people WHERE id IN (3, 1499, 99999) ORDER BY name")
            .await,
        vec![json!({"name": "Person 1499"}), json!({"name": "Person 3"})]
    );

    // After a restart the dataset is loaded into memory again.
    hub.restart().await;
    assert_eq!(catalog_entry(&hub).await["accelerated"], true);
    assert_eq!(count(&hub).await, 1500);
}

/// The partition sizes an EXPLAIN's memory scan prints, e.g. `[4, 3]`.
fn partition_sizes(plan: &str) -> Vec<usize> {
    let sizes = plan
        .split("partition_sizes=[")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no partition sizes in {plan}"));
    sizes
        .split(',')
        .map(|size| size.trim().parse().expect("a partition size"))
        .collect()
}

/// On a copy of many batches (50,000 rows, sorted by key in batches of 8,192), a lookup by
/// the primary key reads one slice while a scan by another column reads every batch.
#[tokio::test]
async fn a_key_lookup_reads_one_slice_of_a_copy_of_many_batches() {
    let rows = 50_000;
    let hub = Hub::start("").await;
    write_people(&hub, rows);
    hub.publish_ok(&spec("{ mode: memory }")).await;
    assert_eq!(count(&hub).await, rows);

    let scan = hub
        .physical_plan("SELECT name FROM civil_affairs.people WHERE town = 'Lishui'")
        .await;
    let batches: usize = partition_sizes(&scan).iter().sum();
    assert_eq!(batches, rows.div_ceil(8192), "a scan reads every batch: {scan}");

    let lookup = hub
        .physical_plan("SELECT name FROM civil_affairs.people WHERE id = 31337")
        .await;
    assert_eq!(
        partition_sizes(&lookup),
        [1],
        "a lookup reads one slice: {lookup}"
    );
    assert_eq!(
        hub.rows("SELECT id, name, town FROM civil_affairs.people WHERE id = 31337")
            .await,
        vec![json!({"id": 31337, "name": "Person 31337", "town": "Lishui"})]
    );
    assert_eq!(
        hub.rows("SELECT count(*) AS n FROM civil_affairs.people WHERE town = 'Lishui'")
            .await,
        vec![json!({"n": rows / 2})]
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_old_copy_and_says_why() {
    let hub = Hub::start("").await;
    write_people(&hub, 100);
    hub.publish_ok(&spec("{ mode: memory }")).await;

    std::fs::write(
        hub.dir().join("people.csv"),
        "id,name,town\nnot-a-number,Somebody,Lishui\n",
    )
    .expect("csv");
    let (status, body) = refresh(&hub).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "refresh_failed");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("civil_affairs.people"),
        "{body}"
    );
    assert!(
        !body.to_string().contains("not-a-number"),
        "no value read from the source is quoted: {body}"
    );
    assert_eq!(count(&hub).await, 100, "the previous copy still serves");

    let entry = catalog_entry(&hub).await;
    assert_eq!(entry["acceleration"]["rows"], 100);
    assert_eq!(entry["acceleration"]["refresh_failures"], 1);
    assert!(entry["acceleration"]["last_error"].is_string(), "{entry}");
    assert!(!entry.to_string().contains("not-a-number"), "{entry}");
    let (status, health) = hub.get("/v1/health").await;
    assert_eq!(status, StatusCode::OK, "queries are still served: {health}");
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["acceleration"]["refresh_failing"], 1);
    let metrics = hub
        .http
        .get(format!("{}/metrics", hub.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("causeway_acceleration_refresh_failing{dataset=\"civil_affairs.people\"} 1"),
        "{metrics}"
    );
    let failed = hub
        .audit_rows("SELECT outcome, error_class FROM audit.events WHERE action = 'dataset.refreshed'")
        .await;
    assert_eq!(
        failed,
        vec![json!({"outcome": "error", "error_class": "refresh_failed"})]
    );

    // Once the source is readable again, a refresh clears the error.
    write_people(&hub, 120);
    let (status, body) = refresh(&hub).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], 120);
    assert!(body.get("last_error").is_none(), "{body}");
    assert_eq!(hub.get("/v1/health").await.1["status"], "ok");
}

#[tokio::test]
async fn a_scheduled_refresh_picks_up_changes() {
    let hub = Hub::start("").await;
    write_people(&hub, 10);
    hub.publish_ok(&spec("{ mode: memory, refresh: 1s }")).await;
    assert_eq!(catalog_entry(&hub).await["acceleration"]["refresh"], "1s");
    write_people(&hub, 20);
    let seen = eventually(
        "the scheduled refresh shows 20 rows",
        Duration::from_secs(10),
        async || {
            let seen = count(&hub).await;
            (seen == 20).then_some(seen)
        },
    )
    .await;
    assert_eq!(seen, 20);
}

#[tokio::test]
async fn a_copy_beyond_the_memory_budget_is_refused() {
    let hub = Hub::start("[acceleration]\nmemory_budget_mb = 1\n").await;
    write_people(&hub, 100_000);
    let (status, body) = hub.publish(&spec("{ mode: memory }")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "memory_budget_exceeded");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("civil_affairs.people") && message.contains("memory budget"),
        "{message}"
    );
    let (status, _) = hub.get("/v1/datasets/civil_affairs/people").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was published");

    // A small one fits.
    write_people(&hub, 100);
    hub.publish_ok(&spec("{ mode: memory }")).await;
    assert_eq!(count(&hub).await, 100);
    let (_, health) = hub.get("/v1/health").await;
    assert_eq!(health["acceleration"]["budget_bytes"], 1024 * 1024);
}

#[tokio::test]
async fn policies_and_the_audit_log_apply_as_for_a_live_source() {
    let hub = Hub::start("").await;
    write_people(&hub, 1000);
    hub.publish_ok(&spec("{ mode: memory }")).await;
    let secret = hub
        .add_client(
            "clerk",
            "civil_affairs",
            &["analyst"],
            json!({"town": "Guicheng"}),
        )
        .await;
    hub.grant(json!({
        "subject": {"client": "clerk"},
        "dataset": "civil_affairs.people",
        "columns": ["id", "name", "town"],
        "masks": {"name": {"kind": "hash"}},
        "row_filter": "town = principal.town",
        "purposes": ["testing"],
    }))
    .await;
    let clerk = hub.authorized(&hub.token("clerk", &secret).await);
    let ask = |sql: &'static str| {
        let clerk = clerk.clone();
        let url = hub.url.clone();
        async move {
            json_of(
                clerk
                    .post(format!("{url}/v1/query"))
                    .json(&json!({"sql": sql, "purpose": "testing"}))
                    .send()
                    .await
                    .expect("query"),
            )
            .await
        }
    };
    let (status, body) = ask("SELECT count(*) AS n FROM civil_affairs.people").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{"n": 500}]));
    // A lookup by key outside the row filter finds nothing, even though it is served from
    // the sorted copy.
    let (_, body) = ask("SELECT id, name FROM civil_affairs.people WHERE id = 7").await;
    assert_eq!(body["rows"], json!([]));
    let (_, body) = ask("SELECT id, name FROM civil_affairs.people WHERE id = 8").await;
    assert_eq!(body["rows"][0]["id"], 8, "{body}");
    let pseudonym = body["rows"][0]["name"].as_str().unwrap_or_default();
    assert!(!pseudonym.is_empty() && !pseudonym.contains("Person"), "{body}");
    // The keyed hash the grant asks for, not the name's default mask ("P****").
    assert_eq!(pseudonym, crate::support::pseudonym(&hub, "Person 8"), "{body}");

    let recorded = hub
        .audit_rows(
            "SELECT action, datasets, masks, row_filters, rows FROM audit.events \
             WHERE action LIKE 'query.%' AND principal = 'clerk' AND sql LIKE '%id = 8' ORDER BY seq",
        )
        .await;
    let (started, finished) = (&recorded[0], &recorded[1]);
    assert_eq!(started["action"], "query.started", "{recorded:?}");
    assert_eq!(
        started["datasets"],
        json!(["civil_affairs.people"]),
        "{recorded:?}"
    );
    assert_eq!(
        started["masks"],
        json!(["civil_affairs.people.name: keyed hash"]),
        "{recorded:?}"
    );
    assert!(
        !started["row_filters"].as_array().expect("filters").is_empty(),
        "{recorded:?}"
    );
    assert_eq!(finished["action"], "query.finished", "{recorded:?}");
    assert_eq!(finished["rows"], 1, "{recorded:?}");
}
