//! The log's integrity: it verifies offline and online, tampering is found, a crash loses
//! nothing acknowledged, queries stop while it cannot be written, and one hub writes it.

use super::*;

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

    let (status, report) = hub.auditor().await.get("/v1/audit/verify").await;
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
    let (status, online) = hub.auditor().await.get("/v1/audit/verify").await;
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
    // Alive (restarting would not free the disk), but not ready: a load balancer sends the
    // queries elsewhere.
    let (status, health) = hub.get("/v1/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "degraded");
    let (status, ready) = hub.get("/v1/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
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
    let (status, ready) = hub.get("/v1/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["audit_log"], "ok", "{ready}");
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

/// Records past the retention of their kind go, whole segments at a time, after a signed
/// `audit.archived` record; what remains still verifies, and the hub serves on.
#[tokio::test]
async fn retention_removes_old_segments_and_the_rest_still_verifies() {
    let hub =
        Hub::start("[audit]\nsegment_mb = 0\n[audit.retention]\ndefault = \"1s\"\nquery = \"100years\"\n")
            .await;
    let (mut hub, analyst, _) = setup_on(hub).await;
    let before = records(&audit_dir(&hub));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        ask(&hub, &analyst, "SELECT town FROM civil_affairs.residents")
            .await
            .status(),
        StatusCode::OK
    );
    let query_started = eventually("the query's records", Duration::from_secs(10), async || {
        records(&audit_dir(&hub))
            .into_iter()
            .find(|record| record["action"] == "query.started")
    })
    .await;
    // While the hub runs: the archive record reaches the log through it.
    let output = causeway(&[
        "audit",
        "retain",
        "--config",
        &hub.dir().join("causeway.toml").to_string_lossy(),
        "--delete",
    ]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains("were past their retention and are deleted"),
        "{said}"
    );

    let archived = eventually("the audit.archived record", Duration::from_secs(10), async || {
        records(&audit_dir(&hub))
            .into_iter()
            .find(|record| record["action"] == "audit.archived")
    })
    .await;
    let after = records(&audit_dir(&hub));
    let first = after.first().cloned().unwrap_or_default();
    assert!(
        first["seq"].as_u64() > before.first().and_then(|record| record["seq"].as_u64()),
        "the oldest records went: {first}"
    );
    assert!(
        after.iter().any(|record| record["seq"] == query_started["seq"]),
        "a query record is kept for its own retention"
    );
    assert!(
        archived["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("(deleted)")),
        "{archived}"
    );
    let output = verify_cli(&hub);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("OK: the log is intact"), "{text}");
    hub.restart().await;
    let (status, report) = hub.auditor().await.get("/v1/audit/verify").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["valid"], true, "{report}");
}
