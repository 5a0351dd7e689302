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

    /// How long to wait before trying again, when any of `keys` is over the limit.
    pub fn retry_after(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        // A poisoned map still holds the failures: recover it, never forget them.
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.iter()
            .filter_map(|key| {
                let times = failures.get_mut(key)?;
                forget_old(times, now, self.window);
                (times.len() >= self.limit(key))
                    .then(|| {
                        times
                            .front()
                            .map(|oldest| self.window.saturating_sub(now - *oldest))
                    })
                    .flatten()
            })
            .max()
    }

    fn limit(&self, key: &str) -> usize {
        if key.starts_with("address:") {
            self.max_per_address
        } else {
            self.max_failures
        }
    }

    pub fn record_failure(&self, keys: &[String]) {
        let now = Instant::now();
        {
            let mut failures = self
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for key in keys {
                let times = failures.entry(key.clone()).or_default();
                forget_old(times, now, self.window);
                times.push_back(now);
            }
            // Keys with no recent failure are dropped, so the map stays small.
            failures.retain(|_, times| times.back().is_some_and(|last| now - *last < self.window));
        }
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
        for _ in 0..2 {
            limiter.record_failure(&keys);
            assert_eq!(limiter.retry_after(&keys), None);
        }
        limiter.record_failure(&keys);
        let wait = limiter.retry_after(&keys).unwrap();
        assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(60));
        // Another client behind the same address is not locked out by one client's failures.
        let other = ["client:b".to_owned(), address.clone()];
        assert_eq!(limiter.retry_after(&other), None);
        // Many clients tried from one address lock the address.
        limiter.record_failure(&["client:c".to_owned(), address.clone()]);
        limiter.record_failure(&["client:d".to_owned(), address.clone()]);
        assert!(limiter.retry_after(&other).is_some());
        assert_eq!(
            limiter.retry_after(&["client:b".to_owned(), "address:10.0.0.2".to_owned()]),
            None
        );
    }

    #[test]
    fn failures_expire() {
        let limiter = FailureLimiter::new(1, 1, Duration::from_millis(20));
        let keys = ["client:a".to_owned()];
        limiter.record_failure(&keys);
        assert!(limiter.retry_after(&keys).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(limiter.retry_after(&keys), None);
    }
}
