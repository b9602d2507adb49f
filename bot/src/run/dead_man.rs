//! The dead-man switch: an engine nobody supervises opens no new positions.
//!
//! The operator polls `GET /status` on every reconcile. When no poll has
//! arrived for the phase's `deadManMinutes` (default 5 in LimitedReal and
//! Scaling, where 0 is refused; off by default in Paper and Sandbox), the
//! trading loop sets an entry hold on the risk engine: every entry is
//! refused naming `deadManMinutes`, while exits, stop-losses, take-profits,
//! trailing stops and halts keep working. The next poll lifts it (within
//! the loop's one-second tick). `/status` shows the hold as a `pause` with
//! no `until` (it lasts until an event: the next poll), `state: Paused` and
//! a `deadManMinutes` entry in `limitsHit`; `/metrics` as
//! `botfleet_engine_dead_man_tripped`, with the age of the last poll in
//! `botfleet_engine_status_poll_age_seconds`.
//!
//! `/status` is unauthenticated, so any client that polls it keeps the
//! switch from tripping: it guards against a dead or partitioned operator,
//! not against a hostile one on the pod network.
//!
//! The engine's start counts as a poll: a fresh or restarted engine trades
//! for one window before it needs the operator.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use botfleet_crds::PhaseLimits;

use super::status::rfc3339;
use crate::engine::Engine;
use crate::risk::{EntryHold, Limit};

/// When `GET /status` was last asked for; shared by the HTTP handler (which
/// touches it) and the trading loop (which reads it).
#[derive(Debug)]
pub struct PollClock {
    start: Instant,
    /// Wall clock (Unix ms) at `start`, for messages.
    start_wall: i64,
    /// Milliseconds after `start` of the last poll (0: none yet, the start
    /// counts as one).
    last: AtomicU64,
    polled: std::sync::atomic::AtomicBool,
}

impl PollClock {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            start_wall: chrono::Utc::now().timestamp_millis(),
            last: AtomicU64::new(0),
            polled: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A poll arrived now.
    pub fn touch(&self) {
        let at = self.start.elapsed().as_millis() as u64;
        self.last.fetch_max(at, Ordering::Relaxed);
        self.polled.store(true, Ordering::Relaxed);
    }

    /// Time since the last poll (or since the start, before the first).
    pub fn since_last(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// `last poll at <time>`, or `no poll since the engine started at <time>`.
    fn describe_last(&self) -> String {
        let at = self.start_wall + self.last.load(Ordering::Relaxed) as i64;
        if self.polled.load(Ordering::Relaxed) {
            format!("last poll at {}", rfc3339(at))
        } else {
            format!("no poll since the engine started at {}", rfc3339(at))
        }
    }
}

impl Default for PollClock {
    fn default() -> Self {
        Self::new()
    }
}

/// The phase's window, `None` when the switch is off (`deadManMinutes: 0`).
pub fn window(limits: &PhaseLimits) -> Option<Duration> {
    match limits.dead_man_minutes.as_millis() {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    }
}

/// What the loop does about the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Hold entries: nobody polled for the whole window.
    Trip,
    /// A poll arrived (or the switch was turned off): entries may open again.
    Lift,
    /// Nothing changes.
    Keep,
}

/// The switch's decision: tripped once the time since the last poll reaches
/// the window, lifted as soon as it is back under it (or the switch is off).
pub fn decide(window: Option<Duration>, since_last_poll: Duration, held: bool) -> Decision {
    let due = window.is_some_and(|w| since_last_poll >= w);
    match (due, held) {
        (true, false) => Decision::Trip,
        (false, true) => Decision::Lift,
        _ => Decision::Keep,
    }
}

/// Applies the switch to `engine` at `now` (the engine's clock); returns the
/// transition, if any, for the log, the audit record and the metrics.
pub fn update(engine: &mut Engine, polls: &PollClock, now: i64) -> Decision {
    let limits = engine.risk().limits();
    let window = window(limits);
    let since = polls.since_last();
    let held = engine
        .risk()
        .entry_hold()
        .is_some_and(|h| h.limit == Limit::DeadManMinutes);
    let decision = decide(window, since, held);
    match decision {
        Decision::Trip => {
            let minutes = limits.dead_man_minutes;
            let reason = format!(
                "dead-man switch: no operator poll (GET /status) for {}s, limit deadManMinutes {minutes} \
                 ({}); no new positions until the next poll (exits and stops keep working)",
                since.as_secs(),
                polls.describe_last()
            );
            tracing::warn!(%reason, "dead-man switch tripped: new entries held");
            // The engine's own field: the run loop is the only writer of holds.
            engine.risk.set_entry_hold(Some(EntryHold {
                limit: Limit::DeadManMinutes,
                since: now,
                reason,
            }));
        }
        Decision::Lift => {
            tracing::info!("dead-man switch lifted: polled again; entries allowed");
            engine.risk.set_entry_hold(None);
        }
        Decision::Keep => {}
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use botfleet_crds::{Minutes, Phase};

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn trips_at_the_window_and_lifts_on_the_next_poll() {
        let five = Some(5 * MIN);
        assert_eq!(decide(five, 4 * MIN, false), Decision::Keep);
        assert_eq!(decide(five, 5 * MIN, false), Decision::Trip);
        assert_eq!(decide(five, 9 * MIN, true), Decision::Keep);
        // A poll brings the age back to 0.
        assert_eq!(decide(five, Duration::ZERO, true), Decision::Lift);
        assert_eq!(decide(five, Duration::ZERO, false), Decision::Keep);
    }

    #[test]
    fn off_never_trips_and_turning_it_off_lifts() {
        assert_eq!(decide(None, 1000 * MIN, false), Decision::Keep);
        assert_eq!(decide(None, 1000 * MIN, true), Decision::Lift);
    }

    #[test]
    fn the_window_comes_from_the_phase_limits() {
        let mut limits = PhaseLimits::default_for(Phase::LimitedReal);
        assert_eq!(window(&limits), Some(5 * MIN));
        assert_eq!(window(&PhaseLimits::default_for(Phase::Paper)), None);
        limits.dead_man_minutes = "0.05".parse::<Minutes>().unwrap();
        assert_eq!(window(&limits), Some(Duration::from_secs(3)));
    }

    #[test]
    fn the_poll_clock_counts_from_the_start_then_from_each_poll() {
        let clock = PollClock::new();
        assert!(
            clock
                .describe_last()
                .starts_with("no poll since the engine started at ")
        );
        std::thread::sleep(Duration::from_millis(30));
        assert!(clock.since_last() >= Duration::from_millis(30));
        clock.touch();
        assert!(clock.since_last() < Duration::from_millis(30));
        assert!(clock.describe_last().starts_with("last poll at "));
    }
}
