use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::physical_plan::displayable;
use datafusion::prelude::SessionContext;

use super::*;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("value", DataType::Int64, false),
    ]))
}

/// `rows` rows in batches of 1,000, in an order unrelated to the key: id `k<n % 3000>`, so
/// most keys occur several times, runs of equal keys cross batch boundaries once sorted,
/// and every 97th id is null.
fn unsorted_batches(rows: i64) -> Vec<RecordBatch> {
    let schema = schema();
    (0..rows)
        .step_by(1000)
        .map(|start| {
            let values: Vec<i64> = (start..(start + 1000).min(rows)).collect();
            let ids: Vec<Option<String>> = values
                .iter()
                .map(|n| (n % 97 != 0).then(|| format!("k{}", (n * 7919) % 3000)))
                .collect();
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(StringArray::from(ids)),
                    Arc::new(Int64Array::from(values)),
                ],
            )
            .unwrap()
        })
        .collect()
}

async fn accelerated(rows: i64, key: Option<usize>, partitions: usize) -> AcceleratedTable {
    let source = MemTable::try_new(schema(), vec![unsorted_batches(rows)]).unwrap();
    let context = SessionContext::new();
    let copy = MemoryCopy::load(
        "test.table",
        &source,
        &context.state(),
        key,
        partitions,
        usize::MAX,
    )
    .await
    .unwrap();
    AcceleratedTable::new(schema(), key, copy)
}

async fn sorted_rows(context: &SessionContext, sql: &str) -> String {
    let batches = context.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

#[tokio::test]
async fn lookups_by_key_return_exactly_the_rows_a_full_scan_finds() {
    let table = accelerated(50_000, Some(0), 4).await;
    assert_eq!(table.current().rows(), 50_000);
    let context = SessionContext::new();
    context.register_table("fast", Arc::new(table)).unwrap();
    let plain = MemTable::try_new(schema(), vec![unsorted_batches(50_000)]).unwrap();
    context.register_table("plain", Arc::new(plain)).unwrap();
    for condition in [
        "id = 'k0'",
        "id = 'k2999'",
        "id = 'k1500'",
        "'k17' = id",
        "id = 'missing'",
        "id = 'a'",
        "id = 'zzz'",
        "id IN ('k5', 'k6', 'nothing', 'k2998')",
        "id = 'k7' OR id = 'k8'",
        "id = 'k7' OR value = 3",
        "id = 'k42' AND value > 20000",
        "id IS NULL",
    ] {
        let query = |table: &str| format!("SELECT id, value FROM {table} WHERE {condition} ORDER BY value");
        assert_eq!(
            sorted_rows(&context, &query("fast")).await,
            sorted_rows(&context, &query("plain")).await,
            "{condition}"
        );
    }
}

#[tokio::test]
async fn a_key_lookup_reads_only_the_matching_rows() {
    let table = Arc::new(accelerated(50_000, Some(0), 4).await);
    let context = SessionContext::new();
    context.register_table("fast", table).unwrap();
    let plan = |sql: &'static str| {
        let context = context.clone();
        async move {
            let plan = context
                .sql(sql)
                .await
                .unwrap()
                .create_physical_plan()
                .await
                .unwrap();
            displayable(plan.as_ref()).indent(true).to_string()
        }
    };
    let lookup = plan("SELECT value FROM fast WHERE id = 'k42'").await;
    // k42 occurs about 16 times among 50,000 rows: one partition of one or two slices.
    assert!(lookup.contains("partitions=1,"), "{lookup}");
    let scan = plan("SELECT value FROM fast WHERE value = 42").await;
    assert!(scan.contains("partitions=4"), "{scan}");
}

#[tokio::test]
async fn a_copy_without_a_key_is_split_across_partitions_and_scanned_whole() {
    let table = accelerated(10_000, None, 3).await;
    assert_eq!(table.current().partitions.len(), 3);
    let context = SessionContext::new();
    context.register_table("fast", Arc::new(table)).unwrap();
    assert_eq!(
        sorted_rows(&context, "SELECT count(*) AS n FROM fast WHERE id = 'k42'").await,
        sorted_rows(
            &context,
            "SELECT count(*) AS n FROM (SELECT * FROM fast) WHERE id = 'k42' AND value >= 0"
        )
        .await
    );
}

#[tokio::test]
async fn a_load_over_its_allowance_stops_with_the_sizes() {
    let source = MemTable::try_new(schema(), vec![unsorted_batches(20_000)]).unwrap();
    let context = SessionContext::new();
    let error = MemoryCopy::load(
        "civil_affairs.residents",
        &source,
        &context.state(),
        Some(0),
        2,
        10_000,
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("civil_affairs.residents") && message.contains("10000 bytes of the budget are free"),
        "{message}"
    );
}

#[tokio::test]
async fn a_scan_keeps_the_copy_it_started_with() {
    let table = Arc::new(accelerated(5_000, Some(0), 2).await);
    let context = SessionContext::new();
    context
        .register_table("fast", Arc::clone(&table) as Arc<dyn TableProvider>)
        .unwrap();
    let before = context
        .sql("SELECT count(*) AS n FROM fast")
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let source = MemTable::try_new(schema(), vec![unsorted_batches(7_000)]).unwrap();
    let newer = MemoryCopy::load("test.table", &source, &context.state(), Some(0), 2, usize::MAX)
        .await
        .unwrap();
    table.replace(newer);
    let counted = datafusion::physical_plan::collect(before, context.task_ctx())
        .await
        .unwrap();
    assert!(
        pretty_format_batches(&counted)
            .unwrap()
            .to_string()
            .contains("5000")
    );
    assert!(
        sorted_rows(&context, "SELECT count(*) AS n FROM fast")
            .await
            .contains("7000")
    );
}
