//! Crash points for the kill -9 tests: with
//! `BOTFLEET_TEST_CRASH_AT=<point>:<n>` in its environment the engine
//! SIGKILLs itself the n-th time it reaches `<point>`, so a test can stop it
//! exactly between storing an order and sending it, or between the venue's
//! answer and storing the fills. Without the variable a crash point costs
//! one relaxed atomic load. Points: `before-send`, `after-send`,
//! `after-store`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Name of the variable (tests only).
pub const CRASH_AT_ENV: &str = "BOTFLEET_TEST_CRASH_AT";

struct Armed {
    point: String,
    at: u64,
    hits: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var(CRASH_AT_ENV).ok()?;
            let (point, at) = value.split_once(':')?;
            Some(Armed {
                point: point.to_string(),
                at: at.parse().ok()?,
                hits: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Marks `point`; kills the process if the armed crash is due.
pub fn reached(point: &str) {
    let Some(armed) = armed() else {
        return;
    };
    if armed.point == point && armed.hits.fetch_add(1, Ordering::Relaxed) + 1 == armed.at {
        tracing::warn!(point, "crash point reached: SIGKILL");
        // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
