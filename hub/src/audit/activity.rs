//! What the log says about use over days: queries answered and refused and rows returned,
//! per day and department, and the last verification of the log, for the supervision page.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::Chain;
use super::read::{EventFilter, for_each_line};

/// One department's queries on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DayOfDepartment {
    /// The day at the asked UTC offset, `YYYY-MM-DD`.
    #[schema(value_type = String)]
    pub day: NaiveDate,
    /// The department of the principals who queried.
    pub department: String,
    /// Queries answered (`query.finished`).
    pub queries: u64,
    /// Queries refused (`query.refused` denied): by a policy, a role, or a suspension.
    pub refused: u64,
    /// Queries that failed before an answer (`query.refused` with an error): a bad query, a
    /// quota or limit reached, a source that failed.
    pub failed: u64,
    /// Rows the answered queries returned.
    pub rows: u64,
}

/// The newest verification of the log an auditor ran (`GET /v1/audit/verify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LastVerification {
    #[schema(value_type = String)]
    pub time: DateTime<Utc>,
    /// The auditor.
    pub principal: Option<String>,
    /// Whether every chain was whole.
    pub valid: bool,
    /// Records of the verifying hub's own chain checked.
    pub records: Option<u64>,
}

/// The activity of `days` days up to today at `offset`, oldest first, for the records
/// `scope` lets through, and the newest verification anywhere in the log (found in the same
/// reading: the log has no index).
pub fn daily_activity(
    chains: &[Chain],
    scope: &EventFilter,
    days: u32,
    offset: FixedOffset,
    now: DateTime<Utc>,
) -> std::io::Result<(Vec<DayOfDepartment>, Option<LastVerification>)> {
    let today = now.with_timezone(&offset).date_naive();
    let first = today - chrono::Days::new(u64::from(days.saturating_sub(1)));
    let mut counted: BTreeMap<(NaiveDate, String), DayOfDepartment> = BTreeMap::new();
    let mut verified: Option<LastVerification> = None;
    for chain in chains {
        if !chain.dir.is_dir() {
            continue;
        }
        for_each_line(&chain.dir, |line| {
            // A cheap test on the raw line first (most records are neither), then the record
            // is judged by its action: a purpose or a query may hold these words too.
            if !(line.contains("query.finished")
                || line.contains("query.refused")
                || line.contains("audit.read"))
            {
                return true;
            }
            let Ok(record) = serde_json::from_str::<Map<String, Value>>(line) else {
                return true;
            };
            let text = |name: &str| record.get(name).and_then(Value::as_str);
            let verification = match text("action") {
                Some("query.finished" | "query.refused") => false,
                Some("audit.read") => true,
                _ => return true,
            };
            let Some(time) = text("time")
                .and_then(|time| DateTime::parse_from_rfc3339(time).ok())
                .map(|time| time.with_timezone(&Utc))
            else {
                return true;
            };
            if verification {
                if let Some(found) = verification_of(&record, time)
                    && verified.as_ref().is_none_or(|newest| newest.time <= time)
                {
                    verified = Some(found);
                }
                return true;
            }
            let day = time.with_timezone(&offset).date_naive();
            if day < first || day > today || !scope.matches(&record) {
                return true;
            }
            let department = text("department").unwrap_or("").to_owned();
            let entry = counted
                .entry((day, department.clone()))
                .or_insert_with(|| DayOfDepartment {
                    day,
                    department,
                    ..DayOfDepartment::default()
                });
            if text("action") == Some("query.finished") {
                entry.queries += 1;
                entry.rows += record.get("rows").and_then(Value::as_u64).unwrap_or(0);
            } else if text("outcome") == Some("denied") {
                entry.refused += 1;
            } else {
                entry.failed += 1;
            }
            true
        })?;
    }
    Ok((counted.into_values().collect(), verified))
}

/// A verification's result from its `audit.read` record: written once the verification ran
/// (its detail then has `valid`), not the record of a refused attempt.
fn verification_of(record: &Map<String, Value>, time: DateTime<Utc>) -> Option<LastVerification> {
    if record.get("action").and_then(Value::as_str) != Some("audit.read")
        || record.get("outcome").and_then(Value::as_str) != Some("ok")
    {
        return None;
    }
    let detail: Value = serde_json::from_str(record.get("detail")?.as_str()?).ok()?;
    Some(LastVerification {
        time,
        principal: record.get("principal").and_then(Value::as_str).map(str::to_owned),
        valid: detail.get("valid")?.as_bool()?,
        records: detail.get("records").and_then(Value::as_u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, time: &str, action: &str, outcome: &str, department: &str, rest: &str) -> String {
        format!(
            r#"{{"seq":{seq},"time":"{time}","action":"{action}","outcome":"{outcome}","principal":"p","department":"{department}","datasets":["civil_affairs.residents"]{rest}}}"#
        )
    }

    #[test]
    fn days_begin_at_the_readers_offset_and_the_newest_verification_wins() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let lines = [
            // 23:30 UTC on the 1st is the 2nd in China.
            line(
                1,
                "2026-12-01T23:30:00Z",
                "query.finished",
                "ok",
                "town",
                r#","rows":5"#,
            ),
            line(
                2,
                "2026-12-02T01:00:00Z",
                "query.finished",
                "ok",
                "town",
                r#","rows":7"#,
            ),
            line(3, "2026-12-02T02:00:00Z", "query.refused", "denied", "town", ""),
            // A query that failed (its SQL, a limit) is no refusal.
            line(11, "2026-12-02T02:30:00Z", "query.refused", "error", "town", ""),
            line(4, "2026-12-02T03:00:00Z", "query.started", "ok", "town", ""),
            line(
                5,
                "2026-11-20T03:00:00Z",
                "query.finished",
                "ok",
                "town",
                r#","rows":1"#,
            ),
            line(
                6,
                "2026-12-01T03:00:00Z",
                "audit.read",
                "ok",
                "audit",
                r#","detail":"{\"verified\":true,\"valid\":true,\"records\":40}""#,
            ),
            line(
                7,
                "2026-12-02T03:00:00Z",
                "audit.read",
                "ok",
                "audit",
                r#","detail":"{\"verified\":true,\"valid\":false,\"records\":44}""#,
            ),
            line(
                8,
                "2026-12-02T04:00:00Z",
                "audit.read",
                "denied",
                "audit",
                r#","detail":"{\"verified\":true}""#,
            ),
            // Records are judged by their action, whatever words their other fields hold.
            line(
                9,
                "2026-12-02T04:10:00Z",
                "query.refused",
                "denied",
                "town",
                r#","purpose":"audit.read","sql":"SELECT 1 AS verified""#,
            ),
            line(
                10,
                "2026-12-02T04:20:00Z",
                "query.started",
                "ok",
                "town",
                r#","purpose":"query.refused""#,
            ),
        ];
        std::fs::write(
            super::super::segments::segment_path(dir.path(), 1),
            lines.join("\n") + "\n",
        )?;
        let chain = Chain {
            node: "a".into(),
            dir: dir.path().to_path_buf(),
        };
        let china = FixedOffset::east_opt(8 * 3600).expect("offset");
        let now = DateTime::parse_from_rfc3339("2026-12-02T05:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let (days, verified) = daily_activity(&[chain], &EventFilter::default(), 7, china, now)?;
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("day");
        assert_eq!(
            days,
            vec![DayOfDepartment {
                day: day("2026-12-02"),
                department: "town".into(),
                queries: 2,
                refused: 2,
                failed: 1,
                rows: 12,
            }],
            "the 20th is outside the 7 days; a start is no answer"
        );
        let verified = verified.expect("a verification");
        assert!(!verified.valid, "the newest one counts: {verified:?}");
        assert_eq!(verified.records, Some(44));
        Ok(())
    }
}
