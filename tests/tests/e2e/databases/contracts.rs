//! Contracts checked against the tables, connection passwords never shown, and sources
//! naming connections the configuration lacks.

use super::*;

/// The password in the connection URLs of the secrets test: it must never be shown.
const SECRET: &str = "Sup3rSecretPw";

/// How a dialect's table fails to match a contract: the table's DDL, the contract's fields,
/// the expected mismatch message, and a check of the refusal of a missing table.
struct Mismatch {
    ddl: &'static str,
    fields: [(&'static str, &'static str); 3],
    message: &'static str,
    missing: fn(&Value, &str),
}

/// A contract whose field has another type than the table's column, or names a column the
/// table lacks, is refused naming the field and both types; a missing table is refused too.
/// Nothing is published.
async fn tables_that_do_not_match_the_contract_are_refused(db: Database, case: Mismatch) {
    db.execute(case.ddl).await;
    let hub = Hub::start(&db.connection("landdb")).await;

    let table = db.table("parcels");
    let (status, body) = hub
        .publish(&spec(
            "land_registry",
            "parcels",
            db.kind(),
            "landdb",
            &table,
            &case.fields,
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"],
        json!({"code": "contract_mismatch", "message": case.message})
    );

    let missing = db.table("no_such_table");
    let (status, body) = hub
        .publish(&spec(
            "land_registry",
            "parcels",
            db.kind(),
            "landdb",
            &missing,
            &case.fields[..1],
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    (case.missing)(&body, &missing);

    let (status, _) = hub.get("/v1/datasets/land_registry/parcels").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    drop(hub);
    db.cleanup().await;
}

#[tokio::test]
async fn postgres_tables_that_do_not_match_the_contract_are_refused() {
    let Some(db) = Database::postgres().await else {
        return;
    };
    tables_that_do_not_match_the_contract_are_refused(
        db,
        Mismatch {
            ddl: "CREATE TABLE parcels (id bigint NOT NULL, area numeric(10,2));",
            fields: [("id", "bigint"), ("area", "bigint"), ("owner", "string")],
            message: "the source does not match the contract: \
                      field 'area' is Int64 in the contract but Decimal128(10, 2) in the source; \
                      field 'owner' (Utf8 in the contract) does not exist in the source",
            missing: |body, missing| {
                assert_eq!(body["error"]["code"], "source_not_found", "{body}");
                assert_eq!(
                    body["error"]["message"],
                    format!("table {missing} in connection landdb does not exist"),
                    "{body}"
                );
            },
        },
    )
    .await;
}

#[tokio::test]
async fn mysql_tables_that_do_not_match_the_contract_are_refused() {
    let Some(db) = Database::mysql().await else { return };
    tables_that_do_not_match_the_contract_are_refused(
        db,
        Mismatch {
            ddl: "CREATE TABLE parcels (id bigint NOT NULL, registered date);\n",
            fields: [("id", "bigint"), ("registered", "timestamp"), ("owner", "string")],
            message: "the source does not match the contract: \
                      field 'registered' is Timestamp(µs) in the contract but Date32 in the source; \
                      field 'owner' (Utf8 in the contract) does not exist in the source",
            missing: |body, missing| {
                assert_eq!(body["error"]["code"], "source_error", "{body}");
                let message = body["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    message.starts_with(&format!(
                        "cannot read mysql source connection landdb table {missing}: "
                    )),
                    "{message}"
                );
            },
        },
    )
    .await;
}

/// Passwords in connection URLs are never shown: not when the database refuses them, not
/// in a published dataset's description or the catalog, not in the hub's log. Datasets
/// show a connection by name only.
#[tokio::test]
async fn connection_passwords_never_show() {
    let Some(pg) = Postgres::connect().await else {
        return;
    };
    pg.execute("CREATE TABLE parcels (id bigint NOT NULL); INSERT INTO parcels VALUES (7);")
        .await;
    let unset = format!("CW_E2E_UNSET_{}", uuid::Uuid::new_v4().simple());
    // PostgreSQL trusts local connections, so `good` connects without using its password.
    let config = format!(
        "[connectors.connections.badpg]\nkind = \"postgres\"\n\
         url = \"postgres://nobody:{SECRET}@127.0.0.1:5432/test\"\ntls = \"disable\"\n\
         [connectors.connections.badmy]\nkind = \"mysql\"\n\
         url = \"mysql://nobody:{SECRET}@127.0.0.1:3306/test\"\ntls = \"disabled\"\n\
         [connectors.connections.good]\nkind = \"postgres\"\n\
         url = \"postgres://postgres:{SECRET}@127.0.0.1:5432/test\"\ntls = \"disable\"\n\
         [connectors.connections.fromenv]\nkind = \"postgres\"\n\
         url = \"postgres://postgres:${{env:{unset}}}@127.0.0.1:5432/test\"\ntls = \"disable\"\n"
    );
    let hub = Hub::start(&config).await;
    let table = format!("{}.parcels", pg.schema);
    let fields = [("id", "bigint")];
    let shows_a_secret = |text: &str| {
        ["Sup3rSecret", "postgres://", "mysql://", "nobody:"]
            .iter()
            .any(|s| text.contains(s))
    };

    for (kind, connection) in [("postgres", "badpg"), ("mysql", "badmy")] {
        let (status, body) = hub
            .publish(&spec(
                "land_registry",
                "parcels",
                kind,
                connection,
                &table,
                &fields,
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert_eq!(body["error"]["code"], "source_unavailable", "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("cannot connect to {kind} connection '{connection}': ")),
            "{message}"
        );
        assert!(!shows_a_secret(message), "{message}");
    }

    let (status, body) = hub
        .publish(&spec(
            "land_registry",
            "parcels",
            "postgres",
            "fromenv",
            &table,
            &fields,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        json!({"code": "invalid_source", "message": format!("environment variable {unset} is not set")})
    );

    let published = hub
        .publish_ok(&spec(
            "land_registry",
            "parcels",
            "postgres",
            "good",
            &table,
            &fields,
        ))
        .await;
    let location = json!({"kind": "postgres", "location": format!("connection good table {table}")});
    assert_eq!(published["source"], location);
    let (status, detail) = hub.get("/v1/datasets/land_registry/parcels").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["source"], location);
    assert_eq!(
        hub.rows("SELECT id FROM land_registry.parcels").await,
        [json!({"id": 7})]
    );
    for path in ["/v1/datasets/land_registry/parcels", "/v1/catalog", "/v1/health"] {
        let (_, body) = hub.get(path).await;
        assert!(!shows_a_secret(&body.to_string()), "{path}: {body}");
    }
    let log = hub.log();
    assert!(!shows_a_secret(&log), "{log}");
    drop(hub);
    pg.cleanup().await;
}

/// A source naming a connection the configuration lacks, or one of another kind, is a
/// client error naming the connection; nothing is connected to.
#[tokio::test]
async fn unknown_or_mismatched_connections_are_invalid_sources() {
    let hub = Hub::start(&postgres_connection("landdb", "unused")).await;
    let fields = [("id", "bigint")];

    let (status, body) = hub
        .publish(&spec(
            "land_registry",
            "parcels",
            "postgres",
            "nosuch",
            "public.parcels",
            &fields,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        json!({
            "code": "invalid_source",
            "message": "unknown connection 'nosuch': database connections are defined in the hub \
                        configuration under [connectors.connections.NAME]"
        })
    );

    let (status, body) = hub
        .publish(&spec(
            "land_registry",
            "parcels",
            "mysql",
            "landdb",
            "test.parcels",
            &fields,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        json!({
            "code": "invalid_source",
            "message": "connection 'landdb' is a postgres connection, but the source says mysql"
        })
    );
    let (_, catalog) = hub.get("/v1/catalog").await;
    assert_eq!(catalog["departments"], json!([]));
}
