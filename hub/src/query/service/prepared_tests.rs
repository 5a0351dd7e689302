//! What the front doors to come need of the service: typed parameters, statements described
//! without running, a cancellation handle, and the caller's own view of the catalog.

use std::time::Duration;

use causeway_policies::DatasetId;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use serde_json::Value;

use datafusion::arrow::record_batch::RecordBatch;

use super::tests::{call, drain, fixture, query_records};
use super::*;
use crate::config::LimitsConfig;

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|batch| {
            let column = batch.column(0).as_primitive::<Int64Type>();
            (0..column.len()).map(|row| column.value(row)).collect::<Vec<_>>()
        })
        .collect()
}

fn with_parameters(sql: &str, parameters: Vec<ScalarValue>) -> QueryCall {
    QueryCall {
        parameters,
        ..call(sql)
    }
}

#[tokio::test]
async fn parameters_are_bound_with_their_types_under_the_grant_and_recorded() {
    let fixture = fixture(LimitsConfig::default()).await;
    let sql = "SELECT id FROM civil_affairs.residents WHERE id >= $1 ORDER BY id";
    let mut started = fixture
        .service
        .execute(with_parameters(sql, vec![ScalarValue::Int64(Some(2))]))
        .await
        .expect("answered");
    // Rows 2 and 3 are at least 2; the grant's row filter (Dali) leaves 3 alone.
    assert_eq!(ids(&drain(&mut started.results).await), [3]);
    started.results.completed();
    drop(started);

    let missing = fixture.service.execute(call(sql)).await.err().expect("refused");
    assert_eq!(missing.code(), "invalid_query", "{missing}");
    let extra = fixture
        .service
        .execute(with_parameters(
            "SELECT id FROM civil_affairs.residents",
            vec![ScalarValue::Int64(Some(1))],
        ))
        .await
        .err()
        .expect("refused");
    assert_eq!(extra.code(), "invalid_query", "{extra}");

    let records = query_records(fixture).await;
    let detail: Value = serde_json::from_str(records[0]["detail"].as_str().expect("detail")).expect("json");
    assert_eq!(detail["parameters"], serde_json::json!(["2"]), "{detail}");
}

#[tokio::test]
async fn a_statement_is_described_without_running_and_refused_as_running_it_would_be() {
    let fixture = fixture(LimitsConfig::default()).await;
    let analyst = call("").caller;
    let described = fixture
        .service
        .describe(
            &analyst,
            "SELECT town, id FROM civil_affairs.residents WHERE id = $1",
            "care",
        )
        .await
        .expect("described");
    let columns: Vec<(&str, &DataType)> = described
        .schema
        .fields()
        .iter()
        .map(|field| (field.name().as_str(), field.data_type()))
        .collect();
    assert_eq!(columns, [("town", &DataType::Utf8), ("id", &DataType::Int64)]);
    assert_eq!(described.parameters, [Some(DataType::Int64)]);

    let refused = fixture
        .service
        .describe(&analyst, "SELECT id FROM civil_affairs.residents", "marketing")
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), "access_denied");
    assert_eq!(refused.outcome(), Outcome::Denied);
    assert!(
        query_records(fixture).await.is_empty(),
        "describing reads nothing, so nothing is recorded"
    );
}

#[tokio::test]
async fn a_cancelled_query_stops_and_is_recorded_as_cancelled() {
    let fixture = fixture(LimitsConfig::default()).await;
    let cancel = CancellationToken::new();
    let endless = QueryCall {
        cancel: Some(cancel.clone()),
        ..call("SELECT value FROM generate_series(1, 10000000000) AS t(value)")
    };
    let mut started = fixture.service.execute(endless).await.expect("started");
    assert!(started.results.next().await.expect("a batch").is_ok());
    cancel.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match started.results.next().await {
                Some(Ok(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the results end soon after the cancellation");
    let error = ended
        .expect("an error, not the end of the result")
        .expect_err("an error");
    assert_eq!(error.code(), "query_cancelled");
    drop(started);

    // Cancelled before its first batch: refused while planning or ended before anything
    // was handed out.
    let early = CancellationToken::new();
    early.cancel();
    let refused = fixture
        .service
        .execute(QueryCall {
            cancel: Some(early),
            ..call("SELECT id FROM civil_affairs.residents")
        })
        .await
        .err()
        .expect("cancelled");
    assert_eq!(refused.code(), "query_cancelled");

    let records = query_records(fixture).await;
    let ends: Vec<(&str, &str)> = records
        .iter()
        .filter(|record| record["action"] != "query.started")
        .map(|record| {
            (
                record["action"].as_str().unwrap_or_default(),
                record["error_class"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        ends,
        [
            ("query.finished", "query_cancelled"),
            ("query.refused", "query_cancelled")
        ]
    );
}

#[tokio::test]
async fn the_catalog_is_seen_as_the_caller_may_read_it_under_each_purpose() {
    let fixture = fixture(LimitsConfig::default()).await;
    let analyst = call("").caller;
    let care = fixture.service.catalog(&analyst, "care");
    assert_eq!(care.len(), 1);
    assert_eq!(care[0].dataset.id, DatasetId::new("civil_affairs", "residents"));
    let decision = care[0].access.as_ref().expect("readable for care");
    let grants: Vec<&str> = decision.grants.iter().map(|grant| grant.id.as_str()).collect();
    assert_eq!(grants, ["grant-dali"]);
    assert_eq!(decision.grants[0].row_filter.as_deref(), Some("town = 'Dali'"));

    let marketing = fixture.service.catalog(&analyst, "marketing");
    assert_eq!(marketing.len(), 1, "listed still");
    assert!(marketing[0].access.is_err(), "but not readable");
}
