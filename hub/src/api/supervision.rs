//! Supervision: the audit log as it is written, as server-sent events, and queries and rows
//! per department per day. Each reader gets what `GET /v1/audit/events` gives them
//! (auditors and security administrators every record, publishers those that touch their
//! department's datasets), and a stream stays theirs only while their token does: it is
//! checked again every [`RECHECK`], and the stream ends when the token runs out, the account
//! is disabled or the role is gone.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use chrono::{FixedOffset, Utc};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::audit::{audit_status, check_filters, reader_scope};
use super::auth::{Caller, ClientAddress, bearer_principal};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use super::recorded::audited;
use crate::audit::activity::{DayOfDepartment, LastVerification, daily_activity};
use crate::audit::read::EventFilter;
use crate::audit::{Action, Event, LiveReader, Outcome};

/// How often a stream's token is checked again.
const RECHECK: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    /// Records of this principal.
    principal: Option<String>,
    /// Records of principals of this department (who acted).
    department: Option<String>,
    /// Records that touch this dataset (`department.name`).
    dataset: Option<String>,
    /// Records of queries run for this purpose.
    purpose: Option<String>,
    /// Records of this action, e.g. `query.finished`.
    action: Option<String>,
    /// `ok`, `denied` or `error`.
    outcome: Option<String>,
}

/// The audit records written from now on, as server-sent events (`text/event-stream`): each
/// record as an event `record` whose data is the record as `GET /v1/audit/events` gives it
/// and whose id is `node:seq`; `lagged` (data `{}`) when the reader fell behind and records
/// were skipped (read them with `GET /v1/audit/events`); `end` (data
/// `{"reason": "..."}`) before the hub closes the stream: the token ran out or was
/// refused, or the hub is stopping. Checkpoints are left out. A comment is sent every 15
/// seconds to keep the connection open. Opening a stream is recorded as `audit.read`.
#[utoipa::path(get, path = "/v1/audit/stream", tag = "audit", params(StreamParams),
    responses(
        (status = 200, description = "The records, as they are written", content_type = "text/event-stream", body = String),
        (status = 400, description = "A filter longer than 256 characters, or an unknown parameter", body = ErrorBody),
        (status = 403, description = "Neither a security administrator, an auditor nor a publisher", body = ErrorBody),
        (status = 404, description = "The audit log is off", body = ErrorBody),
        (status = 429, description = "The reader holds 4 streams already, or the hub 64", body = ErrorBody),
    ))]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    check_filters([
        ("principal", params.principal.as_ref()),
        ("department", params.department.as_ref()),
        ("dataset", params.dataset.as_ref()),
        ("purpose", params.purpose.as_ref()),
        ("action", params.action.as_ref()),
        ("outcome", params.outcome.as_ref()),
    ])?;
    // As on `/v1/audit/events`: the filters in the detail only.
    let record = Event::by(Action::AuditRead, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({ "stream": params }));
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let live = audited(&state, record, async |gate| {
        let scope = reader_scope(&caller.0)?;
        audit_status(&state)?;
        let receiver = state
            .audit
            .subscribe(&caller.0.id)
            .ok_or_else(|| ApiError::not_found("the audit log is off on this hub"))?
            .map_err(|refused| {
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_streams",
                    refused.to_string(),
                )
            })?;
        gate.pass().await?;
        Ok(Live {
            node: state.audit_chains.own().node.clone(),
            filter: EventFilter {
                principal: params.principal,
                dataset: params.dataset,
                action: params.action,
                outcome: params.outcome,
                purpose: params.purpose,
                department: params.department,
                department_scope: scope.clone(),
                ..EventFilter::default()
            },
            scope,
            state: state.clone(),
            authorization,
            receiver,
            recheck: tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK),
            pending: VecDeque::new(),
            ended: false,
        })
    })
    .await?;
    let events = futures::stream::unfold(live, |mut live| async move {
        let event = live.next().await?;
        Some((Ok(event), live))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One reader's stream.
struct Live {
    state: AppState,
    /// The `Authorization` value it was opened with, checked again every [`RECHECK`].
    authorization: String,
    /// What it was opened with: a change of role ends it.
    scope: Option<String>,
    filter: EventFilter,
    node: String,
    receiver: LiveReader,
    recheck: tokio::time::Interval,
    pending: VecDeque<SseEvent>,
    ended: bool,
}

impl Live {
    /// The next event to send; `None` once the stream has ended.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            tokio::select! {
                () = self.state.shutdown.cancelled() => self.end("the hub is stopping"),
                _ = self.recheck.tick() => {
                    if let Err(reason) = self.still_allowed().await {
                        self.end(&reason);
                    }
                }
                received = self.receiver.receiver.recv() => match received {
                    Ok(lines) => self.take(&lines),
                    // How many batches were missed is not said: most were other readers'
                    // records, and their number would tell how busy the hub is.
                    Err(RecvError::Lagged(_)) => self.pending.push_back(
                        SseEvent::default().event("lagged").data("{}"),
                    ),
                    Err(RecvError::Closed) => self.end("the audit log is closed"),
                },
            }
        }
    }

    /// Whether the token the stream was opened with still admits its reader as it did.
    async fn still_allowed(&self) -> Result<(), String> {
        // Not `authenticate`: a token that ran out while streaming is no refused request.
        let principal = bearer_principal(&self.state, Some(&self.authorization))
            .await
            .map_err(|refusal| refusal.message)?;
        match reader_scope(&principal) {
            Ok(scope) if scope == self.scope => Ok(()),
            Ok(_) => Err("the reader's roles changed; open the stream again".into()),
            Err(refusal) => Err(refusal.message),
        }
    }

    /// The records of a batch written that the reader may see and asked for.
    fn take(&mut self, lines: &str) {
        for line in lines.lines() {
            let Ok(mut record) = serde_json::from_str::<Map<String, Value>>(line) else {
                continue;
            };
            if record.get("action").and_then(Value::as_str) == Some("audit.checkpoint")
                || !self.filter.matches(&record)
            {
                continue;
            }
            let seq = record.get("seq").and_then(Value::as_u64).unwrap_or(0);
            record.insert("node".into(), Value::from(self.node.clone()));
            match SseEvent::default()
                .event("record")
                .id(format!("{}:{seq}", self.node))
                .json_data(&record)
            {
                Ok(event) => self.pending.push_back(event),
                Err(error) => tracing::warn!(%error, seq, "an audit record was not streamed"),
            }
        }
    }

    fn end(&mut self, reason: &str) {
        let data = serde_json::json!({ "reason": reason }).to_string();
        self.pending
            .push_back(SseEvent::default().event("end").data(data));
        self.ended = true;
    }
}

/// Most days one answer covers.
const MAX_DAYS: u32 = 92;

#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityParams {
    /// Days up to and including today (default 14, at most 92).
    days: Option<u32>,
    /// Minutes east of UTC at which days begin, e.g. 480 for China (default 0, UTC).
    utc_offset_minutes: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityResponse {
    /// Per day and department with any query, oldest first.
    pub days: Vec<DayOfDepartment>,
    /// The newest verification of the log an auditor ran; `null` when none is on record or
    /// the reader is a publisher (verifications touch no dataset of theirs).
    pub last_verification: Option<LastVerification>,
}

/// Queries answered, refused and failed and rows returned per day and per department of the
/// principals who queried, as the reader may read the log (publishers: queries of their
/// department's datasets), with the log's last verification. Recorded as `audit.read`.
#[utoipa::path(get, path = "/v1/audit/activity", tag = "audit", params(ActivityParams),
    responses(
        (status = 200, description = "The activity", body = ActivityResponse),
        (status = 400, description = "Days or offset out of range", body = ErrorBody),
        (status = 403, description = "Neither a security administrator, an auditor nor a publisher", body = ErrorBody),
        (status = 404, description = "The audit log is off", body = ErrorBody),
    ))]
pub async fn activity(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddress(address): ClientAddress,
    ApiQuery(params): ApiQuery<ActivityParams>,
) -> Result<Json<ActivityResponse>, ApiError> {
    let record = Event::by(Action::AuditRead, Outcome::Ok, &caller.0)
        .at_address(address)
        .with_detail(serde_json::json!({ "activity": params }));
    audited(&state, record, async |gate| {
        let scope = reader_scope(&caller.0)?;
        audit_status(&state)?;
        let days = params.days.unwrap_or(14);
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(ApiError::bad_request(
                "invalid_days",
                format!("days is 1 to {MAX_DAYS}"),
            ));
        }
        let offset = params
            .utc_offset_minutes
            .unwrap_or(0)
            .checked_mul(60)
            .and_then(FixedOffset::east_opt)
            .ok_or_else(|| ApiError::bad_request("invalid_offset", "utc_offset_minutes is -1439 to 1439"))?;
        let publisher = scope.is_some();
        let filter = EventFilter {
            department_scope: scope,
            ..EventFilter::default()
        };
        let chains = state.audit_chains.list();
        let (days, verification) =
            tokio::task::spawn_blocking(move || daily_activity(&chains, &filter, days, offset, Utc::now()))
                .await
                .map_err(|error| ApiError::internal(&error))?
                .map_err(|error| ApiError::internal(&error))?;
        gate.record().rows = Some(days.len() as u64);
        gate.pass().await?;
        Ok(Json(ActivityResponse {
            days,
            last_verification: verification.filter(|_| !publisher),
        }))
    })
    .await
}
