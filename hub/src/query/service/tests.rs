//! The query service driven without any server.
use std::path::PathBuf;

use causeway_policies::{ColumnInfo, DatasetId, DatasetInfo, Grant, Role};
use causeway_schemas::Classification;
use datafusion::arrow::array::{Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use serde_json::{Map, Value, json};

use super::*;
use crate::access::Access;
use crate::audit::Gate;
use crate::audit::read::{EventFilter, records};
use crate::config::{AuditConfig, LimitsConfig};
use crate::identity::KeyRing;
use crate::store::{GrantOrigin, MetadataStore};
use crate::supervision::AlertsConfig;

/// A query service over one in-memory dataset, `civil_affairs.residents` (id, town),
/// granted to the client `analyst` for the purpose `care` with the rows of Dali only.
pub(super) struct Fixture {
    pub(super) service: QueryService,
    pub(super) audit: AuditLog,
    pub(super) audit_dir: PathBuf,
    _dir: tempfile::TempDir,
}

pub(super) async fn fixture(limits: LimitsConfig) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit_dir = dir.path().join("audit");
    let keys = Arc::new(KeyRing::open(&dir.path().join("keys")).expect("keys"));
    let audit = AuditLog::open(&audit_dir, &AuditConfig::default(), keys).expect("audit");
    let store = MetadataStore::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("metadata.db").display()
    ))
    .await
    .expect("store");
    let access = Arc::new(
        Access::open(store.clone(), &dir.path().join("pseudonym.key"), limits.syntax())
            .await
            .expect("access"),
    );
    let engine = Arc::new(
        QueryEngine::new(
            limits,
            Arc::clone(&access),
            Some(crate::audit::Chains::own_only(
                "test-node".into(),
                audit_dir.clone(),
            )),
        )
        .expect("engine"),
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("town", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(StringArray::from(vec!["Dali", "Xiqiao", "Dali"])),
        ],
    )
    .expect("batch");
    let table = MemTable::try_new(schema, vec![vec![batch]]).expect("table");
    let dataset = DatasetInfo {
        id: DatasetId::new("civil_affairs", "residents"),
        columns: ["id", "town"]
            .iter()
            .zip([DataType::Int64, DataType::Utf8])
            .map(|(name, data_type)| ColumnInfo {
                name: (*name).into(),
                data_type,
                classification: Classification::new("public").expect("tag"),
            })
            .collect(),
        recertification_days: 180,
        subject_key: Vec::new(),
    };
    engine
        .register("civil_affairs", "residents", Arc::new(table), dataset.clone())
        .expect("register");
    let grant: Grant = serde_json::from_value(json!({
        "id": "grant-dali", "subject": {"client": "analyst"}, "dataset": "civil_affairs.residents",
        "columns": ["id", "town"], "purposes": ["care"], "row_filter": "town = 'Dali'",
    }))
    .expect("grant");
    let officer = Principal::new("officer", "security").with_role(Role::SecurityAdmin);
    access
        .create_grant(
            grant,
            &dataset,
            GrantOrigin::Direct,
            None,
            &officer,
            &engine.session(),
            &mut Gate::new(&audit, Event::new(Action::GrantCreated, Outcome::Ok)),
        )
        .await
        .expect("grant made");
    let alerts = Arc::new(
        Alerts::open(&AlertsConfig::default(), store, audit.clone())
            .await
            .expect("alerts"),
    );
    Fixture {
        service: QueryService::new(
            engine,
            audit.clone(),
            alerts,
            Arc::new(RowUsage::default()),
            Arc::new(crate::identity::OngoingWork::default()),
        ),
        audit,
        audit_dir,
        _dir: dir,
    }
}

pub(super) fn call(sql: &str) -> QueryCall {
    QueryCall::new(
        Principal::new("analyst", "health").with_role(Role::Analyst),
        sql,
        "care",
        FrontDoor::FlightSql,
    )
}

/// The log's records of queries, once everything pending is written.
pub(super) async fn query_records(fixture: Fixture) -> Vec<Map<String, Value>> {
    fixture.audit.close().await;
    records(&fixture.audit_dir, &EventFilter::default(), 1000)
        .expect("records")
        .into_iter()
        .filter(|record| {
            record["action"]
                .as_str()
                .is_some_and(|action| action.starts_with("query."))
        })
        .collect()
}

pub(super) fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

pub(super) async fn drain(results: &mut Results) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    while let Some(batch) = results.next().await {
        batches.push(batch.expect("a batch"));
    }
    batches
}

#[tokio::test]
async fn a_query_is_answered_under_its_grant_and_recorded_start_to_finish() {
    let fixture = fixture(LimitsConfig::default()).await;
    let mut started = fixture
        .service
        .execute(call("SELECT id FROM civil_affairs.residents ORDER BY id"))
        .await
        .expect("answered");
    assert_eq!(started.grants, ["grant-dali"]);
    let batches = drain(&mut started.results).await;
    assert_eq!(rows(&batches), 2, "the row filter lets Dali's two rows through");
    started.results.sent(123);
    started.results.completed();
    drop(started);
    let records = query_records(fixture).await;
    let actions: Vec<&str> = records.iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(actions, ["query.started", "query.finished"]);
    assert_eq!(records[1]["outcome"], "ok");
    assert_eq!(records[1]["rows"], 2);
    assert_eq!(records[1]["bytes"], 123);
    assert_eq!(
        records[0]["row_filters"],
        json!(["civil_affairs.residents: town = 'Dali'"])
    );
    assert!(
        records[0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("flight_sql"),
        "the front door is recorded: {:?}",
        records[0]
    );
}

#[tokio::test]
async fn refusals_carry_their_kind_to_the_log_without_a_server() {
    let fixture = fixture(LimitsConfig::default()).await;
    let mut no_purpose = call("SELECT 1");
    no_purpose.purpose = String::new();
    let cases = [
        (call("SELEC 1"), "syntax_error", Outcome::Error),
        (no_purpose, "missing_purpose", Outcome::Error),
        (
            call("SELECT phone FROM civil_affairs.residents"),
            "unknown_column",
            Outcome::Error,
        ),
        (
            {
                let mut other = call("SELECT id FROM civil_affairs.residents");
                other.purpose = "marketing".into();
                other
            },
            "access_denied",
            Outcome::Denied,
        ),
    ];
    let mut expected = Vec::new();
    for (call, code, outcome) in cases {
        let error = fixture.service.execute(call).await.err().expect("refused");
        assert_eq!(error.code(), code, "{error}");
        assert_eq!(error.outcome(), outcome, "{error}");
        expected.push(code);
    }
    let records = query_records(fixture).await;
    let classes: Vec<&str> = records
        .iter()
        .filter(|record| record["action"] == "query.refused")
        .filter_map(|record| record["error_class"].as_str())
        .collect();
    assert_eq!(classes, expected);
}

#[tokio::test]
async fn a_client_that_goes_away_is_recorded_as_such() {
    let fixture = fixture(LimitsConfig::default()).await;
    let started = fixture
        .service
        .execute(call("SELECT id FROM civil_affairs.residents"))
        .await
        .expect("answered");
    drop(started);
    let records = query_records(fixture).await;
    let finished = records
        .iter()
        .find(|record| record["action"] == "query.finished")
        .expect("finished");
    assert_eq!(finished["error_class"], "disconnected");
    assert_eq!(finished["rows"], 0, "nothing was handed out");
}

#[tokio::test]
async fn a_callers_concurrent_queries_are_bounded() {
    let limits = LimitsConfig {
        max_concurrent_queries_per_principal: 1,
        ..LimitsConfig::default()
    };
    let fixture = fixture(limits).await;
    let held = fixture
        .service
        .execute(call("SELECT id FROM civil_affairs.residents"))
        .await
        .expect("first");
    let refused = fixture
        .service
        .execute(call("SELECT id FROM civil_affairs.residents"))
        .await
        .err()
        .expect("second refused while the first runs");
    assert_eq!(refused.code(), "too_many_queries");
    drop(held);
    let mut again = fixture
        .service
        .execute(call("SELECT id FROM civil_affairs.residents"))
        .await
        .expect("a slot is free again");
    assert_eq!(rows(&drain(&mut again.results).await), 2);
}

/// A client that keeps its connection but stops reading does not keep the hub's query
/// slots until the query's timeout: after `limits.client_read_timeout` without a pull, its
/// query is stopped, recorded as `client_stalled`, and the caller waiting for the slot runs.
#[tokio::test]
async fn a_client_that_stops_reading_gives_its_slots_back() {
    let limits = LimitsConfig {
        max_concurrent_queries: 1,
        query_timeout: std::time::Duration::from_secs(120),
        client_read_timeout: std::time::Duration::from_millis(300),
        ..LimitsConfig::default()
    };
    let fixture = fixture(limits).await;
    let mut stalled = fixture
        .service
        .execute(call(
            "SELECT value FROM generate_series(1, 10000000000) AS t(value)",
        ))
        .await
        .expect("started");
    let first = stalled.results.next().await.expect("a batch").expect("no error");
    assert!(first.num_rows() > 0);
    // The hub's only slot is the stalled query's until the watchdog stops it.
    let waiting = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        fixture
            .service
            .execute(call("SELECT id FROM civil_affairs.residents ORDER BY id")),
    )
    .await
    .expect("the slot came back long before the query's timeout")
    .expect("the waiting query runs");
    let mut waiting = waiting;
    assert_eq!(rows(&drain(&mut waiting.results).await), 2);
    waiting.results.completed();
    drop(waiting);
    let error = stalled
        .results
        .next()
        .await
        .expect("the stalled client is told")
        .expect_err("an error, not more rows");
    assert_eq!(error.code(), "client_stalled", "{error}");
    assert!(stalled.results.next().await.is_none(), "and then the end");
    drop(stalled);
    let records = query_records(fixture).await;
    let finished: Vec<_> = records
        .iter()
        .filter(|record| record["action"] == "query.finished")
        .collect();
    assert_eq!(finished.len(), 2, "each query finished once: {finished:?}");
    assert_eq!(finished[0]["error_class"], "client_stalled");
    assert_eq!(
        finished[0]["rows"],
        first.num_rows(),
        "the rows handed out before the stall"
    );
    assert_eq!(finished[1]["outcome"], "ok");
}
