//! The work each principal has under way, ended when their access ends: a client disabled,
//! its secret or password changed, a suspending alert raised. Tokens stop at the next request ([`super::Identity::admit`]);
//! this stops what an earlier request started, such as a query still streaming its rows.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

/// One cancellation token per principal with work under way, cancelled (and forgotten) when
/// its access ends.
#[derive(Debug, Default)]
pub struct OngoingWork {
    principals: Mutex<HashMap<String, CancellationToken>>,
}

impl OngoingWork {
    /// A token for one piece of `principal`'s work: cancelled when their access ends.
    pub fn start(&self, principal: &str) -> CancellationToken {
        let mut principals = self.principals.lock().unwrap_or_else(PoisonError::into_inner);
        principals.entry(principal.to_owned()).or_default().child_token()
    }

    /// Ends every piece of `principal`'s work under way. Work started afterwards gets a new
    /// token (the request that starts it has passed the identity's checks again).
    pub fn end(&self, principal: &str) {
        let ended = self
            .principals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(principal);
        if let Some(ended) = ended {
            ended.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_a_principals_access_cancels_their_work_only() {
        let ongoing = OngoingWork::default();
        let theirs = ongoing.start("analyst");
        let others = ongoing.start("officer");
        ongoing.end("analyst");
        assert!(theirs.is_cancelled());
        assert!(!others.is_cancelled());
        // Work started after the end is not born cancelled.
        assert!(!ongoing.start("analyst").is_cancelled());
    }
}
