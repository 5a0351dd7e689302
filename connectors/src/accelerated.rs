//! Acceleration: a dataset's rows held in memory as Arrow record batches, split across the
//! cores, and replaced whole when refreshed.
//!
//! A copy with a single-column primary key is kept sorted by that key, so a lookup by key
//! (`key = literal` or `key IN (...)`) is a binary search that reads only the matching rows
//! instead of a scan of every batch. Sorted data needs no index beside it: the memory a copy
//! takes is the memory of its batches.

use std::cmp::Ordering;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::compute::{SortOptions, concat, interleave_record_batch, sort_to_indices};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result as DataFusionResult};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::error::describe_failure;

/// How a dataset is accelerated, as its spec says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccelerationSpec {
    pub mode: AccelerationMode,
    /// How often the copy is rebuilt from the source; never when absent (on demand only).
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub refresh: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccelerationMode {
    /// Arrow record batches in the hub's memory.
    Memory,
}

#[derive(Debug, thiserror::Error)]
pub enum AccelerationError {
    #[error(
        "the in-memory copy of {dataset} would exceed the acceleration memory budget: it needs more than {needed} bytes, and {available} bytes of the budget are free"
    )]
    OverBudget {
        dataset: String,
        needed: usize,
        available: usize,
    },
    /// `reason` is the source's error without the values it quotes: the message reaches
    /// the catalog, the audit log and the hub's log.
    #[error("cannot load {dataset} into memory: {reason}")]
    Load { dataset: String, reason: String },
}

/// Rows per batch of a sorted copy: small enough that a lookup's binary search ends in a
/// short slice, large enough that scans stay vectorised.
const SORTED_BATCH_ROWS: usize = 8192;

/// One complete in-memory copy of a dataset.
#[derive(Debug)]
pub struct MemoryCopy {
    /// Contiguous runs of batches, one per partition; sorted by the key when there is one.
    partitions: Vec<Vec<RecordBatch>>,
    /// The key column the batches are sorted by.
    sorted_by: Option<usize>,
    rows: usize,
    bytes: usize,
    /// When the source was read.
    loaded_at: DateTime<Utc>,
}

impl MemoryCopy {
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The memory the copy's batches take.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn loaded_at(&self) -> DateTime<Utc> {
        self.loaded_at
    }

    /// Reads `source` whole into memory, in at most `partitions` partitions, sorted by the
    /// column `key` when given. Fails once the rows read take more than `allowance` bytes,
    /// without reading the rest.
    pub async fn load(
        dataset: &str,
        source: &dyn TableProvider,
        session: &dyn Session,
        key: Option<usize>,
        partitions: usize,
        allowance: usize,
    ) -> Result<Self, AccelerationError> {
        let loaded_at = Utc::now();
        let load_error = |error: DataFusionError| AccelerationError::Load {
            dataset: dataset.to_owned(),
            reason: describe_failure(&error),
        };
        let plan = source.scan(session, None, &[], None).await.map_err(load_error)?;
        let mut stream = execute_stream(plan, session.task_ctx()).map_err(load_error)?;
        let mut batches = Vec::new();
        let mut bytes = 0;
        while let Some(batch) = stream.try_next().await.map_err(load_error)? {
            bytes += batch.get_array_memory_size();
            if bytes > allowance {
                return Err(AccelerationError::OverBudget {
                    dataset: dataset.to_owned(),
                    needed: bytes,
                    available: allowance,
                });
            }
            if batch.num_rows() > 0 {
                batches.push(batch);
            }
        }
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        let sorted_by = key.filter(|_| rows > 0);
        if let Some(key) = sorted_by {
            batches = sorted_by_key(&batches, key).map_err(|error| load_error(error.into()))?;
            bytes = batches.iter().map(RecordBatch::get_array_memory_size).sum();
        }
        Ok(Self {
            partitions: split_contiguous(batches, partitions),
            sorted_by,
            rows,
            bytes,
            loaded_at,
        })
    }

    /// The rows whose key equals one of `values`, as slices of the copy's batches; `None`
    /// when the copy is not sorted by that column or a value has another type.
    fn lookup(&self, column: usize, values: &[ScalarValue]) -> Option<Vec<RecordBatch>> {
        if self.sorted_by != Some(column) {
            return None;
        }
        let batches: Vec<&RecordBatch> = self.partitions.iter().flatten().collect();
        let data_type = batches.first()?.schema().field(column).data_type().clone();
        let mut found = Vec::new();
        for value in values {
            let value = value.cast_to(&data_type).ok()?;
            if value.is_null() {
                continue;
            }
            // Null keys are sorted last, after every value.
            let compare = |batch: &RecordBatch, row: usize| -> Option<Ordering> {
                let key = ScalarValue::try_from_array(batch.column(column), row).ok()?;
                if key.is_null() {
                    return Some(Ordering::Greater);
                }
                key.partial_cmp(&value)
            };
            // The first batch whose last key is not below the value.
            let below = |batch: &&RecordBatch| compare(batch, batch.num_rows() - 1) == Some(Ordering::Less);
            let mut index = batches.partition_point(below);
            while let Some(batch) = batches.get(index) {
                let start = first_row_not_below(batch, &compare)?;
                let mut end = start;
                while end < batch.num_rows() && compare(batch, end)? == Ordering::Equal {
                    end += 1;
                }
                if end > start {
                    found.push(batch.slice(start, end - start));
                }
                // Equal keys may run on into the next batch.
                if end < batch.num_rows() {
                    break;
                }
                index += 1;
            }
        }
        Some(found)
    }
}

/// The rows of `batches` sorted by the column `key` (nulls last), in new batches of
/// [`SORTED_BATCH_ROWS`]: only the key column is gathered into one array to be sorted, and
/// the rows are copied once, straight into their final batches.
fn sorted_by_key(batches: &[RecordBatch], key: usize) -> Result<Vec<RecordBatch>, ArrowError> {
    let keys: Vec<&dyn Array> = batches.iter().map(|batch| batch.column(key).as_ref()).collect();
    let order = sort_to_indices(
        &concat(&keys)?,
        Some(SortOptions {
            descending: false,
            nulls_first: false,
        }),
        None,
    )?;
    let mut starts = Vec::with_capacity(batches.len());
    let mut rows = 0;
    for batch in batches {
        starts.push(rows);
        rows += batch.num_rows();
    }
    let positions: Vec<(usize, usize)> = order
        .values()
        .iter()
        .map(|&row| {
            let row = row as usize;
            let batch = starts.partition_point(|&start| start <= row) - 1;
            (batch, row - starts[batch])
        })
        .collect();
    let sources: Vec<&RecordBatch> = batches.iter().collect();
    positions
        .chunks(SORTED_BATCH_ROWS)
        .map(|chunk| interleave_record_batch(&sources, chunk))
        .collect()
}

/// The first row of `batch` whose key is not below the value `compare` compares with.
fn first_row_not_below(
    batch: &RecordBatch,
    compare: &impl Fn(&RecordBatch, usize) -> Option<Ordering>,
) -> Option<usize> {
    let (mut low, mut high) = (0, batch.num_rows());
    while low < high {
        let middle = low + (high - low) / 2;
        if compare(batch, middle)? == Ordering::Less {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    Some(low)
}

/// Splits `batches`, in order, into at most `partitions` runs of about equal rows.
fn split_contiguous(batches: Vec<RecordBatch>, partitions: usize) -> Vec<Vec<RecordBatch>> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let partitions = partitions.clamp(1, batches.len().max(1));
    let per_partition = total.div_ceil(partitions).max(1);
    let mut split: Vec<Vec<RecordBatch>> = vec![Vec::new()];
    let mut in_current = 0;
    for batch in batches {
        if in_current >= per_partition && split.len() < partitions {
            split.push(Vec::new());
            in_current = 0;
        }
        in_current += batch.num_rows();
        if let Some(current) = split.last_mut() {
            current.push(batch);
        }
    }
    split
}

/// A dataset served from its in-memory copy. Each scan takes the copy current when it
/// starts and reads only that one, so a refresh never mixes old and new rows in a scan.
pub struct AcceleratedTable {
    schema: SchemaRef,
    key: Option<usize>,
    copy: RwLock<Arc<MemoryCopy>>,
}

impl fmt::Debug for AcceleratedTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceleratedTable")
            .field("schema", &self.schema)
            .field("key", &self.key)
            .finish()
    }
}

impl AcceleratedTable {
    /// `key` is the column the copies are sorted by, if any.
    pub fn new(schema: SchemaRef, key: Option<usize>, copy: MemoryCopy) -> Self {
        Self {
            schema,
            key,
            copy: RwLock::new(Arc::new(copy)),
        }
    }

    pub fn current(&self) -> Arc<MemoryCopy> {
        match self.copy.read() {
            Ok(copy) => Arc::clone(&copy),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Makes `copy` the one new scans read; scans already running keep the old one.
    pub fn replace(&self, copy: MemoryCopy) {
        let copy = Arc::new(copy);
        match self.copy.write() {
            Ok(mut current) => *current = copy,
            Err(poisoned) => *poisoned.into_inner() = copy,
        }
    }

    /// The key values `filter` looks up, when it is `key = value`, `key IN (values)` or an
    /// `OR` of those.
    fn key_lookup(&self, filter: &Expr) -> Option<Vec<ScalarValue>> {
        let key = self.schema.field(self.key?).name();
        let is_key = |expr: &Expr| matches!(expr, Expr::Column(column) if column.name == *key);
        match filter {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Eq,
                right,
            }) => match (left.as_ref(), right.as_ref()) {
                (column, Expr::Literal(value, _)) | (Expr::Literal(value, _), column) if is_key(column) => {
                    Some(vec![value.clone()])
                }
                _ => None,
            },
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Or,
                right,
            }) => {
                let mut values = self.key_lookup(left)?;
                values.extend(self.key_lookup(right)?);
                Some(values)
            }
            Expr::InList(in_list) if !in_list.negated && is_key(&in_list.expr) => in_list
                .list
                .iter()
                .map(|item| match item {
                    Expr::Literal(value, _) => Some(value.clone()),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }
}

#[async_trait]
impl TableProvider for AcceleratedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Key lookups narrow the scan; DataFusion still applies every filter itself.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DataFusionResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|filter| match self.key_lookup(filter) {
                Some(_) => TableProviderFilterPushDown::Inexact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        let copy = self.current();
        let looked_up = match (
            self.key,
            filters.iter().find_map(|filter| self.key_lookup(filter)),
        ) {
            (Some(key), Some(values)) => copy.lookup(key, &values),
            _ => None,
        };
        let exec = match looked_up {
            Some(rows) => MemorySourceConfig::try_new_exec(&[rows], self.schema(), projection.cloned())?,
            None => MemorySourceConfig::try_new_exec(&copy.partitions, self.schema(), projection.cloned())?,
        };
        Ok(exec)
    }
}

#[cfg(test)]
mod tests;
