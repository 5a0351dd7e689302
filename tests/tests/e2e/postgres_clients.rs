//! The PostgreSQL wire protocol through the clients analysts and their tools use: psql,
//! psycopg with SQLAlchemy and pandas, pgjdbc (DBeaver's driver), over TLS too; each checks
//! values, the catalog it lists and a denial's SQLSTATE.

use std::process::Command;

use serde_json::json;

use crate::postgres_wire::{hub_with_wire, wire_address};
use crate::support::ADMIN;

/// psql, the tool every PostgreSQL user has: `\dt`, `\d`, a join, and a refusal's SQLSTATE.
#[tokio::test]
async fn psql_runs_a_cross_department_join_and_shows_a_refusals_sqlstate() {
    let Some(psql) = psql() else { return };
    let hub = hub_with_wire().await;
    let (host, port) = wire_address(&hub);
    let run = |sql: &str| {
        Command::new(&psql)
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-v",
                "VERBOSITY=verbose",
            ])
            .arg(format!(
                "host={host} port={port} user={ADMIN} dbname=causeway sslmode=disable"
            ))
            .args(["-c", sql])
            .env("PGPASSWORD", &hub.admin_secret)
            .env("PGOPTIONS", "-c causeway.purpose=testing")
            .output()
            .expect("psql runs")
    };
    let joined = run(
        "SELECT p.name, h.kind FROM civil_affairs.people p JOIN land_registry.holdings h ON h.person_id = p.id ORDER BY 1, 2",
    );
    assert!(
        joined.status.success(),
        "{}",
        String::from_utf8_lossy(&joined.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&joined.stdout),
        "Ann|flat\nAnn|shop\nBob|field\n"
    );
    // Who is signed in, as tools ask it: the client id, not a `postgres` of the hub's.
    let user = run("SELECT current_user, session_user");
    assert_eq!(
        String::from_utf8_lossy(&user.stdout),
        format!("{ADMIN}|{ADMIN}\n")
    );
    // psql's own introspection: the tables of a department, and one table's columns.
    let listed = run("\\dt civil_affairs.*");
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "civil_affairs|people|table|postgres"
    );
    let described = run("\\d civil_affairs.people");
    assert!(
        described.status.success(),
        "{}",
        String::from_utf8_lossy(&described.stderr)
    );
    let columns = String::from_utf8_lossy(&described.stdout);
    // The decimal with its contract's precision and scale, as PostgreSQL's `\d` shows it.
    for line in ["id|bigint", "name|text", "amount|numeric(10,2)", "born|date"] {
        assert!(columns.contains(line), "{line} in:\n{columns}");
    }
    let refused = Command::new(&psql)
        .args(["-X", "-v", "VERBOSITY=verbose"])
        .arg(format!(
            "host={host} port={port} user={ADMIN} dbname=causeway sslmode=disable"
        ))
        .args(["-c", "SELECT name FROM civil_affairs.people"])
        .env("PGPASSWORD", &hub.admin_secret)
        .env("PGOPTIONS", "-c causeway.purpose=marketing")
        .output()
        .expect("psql runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("ERROR:  42501"), "{stderr}");
}

/// psql from the machine's PostgreSQL client; with CI=true its absence fails the test.
fn psql() -> Option<std::path::PathBuf> {
    let found = Command::new("psql").arg("--version").output().is_ok();
    if found {
        return Some("psql".into());
    }
    assert!(
        std::env::var("CI").is_err(),
        "psql (Debian's postgresql-client) is needed; .ci/run installs it"
    );
    eprintln!("skipped: psql is not installed");
    None
}

/// With `[server.tls]`, a session must negotiate TLS before it may send a password:
/// psql with `sslmode=disable` is refused, with `verify-full` against the hub's CA it
/// signs in.
#[tokio::test]
async fn over_tls_only_encrypted_sessions_sign_in() {
    let Some(psql) = psql() else { return };
    let (hub, certs) = crate::tls::tls_hub("postgres_listen = \"127.0.0.1:0\"\n", false, false).await;
    let (host, port) = wire_address(&hub);
    let run = |mode: &str| {
        Command::new(&psql)
            .args(["-X", "-A", "-t"])
            .arg(format!(
                "host={host} port={port} user={ADMIN} dbname=causeway sslmode={mode} sslrootcert={}",
                certs.join("ca.pem").display()
            ))
            .args(["-c", "SHOW causeway.purpose"])
            .env("PGPASSWORD", &hub.admin_secret)
            .env("PGOPTIONS", "-c causeway.purpose=testing")
            .output()
            .expect("psql runs")
    };
    let plain = run("disable");
    assert!(!plain.status.success());
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(stderr.contains("TLS only"), "{stderr}");
    let verified = run("verify-full");
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&verified.stdout).trim(), "testing");
}

/// psycopg 3, SQLAlchemy and pandas, as a notebook uses them: a parameterised query, a join
/// read into a DataFrame, the inspector's schemas, tables and columns, and a denial's SQLSTATE.
#[tokio::test]
async fn psycopg_sqlalchemy_and_pandas_read_over_the_wire() {
    let Some(python) = crate::support::python::python() else {
        return;
    };
    let hub = hub_with_wire().await;
    let (host, port) = wire_address(&hub);
    let output = crate::support::python::run(
        Command::new(&python)
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/postgres_wire.py"))
            .arg(&host)
            .arg(port.to_string())
            .arg(ADMIN)
            .arg(&hub.admin_secret),
    );
    let seen: serde_json::Value = serde_json::from_str(output.trim()).expect("the script's JSON");
    assert_eq!(seen["parameterised"], json!([["Bob", "7.25"]]), "{seen}");
    // numeric (oid 1700) with the contract's precision and scale.
    assert_eq!(seen["amount_described"], json!([1700, 10, 2]), "{seen}");
    assert_eq!(seen["join"], crate::files::people_and_holdings(), "{seen}");
    let wide = json!([
        "123456789012345678901234567890123456.78",
        "-1234567890123456789012345678901234567890.5",
        "1E-31",
        "7.25"
    ]);
    assert_eq!(seen["wide_binary"], wide, "{seen}");
    assert_eq!(seen["wide_text"], wide, "{seen}");
    assert_eq!(
        seen["schemas"],
        // As PostgreSQL lists its own: information_schema is a schema like the others.
        json!(["civil_affairs", "information_schema", "land_registry", "public"]),
        "{seen}"
    );
    assert_eq!(seen["tables"], json!(["people"]), "{seen}");
    assert_eq!(
        seen["columns"],
        json!([
            ["id", "BIGINT"],
            ["name", "TEXT"],
            ["amount", "NUMERIC(10, 2)"],
            ["born", "DATE"]
        ]),
        "{seen}"
    );
    assert_eq!(seen["sqlalchemy_count"], 3, "{seen}");
    assert_eq!(seen["refused"], "42501", "{seen}");
}

/// pgjdbc, the driver of DBeaver, Power BI's and Tableau's PostgreSQL connectors and every
/// JDBC tool: `DatabaseMetaData` lists the schemas, tables and columns, a prepared statement
/// takes a parameter, and a denial has its SQLSTATE.
#[tokio::test]
async fn pgjdbc_lists_the_catalog_and_runs_prepared_statements() {
    let Some((javac, driver)) = java_and_pgjdbc() else {
        return;
    };
    let hub = hub_with_wire().await;
    let (_, port) = wire_address(&hub);
    let classes = tempfile::tempdir().expect("tempdir");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("java/WireClient.java");
    let compiled = Command::new(&javac)
        .args(["-d", &classes.path().to_string_lossy(), "-cp"])
        .arg(&driver)
        .arg(&source)
        .output()
        .expect("javac runs");
    assert!(
        compiled.status.success(),
        "{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let classpath = format!("{}:{}", driver.display(), classes.path().display());
    let output = Command::new("java")
        .args([
            "-cp",
            &classpath,
            "WireClient",
            &port.to_string(),
            ADMIN,
            &hub.admin_secret,
        ])
        .output()
        .expect("java runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    for expected in [
        "product PostgreSQL",
        "schema civil_affairs",
        "schema land_registry",
        "table civil_affairs.people",
        "column id int8",
        "column name text",
        "column amount numeric",
        // COLUMN_SIZE and DECIMAL_DIGITS, which pgjdbc reads from `atttypmod`.
        "column amount size 10 digits 2",
        "column born date",
        "prepared Bob 7.25",
        "prepared numeric(10, 2)",
        "refused 42501",
    ] {
        assert!(lines.contains(&expected), "{expected} in:\n{stdout}");
    }
}

/// javac and Debian's pgjdbc jar; with CI=true their absence fails the test.
fn java_and_pgjdbc() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let driver = std::path::PathBuf::from("/usr/share/java/postgresql.jar");
    let javac = Command::new("javac").arg("-version").output().is_ok();
    if javac && driver.exists() {
        return Some(("javac".into(), driver));
    }
    assert!(
        std::env::var("CI").is_err(),
        "javac and /usr/share/java/postgresql.jar (Debian's libpostgresql-jdbc-java) are needed; .ci/run installs the driver"
    );
    eprintln!("skipped: javac or pgjdbc is not installed");
    None
}
