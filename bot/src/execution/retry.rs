//! When a venue client resends a request, and how long it waits first: the
//! one rule both venue adapters (Binance spot, Coinbase Advanced Trade)
//! follow after a failed attempt. Pure: the clients do the sending and the
//! sleeping.
//!
//! - Rate limited: wait the venue's `Retry-After` (or the backoff when it
//!   sent none) and resend; a `Retry-After` past the policy's limit (a ban)
//!   is returned instead. A rate-limited request was not executed, so even
//!   a create may be resent.
//! - Unavailable (5xx, timeout, transport): resend reads and cancels after
//!   the backoff; a create's outcome is unknown, so it is returned for the
//!   caller to look the order up before any resend.
//! - Anything else is returned at once. So is every error of the last
//!   attempt.

use std::time::Duration;

use super::VenueError;

/// When and how long to retry a failed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = never retry).
    pub max_attempts: u32,
    /// First backoff for 5xx/transport errors and 429s without `Retry-After`; doubles each time.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is returned as a rate-limit error
    /// instead of waited out (418 bans last minutes to days).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// Which calls may be repeated blindly after an unknown outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Reads and cancels: repeating changes nothing.
    Idempotent,
    /// Creates: the caller looks the order up first.
    LookUpFirst,
}

/// The attempts of one request under a [`RetryPolicy`].
#[derive(Clone, Debug)]
pub struct Attempts {
    policy: RetryPolicy,
    repeat: Repeat,
    /// Attempts made so far (the first counts).
    made: u32,
    backoff: Duration,
}

impl Attempts {
    pub fn new(policy: &RetryPolicy, repeat: Repeat) -> Self {
        Self {
            policy: policy.clone(),
            repeat,
            made: 1,
            backoff: policy.initial_backoff,
        }
    }

    /// The attempt that just failed (1 for the first).
    pub fn made(&self) -> u32 {
        self.made
    }

    /// After attempt [`Self::made`] failed with `error`: how long to wait
    /// before the next one, or the error to return.
    pub fn after(&mut self, error: VenueError) -> Result<Duration, VenueError> {
        let last = self.made >= self.policy.max_attempts;
        let wait = match error {
            VenueError::RateLimited { retry_after } => match retry_after {
                Some(a) if a > self.policy.max_retry_after => {
                    return Err(VenueError::RateLimited { retry_after });
                }
                _ if last => return Err(VenueError::RateLimited { retry_after }),
                Some(a) => a,
                None => self.backoff,
            },
            e @ VenueError::Unavailable { .. } => {
                if self.repeat == Repeat::LookUpFirst || last {
                    return Err(e);
                }
                self.backoff
            }
            e => return Err(e),
        };
        self.backoff = (self.backoff * 2).min(self.policy.max_backoff);
        self.made += 1;
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(10),
        }
    }

    fn unavailable() -> VenueError {
        VenueError::Unavailable {
            message: "503".into(),
        }
    }

    fn limited(secs: Option<u64>) -> VenueError {
        VenueError::RateLimited {
            retry_after: secs.map(Duration::from_secs),
        }
    }

    #[test]
    fn reads_back_off_doubling_to_the_cap_then_give_up_on_the_last_attempt() {
        let mut a = Attempts::new(&policy(), Repeat::Idempotent);
        let waits: Vec<u64> = (0..3)
            .map(|_| a.after(unavailable()).unwrap().as_millis() as u64)
            .collect();
        assert_eq!(waits, [100, 200, 300]);
        assert_eq!(a.made(), 4);
        assert!(matches!(
            a.after(unavailable()),
            Err(VenueError::Unavailable { .. })
        ));
    }

    #[test]
    fn a_create_with_an_unknown_outcome_is_never_resent_blindly() {
        let mut a = Attempts::new(&policy(), Repeat::LookUpFirst);
        assert!(matches!(
            a.after(unavailable()),
            Err(VenueError::Unavailable { .. })
        ));
    }

    #[test]
    fn a_rate_limit_waits_the_venues_retry_after_even_for_a_create() {
        let mut a = Attempts::new(&policy(), Repeat::LookUpFirst);
        assert_eq!(a.after(limited(Some(2))).unwrap(), Duration::from_secs(2));
        // Without Retry-After: the backoff, which still doubles.
        assert_eq!(a.after(limited(None)).unwrap(), Duration::from_millis(200));
    }

    #[test]
    fn a_ban_longer_than_the_policy_allows_is_returned_not_waited_out() {
        let mut a = Attempts::new(&policy(), Repeat::Idempotent);
        assert!(matches!(
            a.after(limited(Some(600))),
            Err(VenueError::RateLimited { .. })
        ));
    }

    #[test]
    fn other_errors_are_returned_at_once() {
        let mut a = Attempts::new(&policy(), Repeat::Idempotent);
        let refused = VenueError::Exchange {
            code: -2010,
            message: "refused".into(),
        };
        assert!(matches!(
            a.after(refused),
            Err(VenueError::Exchange { code: -2010, .. })
        ));
    }
}
