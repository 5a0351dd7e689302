//! What the hub knows of its sources' health from reading them: a dataset whose last read
//! failed is unavailable, with the reason, until a read of it succeeds again.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

/// The last failed read of each dataset that has not read well since.
#[derive(Debug, Default)]
pub struct SourceHealth {
    failing: Mutex<BTreeMap<String, SourceFailure>>,
}

/// Why a dataset's source could not be read, in words without row values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceFailure {
    pub reason: String,
    pub since: DateTime<Utc>,
}

impl SourceHealth {
    pub fn failed(&self, dataset: &str, reason: &str) {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        failing
            .entry(dataset.to_owned())
            .and_modify(|failure| failure.reason = reason.to_owned())
            .or_insert_with(|| SourceFailure {
                reason: reason.to_owned(),
                since: Utc::now(),
            });
    }

    pub fn read_well(&self, dataset: &str) {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        failing.remove(dataset);
    }

    /// The datasets whose last read failed, by name.
    pub fn failing(&self) -> BTreeMap<String, SourceFailure> {
        self.failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
