//! Results stream in constant memory; queries stop at their time and memory limits.

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, Int64Array, StringArray};
use datafusion::arrow::buffer::Buffer;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::ipc::reader::StreamDecoder;
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::Hub;

const ROWS: usize = 5_000_000;

/// Five million rows of a realistic width, written in row groups as a department would.
fn write_big_parquet(path: &std::path::Path) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("amount", DataType::Float64, false),
    ]));
    let file = std::fs::File::create(path).expect("create");
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(file, Arc::clone(&schema), None).expect("writer");
    let chunk = 250_000;
    for start in (0..ROWS).step_by(chunk) {
        let ids: Vec<i64> = (start..start + chunk).map(|i| i as i64).collect();
        let names: Vec<String> = ids.iter().map(|id| format!("resident-{id:08}")).collect();
        let amounts: Vec<f64> = ids.iter().map(|id| (*id % 1000) as f64 / 4.0).collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(names)),
                Arc::new(Float64Array::from(amounts)),
            ],
        )
        .expect("batch");
        writer.write(&batch).expect("write");
    }
    writer.close().expect("close");
}

#[tokio::test]
async fn five_million_rows_stream_as_arrow_in_constant_memory() {
    let hub = Hub::start("").await;
    write_big_parquet(&hub.dir().join("big.parquet"));
    hub.publish_ok(
        r#"
contract:
  department: statistics
  name: big
  title: Big
  owner: { name: Desk, email: desk@example.gov }
  fields:
    - { name: id, type: bigint, nullable: false }
    - { name: name, type: string, nullable: false }
    - { name: amount, type: double, nullable: false }
source: { kind: parquet, path: big.parquet }
"#,
    )
    .await;

    let response = hub
        .query_raw(
            "SELECT * FROM statistics.big",
            "application/vnd.apache.arrow.stream",
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut bytes = response.bytes_stream();
    let mut decoder = StreamDecoder::new();
    let (mut rows, mut id_sum, mut received) = (0usize, 0i128, 0usize);
    while let Some(chunk) = bytes.next().await {
        let chunk = chunk.expect("chunk");
        received += chunk.len();
        let mut buffer = Buffer::from(chunk);
        while let Some(batch) = decoder.decode(&mut buffer).expect("decode") {
            rows += batch.num_rows();
            let ids = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("ids");
            id_sum += ids.values().iter().map(|id| i128::from(*id)).sum::<i128>();
        }
    }
    decoder.finish().expect("complete stream");
    assert_eq!(rows, ROWS);
    assert_eq!(
        id_sum,
        (ROWS as i128 - 1) * ROWS as i128 / 2,
        "every row exactly once"
    );
    let peak = hub.peak_rss_bytes();
    eprintln!(
        "streamed {received} bytes; hub peak resident memory {} MiB",
        peak / (1024 * 1024)
    );
    assert!(
        received > 100 * 1024 * 1024,
        "the result is far larger than the memory bound"
    );
    assert!(
        peak < 300 * 1024 * 1024,
        "the hub held {} MiB",
        peak / (1024 * 1024)
    );
}

#[tokio::test]
async fn a_query_over_its_time_limit_is_stopped() {
    let hub = Hub::start("[limits]\nquery_timeout = \"1s\"\n").await;
    let started = std::time::Instant::now();
    let (status, body) = hub
        .query("SELECT count(*) FROM generate_series(1, 100000000000) AS t(x) WHERE x % 7 = 3")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "query_timeout");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("1s"),
        "{body}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(
        hub.rows("SELECT 1 AS one").await,
        vec![json!({"one": 1})],
        "the hub serves on"
    );
}

#[tokio::test]
async fn a_query_over_its_memory_limit_is_stopped() {
    let hub = Hub::start("[limits]\nquery_memory_mb = 8\n").await;
    let (status, body) = hub
        .query(
            "SELECT count(*) FROM generate_series(1, 3000000) AS a(x) \
             JOIN generate_series(1, 3000000) AS b(y) ON a.x = b.y",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "memory_limit");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("8 MiB"),
        "{body}"
    );
    assert_eq!(
        hub.rows("SELECT 1 AS one").await,
        vec![json!({"one": 1})],
        "the hub serves on"
    );
}
