//! Statements still running in the database end there with the query the hub cut short.

use super::*;

/// A statement still running in the database when the hub's timeout cuts its query short,
/// or when its client goes away, is stopped on the server (PostgreSQL: a cancel request;
/// MySQL: `KILL QUERY`): it is gone within two seconds, and the pooled session answers the
/// next query. The view sleeps a second a row, which a dropped connection alone does not
/// interrupt.
async fn statements_end_on_the_server_with_their_query(db: Database) {
    let sleep = match db {
        Database::Postgres(_) => "pg_sleep(1) IS NOT NULL",
        Database::Mysql(_) => "SLEEP(1) = 0",
    };
    db.execute(&format!(
        "CREATE TABLE slow_base (id bigint, name varchar(40));\n\
         INSERT INTO slow_base VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e'), (6, 'f'), (7, 'g'), (8, 'h');\n\
         CREATE VIEW slow AS SELECT id, name FROM slow_base WHERE {sleep};\n"
    ))
    .await;
    let hub = Hub::start(&format!(
        "{}[limits]\nquery_timeout = \"2s\"\n",
        db.connection("slowdb")
    ))
    .await;
    for (name, table) in [("slow", "slow"), ("quick", "slow_base")] {
        hub.publish_ok(&spec(
            "civil_affairs",
            name,
            db.kind(),
            "slowdb",
            &db.table(table),
            &[("id", "bigint"), ("name", "string")],
        ))
        .await;
    }
    let slow_view = format!("{}.{}", db.quote(db.schema()), db.quote("slow"));
    let running = async || db.statements_running(&slow_view).await;
    let query = |sql: &'static str| {
        let (http, url) = (hub.http.clone(), hub.url.clone());
        tokio::spawn(async move {
            let response = http
                .post(format!("{url}/v1/query"))
                .json(&json!({"sql": sql, "purpose": "testing"}))
                .send()
                .await
                .expect("query");
            crate::support::json_of(response).await
        })
    };
    let started = async || {
        eventually(
            "the statement runs on the server",
            std::time::Duration::from_secs(5),
            async || (running().await > 0).then_some(()),
        )
        .await;
        assert_eq!(running().await, 1, "the statement runs on the server");
    };
    let ended = async || {
        eventually(
            "the statement ends on the server",
            std::time::Duration::from_secs(2),
            async || (running().await == 0).then_some(()),
        )
        .await;
    };

    // Cut short by the timeout.
    let timed_out = query("SELECT name FROM civil_affairs.slow");
    started().await;
    let (status, body) = timed_out.await.expect("query");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "query_timeout", "{body}");
    ended().await;

    // Cut short by its client.
    let abandoned = query("SELECT id FROM civil_affairs.slow");
    started().await;
    abandoned.abort();
    ended().await;

    let rows = hub.rows("SELECT id FROM civil_affairs.quick ORDER BY id").await;
    assert_eq!(rows.len(), 8, "the pooled sessions answer the next query");
    drop(hub);
    db.cleanup().await;
}

#[tokio::test]
async fn postgres_statements_end_on_the_server_with_their_query() {
    if let Some(db) = Database::postgres().await {
        statements_end_on_the_server_with_their_query(db).await;
    }
}

#[tokio::test]
async fn mysql_statements_end_on_the_server_with_their_query() {
    if let Some(db) = Database::mysql().await {
        statements_end_on_the_server_with_their_query(db).await;
    }
}
