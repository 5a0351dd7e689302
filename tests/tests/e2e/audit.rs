//! The audit log: what each access leaves in it, that a query's record is on disk before
//! its result, that a crash loses nothing acknowledged, that tampering is found, and that
//! queries stop when the log cannot be written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Hub, causeway, eventually, json_of};

const RESIDENTS_CSV: &str = "id_number,name,town,grid_id\n\
440605199001011234,Chen Wei,Guicheng,GC-001\n\
440605198502022345,Li Na,Dali,DL-003\n\
440605197703033456,Wang Fang,Guicheng,GC-001\n";

const PURPOSE: &str = "grid-management";

/// A hub with the residents published and an analyst of grid GC-001 who reads them with
/// the ID number hashed and only their grid's rows.
async fn setup() -> (Hub, reqwest::Client, String) {
    setup_on(Hub::start("").await).await
}

async fn setup_on(hub: Hub) -> (Hub, reqwest::Client, String) {
    hub.publish_residents(RESIDENTS_CSV, "").await;
    let secret = hub
        .add_client(
            "grid-worker",
            "town_office",
            &["analyst"],
            json!({"grid_id": "GC-001"}),
        )
        .await;
    let grant = hub
        .grant(json!({
            "subject": {"client": "grid-worker"},
            "dataset": "civil_affairs.residents",
            "masks": {"id_number": {"kind": "hash"}},
            "row_filter": "grid_id = principal.grid_id",
            "purposes": [PURPOSE],
        }))
        .await;
    let analyst = hub.authorized(&hub.token("grid-worker", &secret).await);
    let grant_id = grant["id"].as_str().expect("grant id").to_owned();
    (hub, analyst, grant_id)
}

/// A query for the purpose these tests' grants name, headers and all.
async fn ask(hub: &Hub, client: &reqwest::Client, sql: &str) -> reqwest::Response {
    hub.caller(client).query_response(sql, PURPOSE).await
}

fn audit_dir(hub: &Hub) -> PathBuf {
    hub.dir().join("audit")
}

/// Every record of the log in `dir`, oldest first.
fn records(dir: &Path) -> Vec<Value> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("audit dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "jsonl"))
        .collect();
    segments.sort();
    segments
        .iter()
        .flat_map(|path| {
            std::fs::read_to_string(path)
                .expect("segment")
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect::<Vec<Value>>()
        })
        .collect()
}

fn find<'a>(records: &'a [Value], action: &str, query_id: &str) -> &'a Value {
    records
        .iter()
        .find(|record| record["action"] == action && record["query_id"] == query_id)
        .unwrap_or_else(|| panic!("no {action} record of query {query_id}"))
}

fn verify_cli(hub: &Hub) -> std::process::Output {
    causeway(&[
        "audit",
        "verify",
        "--config",
        &hub.dir().join("causeway.toml").to_string_lossy(),
    ])
}

#[tokio::test]
async fn a_query_is_recorded_with_what_it_read_and_how_it_ended() {
    let (hub, analyst, grant_id) = setup().await;
    let response = ask(
        &hub,
        &analyst,
        "SELECT id_number, name FROM civil_affairs.residents",
    )
    .await;
    let query_id = response.headers()["x-causeway-query-id"]
        .to_str()
        .expect("query id")
        .to_owned();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"].as_array().map(Vec::len), Some(2));

    let (status, refused) = json_of(
        ask(
            &hub,
            &analyst,
            "SELECT * FROM civil_affairs.residents WHERE grid_id = 'DL-003' AND phone = '1'",
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    // The finished record follows the response's end: wait for it and the refusal's.
    let records = eventually(
        "the query's finished and refused records",
        Duration::from_secs(10),
        async || {
            let records = records(&audit_dir(&hub));
            let finished = records.iter().any(|record| {
                record["action"] == "query.finished" && record["query_id"] == query_id.as_str()
            });
            let refused = records.iter().any(|record| record["action"] == "query.refused");
            (finished && refused).then_some(records)
        },
    )
    .await;
    let started = find(&records, "query.started", &query_id);
    assert_eq!(started["principal"], "grid-worker");
    assert_eq!(started["department"], "town_office");
    assert_eq!(started["roles"], json!(["analyst"]));
    assert_eq!(started["client_address"], "127.0.0.1");
    assert_eq!(started["purpose"], PURPOSE);
    assert_eq!(
        started["sql"],
        "SELECT id_number, name FROM civil_affairs.residents"
    );
    assert_eq!(started["datasets"], json!(["civil_affairs.residents"]));
    assert_eq!(
        started["columns"],
        json!([
            "civil_affairs.residents.id_number",
            "civil_affairs.residents.name"
        ])
    );
    // The grant's hash, and the default mask of the name's classification.
    assert_eq!(
        started["masks"],
        json!([
            "civil_affairs.residents.id_number: keyed hash",
            "civil_affairs.residents.name: partial (first 1, last 0)"
        ])
    );
    assert_eq!(
        started["row_filters"],
        json!(["civil_affairs.residents: grid_id = principal.grid_id"])
    );
    assert_eq!(started["grants"], json!([grant_id]));
    assert_eq!(started["outcome"], "ok");

    let finished = find(&records, "query.finished", &query_id);
    assert_eq!(finished["rows"], 2);
    assert!(finished["bytes"].as_u64().unwrap_or(0) > 0, "{finished}");
    assert!(finished["duration_ms"].is_u64(), "{finished}");
    assert_eq!(finished["outcome"], "ok");
    assert!(
        started["seq"].is_u64() && finished["seq"].is_u64(),
        "{started} {finished}"
    );
    assert!(
        started["seq"].as_u64() < finished["seq"].as_u64(),
        "started comes first"
    );

    let refusal = records
        .iter()
        .find(|record| record["action"] == "query.refused")
        .expect("a query.refused record");
    assert_eq!(refusal["principal"], "grid-worker");
    assert_eq!(refusal["error_class"], refused["error"]["code"]);
    assert_eq!(refusal["outcome"], "error");
    assert_eq!(refusal["datasets"], json!(["civil_affairs.residents"]));
    assert!(
        !refusal.to_string().contains("Li Na"),
        "no value reaches the log that the query did not name"
    );
}

#[tokio::test]
async fn refusals_tokens_and_changes_are_recorded() {
    let (hub, analyst, grant_id) = setup().await;
    let response = ask(&hub, &analyst, "SELECT name FROM civil_affairs.residents").await;
    assert_eq!(response.status(), StatusCode::OK);
    let (_, body) = json_of(response).await;
    assert_eq!(
        body["rows"].as_array().map(Vec::len),
        Some(2),
        "the two residents of GC-001: {body}"
    );
    let denied = analyst
        .post(format!("{}/v1/query", hub.url))
        .json(&json!({"sql": "SELECT name FROM civil_affairs.residents", "purpose": "census"}))
        .send()
        .await
        .expect("query");
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let wrong_secret = hub
        .anonymous()
        .post(format!("{}/oauth/token", hub.url))
        .basic_auth("grid-worker", Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request");
    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        hub.delete(&format!("/v1/grants/{grant_id}")).await,
        StatusCode::NO_CONTENT
    );

    let records = records(&audit_dir(&hub));
    let with = |action: &str, outcome: &str| {
        records
            .iter()
            .filter(|record| record["action"] == action && record["outcome"] == outcome)
            .collect::<Vec<_>>()
    };
    let refusal = with("query.refused", "denied");
    assert_eq!(refusal.len(), 1, "{refusal:?}");
    assert_eq!(refusal[0]["error_class"], "access_denied");
    assert_eq!(refusal[0]["purpose"], "census");
    assert_eq!(refusal[0]["datasets"], json!(["civil_affairs.residents"]));

    let issued = with("token.issued", "ok");
    assert!(
        issued
            .iter()
            .any(|record| record["principal"] == "grid-worker" && record["department"] == "town_office"),
        "{issued:?}"
    );
    let refused = with("token.refused", "denied");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["principal"], "grid-worker");
    assert_eq!(refused[0]["client_address"], "127.0.0.1");
    assert!(!refused[0].to_string().contains("not-the-secret"));

    let published = with("dataset.published", "ok");
    assert_eq!(published[0]["datasets"], json!(["civil_affairs.residents"]));
    let created = with("client.created", "ok");
    assert!(
        created.iter().any(|record| record["principal"] == "e2e-admin"
            && record["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("grid-worker")),
        "{created:?}"
    );
    let granted = with("grant.created", "ok");
    let granted = granted
        .iter()
        .find(|record| record["grants"] == json!([grant_id]))
        .expect("the grant's record");
    assert_eq!(granted["datasets"], json!(["civil_affairs.residents"]));
    assert_eq!(granted["principal"], "e2e-admin");
    let revoked = with("grant.revoked", "ok");
    assert_eq!(revoked[0]["grants"], json!([grant_id]));
    assert_eq!(revoked[0]["datasets"], json!(["civil_affairs.residents"]));
}

#[tokio::test]
async fn the_log_verifies_offline_and_online_and_tampering_is_reported() {
    let (hub, analyst, _) = setup().await;
    for _ in 0..3 {
        assert_eq!(
            ask(&hub, &analyst, "SELECT town FROM civil_affairs.residents")
                .await
                .status(),
            StatusCode::OK
        );
    }
    let output = verify_cli(&hub);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("OK: the log is intact"), "{text}");

    let (status, report) = hub.get("/v1/audit/verify").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["valid"], true, "{report}");
    let analyst_view = analyst
        .get(format!("{}/v1/audit/verify", hub.url))
        .send()
        .await
        .expect("request");
    assert_eq!(analyst_view.status(), StatusCode::FORBIDDEN);

    // Someone edits who ran a query.
    let segment = std::fs::read_dir(audit_dir(&hub))
        .expect("audit dir")
        .map(|entry| entry.expect("entry").path())
        .find(|path| path.extension().is_some_and(|extension| extension == "jsonl"))
        .expect("a segment");
    let mut lines: Vec<String> = std::fs::read_to_string(&segment)
        .expect("segment")
        .lines()
        .map(str::to_owned)
        .collect();
    let index = lines
        .iter()
        .position(|line| line.contains("\"action\":\"query.started\""))
        .expect("a query record");
    lines[index] = lines[index].replace("\"principal\":\"grid-worker\"", "\"principal\":\"e2e-admin\"");
    let line = index + 1;
    std::fs::write(
        &segment,
        lines.iter().map(|line| format!("{line}\n")).collect::<String>(),
    )
    .expect("tamper");
    let output = verify_cli(&hub);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{report}");
    let name = segment.file_name().expect("name").to_string_lossy().into_owned();
    assert!(
        report.contains(&format!("BROKEN at {name} line {line}")),
        "{report}"
    );
    assert!(report.contains("changed"), "{report}");
    let (status, online) = hub.get("/v1/audit/verify").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(online["valid"], false, "{online}");
    assert_eq!(online["broken"]["line"], line, "{online}");
}

/// SIGKILL in the middle of concurrent queries: after a restart the log verifies, and every
/// query whose response had begun has its `query.started` record.
#[tokio::test]
async fn a_crash_under_load_loses_no_started_query() {
    let (mut hub, analyst, _) = setup().await;
    let (ids, received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, ids) = (analyst.clone(), hub.url.clone(), ids.clone());
            tokio::spawn(async move {
                loop {
                    let response = client
                        .post(format!("{url}/v1/query"))
                        .json(&json!({"sql": "SELECT name FROM civil_affairs.residents", "purpose": PURPOSE}))
                        .send()
                        .await;
                    let Ok(response) = response else { break };
                    if let Some(id) = response.headers().get("x-causeway-query-id") {
                        let _ = ids.send(id.to_str().unwrap_or_default().to_owned());
                    }
                }
            })
        })
        .collect();
    drop(ids);
    // The load runs until more than twenty queries have begun, then the hub is killed.
    let mut begun = Vec::new();
    let mut received = received;
    eventually("twenty-one queries begun", Duration::from_secs(60), async || {
        while let Ok(id) = received.try_recv() {
            begun.push(id);
        }
        (begun.len() > 20).then_some(())
    })
    .await;
    hub.restart().await;
    for worker in workers {
        let _ = worker.await;
    }
    while let Ok(id) = received.try_recv() {
        begun.push(id);
    }
    assert!(begun.len() > 20, "the load ran: {} queries", begun.len());

    let output = verify_cli(&hub);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    let records = records(&audit_dir(&hub));
    let started: std::collections::HashSet<&str> = records
        .iter()
        .filter(|record| record["action"] == "query.started")
        .filter_map(|record| record["query_id"].as_str())
        .collect();
    let missing: Vec<&String> = begun.iter().filter(|id| !started.contains(id.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} begun queries have no record: {missing:?}",
        missing.len()
    );
    assert!(
        records
            .iter()
            .filter(|record| record["action"] == "audit.opened")
            .count()
            >= 2,
        "the restarted hub went on with the same chain"
    );
}

/// A tiny file system for the audit log, mounted for the test and taken away after it.
pub(crate) struct SmallDisk {
    pub(crate) path: PathBuf,
}

impl SmallDisk {
    pub(crate) fn mount() -> Option<SmallDisk> {
        let path = std::env::temp_dir().join(format!("causeway-audit-disk-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|status| status.success());
        if mounted {
            Some(SmallDisk { path })
        } else {
            assert!(
                std::env::var("CI").is_err(),
                "cannot mount a small tmpfs (needs root): the audit disk test cannot run"
            );
            eprintln!("skipped: cannot mount a tmpfs here");
            None
        }
    }

    /// Fills the disk to its last byte.
    pub(crate) fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        let mut size = block.len();
        // Smaller and smaller writes, until not one byte fits.
        while size > 0 {
            match std::io::Write::write(&mut file, &block[..size]) {
                Ok(written) if written > 0 => {}
                _ => size /= 2,
            }
        }
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.path).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}

#[tokio::test]
async fn queries_are_refused_while_the_audit_log_cannot_be_written() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let hub = Hub::start_with(|dir| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndata_dir = \"{}\"\naudit_dir = \"{}\"\n",
            dir.display(),
            disk.path.display()
        )
    })
    .await;
    let (hub, analyst, _) = setup_on(hub).await;
    let sql = "SELECT name FROM civil_affairs.residents";
    assert_eq!(ask(&hub, &analyst, sql).await.status(), StatusCode::OK);

    let filler = disk.fill();
    // The segment's last page may still hold a few records; every query either gets its
    // record written or no result.
    let mut refused = None;
    for _ in 0..200 {
        let (status, body) = json_of(ask(&hub, &analyst, sql).await).await;
        if status != StatusCode::OK {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("queries are refused once the disk is full");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "audit_unavailable", "{body}");
    assert!(body.get("rows").is_none());
    assert!(!body.to_string().contains("Chen Wei"));
    let (status, health) = hub.get("/v1/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    assert_eq!(health["status"], "degraded");
    assert!(
        health["audit_log"]
            .as_str()
            .unwrap_or_default()
            .contains("No space left"),
        "{health}"
    );

    std::fs::remove_file(filler).expect("free the disk");
    let (status, body) = json_of(ask(&hub, &analyst, sql).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, health) = hub.get("/v1/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    let output = causeway(&[
        "audit",
        "verify",
        "--config",
        &hub.dir().join("causeway.toml").to_string_lossy(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    drop(hub);
}

const PARCELS_SPEC: &str = r#"
contract:
  department: land_registry
  name: parcels
  title: Parcels
  owner: { name: Desk, email: land@example.gov }
  fields:
    - { name: parcel_id, type: string, classification: public }
    - { name: owner_id_number, type: string, classification: pii.national_id }
source: { kind: csv, path: parcels.csv }
"#;

/// Security officers read the whole log with SQL and over the API, their own reading
/// included; publishers only the records that touch their department's datasets; analysts
/// nothing. The export writes the same records to a Parquet file.
#[tokio::test]
async fn officers_read_everything_publishers_their_own_datasets_analysts_nothing() {
    let (hub, analyst, _) = setup().await;
    std::fs::write(
        hub.dir().join("parcels.csv"),
        "parcel_id,owner_id_number\nP-1,440605199001011234\n",
    )
    .expect("csv");
    hub.publish_ok(PARCELS_SPEC).await;
    assert_eq!(
        ask(&hub, &analyst, "SELECT name FROM civil_affairs.residents")
            .await
            .status(),
        StatusCode::OK
    );
    hub.rows("SELECT parcel_id FROM land_registry.parcels").await;
    let officer = hub.client_as("officer", "security", &["security_officer"]).await;
    let steward = hub
        .client_as("cad-steward", "civil_affairs", &["publisher"])
        .await;
    let sql_as = |client: &reqwest::Client, sql: &str| {
        client
            .post(format!("{}/v1/query", hub.url))
            .json(&json!({"sql": sql, "purpose": "supervision"}))
            .send()
    };
    // A query of the log may find its own `query.started` record (written while it runs):
    // the records of reading the log itself are left out here.
    let touched = "SELECT DISTINCT unnest(datasets) AS dataset FROM audit.events \
                   WHERE NOT array_has(datasets, 'audit.events') ORDER BY dataset";

    let (status, body) = json_of(sql_as(&officer, touched).await.expect("query")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rows"],
        json!([
            {"dataset": "civil_affairs.residents"},
            {"dataset": "land_registry.parcels"},
        ]),
        "the officer sees every record"
    );
    let (status, body) = json_of(
        sql_as(
            &officer,
            "SELECT principal, rows FROM audit.events WHERE action = 'query.finished' AND principal = 'grid-worker'",
        )
        .await
        .expect("query"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{"principal": "grid-worker", "rows": 2}]));

    let (status, body) = json_of(sql_as(&steward, touched).await.expect("query")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rows"],
        json!([{"dataset": "civil_affairs.residents"}]),
        "the steward sees only the records of civil affairs datasets"
    );
    let (status, body) = json_of(
        sql_as(
            &steward,
            "SELECT count(*) AS n FROM audit.events WHERE array_has(datasets, 'land_registry.parcels')",
        )
        .await
        .expect("query"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{"n": 0}]));

    let (status, body) = json_of(
        sql_as(&analyst, "SELECT count(*) FROM audit.events")
            .await
            .expect("query"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "access_denied");

    let api = |client: &reqwest::Client, query: &str| {
        client.get(format!("{}/v1/audit/events?{query}", hub.url)).send()
    };
    let (status, body) = json_of(
        api(&officer, "action=query.started&principal=grid-worker")
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["sql"], "SELECT name FROM civil_affairs.residents");
    let (status, body) = json_of(api(&steward, "dataset=land_registry.parcels").await.expect("get")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["events"], json!([]));
    let (status, _) = json_of(api(&analyst, "").await.expect("get")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Reading the log is itself recorded.
    let records = eventually(
        "the officer's and the steward's reads of the log",
        Duration::from_secs(10),
        async || {
            let records = records(&audit_dir(&hub));
            let officer = records.iter().any(|record| {
                record["principal"] == "officer"
                    && record["action"] == "query.started"
                    && record["datasets"] == json!(["audit.events"])
            });
            let steward = records
                .iter()
                .any(|record| record["action"] == "audit.read" && record["principal"] == "cad-steward");
            (officer && steward).then_some(records)
        },
    )
    .await;
    let officer_reads: Vec<&Value> = records
        .iter()
        .filter(|record| record["principal"] == "officer" && record["action"] == "query.started")
        .collect();
    assert!(
        officer_reads
            .iter()
            .any(|record| record["datasets"] == json!(["audit.events"])),
        "{officer_reads:?}"
    );
    assert!(
        records
            .iter()
            .any(|record| record["action"] == "audit.read" && record["principal"] == "cad-steward")
    );

    let until = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // Part of what is tested, not a wait: the export's own records fall after `until`.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = hub.dir().join("export.parquet");
    let output = causeway(&[
        "audit",
        "export",
        "--config",
        &hub.dir().join("causeway.toml").to_string_lossy(),
        "--until",
        &until,
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = records
        .iter()
        .filter(|record| record["time"].as_str().is_some_and(|time| time < until.as_str()))
        .count();
    let context = datafusion::prelude::SessionContext::new();
    let frame = context
        .read_parquet(out.to_string_lossy().as_ref(), Default::default())
        .await
        .expect("read the export");
    let exported = frame.count().await.expect("count");
    assert_eq!(exported, expected);
}

/// A grant that runs out is recorded when it does.
#[tokio::test]
async fn an_expiring_grant_is_recorded_when_it_runs_out() {
    let (hub, _, _) = setup().await;
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let grant = hub
        .grant(json!({
            "subject": {"client": "grid-worker"},
            "dataset": "civil_affairs.residents",
            "purposes": ["census"],
            "expires_at": expires_at.to_rfc3339(),
        }))
        .await;
    let expired = eventually("a grant.expired record", Duration::from_secs(15), async || {
        let (status, body) = hub.get("/v1/audit/events?action=grant.expired").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["events"]
            .as_array()
            .and_then(|events| events.first())
            .cloned()
    })
    .await;
    assert_eq!(expired["grants"], json!([grant["id"]]), "{expired}");
    assert_eq!(expired["datasets"], json!(["civil_affairs.residents"]));
}

/// What an operator changes with the CLI on the hub's machine is recorded too: straight into
/// the log while no hub runs, through the running hub's inbox while one does.
#[tokio::test]
async fn changes_made_with_the_cli_are_recorded() {
    let hub = Hub::start("").await;
    let config = hub.dir().join("causeway.toml");
    let config = config.to_string_lossy();
    let output = causeway(&[
        "client",
        "add",
        "--config",
        &config,
        "--id",
        "late-client",
        "--dept",
        "statistics",
        "--roles",
        "analyst",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = causeway(&["keys", "rotate", "--config", &config]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let actions: Vec<(Value, Value)> = eventually(
        "three records of local changes",
        Duration::from_secs(10),
        async || {
            let (_, body) = hub.get("/v1/audit/events?limit=10000").await;
            let actions: Vec<(Value, Value)> = body["events"]
                .as_array()
                .map(|events| {
                    events
                        .iter()
                        .filter(|event| {
                            event["principal"]
                                .as_str()
                                .is_some_and(|who| who.starts_with("local:"))
                        })
                        .map(|event| (event["action"].clone(), event["detail"].clone()))
                        .collect()
                })
                .unwrap_or_default();
            (actions.len() >= 3).then_some(actions)
        },
    )
    .await;
    let names: Vec<&Value> = actions.iter().map(|(action, _)| action).collect();
    assert_eq!(
        names,
        [
            &json!("client.created"),
            &json!("client.created"),
            &json!("keys.rotated")
        ],
        "the admin client made before the hub started, then the two changes made while it ran: {actions:?}"
    );
    assert!(actions[1].1.as_str().unwrap_or_default().contains("late-client"));
    let output = verify_cli(&hub);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Two hubs cannot write one audit log.
#[tokio::test]
async fn a_second_hub_on_the_same_audit_log_is_refused() {
    let hub = Hub::start("").await;
    let output = causeway(&[
        "serve",
        "--config",
        &hub.dir().join("causeway.toml").to_string_lossy(),
    ]);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("another process writes the audit log"), "{error}");
}
