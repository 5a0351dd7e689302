//! Every output format, parsed back and compared with the JSON answer.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{CsvReadOptions, SessionContext};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Hub, write_parquet};

const SPEC: &str = r#"
contract:
  department: statistics
  name: samples
  title: Samples of every type
  owner: { name: Desk, email: desk@example.gov }
  fields:
    - { name: id, type: bigint, nullable: false }
    - { name: label, type: string }
    - { name: ratio, type: double }
    - { name: amount, type: "decimal(12,2)" }
    - { name: day, type: date }
    - { name: at, type: timestamptz }
    - { name: flag, type: boolean }
source: { kind: parquet, path: samples.parquet }
"#;

fn samples() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("label", DataType::Utf8, true),
        Field::new("ratio", DataType::Float64, true),
        Field::new("amount", DataType::Decimal128(12, 2), true),
        Field::new("day", DataType::Date32, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("flag", DataType::Boolean, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3])),
        Arc::new(StringArray::from(vec![
            Some("plain"),
            Some("comma, \"quote\"\nnewline 桂城"),
            None,
        ])),
        Arc::new(Float64Array::from(vec![Some(0.5), None, Some(-2.25)])),
        Arc::new(
            Decimal128Array::from(vec![Some(1_234_567), Some(-5), None])
                .with_precision_and_scale(12, 2)
                .expect("decimal"),
        ),
        Arc::new(Date32Array::from(vec![Some(0), Some(19_000), None])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![Some(1_600_000_000_123_456), None, Some(0)])
                .with_timezone("UTC"),
        ),
        Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
    ];
    RecordBatch::try_new(schema, columns).expect("batch")
}

const QUERY: &str = "SELECT * FROM statistics.samples ORDER BY id";

async fn hub_with_samples() -> Hub {
    let hub = Hub::start("").await;
    write_parquet(&hub.dir().join("samples.parquet"), &[samples()]);
    hub.publish_ok(SPEC).await;
    hub
}

/// Record batches as the JSON rows DataFusion's own JSON writer would give.
async fn as_json_rows(batches: &[RecordBatch]) -> Vec<Value> {
    let mut writer = datafusion::arrow::json::ArrayWriter::new(Vec::new());
    for batch in batches {
        writer.write(batch).expect("json");
    }
    writer.finish().expect("json");
    let text = writer.into_inner();
    if text.is_empty() {
        return vec![];
    }
    serde_json::from_slice(&text).expect("json rows")
}

fn without_nulls(rows: &[Value]) -> Vec<Value> {
    rows.iter()
        .map(|row| {
            let object = row.as_object().expect("row object");
            Value::Object(
                object
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn json_rows_carry_every_type_faithfully() {
    let hub = hub_with_samples().await;
    let (status, body) = hub.query(QUERY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["query_id"].as_str().is_some_and(|id| id.len() == 36),
        "{body}"
    );
    assert_eq!(
        body["columns"],
        json!([
            {"name": "id", "type": "Int64"}, {"name": "label", "type": "Utf8"},
            {"name": "ratio", "type": "Float64"}, {"name": "amount", "type": "Decimal128(12, 2)"},
            {"name": "day", "type": "Date32"}, {"name": "at", "type": "Timestamp(µs, \"UTC\")"},
            {"name": "flag", "type": "Boolean"}
        ])
    );
    assert_eq!(
        body["rows"],
        json!([
            {"id": 1, "label": "plain", "ratio": 0.5, "amount": 12345.67, "day": "1970-01-01",
             "at": "2020-09-13T12:26:40.123456Z", "flag": true},
            {"id": 2, "label": "comma, \"quote\"\nnewline 桂城", "ratio": null, "amount": -0.05,
             "day": "2022-01-08", "at": null, "flag": false},
            {"id": 3, "label": null, "ratio": -2.25, "amount": null, "day": null,
             "at": "1970-01-01T00:00:00Z", "flag": null}
        ])
    );
}

#[tokio::test]
async fn every_format_reads_back_to_the_same_rows() {
    let hub = hub_with_samples().await;
    let json_rows = hub.rows(QUERY).await;

    let response = hub.query_raw(QUERY, "application/x-ndjson").await;
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.expect("ndjson");
    let ndjson: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("line"))
        .collect();
    assert_eq!(ndjson, json_rows);

    let response = hub.query_raw(QUERY, "application/vnd.apache.arrow.stream").await;
    assert!(response.headers().contains_key("x-causeway-query-id"));
    let bytes = response.bytes().await.expect("arrow");
    let reader =
        datafusion::arrow::ipc::reader::StreamReader::try_new(&bytes[..], None).expect("arrow stream");
    let batches: Vec<RecordBatch> = reader.map(|batch| batch.expect("batch")).collect();
    assert_eq!(
        batches[0].schema().field(3).data_type(),
        &DataType::Decimal128(12, 2)
    );
    assert_eq!(without_nulls(&json_rows), as_json_rows(&batches).await);

    let bytes = hub
        .query_raw(QUERY, "application/vnd.apache.parquet")
        .await
        .bytes()
        .await
        .expect("parquet");
    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(bytes, 1024)
        .expect("parquet");
    let batches: Vec<RecordBatch> = reader.map(|batch| batch.expect("batch")).collect();
    assert_eq!(without_nulls(&json_rows), as_json_rows(&batches).await);

    let csv = hub.query_raw(QUERY, "text/csv").await.text().await.expect("csv");
    let path = hub.dir().join("answer.csv");
    std::fs::write(&path, &csv).expect("csv file");
    let context = SessionContext::new();
    let schema = samples().schema();
    let options = CsvReadOptions::new().has_header(true).schema(&schema);
    let frame = context
        .read_csv(path.to_string_lossy().as_ref(), options)
        .await
        .expect("read csv");
    let batches = frame.collect().await.expect("csv rows");
    assert_eq!(without_nulls(&json_rows), as_json_rows(&batches).await);
}

#[tokio::test]
async fn empty_results_are_well_formed_in_every_format() {
    let hub = hub_with_samples().await;
    let sql = "SELECT id, label FROM statistics.samples WHERE id > 100";
    let (status, body) = hub.query(sql).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["rows"], json!([]));
    assert_eq!(
        hub.query_raw(sql, "text/csv").await.text().await.expect("csv"),
        "id,label\n"
    );
    assert_eq!(
        hub.query_raw(sql, "application/x-ndjson")
            .await
            .text()
            .await
            .expect("ndjson"),
        ""
    );
    let bytes = hub
        .query_raw(sql, "application/vnd.apache.arrow.stream")
        .await
        .bytes()
        .await
        .expect("arrow");
    let reader =
        datafusion::arrow::ipc::reader::StreamReader::try_new(&bytes[..], None).expect("arrow stream");
    assert_eq!(reader.schema().fields().len(), 2);
    assert_eq!(
        reader
            .map(|batch| batch.expect("batch").num_rows())
            .sum::<usize>(),
        0
    );
    let bytes = hub
        .query_raw(sql, "application/vnd.apache.parquet")
        .await
        .bytes()
        .await
        .expect("parquet");
    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(bytes, 1024)
        .expect("parquet");
    assert_eq!(
        reader
            .map(|batch| batch.expect("batch").num_rows())
            .sum::<usize>(),
        0
    );
}
