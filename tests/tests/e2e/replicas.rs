//! Replicas: two hub processes on one PostgreSQL metadata store serve one catalog, enforce
//! each other's revocations within a second, count one daily quota, and keep an audit chain
//! each that one command verifies.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Caller, Hub, POSTGRES_URL, Postgres, causeway, eventually};

const RESIDENTS: &str = "id_number,name,town\n\
110101199001011234,Chen Wei,Guicheng\n\
110101198502022345,Li Na,Dali\n\
110101197003033456,Wang Fang,Guicheng\n\
110101196504044567,Zhao Lei,Lecong\n\
110101195505055678,Sun Li,Dali\n";

const PURPOSE: &str = "testing";

/// A replica's configuration: its own data directory and audit chain (`SHARED/audit/NODE`),
/// the keys every replica shares, the one store, and the folder the datasets' files are in.
fn replica_config(dir: &Path, files: &Path, shared: &Path, store: &str, node: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\
         [storage]\ndata_dir = \"{dir}\"\nmetadata_url = \"{store}\"\n\
         audit_dir = \"{shared}/audit/{node}\"\nkeys_dir = \"{shared}/keys\"\n\
         pseudonym_key = \"{shared}/pseudonym.key\"\n\
         [audit]\nnode = \"{node}\"\nchains_root = \"{shared}/audit\"\n\
         [connectors]\nfile_roots = [\"{files}\"]\n",
        dir = dir.display(),
        files = files.display(),
        shared = shared.display(),
    )
}

/// How long after `since` the check first held, polling every 20 ms for at most 5 s.
async fn held_after(since: Instant, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    while since.elapsed() < Duration::from_secs(5) {
        if check().await {
            return since.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: still not so after 5 s");
}

async fn count(caller: &Caller) -> (StatusCode, Value) {
    caller
        .query("SELECT count(*) AS n FROM civil_affairs.residents", PURPOSE)
        .await
}

#[tokio::test]
async fn replicas_on_one_store_enforce_each_others_changes() {
    let Some(pg) = Postgres::connect().await else {
        return;
    };
    let store = format!("{POSTGRES_URL}?options=-c%20search_path%3D{}", pg.schema);
    let shared = tempfile::tempdir().expect("tempdir");
    let a = Hub::start_with(|dir| replica_config(dir, dir, shared.path(), &store, "hub-a")).await;
    let b = a
        .replica(|dir| replica_config(dir, a.dir(), shared.path(), &store, "hub-b"))
        .await;

    // Published through A, served by B.
    a.publish_residents(RESIDENTS, "").await;
    let published = Instant::now();
    let reader = b.caller(&b.http);
    let served = held_after(published, "B serves what A published", async || {
        count(&reader).await.0 == StatusCode::OK
    })
    .await;
    let (_, body) = count(&reader).await;
    assert_eq!(body["rows"][0]["n"], 5, "{body}");

    // A grant revoked through A is refused by B within a second.
    let secret = a
        .add_client("replica-analyst", "statistics", &["analyst"], json!({}))
        .await;
    let grant = a
        .grant(json!({
            "subject": {"client": "replica-analyst"},
            "dataset": "civil_affairs.residents",
            "purposes": [PURPOSE],
            "max_rows_per_day": 4,
        }))
        .await;
    let analyst_at_b = b.caller_of("replica-analyst", &secret).await;
    held_after(Instant::now(), "B admits the grant made through A", async || {
        count(&analyst_at_b).await.0 == StatusCode::OK
    })
    .await;

    // One day's quota, counted across both: 1 row (the count) through B, then 3 through A,
    // leaves none for B.
    let analyst_at_a = a.caller_of("replica-analyst", &secret).await;
    let (status, body) = analyst_at_a
        .query(
            "SELECT town FROM civil_affairs.residents ORDER BY town LIMIT 2",
            PURPOSE,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = analyst_at_a
        .query(
            "SELECT town FROM civil_affairs.residents ORDER BY town LIMIT 1",
            PURPOSE,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Rows are counted in the store as each query ends (a moment after its last row is
    // sent); B reads the count before it runs a query.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = analyst_at_b
        .query("SELECT town FROM civil_affairs.residents LIMIT 1", PURPOSE)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "row_quota_exceeded", "{body}");

    let grant_id = grant["id"].as_str().expect("grant id");
    let revoked_at = Instant::now();
    assert_eq!(a.revoke(grant_id).await, StatusCode::NO_CONTENT);
    let revoked = held_after(revoked_at, "B refuses a grant revoked through A", async || {
        count(&analyst_at_b).await.0 == StatusCode::FORBIDDEN
    })
    .await;

    // A client disabled through A has its token refused by B within a second.
    let reader_secret = a
        .add_client("replica-reader", "statistics", &["analyst"], json!({}))
        .await;
    a.grant_everything("civil_affairs.residents", json!({"client": "replica-reader"}))
        .await;
    let reader_at_b = b.caller_of("replica-reader", &reader_secret).await;
    held_after(Instant::now(), "B serves the new reader", async || {
        count(&reader_at_b).await.0 == StatusCode::OK
    })
    .await;
    let disabled_at = Instant::now();
    let (status, body) = a
        .system()
        .await
        .post("/v1/clients/replica-reader/disable", json!({}))
        .await;
    assert!(status.is_success(), "{body}");
    let disabled = held_after(disabled_at, "B refuses the disabled client's token", async || {
        count(&reader_at_b).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    println!(
        "B served a dataset {served:?} after A published it; refused a revoked grant after {revoked:?}, a disabled client after {disabled:?}"
    );
    assert!(revoked < Duration::from_secs(1), "a revocation took {revoked:?}");
    assert!(disabled < Duration::from_secs(1), "a disabling took {disabled:?}");

    // Removed through A, no longer served by B.
    let status = a
        .publisher("civil_affairs")
        .await
        .delete("/v1/datasets/civil_affairs/residents")
        .await;
    assert!(status.is_success(), "{status}");
    held_after(Instant::now(), "B stops serving what A removed", async || {
        let (status, body) = count(&reader).await;
        status.is_client_error() && body["error"]["code"] == "unknown_table"
    })
    .await;

    // An auditor reading through B sees A's records too, each named by its node.
    let nodes = b
        .audit_rows("SELECT DISTINCT node FROM audit.events ORDER BY node")
        .await;
    assert_eq!(nodes, [json!({"node": "hub-a"}), json!({"node": "hub-b"})]);
    let disabled_through_a = b
        .audit_rows("SELECT node FROM audit.events WHERE action = 'client.disabled'")
        .await;
    assert_eq!(disabled_through_a, [json!({"node": "hub-a"})]);
    let auditor_at_b = b.auditor().await;
    let (status, body) = auditor_at_b.get("/v1/audit/events?action=grant.created").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let made: Vec<&Value> = body["events"].as_array().expect("events").iter().collect();
    assert_eq!(
        made.len(),
        3,
        "the reader's, the analyst's and the publisher's own: {body}"
    );
    assert!(made.iter().all(|event| event["node"] == "hub-a"), "{body}");
    let (status, verified) = auditor_at_b.get("/v1/audit/verify").await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["node"], "hub-b", "{verified}");
    assert_eq!(verified["other_nodes"][0]["node"], "hub-a", "{verified}");
    assert_eq!(verified["other_nodes"][0]["valid"], true, "{verified}");

    // A forged chain beside theirs fails the verification through B, named by its node.
    let forged = shared.path().join("audit/hub-c");
    std::fs::create_dir_all(&forged).expect("mkdir");
    let zeros = "0".repeat(64);
    std::fs::write(
        forged.join("segment-00000000000000000001.jsonl"),
        format!(
            "{{\"seq\":1,\"time\":\"2026-12-01T00:00:00Z\",\"action\":\"audit.opened\",\"outcome\":\"ok\",\"prev\":\"{zeros}\",\"hash\":\"{zeros}\"}}\n"
        ),
    )
    .expect("forge");
    let (_, verified) = auditor_at_b.get("/v1/audit/verify").await;
    assert_eq!(verified["valid"], false, "{verified}");
    let other_nodes = verified["other_nodes"].as_array().expect("other nodes");
    let hub_c = other_nodes
        .iter()
        .find(|node| node["node"] == "hub-c")
        .expect("hub-c is verified");
    assert_eq!(hub_c["valid"], false, "{verified}");
    assert!(
        other_nodes
            .iter()
            .any(|node| node["node"] == "hub-a" && node["valid"] == true),
        "{verified}"
    );
    std::fs::remove_dir_all(&forged).expect("remove the forgery");

    // Each replica keeps its own chain; one command verifies both and names their nodes.
    let b_config = b.dir().join("causeway.toml");
    // Backed up while both run, with every chain (the configuration's chains_root), and
    // restored into a new store and a new audit root: the tails the backup caught after their
    // last checkpoints are sealed by the restore, so both chains verify though neither node
    // runs there.
    let backup = shared.path().join("backup");
    let output = causeway(&[
        "backup",
        "--config",
        &b_config.to_string_lossy(),
        "--to",
        &backup.to_string_lossy(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let second = Postgres::connect().await.expect("a second schema");
    let restored = tempfile::tempdir().expect("tempdir");
    let restored_store = format!("{POSTGRES_URL}?options=-c%20search_path%3D{}", second.schema);
    let restored_config = restored.path().join("causeway.toml");
    std::fs::write(
        &restored_config,
        replica_config(
            restored.path(),
            restored.path(),
            restored.path(),
            &restored_store,
            "hub-b",
        ),
    )
    .expect("config");
    let output = causeway(&[
        "restore",
        "--config",
        &restored_config.to_string_lossy(),
        "--from",
        &backup.to_string_lossy(),
    ]);
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let output = causeway(&[
        "audit",
        "verify",
        "--config",
        &restored_config.to_string_lossy(),
        "--chains",
        &restored.path().join("audit").to_string_lossy(),
    ]);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    assert!(report.contains("OK: all 2 chains are intact"), "{report}");
    second.cleanup().await;

    let (mut a, mut b) = (a, b);
    assert!(b.terminate().success(), "{}", b.log());
    assert!(a.terminate().success(), "{}", a.log());
    let verify_chains = || {
        causeway(&[
            "audit",
            "verify",
            "--config",
            &b_config.to_string_lossy(),
            "--chains",
            &shared.path().join("audit").to_string_lossy(),
        ])
    };
    let output = verify_chains();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.contains("of node hub-a") && report.contains("of node hub-b"),
        "{report}"
    );
    assert!(report.contains("OK: all 2 chains are intact"), "{report}");

    // A replica's chain removed whole is a break, named by its node.
    for segment in std::fs::read_dir(shared.path().join("audit/hub-b")).expect("hub-b's chain") {
        let path = segment.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "jsonl") {
            std::fs::remove_file(path).expect("remove a segment");
        }
    }
    let output = verify_chains();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{report}");
    assert!(
        report.contains("BROKEN: the chains of 1 of 2 nodes: hub-b"),
        "{report}"
    );
    pg.cleanup().await;
}

/// A rule whose alert suspends a principal who reads more than 4 rows of personal data.
const SUSPENDING_RULE: &str = "[[alerts.rules]]\nname = \"bulk-personal-data\"\nsuspend = true\n\
when = { kind = \"classified_rows\", classification = \"pii.*\", threshold = 4, window = \"1h\" }\n";

/// A suspension raised on one replica ends the principal's read already under way on the
/// other, not only their next statement there.
#[tokio::test]
async fn a_suspension_raised_on_one_replica_ends_the_read_under_way_on_another() {
    let Some(pg) = Postgres::connect().await else {
        return;
    };
    let store = format!("{POSTGRES_URL}?options=-c%20search_path%3D{}", pg.schema);
    let shared = tempfile::tempdir().expect("tempdir");
    let a = Hub::start_with(|dir| replica_config(dir, dir, shared.path(), &store, "hub-a") + SUSPENDING_RULE)
        .await;
    let b = a
        .replica(|dir| replica_config(dir, a.dir(), shared.path(), &store, "hub-b") + SUSPENDING_RULE)
        .await;
    a.publish_residents(RESIDENTS, "").await;
    let secret = a
        .add_client("bulk-reader", "statistics", &["analyst"], json!({}))
        .await;
    a.grant(json!({
        "subject": {"client": "bulk-reader"},
        "dataset": "civil_affairs.residents",
        "purposes": [PURPOSE],
    }))
    .await;

    // A long read of a public column through B: 5^9 rows.
    let at_b = b.authorized(&b.token("bulk-reader", &secret).await);
    let tables: Vec<String> = (0..9)
        .map(|index| format!("civil_affairs.residents t{index}"))
        .collect();
    let all_rows = 5_usize.pow(9);
    let sql = format!("SELECT t0.town FROM {}", tables.join(", "));
    let mut streaming = eventually(
        "B serves the grant made through A",
        Duration::from_secs(5),
        async || {
            let response = at_b
                .post(format!("{}/v1/query", b.url))
                .header("Accept", "text/csv")
                .json(&json!({"sql": sql, "purpose": PURPOSE}))
                .send()
                .await
                .expect("query");
            (response.status() == StatusCode::OK).then_some(response)
        },
    )
    .await;
    let first = streaming.chunk().await.expect("read").expect("a first chunk");
    let mut streamed = first.iter().filter(|byte| **byte == b'\n').count();

    // Five names read through A raise the suspending alert there.
    let at_a = a.caller_of("bulk-reader", &secret).await;
    let (status, body) = at_a
        .query("SELECT name FROM civil_affairs.residents", PURPOSE)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the query that passes the threshold runs: {body}"
    );
    let raised = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match streaming.chunk().await {
                Ok(Some(chunk)) => streamed += chunk.iter().filter(|byte| **byte == b'\n').count(),
                Ok(None) | Err(_) => return raised.elapsed(),
            }
        }
    })
    .await;
    let ended = ended.expect("B's read still ran 15 s after A suspended its reader");
    assert!(streamed < all_rows, "all {streamed} rows were sent");
    println!(
        "B ended the suspended reader's read {ended:?} after A raised the alert, after {streamed} of {all_rows} rows"
    );

    // B records the end of the read as its own, with the reason.
    let recorded = eventually(
        "B records the read as ended",
        Duration::from_secs(10),
        async || {
            let rows = b
                .audit_rows(
                    "SELECT node, rows FROM audit.events WHERE action = 'query.finished' \
                 AND principal = 'bulk-reader' AND error_class = 'access_ended'",
                )
                .await;
            rows.into_iter().next()
        },
    )
    .await;
    assert_eq!(recorded["node"], "hub-b", "{recorded}");
    assert!(
        recorded["rows"]
            .as_u64()
            .is_some_and(|rows| rows < all_rows as u64),
        "{recorded}"
    );
    // And refuses the next statement as suspended.
    let (status, body) = b
        .caller(&at_b)
        .query("SELECT town FROM civil_affairs.residents", PURPOSE)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "suspended", "{body}");
    pg.cleanup().await;
}
