//! The PostgreSQL wire protocol as its clients use it: tokio-postgres (the extended
//! protocol: parse, bind with typed parameters, binary results; and cancel requests) and
//! psql (the simple protocol), signing in with a client id and secret or a token, the
//! purpose as a startup option or `SET`, every refusal with PostgreSQL's SQLSTATE, and the
//! same rows, masks and audit records as HTTP.

use serde_json::json;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::files::{PEOPLE_CSV, people_spec};
use crate::support::{ADMIN, Hub};

pub(crate) async fn hub_with_wire() -> Hub {
    let hub = Hub::start_with(|dir| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\npostgres_listen = \"127.0.0.1:0\"\n[storage]\ndata_dir = \"{}\"\n",
            dir.display()
        )
    })
    .await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    crate::files::publish_holdings_csv(&hub).await;
    hub
}

/// The wire protocol's address the hub logged.
pub(crate) fn wire_address(hub: &Hub) -> (String, u16) {
    let address = hub.logged_address("PostgreSQL wire protocol listening", "postgres");
    let (host, port) = address.rsplit_once(':').expect("host:port");
    (host.to_owned(), port.parse().expect("a port"))
}

/// A tokio-postgres session as `user` with `password`, and `options` when given.
pub(crate) async fn connect(
    hub: &Hub,
    user: &str,
    password: &str,
    options: Option<&str>,
) -> Result<Client, tokio_postgres::Error> {
    let (host, port) = wire_address(hub);
    let mut config = tokio_postgres::Config::new();
    config
        .host(&host)
        .port(port)
        .user(user)
        .password(password)
        .dbname("causeway");
    if let Some(options) = options {
        config.options(options);
    }
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The SQLSTATE of a refused statement or sign-in.
pub(crate) fn sqlstate(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map(|db| db.code().code().to_owned())
        .unwrap_or_else(|| format!("no database error: {error}"))
}

/// The message of a refused statement or sign-in.
fn message(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map(|db| db.message().to_owned())
        .unwrap_or_else(|| error.to_string())
}

/// A clerk of civil affairs who may read people 1 and 2, their names hashed, for testing.
async fn clerk(hub: &Hub) -> String {
    let secret = hub
        .add_client("wire-clerk", "civil_affairs", &["analyst"], json!({}))
        .await;
    hub.grant(json!({
        "subject": {"client": "wire-clerk"},
        "dataset": "civil_affairs.people",
        "columns": ["id", "name", "amount", "born"],
        "masks": {"name": {"kind": "hash"}},
        "row_filter": "id < 3",
        "purposes": ["testing"],
    }))
    .await;
    hub.grant(json!({
        "subject": {"client": "wire-clerk"},
        "dataset": "land_registry.holdings",
        "purposes": ["testing"],
    }))
    .await;
    secret
}

/// Every row of a simple query, as text (`None` for NULL).
async fn text_rows(client: &Client, sql: &str) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
    Ok(client
        .simple_query(sql)
        .await?
        .into_iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|index| row.get(index).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

#[tokio::test]
async fn the_wire_protocol_signs_in_runs_prepared_statements_and_refuses_with_sqlstates() {
    let hub = hub_with_wire().await;
    let secret = clerk(&hub).await;

    // A bad secret: 28P01, as PostgreSQL's bad password.
    let refused = connect(&hub, "wire-clerk", "wrong", None)
        .await
        .expect_err("refused");
    assert_eq!(sqlstate(&refused), "28P01", "{refused}");

    // Without a purpose, a statement is refused saying how to give one.
    let client = connect(&hub, "wire-clerk", &secret, None)
        .await
        .expect("signed in");
    let refused = client
        .simple_query("SELECT id FROM civil_affairs.people")
        .await
        .expect_err("no purpose");
    assert_eq!(sqlstate(&refused), "42501", "{refused}");
    assert!(message(&refused).contains("causeway.purpose"), "{refused:?}");
    client
        .batch_execute("SET causeway.purpose = 'testing'")
        .await
        .expect("SET of the purpose");
    let rows = text_rows(&client, "SHOW causeway.purpose").await.expect("SHOW");
    assert_eq!(rows, [[Some("testing".to_owned())]]);

    // The purpose as a startup option, a prepared statement with a typed parameter, and
    // results in binary: the row filter and the mask apply as on HTTP.
    let client = connect(&hub, "wire-clerk", &secret, Some("-c causeway.purpose=testing"))
        .await
        .expect("signed in");
    let statement = client
        .prepare("SELECT id, name FROM civil_affairs.people WHERE id >= $1 ORDER BY id")
        .await
        .expect("prepared");
    assert_eq!(statement.params(), [tokio_postgres::types::Type::INT8]);
    let rows = client.query(&statement, &[&1i64]).await.expect("rows");
    let ids: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(ids, [1, 2], "the row filter keeps people 1 and 2");
    let name: String = rows[0].get(1);
    let (status, http) = hub
        .caller_of("wire-clerk", &secret)
        .await
        .query("SELECT name FROM civil_affairs.people WHERE id = 1", "testing")
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{http}");
    assert_eq!(
        json!(name),
        http["rows"][0]["name"],
        "the same hashed name as HTTP"
    );
    assert_ne!(name, "Ann");

    // Refusals carry PostgreSQL's SQLSTATEs.
    for (sql, state) in [
        ("SELECT note FROM civil_affairs.people", "42703"),
        ("SELEC 1", "42601"),
        ("SELECT * FROM civil_affairs.nowhere", "42P01"),
        ("DELETE FROM civil_affairs.people", "25006"),
    ] {
        let refused = client.simple_query(sql).await.expect_err(sql);
        let state_seen = sqlstate(&refused);
        assert_eq!(state_seen, state, "{sql}: {refused:?}");
    }
    let marketing = connect(&hub, "wire-clerk", &secret, Some("-c causeway.purpose=marketing"))
        .await
        .expect("signed in");
    let refused = marketing
        .query("SELECT name FROM civil_affairs.people WHERE id = $1", &[&1i64])
        .await
        .expect_err("a purpose no grant serves");
    assert_eq!(sqlstate(&refused), "42501", "{refused}");
    assert!(message(&refused).contains("marketing"), "{refused:?}");

    // Transaction control and session parameters are accepted and change nothing.
    client
        .batch_execute("BEGIN; SET search_path = public; SET application_name = 'wire-test'; COMMIT")
        .await
        .expect("session statements");
    let rows = text_rows(&client, "SHOW search_path").await.expect("SHOW");
    assert_eq!(rows, [[Some("public".to_owned())]]);
    let refused = client
        .simple_query("SET work_mem = '1GB'")
        .await
        .expect_err("unknown parameter");
    assert_eq!(sqlstate(&refused), "42704", "{refused}");

    // A token as the password signs in whoever it names.
    let token = hub.token(ADMIN, &hub.admin_secret).await;
    let admin = connect(&hub, "anyone", &token, Some("-c causeway.purpose=testing"))
        .await
        .expect("a token as password");
    let rows = text_rows(&admin, "SELECT count(*) FROM civil_affairs.people")
        .await
        .expect("count");
    assert_eq!(rows, [[Some("3".to_owned())]]);

    // A disabled client's open session stops at its next statement.
    let response = hub
        .system()
        .await
        .http
        .post(format!("{}/v1/clients/wire-clerk/disable", hub.url))
        .send()
        .await
        .expect("disable");
    assert!(response.status().is_success(), "{}", response.status());
    let refused = client.simple_query("SELECT 1").await.expect_err("disabled");
    assert!(sqlstate(&refused).starts_with("28"), "{refused}");

    // Each statement is recorded as on HTTP, with its front door.
    let (_, events) = hub
        .auditor()
        .await
        .get("/v1/audit/events?action=query.started&limit=1000")
        .await;
    let wire = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| {
            event["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("postgres_wire")
        })
        .count();
    assert_eq!(wire, 2, "the two statements that ran: {events}");
}

/// The same queries give the same rows over the wire as over HTTP, for a caller under a
/// row filter and a mask.
#[tokio::test]
async fn a_restricted_caller_gets_the_same_rows_over_the_wire_as_over_http() {
    let hub = hub_with_wire().await;
    let secret = clerk(&hub).await;
    let wire = connect(&hub, "wire-clerk", &secret, Some("-c causeway.purpose=testing"))
        .await
        .expect("signed in");
    let http = hub.caller_of("wire-clerk", &secret).await;
    let queries = [
        "SELECT id, name, amount, born FROM civil_affairs.people ORDER BY id",
        "SELECT * FROM civil_affairs.people ORDER BY id",
        "SELECT count(*) AS n FROM civil_affairs.people",
        "SELECT sum(amount) AS total FROM civil_affairs.people",
        "SELECT avg(amount) AS mean FROM civil_affairs.people",
        "SELECT max(born) AS latest FROM civil_affairs.people",
        "SELECT name FROM civil_affairs.people WHERE id = 2",
        "SELECT id FROM civil_affairs.people WHERE amount > 10 ORDER BY id",
        "SELECT id, amount * 2 AS doubled FROM civil_affairs.people ORDER BY id",
        "SELECT p.id, h.kind FROM civil_affairs.people p JOIN land_registry.holdings h ON h.person_id = p.id ORDER BY p.id, h.kind",
        "SELECT h.kind, count(*) AS n FROM land_registry.holdings h GROUP BY h.kind ORDER BY h.kind",
        "SELECT id FROM civil_affairs.people WHERE id = 3",
        "SELECT upper(name) AS shouted FROM civil_affairs.people ORDER BY id",
        "SELECT length(name) AS letters FROM civil_affairs.people ORDER BY id",
        "SELECT id, born + INTERVAL '1 day' AS next_day FROM civil_affairs.people ORDER BY id",
        "SELECT extract(year FROM born) AS year FROM civil_affairs.people ORDER BY id",
        "SELECT id FROM civil_affairs.people ORDER BY id DESC LIMIT 1",
        "SELECT DISTINCT h.person_id FROM land_registry.holdings h ORDER BY 1",
        "SELECT id, CASE WHEN amount IS NULL THEN 'none' ELSE 'some' END AS has FROM civil_affairs.people ORDER BY id",
        "SELECT count(DISTINCT name) AS names FROM civil_affairs.people",
        "SELECT id FROM civil_affairs.people WHERE name IN (SELECT name FROM civil_affairs.people WHERE id = 1)",
    ];
    for sql in queries {
        let over_wire = text_rows(&wire, sql).await.expect(sql);
        let response = http
            .http
            .post(format!("{}/v1/query", http.url))
            .header("accept", "text/csv")
            .json(&json!({"sql": sql, "purpose": "testing"}))
            .send()
            .await
            .expect("HTTP");
        assert!(response.status().is_success(), "{sql}: {}", response.status());
        let csv = response.text().await.expect("CSV");
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let over_http: Vec<Vec<Option<String>>> = reader
            .records()
            .map(|record| {
                record
                    .expect("a CSV record")
                    .iter()
                    .map(|cell| (!cell.is_empty()).then(|| cell.to_owned()))
                    .collect()
            })
            .collect();
        assert_eq!(over_wire, over_http, "{sql}");
    }
}

/// A statement is cancelled by a cancel request from another connection, as psql's Ctrl-C
/// sends it.
#[tokio::test]
async fn a_cancel_request_stops_the_running_statement() {
    let hub = hub_with_wire().await;
    let client = connect(
        &hub,
        ADMIN,
        &hub.admin_secret,
        Some("-c causeway.purpose=testing"),
    )
    .await
    .expect("signed in");
    let cancel = client.cancel_token();
    let running = tokio::spawn(async move {
        client
            .simple_query("SELECT count(*) FROM generate_series(1, 100000000000) AS t(x) WHERE x % 7 = 3")
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    cancel
        .cancel_query(NoTls)
        .await
        .expect("the cancel request is sent");
    let result = tokio::time::timeout(std::time::Duration::from_secs(20), running)
        .await
        .expect("cancelled in time")
        .expect("task");
    let error = result.expect_err("cancelled");
    assert_eq!(sqlstate(&error), "57014", "{error}");
}

/// A statement over the catalog's relations alone reads no dataset, but runs as a query
/// does: on the query threads, in one of its caller's query slots and within the query
/// timeout. A heavy one neither keeps the hub's requests waiting nor runs on.
#[tokio::test]
async fn a_heavy_catalog_statement_runs_as_a_query_does() {
    let hub = Hub::start_with(|dir| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\npostgres_listen = \"127.0.0.1:0\"\n\
             [storage]\ndata_dir = \"{}\"\n\
             [limits]\nquery_timeout = \"4s\"\nmax_concurrent_queries_per_principal = 1\n",
            dir.display()
        )
    })
    .await;
    let heavy = connect(&hub, ADMIN, &hub.admin_secret, None)
        .await
        .expect("signed in");
    let running = tokio::spawn(async move {
        heavy
            .simple_query(
                // The condition keeps the count from being read off the tables' row
                // counts: the product is computed.
                "SELECT count(*) FROM pg_catalog.pg_type a, pg_catalog.pg_type b, \
                 pg_catalog.pg_type c, pg_catalog.pg_type d, pg_catalog.pg_attribute e \
                 WHERE a.oid <> b.oid",
            )
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // The hub answers requests while it runs.
    let (status, _) = hub.get("/v1/catalog").await;
    assert!(status.is_success(), "{status}");
    assert!(
        !running.is_finished(),
        "the heavy statement ended before the request was answered"
    );
    // It holds its caller's one query slot.
    let other = connect(&hub, ADMIN, &hub.admin_secret, None)
        .await
        .expect("signed in");
    let error = other
        .simple_query("SELECT nspname FROM pg_catalog.pg_namespace")
        .await
        .expect_err("the caller's slot is taken");
    assert_eq!(sqlstate(&error), "53300", "{error}");
    // And ends at the query timeout.
    let result = tokio::time::timeout(std::time::Duration::from_secs(30), running)
        .await
        .expect("ended by the timeout")
        .expect("task");
    let error = result.expect_err("timed out");
    assert_eq!(sqlstate(&error), "57014", "{error}");
    // The slot is given back.
    let rows = text_rows(
        &other,
        "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = 'pg_catalog'",
    )
    .await
    .expect("answered");
    assert_eq!(rows, [[Some("pg_catalog".to_owned())]]);
}

/// A catalog statement whose answer is too large is refused before it holds much memory
/// (a cross join of `pg_proc` with itself is millions of rows), and a cancel request stops
/// one under way, as it stops a query.
#[tokio::test]
async fn a_catalog_statement_is_bounded_and_cancelled_as_a_query_is() {
    let hub = hub_with_wire().await;
    let client = connect(&hub, ADMIN, &hub.admin_secret, None)
        .await
        .expect("signed in");
    let error = client
        .simple_query("SELECT a.*, b.* FROM pg_catalog.pg_proc a, pg_catalog.pg_proc b")
        .await
        .expect_err("too large");
    assert_eq!(sqlstate(&error), "54000", "{error}");

    let cancel = client.cancel_token();
    let running = tokio::spawn(async move {
        let result = client
            .simple_query(
                // The condition keeps the count from being read off the tables' row
                // counts: the product is computed.
                "SELECT count(*) FROM pg_catalog.pg_type a, pg_catalog.pg_type b, \
                 pg_catalog.pg_type c, pg_catalog.pg_type d, pg_catalog.pg_attribute e \
                 WHERE a.oid <> b.oid",
            )
            .await;
        (client, result)
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    cancel.cancel_query(NoTls).await.expect("cancel sent");
    let (client, result) = tokio::time::timeout(std::time::Duration::from_secs(10), running)
        .await
        .expect("stopped by the cancel, not the query timeout")
        .expect("task");
    let error = result.expect_err("cancelled");
    assert_eq!(sqlstate(&error), "57014", "{error}");
    // The session goes on.
    let rows = text_rows(
        &client,
        "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = 'pg_catalog'",
    )
    .await
    .expect("answered");
    assert_eq!(rows, [[Some("pg_catalog".to_owned())]]);
}

/// `information_schema.columns` describes each column's type as PostgreSQL does (its name,
/// precision, scale, octet length, fractional digits), compared with the machine's
/// PostgreSQL holding a table of the contract's columns.
#[tokio::test]
async fn information_schema_describes_types_as_postgresql_does() {
    const FACTS: &str = "column_name, data_type, character_maximum_length, character_octet_length, \
                         numeric_precision, numeric_precision_radix, numeric_scale, datetime_precision";
    let Some(reference) = crate::support::Postgres::connect().await else {
        return;
    };
    // `people_spec`'s columns as PostgreSQL would declare them.
    reference
        .execute("CREATE TABLE people (id bigint, name text, amount numeric(10, 2), born date)")
        .await;
    let expected = text_rows(
        &reference.client,
        &format!(
            "SELECT {FACTS} FROM information_schema.columns \
             WHERE table_schema = '{}' AND table_name = 'people' ORDER BY ordinal_position",
            reference.schema
        ),
    )
    .await
    .expect("the reference answers");
    reference.cleanup().await;
    assert_eq!(expected.len(), 4, "{expected:?}");

    let hub = hub_with_wire().await;
    let client = connect(&hub, ADMIN, &hub.admin_secret, None)
        .await
        .expect("signed in");
    let seen = text_rows(
        &client,
        &format!(
            "SELECT {FACTS} FROM information_schema.columns \
             WHERE table_schema = 'civil_affairs' AND table_name = 'people' ORDER BY ordinal_position"
        ),
    )
    .await
    .expect("answered");
    assert_eq!(seen, expected);
}
