//! Arrow Flight SQL as its clients use it, with arrow-flight's own client: a handshake for a
//! token, statements by ticket with their purpose in a header, the catalog commands, and
//! every refusal with the gRPC status a client can act on and HTTP's message.

use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{CommandGetDbSchemas, CommandGetTables, CommandStatementQuery, ProstMessageExt};
use arrow_flight::{FlightDescriptor, FlightInfo, Ticket};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use futures::TryStreamExt;
use prost::Message;
use serde_json::json;
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::files::{PEOPLE_CSV, people_spec};
use crate::support::{ADMIN, Hub};

pub(crate) async fn hub_with_flight() -> Hub {
    let hub = Hub::start_with(|dir| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nflight_listen = \"127.0.0.1:0\"\n[storage]\ndata_dir = \"{}\"\n",
            dir.display()
        )
    })
    .await;
    std::fs::write(hub.dir().join("people.csv"), PEOPLE_CSV).expect("csv");
    hub.publish_ok(&people_spec("people.csv")).await;
    hub
}

/// The Flight SQL address the hub logged.
pub(crate) fn flight_address(hub: &Hub) -> String {
    hub.logged_address("Arrow Flight SQL listening", "flight")
}

pub(crate) async fn channel(hub: &Hub) -> Channel {
    Channel::from_shared(format!("http://{}", flight_address(hub)))
        .expect("a URL")
        .connect()
        .await
        .expect("connect to Flight SQL")
}

/// A client signed in by the handshake as `id`, asking for `purpose`.
pub(crate) async fn signed_in(
    hub: &Hub,
    id: &str,
    secret: &str,
    purpose: &str,
) -> FlightSqlServiceClient<Channel> {
    let mut client = FlightSqlServiceClient::new(channel(hub).await);
    client.handshake(id, secret).await.expect("the handshake");
    assert!(client.token().is_some(), "the handshake answers a bearer token");
    client.set_header("x-causeway-purpose", purpose);
    client
}

pub(crate) async fn fetch(
    client: &mut FlightSqlServiceClient<Channel>,
    info: FlightInfo,
) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.expect("a ticket");
        let stream = client.do_get(ticket).await.expect("do_get");
        batches.extend(stream.try_collect::<Vec<_>>().await.expect("the batches"));
    }
    batches
}

/// GetFlightInfo for `sql` sent raw, with `token` and `purpose` headers when given, so that
/// the status a refusal gets can be read.
async fn raw_info(hub: &Hub, sql: &str, token: Option<&str>, purpose: Option<&str>) -> tonic::Status {
    let mut client = arrow_flight::flight_service_client::FlightServiceClient::new(channel(hub).await);
    let command = CommandStatementQuery {
        query: sql.to_owned(),
        transaction_id: None,
    };
    let mut request = Request::new(FlightDescriptor::new_cmd(command.as_any().encode_to_vec()));
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    if let Some(purpose) = purpose {
        request
            .metadata_mut()
            .insert("x-causeway-purpose", purpose.parse().expect("header"));
    }
    client
        .get_flight_info(request)
        .await
        .expect_err("the statement is refused")
}

#[tokio::test]
async fn flight_sql_runs_statements_by_ticket_under_the_callers_policies() {
    let hub = hub_with_flight().await;
    let mut client = signed_in(&hub, ADMIN, &hub.admin_secret, "testing").await;
    let sql = "SELECT id, name, amount FROM civil_affairs.people ORDER BY id";
    let info = client.execute(sql.to_owned(), None).await.expect("GetFlightInfo");
    let table = pretty_format_batches(&fetch(&mut client, info).await)
        .expect("table")
        .to_string();
    // The same rows HTTP answers.
    let rows = hub.rows(sql).await;
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert!(
            table.contains(row["name"].as_str().unwrap_or("(null)")),
            "{table}"
        );
    }
    assert!(table.contains("| 1  | Ann  | 12.50  |"), "{table}");

    // The catalog commands list what the catalog shows.
    let info = client.get_catalogs().await.expect("GetCatalogs");
    let catalogs = pretty_format_batches(&fetch(&mut client, info).await)
        .expect("table")
        .to_string();
    assert!(catalogs.contains("causeway"), "{catalogs}");
    let info = client
        .get_db_schemas(CommandGetDbSchemas {
            catalog: None,
            db_schema_filter_pattern: None,
        })
        .await
        .expect("GetDbSchemas");
    let schemas = pretty_format_batches(&fetch(&mut client, info).await)
        .expect("table")
        .to_string();
    assert!(schemas.contains("civil_affairs"), "{schemas}");
    let info = client
        .get_tables(CommandGetTables {
            catalog: None,
            db_schema_filter_pattern: Some("civil%".into()),
            table_name_filter_pattern: None,
            table_types: vec![],
            include_schema: true,
        })
        .await
        .expect("GetTables");
    let tables = fetch(&mut client, info).await;
    let listed = pretty_format_batches(&tables).expect("table").to_string();
    assert!(
        listed.contains("| causeway     | civil_affairs  | people     | TABLE "),
        "{listed}"
    );
    let info = client
        .get_primary_keys(arrow_flight::sql::CommandGetPrimaryKeys {
            catalog: None,
            db_schema: Some("civil_affairs".into()),
            table: "people".into(),
        })
        .await
        .expect("GetPrimaryKeys");
    let keys = pretty_format_batches(&fetch(&mut client, info).await)
        .expect("table")
        .to_string();
    assert!(
        keys.contains("| people     | id          |"),
        "the contract's key: {keys}"
    );
    let info = client.get_table_types().await.expect("GetTableTypes");
    let types = pretty_format_batches(&fetch(&mut client, info).await)
        .expect("table")
        .to_string();
    assert!(types.contains("TABLE"), "{types}");
    let info = client.get_sql_info(vec![]).await.expect("GetSqlInfo");
    assert!(!fetch(&mut client, info).await.is_empty());

    // Every query is on the audit record, as over HTTP.
    let finished = hub
        .audit_rows(&format!(
            "SELECT count(*) AS n FROM audit.events WHERE action = 'query.finished' AND principal = '{ADMIN}' AND sql LIKE '%amount FROM civil_affairs.people%'"
        ))
        .await;
    assert_eq!(
        finished,
        vec![json!({"n": 2})],
        "one over Flight SQL, one over HTTP"
    );
}

#[tokio::test]
async fn flight_sql_refusals_carry_their_status_and_https_message() {
    let hub = hub_with_flight().await;
    let token = hub.token(ADMIN, &hub.admin_secret).await;
    let sql = "SELECT name FROM civil_affairs.people";

    let refused = raw_info(&hub, sql, None, Some("testing")).await;
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    let refused = raw_info(&hub, sql, Some("not-a-token"), Some("testing")).await;
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    let refused = raw_info(&hub, sql, Some(&token), None).await;
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused}");
    assert!(refused.message().contains("x-causeway-purpose"), "{refused}");
    let refused = raw_info(&hub, "SELEC name", Some(&token), Some("testing")).await;
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused}");
    let refused = raw_info(
        &hub,
        "DELETE FROM civil_affairs.people",
        Some(&token),
        Some("testing"),
    )
    .await;
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused}");

    // A placeholder numbered past PostgreSQL's limit is refused, on both doors, and the hub
    // stays up (it once tried to allocate a list of that many types).
    let refused = raw_info(&hub, "SELECT $99999999999", Some(&token), Some("testing")).await;
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused}");
    assert!(refused.message().contains("$1 to $65535"), "{refused}");
    let (status, body) = hub.query("SELECT $99999999999").await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");

    // A purpose no grant serves: PermissionDenied, with the message HTTP's 403 has.
    let refused = raw_info(&hub, sql, Some(&token), Some("marketing")).await;
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused}");
    // Recorded as HTTP's refusal is, naming the dataset it was refused.
    let (_, recorded) = hub
        .auditor()
        .await
        .get("/v1/audit/events?action=query.refused&dataset=civil_affairs.people&purpose=marketing")
        .await;
    let events = recorded["events"].as_array().cloned().unwrap_or_default();
    assert!(
        events
            .iter()
            .any(|event| event["detail"].to_string().contains("flight_sql")),
        "the Flight SQL refusal is found by its dataset: {recorded}"
    );
    let http = hub
        .http
        .post(format!("{}/v1/query", hub.url))
        .json(&json!({"sql": sql, "purpose": "marketing"}))
        .send()
        .await
        .expect("HTTP query");
    assert_eq!(http.status(), reqwest::StatusCode::FORBIDDEN);
    let body: serde_json::Value = http.json().await.expect("JSON");
    assert!(
        refused
            .message()
            .starts_with(body["error"]["message"].as_str().expect("a message")),
        "{refused} / {body}"
    );

    // A wrong secret fails the handshake.
    let mut client = FlightSqlServiceClient::new(channel(&hub).await);
    assert!(client.handshake(ADMIN, "wrong").await.is_err());

    // A ticket is its caller's alone: another caller's DoGet with it is refused.
    let mut owner = signed_in(&hub, ADMIN, &hub.admin_secret, "testing").await;
    let info = owner.execute(sql.to_owned(), None).await.expect("GetFlightInfo");
    let ticket: Ticket = info.endpoint[0].ticket.clone().expect("a ticket");
    let secret = hub
        .add_client("flight-other", "civil_affairs", &["analyst"], json!({}))
        .await;
    let mut other = signed_in(&hub, "flight-other", &secret, "testing").await;
    let other_token = other.token().cloned().unwrap_or_default();
    let refused = other
        .inner_mut()
        .do_get({
            let mut request = Request::new(ticket.clone());
            let token = &other_token;
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("header"),
            );
            request
        })
        .await
        .expect_err("another caller's ticket is refused");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused}");
    assert!(
        refused.message().contains("issued to another caller"),
        "{refused}"
    );
    // A changed ticket is no ticket of this hub's.
    let mut forged = ticket.ticket.to_vec();
    let last = forged.len() - 2;
    forged[last] ^= 1;
    let forged = owner.do_get(Ticket::new(forged)).await;
    assert!(forged.is_err(), "a changed ticket is refused");
    // The owner's own ticket works.
    assert_eq!(
        fetch(&mut owner, info)
            .await
            .iter()
            .map(RecordBatch::num_rows)
            .sum::<usize>(),
        3
    );
}

#[tokio::test]
async fn flight_sql_prepared_statements_take_parameters_and_keep_their_purpose() {
    let hub = hub_with_flight().await;
    let mut client = signed_in(&hub, ADMIN, &hub.admin_secret, "testing").await;
    let mut prepared = client
        .prepare(
            "SELECT name FROM civil_affairs.people WHERE id = $1".to_owned(),
            None,
        )
        .await
        .expect("CreatePreparedStatement");
    let parameters = prepared.parameter_schema().expect("a parameter schema").clone();
    assert_eq!(parameters.fields().len(), 1, "{parameters:?}");
    assert_eq!(
        prepared
            .dataset_schema()
            .expect("a dataset schema")
            .field(0)
            .name(),
        "name"
    );
    for (id, name) in [(2_i64, "Bob"), (3, "Cy")] {
        let batch = RecordBatch::try_new(
            std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
                datafusion::arrow::datatypes::Field::new(
                    "$1",
                    datafusion::arrow::datatypes::DataType::Int64,
                    false,
                ),
            ])),
            vec![std::sync::Arc::new(datafusion::arrow::array::Int64Array::from(
                vec![id],
            ))],
        )
        .expect("a parameter batch");
        prepared.set_parameters(batch).expect("bind");
        let info = prepared.execute().await.expect("execute");
        let table = pretty_format_batches(&fetch(&mut client, info).await)
            .expect("table")
            .to_string();
        assert!(table.contains(name) && table.lines().count() == 5, "{table}");
    }
    prepared.close().await.expect("ClosePreparedStatement");

    // The purpose was the one given when it was prepared; a statement for a purpose no grant
    // serves is refused when it is prepared.
    client.set_header("x-causeway-purpose", "marketing");
    let refused = client
        .prepare("SELECT name FROM civil_affairs.people".to_owned(), None)
        .await;
    assert!(
        refused.is_err(),
        "preparing for a purpose no grant serves is refused"
    );
}

/// ADBC's Flight SQL driver from Python, as a notebook uses it (`tests/python/flight_sql.py`).
#[tokio::test]
async fn adbc_from_python_reads_joins_into_dataframes() {
    let Some(python) = crate::support::python::python() else {
        return;
    };
    let hub = hub_with_flight().await;
    crate::files::publish_holdings_csv(&hub).await;
    let token = hub.token(ADMIN, &hub.admin_secret).await;
    // Ids one character apart: `id:secret` of every length modulo 3, so that two of them
    // need base64's padding.
    let mut others = Vec::new();
    for id in ["adbc-a", "adbc-ab", "adbc-abc"] {
        let secret = hub.add_client(id, "civil_affairs", &["analyst"], json!({})).await;
        others.push((id, secret));
    }
    let output = crate::support::python::run(
        std::process::Command::new(&python)
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/flight_sql.py"))
            .arg(format!("grpc://{}", flight_address(&hub)))
            .arg(&token)
            .arg(ADMIN)
            .arg(&hub.admin_secret)
            .args(
                others
                    .iter()
                    .flat_map(|(id, secret)| [id.to_string(), secret.clone()]),
            ),
    );
    let seen: serde_json::Value = serde_json::from_str(output.trim()).expect("the script's JSON");
    assert_eq!(
        seen["tables"],
        json!(["civil_affairs.people", "land_registry.holdings"]),
        "{seen}"
    );
    assert_eq!(seen["join"], crate::files::people_and_holdings(), "{seen}");
    assert_eq!(seen["polars_height"], 3);
    assert_eq!(seen["prepared"], json!([["Bob"]]));
    assert_eq!(seen["question_marks"], json!([["Bob"], ["Cy"]]), "{seen}");
    assert_eq!(seen["count_after_handshake"], 3);
    assert_eq!(
        seen["signed_in"],
        json!({"adbc-a": "ok", "adbc-ab": "ok", "adbc-abc": "ok"}),
        "{seen}"
    );
    let without = seen["without_purpose"].as_str().unwrap_or_default();
    assert!(
        without.contains("x-causeway-purpose") && without.contains("session option"),
        "a statement without a purpose says how to give one: {without}"
    );
    assert_eq!(
        seen["count_in_session"], 3,
        "the session's purpose serves: {seen}"
    );
    assert_eq!(seen["session_options"], json!({"purpose": "testing"}), "{seen}");
    assert_eq!(seen["pyarrow_header"], json!(["authorization", "Bearer"]));
    let refused = seen["refused"].as_str().unwrap_or_default();
    assert!(
        refused.contains("no grant") && refused.to_lowercase().contains("permission"),
        "a purpose no grant serves is refused with PermissionDenied: {refused}"
    );
}

/// `CancelFlightInfo` stops a query mid-stream, for its own caller only; a client disabled
/// while its connection is open is refused at its next call.
#[tokio::test]
async fn flight_sql_queries_can_be_cancelled_and_disabled_clients_stop_at_once() {
    let hub = hub_with_flight().await;
    let secret = hub
        .add_client("flight-long", "civil_affairs", &["analyst"], json!({}))
        .await;
    let mut client = signed_in(&hub, "flight-long", &secret, "testing").await;
    let info = client
        .execute(
            "SELECT x FROM generate_series(1, 100000000000) AS t(x)".to_owned(),
            None,
        )
        .await
        .expect("GetFlightInfo");
    let ticket = info.endpoint[0].ticket.clone().expect("a ticket");
    let mut stream = client.do_get(ticket).await.expect("do_get");
    let first = stream.try_next().await.expect("a first batch");
    assert!(first.is_some_and(|batch| batch.num_rows() > 0));

    // Another caller cannot cancel it.
    let admin_token = hub.token(ADMIN, &hub.admin_secret).await;
    let refused = cancel(&hub, &admin_token, info.clone()).await;
    assert!(refused.is_err(), "only its caller cancels a query");

    let token = client.token().cloned().expect("a token");
    let cancelled = cancel(&hub, &token, info.clone())
        .await
        .expect("CancelFlightInfo");
    assert_eq!(cancelled.status, arrow_flight::CancelStatus::Cancelled as i32);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            match stream.try_next().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(error) => return Some(error.to_string()),
            }
        }
    })
    .await
    .expect("the stream ends soon after the cancellation");
    assert!(
        ended.as_deref().is_some_and(|error| error.contains("cancel")),
        "the stream ends as cancelled: {ended:?}"
    );

    // Disabled while connected: the next statement on the same channel is refused.
    let (status, body) = hub
        .system()
        .await
        .post("/v1/clients/flight-long/disable", json!({}))
        .await;
    assert!(status.is_success(), "{body}");
    let again = client.execute("SELECT 1".to_owned(), None).await;
    let error = again
        .expect_err("a disabled client's token stops working")
        .to_string();
    assert!(error.contains("client is disabled (invalid_token)"), "{error}");
}

/// `CancelFlightInfo` as arrow-flight's plain client sends it.
async fn cancel(
    hub: &Hub,
    token: &str,
    info: FlightInfo,
) -> Result<arrow_flight::CancelFlightInfoResult, arrow_flight::error::FlightError> {
    let mut client = arrow_flight::FlightClient::new(channel(hub).await);
    client
        .add_header("authorization", &format!("Bearer {token}"))
        .expect("a header");
    client
        .cancel_flight_info(arrow_flight::CancelFlightInfoRequest::new(info))
        .await
}
