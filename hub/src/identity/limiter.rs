//! Failed sign-in attempts, counted per client id and per address: past the limit within
//! the window, further attempts are refused until the oldest failure leaves the window.
//!
//! The two limits differ so that neither locks out the other: a client id's limit stops
//! guessing one secret from anywhere, and the larger address limit stops one address trying
//! many clients, so that a dozen wrong secrets for one client do not lock out every other
//! client behind the same address.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct FailureLimiter {
    /// Failures allowed per key that is not an address (`client:<id>`).
    max_failures: usize,
    /// Failures allowed per `address:<ip>` key.
    max_per_address: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl FailureLimiter {
    pub fn new(max_failures: u32, max_per_address: u32, window: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1) as usize,
            max_per_address: max_per_address.max(1) as usize,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn limit(&self, key: &str) -> usize {
        if key.starts_with("address:") {
            self.max_per_address
        } else {
            self.max_failures
        }
    }

    /// Checks the limits and counts the attempt as failed, in one step, so that attempts sent
    /// together cannot all pass before any of them is counted; [`Self::succeeded`] takes the
    /// count back. The wait, when any of `keys` is over its limit.
    pub fn attempt(&self, keys: &[String]) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wait = None;
        for key in keys {
            let times = failures.entry(key.clone()).or_default();
            forget_old(times, now, self.window);
            if times.len() >= self.limit(key)
                && let Some(oldest) = times.front()
            {
                wait = wait.max(Some(self.window.saturating_sub(now - *oldest)));
            }
        }
        if wait.is_none() {
            for key in keys {
                failures.entry(key.clone()).or_default().push_back(now);
            }
        }
        // Keys with no recent failure are dropped, so the map stays small.
        failures.retain(|_, times| times.back().is_some_and(|last| now - *last < self.window));
        wait.map_or(Ok(()), Err)
    }

    /// Takes back the count of an attempt that succeeded.
    pub fn succeeded(&self, keys: &[String]) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for key in keys {
            if let Some(times) = failures.get_mut(key) {
                times.pop_back();
            }
        }
        failures.retain(|_, times| !times.is_empty());
    }
}

fn forget_old(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times.front().is_some_and(|oldest| now - *oldest >= window) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_past_the_limit_wait_for_the_window() {
        let limiter = FailureLimiter::new(3, 5, Duration::from_secs(60));
        let address = "address:10.0.0.1".to_owned();
        let keys = ["client:a".to_owned(), address.clone()];
        for _ in 0..3 {
            assert!(limiter.attempt(&keys).is_ok());
        }
        let wait = limiter.attempt(&keys).unwrap_err();
        assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(60));
        // Another client behind the same address is not locked out by one client's failures
        // (three of the address's five are used).
        let other = ["client:b".to_owned(), address.clone()];
        assert!(limiter.attempt(&other).is_ok());
        // Many clients tried from one address lock the address.
        assert!(limiter.attempt(&["client:c".to_owned(), address.clone()]).is_ok());
        assert!(limiter.attempt(&other).is_err());
        assert!(
            limiter
                .attempt(&["client:b".to_owned(), "address:10.0.0.2".to_owned()])
                .is_ok()
        );
    }

    #[test]
    fn attempts_made_together_are_counted_before_they_are_checked() {
        let limiter = FailureLimiter::new(2, 100, Duration::from_secs(60));
        let keys = ["client:a".to_owned()];
        // Two attempts in flight at once use up the limit; the third waits.
        assert!(limiter.attempt(&keys).is_ok());
        assert!(limiter.attempt(&keys).is_ok());
        assert!(limiter.attempt(&keys).is_err());
        // One of them succeeds: its count is taken back.
        limiter.succeeded(&keys);
        assert!(limiter.attempt(&keys).is_ok());
    }

    #[test]
    fn failures_expire() {
        let limiter = FailureLimiter::new(1, 1, Duration::from_millis(20));
        let keys = ["client:a".to_owned()];
        assert!(limiter.attempt(&keys).is_ok());
        assert!(limiter.attempt(&keys).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limiter.attempt(&keys).is_ok());
    }
}
