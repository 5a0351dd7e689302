//! Alert rules: bulk reading of classified columns within a window, and queries outside
//! office hours. An alert is stored, written to the audit log and posted to the webhook; a
//! rule may say that its alert suspends the principal until a security administrator clears it.
//! While an alert of a rule about a principal is open, the rule raises no other (for the
//! distinct-person quota, no other about the same dataset and control).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use causeway_policies::Principal;
use causeway_schemas::Classification;
use chrono::{DateTime, Datelike, FixedOffset, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{Action, AuditLog, Event, Outcome};
use crate::store::{AlertRecord, MetadataStore, StoreError};

/// The `[alerts]` section of the configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// A URL that gets every alert as a JSON POST.
    pub webhook: Option<String>,
    pub rules: Vec<AlertRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    pub name: String,
    pub when: Condition,
    /// The alert suspends the principal's queries until a security administrator clears it.
    #[serde(default)]
    pub suspend: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// More than `threshold` rows sent to one principal within `window` by queries that read
    /// columns classified under `classification` (e.g. `pii.*`), masked or not.
    ClassifiedRows {
        classification: String,
        threshold: u64,
        #[serde(with = "humantime_serde")]
        window: Duration,
    },
    /// A query outside office hours: before `start` or from `end` (local times at
    /// `utc_offset`, e.g. `+08:00`), or on a day not in `days`.
    OutsideHours {
        start: NaiveTime,
        end: NaiveTime,
        #[serde(default = "working_days")]
        days: Vec<Weekday>,
        #[serde(default = "utc")]
        utc_offset: String,
    },
    /// A query cut off by a distinct-person quota, or a verification record refused because
    /// its subject's attempts are used up: someone reaches for more people than a grant
    /// allows. Raised under the name `subject-quota` (not suspending) when no rule of this
    /// kind is configured.
    SubjectQuota,
}

impl Condition {
    /// The condition's `kind` as configured, e.g. `classified_rows`: an alert's detail names
    /// it, so that a reader can say what to do about it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ClassifiedRows { .. } => "classified_rows",
            Self::OutsideHours { .. } => "outside_hours",
            Self::SubjectQuota => "subject_quota",
        }
    }
}

fn working_days() -> Vec<Weekday> {
    vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
}

fn utc() -> String {
    "+00:00".into()
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("alert rule {rule}: {message}")]
    InvalidRule { rule: String, message: String },
    #[error("alert rule {rule}: {source}")]
    InvalidClassification {
        rule: String,
        #[source]
        source: causeway_schemas::ContractError,
    },
    #[error("no open alert {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// The rules at work, and the alerts they raised that are still open.
pub struct Alerts {
    /// The rules in force, replaced whole when the configuration is read again (SIGHUP).
    rules: arc_swap::ArcSwap<Rules>,
    store: MetadataStore,
    audit: AuditLog,
    webhook: Option<(reqwest::Client, String)>,
    /// Open alerts by rule, principal and what they are about.
    open: Mutex<HashMap<OpenKey, AlertRecord>>,
    /// When rows of classified columns were lately sent, and how many, by rule and principal.
    recent: Mutex<HashMap<RuleAndPrincipal, Window>>,
    /// The principals' work under way, which a suspending alert ends (set once the identity
    /// exists, by [`Alerts::end_work_on_suspension`]).
    ongoing: std::sync::OnceLock<Arc<crate::identity::OngoingWork>>,
}

/// Alert rules, checked, with the UTC offsets of their office hours.
struct Rules {
    rules: Vec<AlertRule>,
    offsets: HashMap<String, FixedOffset>,
}

impl Rules {
    fn checked(rules: &[AlertRule]) -> Result<Self, AlertError> {
        let mut offsets = HashMap::new();
        for rule in rules {
            let invalid = |message: String| AlertError::InvalidRule {
                rule: rule.name.clone(),
                message,
            };
            match &rule.when {
                Condition::ClassifiedRows { classification, .. } => {
                    Classification::new(classification.trim_end_matches(".*")).map_err(|source| {
                        AlertError::InvalidClassification {
                            rule: rule.name.clone(),
                            source,
                        }
                    })?;
                }
                Condition::OutsideHours { utc_offset, .. } => {
                    let offset = utc_offset
                        .parse::<FixedOffset>()
                        .map_err(|_| invalid(format!("'{utc_offset}' is no UTC offset such as +08:00")))?;
                    offsets.insert(rule.name.clone(), offset);
                }
                Condition::SubjectQuota => {}
            }
        }
        // Every rule's counter is written from the start, at 0, so that a rule that has
        // never fired is seen to exist.
        for rule in rules {
            crate::telemetry::metrics()
                .alerts_raised
                .get_or_create(&crate::telemetry::metrics::RuleLabels {
                    rule: rule.name.clone(),
                })
                .inc_by(0);
        }
        Ok(Self {
            rules: rules.to_vec(),
            offsets,
        })
    }
}

/// A rule's name and a principal's id.
type RuleAndPrincipal = (String, String);

/// What one open alert stands for: its rule, its principal, and for an alert about a
/// dataset's control, the dataset and the control (a distinct-person quota reached in one
/// dataset says nothing of another, nor of the guesses a verify grant allows).
type OpenKey = (String, String, String, String);

fn open_key(alert: &AlertRecord) -> OpenKey {
    let text = |name: &str| alert.detail[name].as_str().unwrap_or_default().to_owned();
    (
        alert.rule.clone(),
        alert.principal.clone(),
        text("dataset"),
        text("control"),
    )
}

/// Rows sent lately, with when they were sent, oldest first.
type Window = VecDeque<(DateTime<Utc>, u64)>;

impl Alerts {
    /// Checks the rules and loads the alerts still open.
    pub async fn open(
        config: &AlertsConfig,
        store: MetadataStore,
        audit: AuditLog,
    ) -> Result<Self, AlertError> {
        let rules = Rules::checked(&config.rules)?;
        let open = store
            .list_alerts()
            .await?
            .into_iter()
            .filter(|alert| alert.cleared_at.is_none())
            .map(|alert| (open_key(&alert), alert))
            .collect();
        let webhook = config.webhook.clone().map(|url| {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default();
            (client, url)
        });
        Ok(Self {
            rules: arc_swap::ArcSwap::from_pointee(rules),
            store,
            audit,
            webhook,
            open: Mutex::new(open),
            recent: Mutex::new(HashMap::new()),
            ongoing: std::sync::OnceLock::new(),
        })
    }

    /// Reads the open alerts again, for alerts raised or cleared elsewhere (another replica
    /// on the same store). An alert held here that the store does not hold at all is being
    /// raised and stays; alerts are never deleted, so one the store holds but not as open
    /// is cleared.
    pub async fn reload_open(&self) -> Result<(), AlertError> {
        let stored = self.store.list_open_alerts().await?;
        let held: Vec<AlertRecord> = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|alert| !stored.iter().any(|open| open.id == alert.id))
            .cloned()
            .collect();
        let mut cleared = std::collections::HashSet::new();
        for alert in held {
            if self.store.alert_stored(&alert.id).await? {
                cleared.insert(alert.id);
            }
        }
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Held here and not in the store at all: being raised (perhaps since the store was
        // read), so kept.
        let raising: Vec<AlertRecord> = open
            .values()
            .filter(|alert| !cleared.contains(&alert.id) && !stored.iter().any(|open| open.id == alert.id))
            .cloned()
            .collect();
        // Suspensions raised elsewhere end their principals' work under way here too, as
        // the replica that raised them ended theirs.
        let suspended_elsewhere: Vec<String> = stored
            .iter()
            .filter(|alert| alert.suspends && !open.values().any(|held| held.id == alert.id))
            .map(|alert| alert.principal.clone())
            .collect();
        *open = stored
            .into_iter()
            .map(|alert| (open_key(&alert), alert))
            .collect();
        for alert in raising {
            open.entry(open_key(&alert)).or_insert(alert);
        }
        drop(open);
        if let Some(ongoing) = self.ongoing.get() {
            for principal in suspended_elsewhere {
                tracing::info!(
                    principal,
                    "a suspension raised on another replica ends the work under way here"
                );
                ongoing.end(&principal);
            }
        }
        Ok(())
    }

    /// Has each suspending alert raised from now on end its principal's work under way.
    pub fn end_work_on_suspension(&self, ongoing: Arc<crate::identity::OngoingWork>) {
        // Set once, at start; a second call keeps the first registry.
        let _ = self.ongoing.set(ongoing);
    }

    /// The open alert that suspends `principal`, if any.
    pub fn suspension(&self, principal: &str) -> Option<AlertRecord> {
        let open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.values()
            .find(|alert| alert.suspends && alert.principal == principal)
            .cloned()
    }

    /// Puts `rules` in force instead of the rules before, once they check out; the alerts
    /// already raised stay as they are. For the configuration read again on SIGHUP.
    pub fn replace_rules(&self, rules: &[AlertRule]) -> Result<(), AlertError> {
        self.rules.store(std::sync::Arc::new(Rules::checked(rules)?));
        Ok(())
    }

    /// A query of `principal` is about to run at `now`.
    pub async fn query_started(&self, principal: &Principal, now: DateTime<Utc>) {
        let rules = self.rules.load_full();
        for rule in &rules.rules {
            let Condition::OutsideHours { start, end, days, .. } = &rule.when else {
                continue;
            };
            let Some(offset) = rules.offsets.get(&rule.name) else {
                continue;
            };
            let local = now.with_timezone(offset);
            if !in_office_hours(&local, *start, *end, days) {
                let detail = json!({ "local_time": local.to_rfc3339() });
                self.raise(rule, &principal.id, detail, now).await;
            }
        }
    }

    /// A query of `principal` that read columns of these classifications sent `rows`.
    pub async fn query_finished(
        &self,
        principal: &str,
        classifications: &BTreeSet<String>,
        rows: u64,
        now: DateTime<Utc>,
    ) {
        let rules = self.rules.load_full();
        for rule in &rules.rules {
            let Condition::ClassifiedRows {
                classification,
                threshold,
                window,
            } = &rule.when
            else {
                continue;
            };
            let read = classifications
                .iter()
                .any(|tag| Classification::new(tag).is_ok_and(|tag| tag.matches(classification)));
            if !read || rows == 0 {
                continue;
            }
            let in_window = {
                let mut recent = self
                    .recent
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let entries = recent
                    .entry((rule.name.clone(), principal.to_owned()))
                    .or_default();
                entries.push_back((now, rows));
                let since = now - chrono::Duration::from_std(*window).unwrap_or(chrono::Duration::MAX);
                while entries.front().is_some_and(|(time, _)| *time < since) {
                    entries.pop_front();
                }
                entries.iter().map(|(_, rows)| rows).sum::<u64>()
            };
            if in_window > *threshold {
                let detail = json!({
                    "classification": classification,
                    "rows": in_window,
                    "threshold": threshold,
                    "window": humantime::format_duration(*window).to_string(),
                });
                self.raise(rule, principal, detail, now).await;
            }
        }
    }

    /// A control that counts people stopped `principal` (`detail`: the control, the
    /// dataset, the limit).
    pub async fn subject_quota_reached(
        &self,
        principal: &str,
        detail: serde_json::Value,
        now: DateTime<Utc>,
    ) {
        let rules = self.rules.load_full();
        let built_in = AlertRule {
            name: "subject-quota".into(),
            when: Condition::SubjectQuota,
            suspend: false,
        };
        let rule = rules
            .rules
            .iter()
            .find(|rule| matches!(rule.when, Condition::SubjectQuota))
            .unwrap_or(&built_in);
        self.raise(rule, principal, detail, now).await;
    }

    async fn raise(
        &self,
        rule: &AlertRule,
        principal: &str,
        mut detail: serde_json::Value,
        now: DateTime<Utc>,
    ) {
        if let Some(fields) = detail.as_object_mut() {
            fields.insert("condition".into(), rule.when.kind().into());
        }
        let alert = AlertRecord {
            id: format!("alert-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            rule: rule.name.clone(),
            principal: principal.to_owned(),
            suspends: rule.suspend,
            raised_at: now,
            detail,
            cleared_at: None,
            cleared_by: None,
            cleared_reason: None,
        };
        let key = open_key(&alert);
        {
            let mut open = self
                .open
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if open.contains_key(&key) {
                return;
            }
            open.insert(key, alert.clone());
        }
        tracing::warn!(alert = %alert.id, rule = %alert.rule, principal, suspends = alert.suspends, "alert raised");
        crate::telemetry::metrics()
            .alerts_raised
            .get_or_create(&crate::telemetry::metrics::RuleLabels {
                rule: alert.rule.clone(),
            })
            .inc();
        // A suspension stops the principal's queries already under way too, not only the
        // next ones.
        if alert.suspends
            && let Some(ongoing) = self.ongoing.get()
        {
            ongoing.end(principal);
        }
        if let Err(error) = self.store.insert_alert(&alert).await {
            tracing::error!(%error, alert = %alert.id, "alert not stored");
        }
        let mut record = Event::new(Action::AlertRaised, Outcome::Ok);
        record.principal = Some(principal.to_owned());
        record.detail = serde_json::to_string(&alert).ok();
        self.audit.record_done(record).await;
        if let Some((client, url)) = &self.webhook {
            let (client, url, body) = (client.clone(), url.clone(), alert);
            tokio::spawn(async move {
                let sent = client.post(&url).json(&body).send().await;
                match sent.map(|response| response.error_for_status()) {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) | Err(error) => {
                        tracing::warn!(%error, alert = %body.id, "the alert webhook did not take the alert")
                    }
                }
            });
        }
    }

    /// Every alert, oldest first.
    pub async fn list(&self) -> Result<Vec<AlertRecord>, AlertError> {
        Ok(self.store.list_alerts().await?)
    }

    /// Clears open alert `id`: a suspension it caused ends. Recorded before it takes effect.
    pub async fn clear(
        &self,
        id: &str,
        by: &Principal,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<AlertRecord, AlertError> {
        let mut alert = self
            .store
            .list_alerts()
            .await?
            .into_iter()
            .find(|alert| alert.id == id && alert.cleared_at.is_none())
            .ok_or_else(|| AlertError::NotFound(id.to_owned()))?;
        alert.cleared_at = Some(now);
        alert.cleared_by = Some(by.id.clone());
        alert.cleared_reason = reason.map(str::to_owned);
        let mut record = Event::by(Action::AlertCleared, Outcome::Ok, by);
        record.detail = serde_json::to_string(&alert).ok();
        self.audit.record(record).await?;
        if !self.store.clear_alert(&alert).await? {
            return Err(AlertError::NotFound(id.to_owned()));
        }
        // A poisoned map still has its entries: the suspension must end either way.
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.retain(|_, open| open.id != id);
        drop(open);
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.remove(&(alert.rule.clone(), alert.principal.clone()));
        Ok(alert)
    }
}

/// Whether `local` falls on one of `days` between `start` and `end`; an `end` before `start`
/// means hours past midnight (a night shift), an `end` equal to `start` no hours at all.
fn in_office_hours(
    local: &DateTime<FixedOffset>,
    start: NaiveTime,
    end: NaiveTime,
    days: &[Weekday],
) -> bool {
    let time = local.time();
    days.contains(&local.weekday())
        && if start <= end {
            start <= time && time < end
        } else {
            time >= start || time < end
        }
}

#[cfg(test)]
mod tests;
