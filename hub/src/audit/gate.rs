//! Changes that are recorded before they take effect.
//!
//! An audited change (a token issued, a client, grant, request or dataset changed, the log
//! read) runs its checks first, then passes its [`Gate`]: the gate writes the change's
//! record and waits until it is on disk, and only then may the change take effect. When the
//! log cannot be written the gate stays shut and the change is refused with
//! `audit_unavailable`. A change refused by its checks is recorded as refused; one that
//! fails after its record is on disk (a conflict in the store, say) gets a second record
//! saying that it did not take effect.

use super::event::{Event, Outcome};
use super::operator::OperatorChange;
use super::{AuditError, AuditLog};

/// Where a gate's record goes.
pub enum Sink {
    /// The hub's own log.
    Log(AuditLog),
    /// A command on the hub's machine: the running hub's log through its operator socket,
    /// or the log itself when no hub runs.
    Operator(crate::audit::operator::OperatorLog),
}

/// One change's record, written before the change takes effect.
pub struct Gate {
    sink: Sink,
    record: Event,
    state: State,
}

enum State {
    Shut,
    /// The record is on disk; for an operator's change, the channel that reports how it
    /// ended.
    Passed(Option<OperatorChange>),
}

impl Gate {
    pub fn new(audit: &AuditLog, record: Event) -> Self {
        Self {
            sink: Sink::Log(audit.clone()),
            record,
            state: State::Shut,
        }
    }

    pub fn operator(log: crate::audit::operator::OperatorLog, record: Event) -> Self {
        Self {
            sink: Sink::Operator(log),
            record,
            state: State::Shut,
        }
    }

    /// The record as it stands, to add what the checks found (the id a grant will have,
    /// the datasets a decision touches).
    pub fn record(&mut self) -> &mut Event {
        &mut self.record
    }

    /// Writes the record and waits until it is on disk. The change may take effect once
    /// this returns `Ok`, and must not otherwise.
    pub async fn pass(&mut self) -> Result<(), AuditError> {
        if matches!(self.state, State::Passed(_)) {
            return Ok(());
        }
        let record = self.record.clone();
        let change = match &self.sink {
            Sink::Log(audit) => {
                audit.record(record).await?;
                None
            }
            Sink::Operator(log) => Some(log.begin(record).await?),
        };
        self.state = State::Passed(change);
        Ok(())
    }

    /// Records how the change ended: refused by its checks (`error` before passing), or not
    /// taking effect after its record was written (`error` after passing). Returns an
    /// error when even the refusal cannot be recorded.
    pub async fn close(self, error: Option<(Outcome, &str, &str)>) -> Result<(), AuditError> {
        match (self.state, error) {
            (State::Passed(change), None) => {
                if let Some(change) = change {
                    change.finish(None).await;
                }
                Ok(())
            }
            (State::Passed(change), Some((outcome, class, message))) => {
                let message = format!("the change recorded before did not take effect: {message}");
                match change {
                    Some(change) => change.finish(Some(message)).await,
                    None => {
                        if let Sink::Log(audit) = &self.sink {
                            audit.enqueue(self.record.failed(outcome, class, message));
                        }
                    }
                }
                Ok(())
            }
            (State::Shut, Some((outcome, class, message))) => {
                let record = self.record.failed(outcome, class, message);
                match &self.sink {
                    Sink::Log(audit) => audit.record(record).await.map(|_| ()),
                    Sink::Operator(log) => {
                        log.begin(record).await?.finish(None).await;
                        Ok(())
                    }
                }
            }
            // Ended well without ever passing: nothing took effect that needed the record
            // first, but the action is still recorded.
            (State::Shut, None) => match &self.sink {
                Sink::Log(audit) => audit.record(self.record).await.map(|_| ()),
                Sink::Operator(log) => {
                    log.begin(self.record).await?.finish(None).await;
                    Ok(())
                }
            },
        }
    }
}
