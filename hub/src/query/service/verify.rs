//! Verification through the query service: whether records match a dataset's rows under
//! the caller's verify-only grants, on the same suspension checks and audit log as queries.
//!
//! Every call is counted before anything is matched, in the metadata store that every hub
//! shares: the records against the caller's daily limit, and each record against its
//! subject's (a keyed pseudonym of the subject key's values, never the values). A call over
//! the daily limit is refused whole and not counted; a record past its subject's limit is
//! answered `refused` and still counted, so that guessing runs out. `verification.answered`
//! is on disk before the answer leaves, with the counts and the subjects' pseudonyms.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Instant;

use causeway_policies::{DatasetId, Principal, VerifyRefused, authorize_verify};
use chrono::Utc;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{FrontDoor, QueryService, ServiceError, elapsed_ms};
use crate::audit::{Action, Event, Outcome};
use crate::query::verify::Records;
use crate::query::{QueryError, UnknownDataset};

/// What the store counts verification attempts under.
const CONTROL: &str = "verify";
/// The subject that holds a caller's total of the day.
const TOTAL: &str = "*";
/// Why a record was answered without being matched.
const SUBJECT_ATTEMPTS_EXHAUSTED: &str = "subject_attempts_exhausted";

/// One verification as a front door hands it over.
#[derive(Debug, Clone)]
pub struct VerifyCall {
    pub caller: Principal,
    /// `department.name`.
    pub dataset: String,
    pub purpose: String,
    /// Column name to value, every record giving the same columns.
    pub records: Vec<Map<String, Value>>,
    pub door: FrontDoor,
    pub client_address: Option<SocketAddr>,
}

/// The answer to one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordAnswer {
    /// Whether a row of the record's subject has every value the record gives; `null` when
    /// the record was refused.
    #[serde(rename = "match")]
    pub matched: Option<bool>,
    /// Per given column, whether the row of the record's subject that agrees with it on
    /// most columns has its value (never a mix of rows); only when the grant allows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<std::collections::BTreeMap<String, bool>>,
    /// Why the record was not matched: `subject_attempts_exhausted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<&'static str>,
}

/// A verification answered.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// The verification's id, as its audit record names it.
    pub id: String,
    /// The grants the records were matched under.
    pub grants: Vec<String>,
    /// One answer per record, in the records' order.
    pub results: Vec<RecordAnswer>,
}

/// Why a verification was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Refused(#[from] VerifyRefused),
    #[error("{0}")]
    InvalidRecords(String),
    #[error("one verification asks about at most {limit} records; this one asks about {asked}")]
    TooManyRecords { limit: usize, asked: usize },
    #[error(
        "the daily limit of {limit} records asked about {dataset} is used up, or too near it for the {asked} record(s) of this call, which is refused whole; it renews at midnight UTC"
    )]
    DailyLimit {
        dataset: String,
        limit: u64,
        asked: usize,
    },
    #[error(
        "verifications against {dataset} cannot be counted now (the metadata store does not answer), so none is answered until they can"
    )]
    Uncounted { dataset: String },
}

impl VerifyError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(VerifyRefused::NoGrant { .. }) => "no_verify_grant",
            Self::Refused(VerifyRefused::SubjectKeyMissing { .. }) => "subject_key_missing",
            Self::Refused(VerifyRefused::ColumnsNotMatchable { .. }) => "columns_not_matchable",
            Self::Refused(VerifyRefused::NoSubjectKey { .. }) => "no_subject_key",
            Self::Refused(VerifyRefused::SubjectKeyOnly { .. }) => "subject_key_only",
            Self::Refused(_) => "access_denied",
            Self::InvalidRecords(_) => "invalid_records",
            Self::TooManyRecords { .. } => "too_many_records",
            Self::DailyLimit { .. } => "verify_quota_exceeded",
            Self::Uncounted { .. } => "quota_unavailable",
        }
    }

    /// Refusals of what the caller may do, as the audit log tells them from errors.
    pub fn is_denial(&self) -> bool {
        matches!(self, Self::Refused(_))
    }
}

impl QueryService {
    /// Answers `call`: each record matched against the dataset's rows under the caller's
    /// verify grants for the purpose, within the daily limits, recorded before it returns.
    pub async fn verify(&self, call: VerifyCall) -> Result<Verified, ServiceError> {
        let started = Instant::now();
        let id = uuid::Uuid::now_v7().to_string();
        let mut record = Event::by(Action::VerificationAnswered, Outcome::Ok, &call.caller)
            .at_address(call.client_address)
            .on_dataset(&call.dataset);
        record.query_id = Some(id.clone());
        record.purpose = Some(call.purpose.clone());
        match self.answer(&call, &mut record).await {
            Ok((grants, results)) => {
                record.duration_ms = Some(elapsed_ms(started));
                // A call whose every record was refused answered nothing: it is recorded as
                // the refusal it is, so that guessing shows among refusals.
                if results.iter().all(|answer| answer.refused.is_some()) {
                    record.action = Action::VerificationRefused;
                    record = record.failed(
                        Outcome::Denied,
                        SUBJECT_ATTEMPTS_EXHAUSTED,
                        "every record's subject has used up today's attempts",
                    );
                }
                self.audit.submit(record).await?;
                Ok(Verified { id, grants, results })
            }
            Err(error) => {
                record.action = Action::VerificationRefused;
                record.duration_ms = Some(elapsed_ms(started));
                // A refusal before the records were counted says what was asked, and the
                // limit that refused it.
                if record.detail.is_none() {
                    let mut detail = serde_json::json!({
                        "control": "verify",
                        "front_door": call.door.name(),
                        "records": call.records.len(),
                    });
                    match &error {
                        ServiceError::Verify(VerifyError::DailyLimit { limit, .. }) => {
                            detail["max_records_per_day"] = (*limit).into();
                        }
                        ServiceError::Verify(VerifyError::TooManyRecords { limit, .. }) => {
                            detail["max_records_per_verification"] = (*limit).into();
                        }
                        _ => {}
                    }
                    record.detail = Some(detail.to_string());
                }
                self.audit
                    .enqueue(record.failed(error.outcome(), error.code(), error.public_message()));
                Err(error)
            }
        }
    }

    async fn answer(
        &self,
        call: &VerifyCall,
        record: &mut Event,
    ) -> Result<(Vec<String>, Vec<RecordAnswer>), ServiceError> {
        if let Some(alert) = self.alerts.suspension(&call.caller.id) {
            return Err(ServiceError::suspended(&alert));
        }
        if call.purpose.trim().is_empty() {
            return Err(QueryError::MissingPurpose.into());
        }
        let id: DatasetId = call
            .dataset
            .parse()
            .map_err(|message: String| VerifyError::InvalidRecords(message))?;
        let dataset = self
            .engine
            .dataset(&id)
            .ok_or_else(|| QueryError::UnknownTable(UnknownDataset::dataset(&id)))?;
        let limit = self.engine.limits().max_records_per_verification;
        match call.records.len() {
            0 => return Err(VerifyError::InvalidRecords("give at least one record".into()).into()),
            asked if asked > limit => return Err(VerifyError::TooManyRecords { limit, asked }.into()),
            _ => {}
        }
        let decision = authorize_verify(
            &call.caller,
            &call.purpose,
            &dataset,
            &self.engine.access.snapshot(),
            Utc::now(),
        )
        .map_err(VerifyError::from)?;
        let given: BTreeSet<String> = call
            .records
            .first()
            .into_iter()
            .flat_map(Map::keys)
            .cloned()
            .collect();
        if let Some(index) = call
            .records
            .iter()
            .position(|fields| fields.len() != given.len() || !fields.keys().all(|key| given.contains(key)))
        {
            return Err(VerifyError::InvalidRecords(format!(
                "all records of a call must give the same columns; records[{index}] does not give those of records[0] (counted from 0)"
            ))
            .into());
        }
        if let Some((index, column)) = call.records.iter().enumerate().find_map(|(index, fields)| {
            fields
                .iter()
                .find(|(_, value)| value.is_array() || value.is_object())
                .map(|(column, _)| (index, column))
        }) {
            return Err(VerifyError::InvalidRecords(format!(
                "records[{index}] (counted from 0) gives '{column}' as a JSON array or object; give text, a number or a boolean"
            ))
            .into());
        }
        let plan = decision.plan(&given).map_err(VerifyError::from)?;
        record.grants = plan.grants.clone();
        record.row_filters = plan
            .row_filters
            .iter()
            .flatten()
            .map(|filter| format!("{id}: {filter}"))
            .collect();
        // The subject key first, then the other columns given.
        let mut columns = decision.subject_key.clone();
        columns.extend(
            given
                .iter()
                .filter(|column| !decision.subject_key.contains(column))
                .cloned(),
        );
        record.columns = columns.iter().map(|column| format!("{id}.{column}")).collect();
        let types = self.engine.column_types(&id, &columns)?;
        let rows: Vec<Vec<Option<ScalarValue>>> = call
            .records
            .iter()
            .map(|fields| {
                columns
                    .iter()
                    .zip(&types)
                    .map(|(column, data_type)| typed(field(fields, column), data_type))
                    .collect()
            })
            .collect();
        let key_len = decision.subject_key.len();
        let literals = self.engine.audit_literals();
        let subjects: Vec<String> = call
            .records
            .iter()
            .zip(&rows)
            .map(|(fields, typed)| literals.pseudonym(&subject_text(&decision.subject_key, fields, typed)))
            .collect();
        let allowed = self
            .count_attempts(
                &call.caller.id,
                &id,
                &subjects,
                plan.max_records_per_day,
                plan.max_attempts_per_subject,
            )
            .await?;
        let asked = Records {
            columns: columns.clone(),
            rows: rows
                .iter()
                .zip(&allowed)
                .filter(|(_, allowed)| **allowed)
                .map(|(row, _)| row.clone())
                .collect(),
        };
        let mut matches = self
            .engine
            .match_records(&call.caller, &id, &plan, key_len, &asked)
            .await?
            .into_iter();
        let results: Vec<RecordAnswer> = allowed
            .iter()
            .map(|allowed| match allowed.then(|| matches.next()).flatten() {
                Some(found) => RecordAnswer {
                    matched: Some(found.matched),
                    columns: plan.column_matches.then_some(found.columns),
                    refused: None,
                },
                None => RecordAnswer {
                    matched: None,
                    columns: None,
                    refused: Some(SUBJECT_ATTEMPTS_EXHAUSTED),
                },
            })
            .collect();
        let matched = results
            .iter()
            .filter(|answer| answer.matched == Some(true))
            .count();
        let refused = results.iter().filter(|answer| answer.refused.is_some()).count();
        let mut distinct: Vec<&String> = subjects.iter().collect();
        distinct.sort();
        distinct.dedup();
        record.rows = Some(0);
        record.detail = Some(
            serde_json::json!({
                "control": "verify",
                "front_door": call.door.name(),
                "records": results.len(),
                "matched": matched,
                "refused": refused,
                "subjects": distinct,
            })
            .to_string(),
        );
        Ok((plan.grants, results))
    }

    /// Counts `subjects` (one per record) against the caller's daily limit and each
    /// subject's, in the store every hub shares; which records may be matched.
    async fn count_attempts(
        &self,
        principal: &str,
        dataset: &DatasetId,
        subjects: &[String],
        max_records_per_day: u64,
        max_attempts_per_subject: u32,
    ) -> Result<Vec<bool>, ServiceError> {
        let dataset_name = dataset.to_string();
        let uncounted = |error: crate::store::StoreError| {
            tracing::warn!(%error, "verification attempts cannot be counted");
            VerifyError::Uncounted {
                dataset: dataset_name.clone(),
            }
        };
        let store = self.usage.store().ok_or_else(|| VerifyError::Uncounted {
            dataset: dataset_name.clone(),
        })?;
        self.engine.subjects.forget_old(Utc::now());
        let today = Utc::now().date_naive();
        let asked = subjects.len() as u64;
        let total = store
            .add_subject_usage(
                today,
                principal,
                &dataset_name,
                CONTROL,
                &[(TOTAL.to_owned(), asked)],
            )
            .await
            .map_err(uncounted)?;
        if total.get(TOTAL).copied().unwrap_or(u64::MAX) > max_records_per_day {
            store
                .take_back_subject_usage(today, principal, &dataset_name, CONTROL, TOTAL, asked)
                .await
                .map_err(uncounted)?;
            return Err(VerifyError::DailyLimit {
                dataset: dataset_name,
                limit: max_records_per_day,
                asked: subjects.len(),
            }
            .into());
        }
        let mut in_call: HashMap<&String, u64> = HashMap::new();
        for subject in subjects {
            *in_call.entry(subject).or_default() += 1;
        }
        let counts: Vec<(String, u64)> = in_call
            .iter()
            .map(|(subject, count)| ((*subject).clone(), *count))
            .collect();
        let totals = store
            .add_subject_usage(today, principal, &dataset_name, CONTROL, &counts)
            .await
            .map_err(uncounted)?;
        // Each subject's attempts before this call, then this call's in the records' order.
        let mut used: HashMap<&String, u64> = in_call
            .iter()
            .map(|(subject, count)| {
                let total = totals.get(*subject).copied().unwrap_or(u64::MAX);
                (*subject, total.saturating_sub(*count))
            })
            .collect();
        let allowed: Vec<bool> = subjects
            .iter()
            .map(|subject| {
                let used = used.entry(subject).or_default();
                *used += 1;
                *used <= u64::from(max_attempts_per_subject)
            })
            .collect();
        if allowed.contains(&false) {
            let detail = serde_json::json!({
                "control": "max_attempts_per_subject",
                "dataset": dataset.to_string(),
                "limit": max_attempts_per_subject,
            });
            self.alerts
                .subject_quota_reached(principal, detail, Utc::now())
                .await;
        }
        Ok(allowed)
    }
}

/// The text a record's subject is counted by: its key's values as the columns type them
/// (the key's columns come first in `typed`), so that `0123`, `123` and `"123"` for an
/// integer key, or `1990-1-1` and `1990-01-01` for a date, are one subject with one count of
/// attempts. A value that is none of its column's type matches nothing, and counts as its
/// own text.
fn subject_text(key: &[String], fields: &Map<String, Value>, typed: &[Option<ScalarValue>]) -> String {
    key.iter()
        .zip(typed)
        .map(|(column, value)| match value {
            Some(value) => value.to_string(),
            None => text(field(fields, column)),
        })
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// The value a record gives for `column`; null where it gives none (every record gives the
/// columns of the first, so only a caller's mistake gets here).
fn field<'a>(fields: &'a Map<String, Value>, column: &str) -> &'a Value {
    fields.get(column).unwrap_or(&Value::Null)
}

/// A record's JSON value as a value of its column's type; `None` when it cannot be one (a
/// null, text that is no date for a date column), which matches nothing.
fn typed(value: &Value, data_type: &DataType) -> Option<ScalarValue> {
    match value {
        // Arrays and objects are refused before this (400).
        Value::Null | Value::Array(_) | Value::Object(_) => None,
        other => ScalarValue::try_from_string(text(other), data_type).ok(),
    }
}

/// A JSON value's text: a string's own, anything else as JSON writes it.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

impl From<VerifyRefused> for ServiceError {
    fn from(refused: VerifyRefused) -> Self {
        Self::Verify(refused.into())
    }
}

impl From<VerifyError> for ServiceError {
    fn from(error: VerifyError) -> Self {
        Self::Verify(error)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_subject_is_counted_by_its_typed_key_whatever_its_spelling() {
        let key = |column: &str, data_type: &DataType, value: Value| {
            let fields: Map<String, Value> = [(column.to_owned(), value.clone())].into_iter().collect();
            subject_text(&[column.to_owned()], &fields, &[typed(&value, data_type)])
        };
        let firm = |value: Value| key("firm_no", &DataType::Int64, value);
        for spelling in [
            json!(123),
            json!("123"),
            json!("0123"),
            json!("+123"),
            json!("000123"),
        ] {
            assert_eq!(firm(spelling.clone()), firm(json!(123)), "{spelling}");
        }
        assert_eq!(
            firm(json!(" 123 ")),
            firm(json!(123)),
            "read as 123, and matching it"
        );
        assert_ne!(
            firm(json!("12a3")),
            firm(json!(123)),
            "not a number: its own text, matching nothing"
        );
        let account = |value: Value| key("acct", &DataType::Decimal128(12, 2), value);
        assert_eq!(account(json!("1001.5")), account(json!("001001.50")));
        assert_eq!(account(json!(1001.5)), account(json!("1001.50")));
        let born = |value: Value| key("birth_date", &DataType::Date32, value);
        assert_eq!(born(json!("1990-1-1")), born(json!("1990-01-01")));
        let id = |value: Value| key("id_number", &DataType::Utf8, value);
        assert_ne!(id(json!("44060519900101123x")), id(json!("44060519900101123X")));
        assert_eq!(id(json!(440605)), id(json!("440605")));
    }
}
