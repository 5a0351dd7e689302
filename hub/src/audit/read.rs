//! Reading the log back: every complete record of every segment, oldest first, filtered as
//! the reader may see them, as JSON or as Arrow record batches of one fixed schema.

use std::io::BufRead;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::ReaderBuilder;
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

use super::Chain;
use super::segments;

/// The columns of `audit.events`: the fields of a record, then `node`, the node whose chain
/// holds it (records of different nodes share sequence numbers: `node` and `seq` name one).
pub fn events_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let mut fields: Vec<Field> = record_schema()
            .fields()
            .iter()
            .map(|field| field.as_ref().clone())
            .collect();
        fields.push(Field::new("node", DataType::Utf8, false));
        Arc::new(Schema::new(fields))
    });
    Arc::clone(&SCHEMA)
}

/// The fields of a record as its line holds them.
fn record_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let text = |name: &str| Field::new(name, DataType::Utf8, true);
        let list = |name: &str| {
            Field::new(
                name,
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                true,
            )
        };
        let count = |name: &str| Field::new(name, DataType::UInt64, true);
        Arc::new(Schema::new(vec![
            Field::new("seq", DataType::UInt64, false),
            Field::new(
                "time",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("action", DataType::Utf8, false),
            Field::new("outcome", DataType::Utf8, false),
            text("principal"),
            text("department"),
            list("roles"),
            text("issuer"),
            text("client_address"),
            text("query_id"),
            text("purpose"),
            text("sql"),
            list("datasets"),
            list("columns"),
            list("masks"),
            list("row_filters"),
            list("grants"),
            count("rows"),
            count("bytes"),
            count("duration_ms"),
            text("error_class"),
            text("error"),
            text("detail"),
            Field::new("prev", DataType::Utf8, false),
            Field::new("hash", DataType::Utf8, false),
        ]))
    });
    Arc::clone(&SCHEMA)
}

/// The schema that holds the log as a table (`audit.events`): a name no department may take.
pub const AUDIT_SCHEMA: &str = "audit";

/// Which records a reader gets.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub principal: Option<String>,
    /// `department.name`
    pub dataset: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// The purpose a query was run for.
    pub purpose: Option<String>,
    /// The department of the principal who acted.
    pub department: Option<String>,
    /// Only records that touch a dataset of this department: what a publisher may read.
    pub department_scope: Option<String>,
}

impl EventFilter {
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        let text = |name: &str| record.get(name).and_then(Value::as_str);
        let datasets = || {
            record
                .get("datasets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
        };
        let time = text("time").and_then(|time| DateTime::parse_from_rfc3339(time).ok());
        let equal = |wanted: &Option<String>, name: &str| {
            wanted.as_deref().is_none_or(|wanted| text(name) == Some(wanted))
        };
        self.since
            .is_none_or(|since| time.is_some_and(|time| time >= since))
            && self
                .until
                .is_none_or(|until| time.is_some_and(|time| time < until))
            && equal(&self.principal, "principal")
            && equal(&self.action, "action")
            && equal(&self.outcome, "outcome")
            && equal(&self.purpose, "purpose")
            && equal(&self.department, "department")
            && self
                .dataset
                .as_deref()
                .is_none_or(|wanted| datasets().any(|dataset| dataset == wanted))
            && self.department_scope.as_deref().is_none_or(|department| {
                // `audit.events` is no department's dataset: a publisher of a department
                // named `audit` does not read the auditors' queries of the log.
                department != AUDIT_SCHEMA
                    && datasets().any(|dataset| {
                        dataset
                            .split_once('.')
                            .is_some_and(|(owner, _)| owner == department)
                    })
            })
    }

    /// Whether the filter looks at more than the raw line needs.
    fn is_empty(&self) -> bool {
        self.since.is_none()
            && self.until.is_none()
            && self.principal.is_none()
            && self.dataset.is_none()
            && self.action.is_none()
            && self.outcome.is_none()
            && self.purpose.is_none()
            && self.department.is_none()
            && self.department_scope.is_none()
    }
}

/// The sealed originals of the values typed into the query of record `seq` (its detail's
/// `sealed`, see `audit::literals`), if it keeps any.
pub fn sealed_of(dir: &Path, seq: u64) -> std::io::Result<Option<String>> {
    let mut sealed = None;
    for_each_line(dir, |line| {
        let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else {
            return true;
        };
        if record["seq"].as_u64() != Some(seq) {
            return true;
        }
        sealed = record["detail"]
            .as_str()
            .and_then(|detail| serde_json::from_str::<serde_json::Value>(detail).ok())
            .and_then(|detail| detail["sealed"].as_str().map(str::to_owned));
        false
    })?;
    Ok(sealed)
}

/// Calls `visit` with every complete record line of the log in `dir`, oldest first, until
/// it returns `false`. A last line still being written is left out.
pub fn for_each_line(dir: &Path, mut visit: impl FnMut(&str) -> bool) -> std::io::Result<()> {
    let mut line = String::new();
    for path in segments::list(dir)? {
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            // Archived (moved away) between the listing and now: its records are in the archive.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        let mut reader = std::io::BufReader::new(file);
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            let Some(complete) = line.strip_suffix('\n') else {
                break;
            };
            if !visit(complete) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The time of the last complete record of the log in `dir`, if it has one.
pub fn last_record_time(dir: &Path) -> std::io::Result<Option<DateTime<Utc>>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    for path in segments::list(dir)?.iter().rev() {
        let content = std::fs::read_to_string(path)?;
        let last = content
            .split_terminator('\n')
            .rev()
            .filter_map(|line| serde_json::from_str::<Map<String, Value>>(line).ok())
            .find_map(|record| {
                let time = record.get("time")?.as_str()?;
                DateTime::parse_from_rfc3339(time).ok()
            });
        if let Some(time) = last {
            return Ok(Some(time.with_timezone(&Utc)));
        }
    }
    Ok(None)
}

/// The records `filter` lets through, as JSON objects, oldest first, at most `limit`.
pub fn records(dir: &Path, filter: &EventFilter, limit: usize) -> std::io::Result<Vec<Map<String, Value>>> {
    let mut found = Vec::new();
    for_each_line(dir, |line| {
        if let Ok(record) = serde_json::from_str::<Map<String, Value>>(line)
            && filter.matches(&record)
        {
            found.push(record);
        }
        found.len() < limit
    })?;
    Ok(found)
}

/// The records of every chain `filter` lets through, each with its `node`, oldest first
/// (by time, then node and sequence number), at most `limit`.
pub fn records_of(
    chains: &[Chain],
    filter: &EventFilter,
    limit: usize,
) -> std::io::Result<Vec<Map<String, Value>>> {
    let mut found = Vec::new();
    for chain in chains {
        // A folder on the shared volume that is not there (yet) holds no records.
        if !chain.dir.is_dir() {
            continue;
        }
        for mut record in records(&chain.dir, filter, limit)? {
            record.insert("node".into(), Value::from(chain.node.clone()));
            found.push(record);
        }
    }
    if chains.len() > 1 {
        let key = |record: &Map<String, Value>| {
            (
                record
                    .get("time")
                    .and_then(Value::as_str)
                    .and_then(|time| DateTime::parse_from_rfc3339(time).ok()),
                record.get("node").and_then(Value::as_str).map(str::to_owned),
                record.get("seq").and_then(Value::as_u64),
            )
        };
        found.sort_by_cached_key(key);
    }
    found.truncate(limit);
    Ok(found)
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the audit log: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot decode the audit log: {0}")]
    Decode(#[from] ArrowError),
}

/// The records `filter` lets through as record batches of [`events_schema`] of up to
/// `batch_rows` rows each, handed to `emit` until it returns `false`.
pub fn batches(
    chain: &Chain,
    filter: &EventFilter,
    batch_rows: usize,
    emit: impl FnMut(RecordBatch) -> bool,
) -> Result<(), ReadError> {
    if !chain.dir.is_dir() {
        return Ok(());
    }
    let node = chain.node.clone();
    let mut emit = emit;
    // Each batch of the line's fields gets the chain's node as its last column.
    let mut with_node = move |batch: RecordBatch| -> Result<bool, ArrowError> {
        let nodes = datafusion::arrow::array::StringArray::from(vec![node.as_str(); batch.num_rows()]);
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(nodes));
        Ok(emit(RecordBatch::try_new(events_schema(), columns)?))
    };
    let dir = chain.dir.as_path();
    let mut decoder = ReaderBuilder::new(record_schema())
        .with_batch_size(batch_rows)
        .build_decoder()?;
    let mut pending = 0;
    let mut failure = None;
    let mut stopped = false;
    for_each_line(dir, |line| {
        let wanted = filter.is_empty()
            || serde_json::from_str::<Map<String, Value>>(line).is_ok_and(|record| filter.matches(&record));
        if !wanted {
            return true;
        }
        if let Err(error) = decoder.decode(line.as_bytes()) {
            failure = Some(error);
            return false;
        }
        pending += 1;
        if pending < batch_rows {
            return true;
        }
        pending = 0;
        match decoder.flush() {
            Ok(Some(batch)) => match with_node(batch) {
                Ok(more) => {
                    stopped = !more;
                    more
                }
                Err(error) => {
                    failure = Some(error);
                    false
                }
            },
            Ok(None) => true,
            Err(error) => {
                failure = Some(error);
                false
            }
        }
    })?;
    if let Some(error) = failure {
        return Err(error.into());
    }
    if !stopped && let Some(batch) = decoder.flush()? {
        with_node(batch)?;
    }
    Ok(())
}
