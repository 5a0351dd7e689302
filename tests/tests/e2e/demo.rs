//! The demo as a new user meets it: generate, publish, serve, ask the printed question, and
//! get the answer plain DataFusion gives on the same files.

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use std::process::Command;

use datafusion::prelude::{CsvReadOptions, SessionContext};
use serde_json::{Value, json};

use crate::support::{ADMIN, Hub, causeway, causeway_with};

/// The question `causeway demo` prints.
const QUESTION: &str = "SELECT r.name, r.id_number, r.grid_id, count(*) AS parcels, sum(p.area_m2) AS total_area_m2 \
FROM civil_affairs.residents r JOIN land_registry.parcels p ON p.owner_id_number = r.id_number \
WHERE r.town = 'Guicheng' GROUP BY r.name, r.id_number, r.grid_id HAVING count(*) > 2 \
ORDER BY parcels DESC, r.id_number";

/// The same question asked of plain DataFusion over the generated files.
async fn ground_truth(data: &std::path::Path) -> Vec<Value> {
    let context = SessionContext::new();
    context
        .register_parquet(
            "residents",
            data.join("residents.parquet").to_string_lossy().as_ref(),
            Default::default(),
        )
        .await
        .expect("residents");
    let parcels = Schema::new(vec![
        Field::new("parcel_id", DataType::Utf8, false),
        Field::new("owner_id_number", DataType::Utf8, false),
        Field::new("town", DataType::Utf8, false),
        Field::new("address", DataType::Utf8, true),
        Field::new("area_m2", DataType::Decimal128(12, 2), false),
        Field::new("land_use", DataType::Utf8, true),
        Field::new("registered_on", DataType::Date32, true),
    ]);
    context
        .register_csv(
            "parcels",
            data.join("parcels.csv").to_string_lossy().as_ref(),
            CsvReadOptions::new().schema(&parcels).has_header(true),
        )
        .await
        .expect("parcels");
    let sql = QUESTION
        .replace("civil_affairs.residents", "residents")
        .replace("land_registry.parcels", "parcels");
    let batches = context
        .sql(&sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let mut writer = datafusion::arrow::json::ArrayWriter::new(Vec::new());
    for batch in &batches {
        writer.write(batch).expect("json");
    }
    writer.finish().expect("json");
    serde_json::from_slice(&writer.into_inner()).expect("rows")
}

#[tokio::test]
async fn the_demo_answers_its_question_like_plain_datafusion() {
    let dir = tempfile::Builder::new()
        .prefix("causeway-demo")
        .tempdir()
        .expect("tempdir");
    let path = dir.path().to_string_lossy().into_owned();
    let output = causeway(&[
        "demo",
        "--generate-only",
        "--scale",
        "1",
        "--dir",
        &path,
        "--listen",
        "127.0.0.1:0",
        "--flight-listen",
        "127.0.0.1:0",
        "--postgres-listen",
        "127.0.0.1:0",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Published 4 datasets"), "{stdout}");
    // The clients are made with the data, so the hub served later has them.
    let printed_secret = |client: &str| {
        stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(client))
            .and_then(|line| line.split_whitespace().last())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{client}'s secret is printed: {stdout}"))
    };
    let analyst_secret = printed_secret("demo-analyst");

    let expected = ground_truth(&dir.path().join("data")).await;
    assert!(
        expected.len() >= 5,
        "the demo data has Guicheng owners of 3+ parcels: {expected:?}"
    );

    let hub = Hub::serve_existing(dir).await;
    hub.token("demo-analyst", &analyst_secret).await;
    for table in [
        "civil_affairs.residents",
        "land_registry.parcels",
        "social_security.enrolments",
        "market_supervision.enterprises",
    ] {
        hub.grant_everything(table, serde_json::json!({"client": ADMIN}))
            .await;
    }
    let answer = hub.rows(QUESTION).await;
    assert_eq!(answer, expected);

    // The same through the CLI, signed in as a client, as CSV.
    let home = tempfile::tempdir().expect("config dir");
    let home = home.path().to_string_lossy().into_owned();
    let login_env = [
        ("CAUSEWAY_CONFIG_DIR", home.as_str()),
        ("CAUSEWAY_CLIENT_SECRET", hub.admin_secret.as_str()),
    ];
    let output = causeway_with(&["login", "--hub", &hub.url, "--client-id", ADMIN], &login_env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let credentials = std::path::Path::new(&home).join("credentials.json");
        let mode = std::fs::metadata(&credentials)
            .expect("credentials kept")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "only the user may read the kept token and secret"
        );
    }
    let env = [("CAUSEWAY_CONFIG_DIR", home.as_str())];
    let query = |sql: &str, format: &str| {
        causeway_with(
            &[
                "query",
                "--hub",
                &hub.url,
                "--purpose",
                "testing",
                "--format",
                format,
                sql,
            ],
            &env,
        )
    };
    let output = query(QUESTION, "csv");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = String::from_utf8_lossy(&output.stdout);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("name,id_number,grid_id,parcels,total_area_m2"));
    let first = &expected[0];
    assert_eq!(
        lines.next().map(str::to_owned),
        Some(format!(
            "{},{},{},{},{}",
            first["name"].as_str().expect("name"),
            first["id_number"].as_str().expect("id"),
            first["grid_id"].as_str().expect("grid"),
            first["parcels"],
            first["total_area_m2"]
        ))
    );
    assert_eq!(csv.lines().count(), expected.len() + 1);

    // And as the default table.
    let output = query("SELECT count(*) AS n FROM civil_affairs.residents", "table");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("| 10000 |"), "{table}");

    // An empty result still shows its columns, in every format; JSON names its query.
    let empty =
        "SELECT town, count(*) AS n FROM civil_affairs.residents WHERE town = 'Atlantis' GROUP BY town";
    let table = String::from_utf8_lossy(&query(empty, "table").stdout).into_owned();
    assert!(
        table.contains("| town | n |") && table.ends_with("0 rows\n"),
        "{table}"
    );
    assert_eq!(String::from_utf8_lossy(&query(empty, "csv").stdout), "town,n\n");
    let json: serde_json::Value =
        serde_json::from_slice(&query(empty, "json").stdout).expect("one JSON document");
    assert_eq!(json["rows"], json!([]));
    assert_eq!(json["columns"][0]["name"], "town");
    assert!(
        !json["query_id"].as_str().unwrap_or_default().is_empty(),
        "{json}"
    );
    // A long result is printed in pages of tables, each with its header.
    let long = query(
        "SELECT id_number FROM civil_affairs.residents LIMIT 2500",
        "table",
    );
    let long = String::from_utf8_lossy(&long.stdout);
    assert_eq!(long.matches("| id_number").count(), 3, "pages of 1000 rows");
    assert!(long.ends_with("2500 rows\n"));

    let output = causeway_with(&["dataset", "list", "--hub", &hub.url], &env);
    let list = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for table in [
        "civil_affairs.residents",
        "land_registry.parcels",
        "social_security.enrolments",
        "market_supervision.enterprises",
    ] {
        assert!(list.contains(table), "{table} not in:\n{list}");
    }
    let rows = hub
        .rows(
            "SELECT count(*) AS enrolled FROM social_security.enrolments e \
             JOIN civil_affairs.residents r ON r.id_number = e.id_number \
             JOIN market_supervision.enterprises m ON m.legal_rep_id_number = r.id_number",
        )
        .await;
    assert!(
        rows[0]["enrolled"].as_i64().unwrap_or_default() > 0,
        "four source kinds join: {rows:?}"
    );
    assert_eq!(
        hub.rows("SELECT count(DISTINCT town) AS towns FROM civil_affairs.residents")
            .await,
        vec![json!({"towns": 7})]
    );
}

/// The CLI publishes a spec file to a running hub, with a token from the environment.
#[tokio::test]
async fn the_cli_publishes_and_lists_datasets() {
    let hub = Hub::start("").await;
    std::fs::write(hub.dir().join("people.csv"), crate::files::PEOPLE_CSV).expect("csv");
    let spec = hub.dir().join("people.yaml");
    std::fs::write(&spec, crate::files::people_spec("people.csv")).expect("spec");
    let publisher = hub
        .add_client(
            "cad-steward",
            "civil_affairs",
            &["publisher"],
            serde_json::json!({}),
        )
        .await;
    let token = hub.token("cad-steward", &publisher).await;
    let env = [("CAUSEWAY_TOKEN", token.as_str())];
    let output = Command::new(crate::support::causeway_binary())
        .args(["dataset", "publish", &spec.to_string_lossy(), "--hub", &hub.url])
        .envs(env)
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "published civil_affairs.people (version 1, csv source)"
    );
    let output = Command::new(crate::support::causeway_binary())
        .args(["dataset", "publish", &spec.to_string_lossy(), "--hub", &hub.url])
        .envs(env)
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));
}

/// A front door whose port is taken stops the hub before it says it serves anything (it
/// used to print that it served, and the demo its passwords, then stop).
#[tokio::test]
async fn a_taken_port_stops_the_hub_before_it_says_it_serves() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("address").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("causeway.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nflight_listen = \"127.0.0.1:{port}\"\n[storage]\ndata_dir = \"{}\"\n",
            dir.path().display()
        ),
    )
    .expect("config");
    let output = std::process::Command::new(crate::support::causeway_binary())
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .output()
        .expect("run causeway serve");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains(&format!("127.0.0.1:{port}")),
        "names the address: {said}"
    );
    assert!(!said.contains("causeway is serving"), "{said}");
    drop(taken);
}
