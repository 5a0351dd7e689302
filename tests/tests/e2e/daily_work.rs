//! A publisher's and a security officer's daily work done from the command line, as they
//! would: contract versions and what changed, grants made, listed and revoked, the deny list,
//! alerts, the audit log, and results written to files.

use reqwest::StatusCode;
use serde_json::json;

use crate::files::{PEOPLE_CSV, people_spec};
use crate::support::Hub;

async fn hub_with_people(extra: &str) -> Hub {
    let hub = Hub::start(extra).await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    hub
}

#[tokio::test]
async fn a_publisher_evolves_a_contract_and_sees_what_changed() {
    let hub = hub_with_people("").await;
    let publisher = hub.publisher_token("civil_affairs").await;
    let spec = people_spec("people.csv");

    // The whole spec, as published, with a new title: version 2.
    let file = hub.dir().join("people-v2.yaml");
    std::fs::write(
        &file,
        spec.replace("title: People", "title: People of the district"),
    )
    .expect("spec");
    let out = hub.cli_ok(
        &publisher,
        &["dataset", "update-contract", &file.to_string_lossy()],
    );
    assert_eq!(out.trim(), "civil_affairs.people is now at version 2");

    // A spec whose source moved is not a contract update.
    let moved = hub.dir().join("people-moved.yaml");
    std::fs::write(&moved, people_spec("elsewhere.csv")).expect("spec");
    let (ok, _, stderr) = hub.cli(
        &publisher,
        &["dataset", "update-contract", &moved.to_string_lossy()],
    );
    assert!(!ok && stderr.contains("the spec changes the source"), "{stderr}");

    // The contract alone, without a field: refused with the reason, then forced.
    let contract: String = spec
        .lines()
        .take_while(|line| !line.starts_with("source:"))
        .filter(|line| !line.contains("name: amount"))
        .filter_map(|line| {
            line.strip_prefix("  ")
                .or((line.trim() == "contract:").then_some(""))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let file = hub.dir().join("people-v3.yaml");
    std::fs::write(&file, contract).expect("contract");
    let (ok, _, stderr) = hub.cli(
        &publisher,
        &["dataset", "update-contract", &file.to_string_lossy()],
    );
    assert!(!ok && stderr.contains("field 'amount' was removed"), "{stderr}");
    let out = hub.cli_ok(
        &publisher,
        &["dataset", "update-contract", &file.to_string_lossy(), "--force"],
    );
    assert_eq!(out.trim(), "civil_affairs.people is now at version 3");

    let versions = hub.cli_ok(&publisher, &["dataset", "versions", "civil_affairs.people"]);
    let forced: Vec<&str> = versions
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().last().unwrap_or_default())
        .collect();
    assert_eq!(forced, ["no", "no", "yes"], "{versions}");

    let diff = hub.cli_ok(
        &publisher,
        &[
            "dataset",
            "diff",
            "civil_affairs.people",
            "--from",
            "1",
            "--to",
            "3",
        ],
    );
    // Version 3 took the first title back: from 1 to 3 only the field went.
    assert_eq!(
        diff,
        "civil_affairs.people: version 1 to 3\n  amount: field_removed removed: amount Decimal128(10, 2) [internal]  BREAKING\n"
    );
    let diff = hub.cli_ok(&publisher, &["dataset", "diff", "civil_affairs.people"]);
    assert!(diff.starts_with("civil_affairs.people: version 2 to 3"), "{diff}");
    assert!(
        diff.contains("  title People of the district -> People\n"),
        "{diff}"
    );

    let (status, first) = hub.get("/v1/datasets/civil_affairs/people/versions/1").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["contract"]["title"], "People");
    assert_eq!(first["version"], 1);
    let (status, missing) = hub.get("/v1/datasets/civil_affairs/people/versions/9").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");

    let shown = hub.cli_ok(&publisher, &["dataset", "show", "civil_affairs.people"]);
    // A relative path is estimated where it is read, under the file root: three rows, not 0.
    let estimate: u64 = shown
        .lines()
        .find_map(|line| line.trim().strip_prefix("rows:     about "))
        .and_then(|rows| rows.parse().ok())
        .unwrap_or_default();
    assert!((2..=4).contains(&estimate), "{shown}");
    assert!(
        shown.starts_with("civil_affairs.people  People\n") && !shown.contains("amount"),
        "{shown}"
    );

    // Another department's publisher may not remove it; its own may.
    let other = hub.publisher_token("land_registry").await;
    let (ok, _, stderr) = hub.cli(&other, &["dataset", "remove", "civil_affairs.people"]);
    assert!(!ok && stderr.contains("403"), "{stderr}");
    hub.cli_ok(&publisher, &["dataset", "remove", "civil_affairs.people"]);
    let (ok, _, stderr) = hub.cli(&publisher, &["dataset", "show", "civil_affairs.people"]);
    assert!(!ok && stderr.contains("404"), "{stderr}");
}

#[tokio::test]
async fn an_officer_grants_lists_and_revokes_from_the_command_line() {
    let hub = Hub::start_with(|dir| {
        std::fs::create_dir_all(dir.join("policies")).expect("dir");
        std::fs::write(
            dir.join("policies/deny.yaml"),
            "deny:\n  - id: birth-dates-are-private\n    datasets: civil_affairs.people\n    columns: [born]\n    reason: birth dates are never shared\n  - id: land-sees-no-names\n    subject: { department: land_registry }\n    datasets: civil_affairs.*\n    classifications: [pii.name]\n    reason: the land registry needs no names\n",
        )
        .expect("policies");
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndata_dir = \"{}\"\n[policies]\ndir = \"policies\"\n",
            dir.display()
        )
    })
    .await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    let officer = hub.security_token().await;
    let secret = hub
        .add_client("cli-analyst", "civil_affairs", &["analyst"], json!({}))
        .await;
    let analyst = hub.token("cli-analyst", &secret).await;

    let made = hub.cli_ok(
        &officer,
        &[
            "grant",
            "create",
            "--dataset",
            "civil_affairs.people",
            "--client",
            "cli-analyst",
            "--columns",
            "id,name,amount",
            "--purpose",
            "census",
            "--days",
            "10",
            "--mask",
            "name=partial:1:0",
            "--row-filter",
            "amount > 10",
        ],
    );
    let grant = made.split_whitespace().nth(1).expect("the grant's id").to_owned();
    assert!(
        made.contains("on civil_affairs.people for client:cli-analyst until"),
        "{made}"
    );

    // The analyst reads under it, masked and filtered, into a file.
    let out = hub.dir().join("people.arrow");
    hub.cli_ok(
        &analyst,
        &[
            "query",
            "--purpose",
            "census",
            "--format",
            "arrow",
            "--out",
            &out.to_string_lossy(),
            "SELECT id, name FROM civil_affairs.people ORDER BY id",
        ],
    );
    let reader =
        datafusion::arrow::ipc::reader::StreamReader::try_new(std::fs::File::open(&out).expect("file"), None)
            .expect("an Arrow IPC stream");
    let batches: Vec<_> = reader.map(|batch| batch.expect("batch")).collect();
    let table = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .expect("table")
        .to_string();
    assert!(
        table.contains("| 1  | A**** |") && !table.contains("Bob"),
        "{table}"
    );
    let csv = hub.cli_ok(
        &analyst,
        &[
            "query",
            "--purpose",
            "census",
            "--format",
            "csv",
            "SELECT id FROM civil_affairs.people",
        ],
    );
    assert_eq!(csv, "id\n1\n");
    // A column a deny rule keeps is refused naming the rule, not as a grant merely missing.
    let (ok, _, stderr) = hub.cli(
        &analyst,
        &[
            "query",
            "--purpose",
            "census",
            "SELECT born FROM civil_affairs.people",
        ],
    );
    assert!(
        !ok && stderr.contains(
            "column born of civil_affairs.people (never shown to you: birth dates are never shared (deny rule birth-dates-are-private))"
        ),
        "{stderr}"
    );

    // Who sees the grant: the officer, the analyst it is for, the dataset's publisher; not
    // another department's publisher.
    let civil = hub.publisher_token("civil_affairs").await;
    let land = hub.publisher_token("land_registry").await;
    for (token, sees) in [(&officer, true), (&analyst, true), (&civil, true), (&land, false)] {
        let list = hub.cli_ok(token, &["grant", "list", "--dataset", "civil_affairs.people"]);
        assert_eq!(list.contains(&grant), sees, "{list}");
        // Its kind is in the table: read (rows) or verify.
        assert!(
            !sees
                || list
                    .lines()
                    .any(|line| line.contains(&grant) && line.contains(" read ")),
            "{list}"
        );
    }
    let revoked = hub.cli_ok(&civil, &["grant", "revoke", &grant]);
    assert_eq!(revoked.trim(), format!("grant {grant} is revoked"));
    assert!(!hub.cli_ok(&analyst, &["grant", "list"]).contains(&grant));
    let all = hub.cli_ok(&analyst, &["grant", "list", "--all"]);
    assert!(
        all.lines()
            .any(|line| line.contains(&grant) && line.contains("revoked")),
        "{all}"
    );
    let (ok, _, stderr) = hub.cli(
        &analyst,
        &[
            "query",
            "--purpose",
            "census",
            "SELECT id FROM civil_affairs.people",
        ],
    );
    assert!(!ok && stderr.contains("403"), "{stderr}");

    // The deny list: the officer sees every rule, the analyst those that apply to them.
    let rules = hub.cli_ok(&officer, &["deny", "list"]);
    assert!(
        rules.contains("birth-dates-are-private") && rules.contains("land-sees-no-names"),
        "{rules}"
    );
    let rules = hub.cli_ok(&analyst, &["deny", "list"]);
    assert!(
        rules.contains("birth-dates-are-private") && !rules.contains("land-sees-no-names"),
        "{rules}"
    );

    // Alerts are the officer's; the audit log shows the grant made and revoked.
    let alerts = hub.cli_ok(&officer, &["alerts", "list", "--open"]);
    assert!(alerts.starts_with("ALERT"), "{alerts}");
    let (ok, _, stderr) = hub.cli(&analyst, &["alerts", "list"]);
    assert!(!ok && stderr.contains("403"), "{stderr}");
    let events = hub.cli_ok(
        &officer,
        &["audit", "events", "--dataset", "civil_affairs.people"],
    );
    for action in ["grant.created", "grant.revoked", "query.finished"] {
        assert!(events.contains(action), "{action} in {events}");
    }
    // Why each was refused, and what it counted, are in the table too.
    assert!(
        events
            .lines()
            .next()
            .is_some_and(|header| header.contains(" ERROR ") && header.ends_with("DETAIL")),
        "{events}"
    );
    let json = hub.cli_ok(
        &officer,
        &["audit", "events", "--action", "grant.revoked", "--json"],
    );
    let record: serde_json::Value =
        serde_json::from_str(json.lines().next().expect("a record")).expect("JSON");
    assert_eq!(record["grants"][0], grant.as_str(), "{record}");
}

/// What an operator or a user gets wrong on the way gets an answer in the hub's own shape
/// and no trap: query strings and path segments of the wrong type, an operator command run
/// where no hub is, a secret piped to `login`.
#[tokio::test]
async fn mistakes_get_clear_answers() {
    let hub = hub_with_people("").await;
    let officer = hub.security().await;
    for (path, status, code) in [
        (
            "/v1/audit/events?limit=abc",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/v1/audit/events?since=",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/v1/grants/due?within_days=x",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/v1/datasets/civil_affairs/people/versions/abc",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ] {
        let response = officer
            .http
            .get(format!("{}{path}", hub.url))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), status, "{path}");
        let body: serde_json::Value = response.json().await.expect("a JSON error body");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }

    // `client list` without --config where no hub is: refused, and nothing is made.
    let elsewhere = tempfile::tempdir().expect("dir");
    let output = std::process::Command::new(crate::support::causeway_binary())
        .args(["client", "list"])
        .current_dir(elsewhere.path())
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no hub here"));
    assert!(
        !elsewhere.path().join("causeway-data").exists(),
        "no empty hub is made"
    );

    // A secret piped to `login` signs in.
    let secret = hub
        .add_client("piped-analyst", "civil_affairs", &["analyst"], json!({}))
        .await;
    let home = tempfile::tempdir().expect("config dir");
    let mut login = std::process::Command::new(crate::support::causeway_binary())
        .args(["login", "--client-id", "piped-analyst", "--hub", &hub.url])
        .env("CAUSEWAY_CONFIG_DIR", home.path())
        .env_remove("CAUSEWAY_CLIENT_SECRET")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    std::io::Write::write_all(
        &mut login.stdin.take().expect("stdin"),
        format!("{secret}\n").as_bytes(),
    )
    .expect("write");
    let output = login.wait_with_output().expect("login");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("as piped-analyst"));
}
