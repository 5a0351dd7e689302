//! A reviewer's dry run of an access request: the first rows the requester would receive
//! under the grant being approved, planned and run on the real policy path (the grant's
//! columns, masks and row filter, the hub's deny rules, the requester's own attributes and
//! keyed pseudonyms) with that grant in place of all the hub's grants.
//!
//! Nothing is counted against the requester: their row and distinct-person quotas are for
//! what they read. What the reviewer sees is supervised as their own reading: the alert
//! rules on hours and on classified rows apply to them. The reviewer's access request
//! endpoint records the dry run, with what it read, before the rows leave.

use std::sync::Arc;

use causeway_policies::{PolicySet, Principal};
use chrono::Utc;
use futures::StreamExt;

use super::{QueryService, ServiceError};
use crate::query::output::OutputFormat;
use crate::query::{QueryError, QueryRequest, Reads};

/// The most rows a dry run shows.
pub const SAMPLE_ROWS: usize = 20;

/// What a dry run read, and the rows it shows.
#[derive(Debug)]
pub struct Sample {
    /// The query's id, as in the body.
    pub id: String,
    /// `{"query_id", "columns": [{"name", "type"}], "rows": [{column: value}]}`, as
    /// `POST /v1/query` answers in JSON.
    pub body: serde_json::Value,
    pub rows: usize,
    pub reads: Reads,
}

impl QueryService {
    /// The first [`SAMPLE_ROWS`] rows of `sql` as `requester` would receive them under
    /// `policies` for `purpose`, for `reviewer` to see. Refused when the reviewer is
    /// suspended; a query the policies refuse is refused as it would be for the requester.
    pub async fn sample(
        &self,
        reviewer: &Principal,
        requester: &Principal,
        sql: &str,
        purpose: &str,
        policies: Arc<PolicySet>,
    ) -> Result<Sample, ServiceError> {
        if let Some(alert) = self.alerts.suspension(&reviewer.id) {
            return Err(ServiceError::suspended(&alert));
        }
        self.alerts.query_started(reviewer, Utc::now()).await;
        if let Some(alert) = self.alerts.suspension(&reviewer.id) {
            return Err(ServiceError::suspended(&alert));
        }
        let request = QueryRequest {
            sql: sql.to_owned(),
            purpose: purpose.to_owned(),
            parameters: Vec::new(),
            policies: Some(policies),
        };
        let mut running = self
            .engine
            .run(requester, &request)
            .await
            .map_err(|refused| ServiceError::from(refused.error))?;
        let encoding = |error: crate::query::output::EncodeError| QueryError::Execution(error.to_string());
        let mut encoder = OutputFormat::Json
            .encoder(&running.id, Arc::clone(&running.schema))
            .map_err(encoding)?;
        let mut bytes = encoder.begin().map_err(encoding)?.to_vec();
        let mut rows = 0;
        while rows < SAMPLE_ROWS {
            let Some(batch) = running.batches.next().await else {
                break;
            };
            let batch = batch?;
            let batch = batch.slice(0, batch.num_rows().min(SAMPLE_ROWS - rows));
            rows += batch.num_rows();
            bytes.extend_from_slice(&encoder.batch(&batch).map_err(encoding)?);
        }
        bytes.extend_from_slice(&encoder.finish().map_err(encoding)?);
        let body = serde_json::from_slice(&bytes)
            .map_err(|error| QueryError::Execution(format!("the sample could not be read back: {error}")))?;
        self.alerts
            .query_finished(
                &reviewer.id,
                &running.reads.classifications,
                rows as u64,
                Utc::now(),
            )
            .await;
        Ok(Sample {
            id: running.id,
            body,
            rows,
            reads: running.reads,
        })
    }
}
