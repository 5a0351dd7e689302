//! Plain DataFusion, what a user would run instead of the hub: a default `SessionContext`
//! in this process over the same Parquet files, and another over the same data held in
//! memory (`MemTable`, partitioned across the cores).

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::cast::as_string_array;
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use futures::StreamExt;

use super::BenchResult;
use super::hub_process::Received;
use super::setup::{Data, PARCELS, RESIDENTS};

pub struct PlainDataFusion {
    pub files: SessionContext,
    pub memory: SessionContext,
    /// On the files, with strings read as `Utf8` rather than views, as the hub reads them.
    pub files_utf8: SessionContext,
}

impl PlainDataFusion {
    /// Sessions where `civil_affairs.residents` and `land_registry.parcels` name the same
    /// data as in the hub.
    pub async fn new(data: &Data) -> BenchResult<Self> {
        let files = SessionContext::new();
        let memory = SessionContext::new();
        let mut config = SessionConfig::new();
        config.options_mut().execution.parquet.schema_force_view_types = false;
        let files_utf8 = SessionContext::new_with_config(config);
        for session in [&files, &memory, &files_utf8] {
            for schema in ["civil_affairs", "land_registry"] {
                session
                    .sql(&format!("CREATE SCHEMA {schema}"))
                    .await?
                    .collect()
                    .await?;
            }
        }
        let partitions = std::thread::available_parallelism().map_or(1, usize::from);
        for (table, path) in [(RESIDENTS, &data.residents_file), (PARCELS, &data.parcels_file)] {
            let path = path.to_string_lossy();
            for session in [&files, &files_utf8] {
                session
                    .register_parquet(table, path.as_ref(), ParquetReadOptions::default())
                    .await?;
            }
            let frame = files.table(table).await?;
            let schema = Arc::new(frame.schema().as_arrow().clone());
            let batches = frame.collect().await?;
            memory.register_table(
                table,
                Arc::new(MemTable::try_new(schema, spread(batches, partitions))?),
            )?;
        }
        Ok(Self {
            files,
            memory,
            files_utf8,
        })
    }

    /// Every `count`-th ID number of the residents, about `count` of them.
    pub async fn sample_ids(&self, count: usize) -> BenchResult<Vec<String>> {
        let batches = self
            .memory
            .sql(&format!("SELECT id_number FROM {RESIDENTS}"))
            .await?
            .collect()
            .await?;
        let mut ids = Vec::new();
        for batch in batches {
            // Parquet strings are read as views; one plain string type to walk.
            let column = cast(batch.column(0), &DataType::Utf8)?;
            ids.extend(as_string_array(&column)?.iter().flatten().map(str::to_owned));
        }
        let step = (ids.len() / count.max(1)).max(1);
        Ok(ids.into_iter().step_by(step).take(count).collect())
    }
}

/// Runs a query to its last row; returns the rows.
pub async fn run(session: &SessionContext, sql: &str) -> Result<u64, String> {
    let mut batches = session
        .sql(sql)
        .await
        .map_err(|error| error.to_string())?
        .execute_stream()
        .await
        .map_err(|error| error.to_string())?;
    let mut rows = 0;
    while let Some(batch) = batches.next().await {
        rows += batch.map_err(|error| error.to_string())?.num_rows() as u64;
    }
    Ok(rows)
}

/// Runs a query and encodes its result as an Arrow IPC stream into a sink, as the hub
/// encodes it for a client.
pub async fn export(session: &SessionContext, sql: &str) -> Result<Received, String> {
    let failed = |error: &dyn std::fmt::Display| error.to_string();
    let mut batches = session
        .sql(sql)
        .await
        .map_err(|e| failed(&e))?
        .execute_stream()
        .await
        .map_err(|e| failed(&e))?;
    let mut writer = StreamWriter::try_new(CountingSink(0), &batches.schema()).map_err(|e| failed(&e))?;
    let mut rows = 0;
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(|e| failed(&e))?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(|e| failed(&e))?;
    }
    writer.finish().map_err(|e| failed(&e))?;
    let bytes = writer.get_ref().0;
    Ok(Received { rows, bytes })
}

/// Batches dealt out in turn to `partitions` partitions.
fn spread(batches: Vec<RecordBatch>, partitions: usize) -> Vec<Vec<RecordBatch>> {
    let partitions = partitions.max(1);
    let mut spread = vec![Vec::new(); partitions];
    for (index, batch) in batches.into_iter().enumerate() {
        spread[index % partitions].push(batch);
    }
    spread
}

/// Discards what is written, counting the bytes.
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
