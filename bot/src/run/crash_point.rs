//! Crash points for the kill -9 tests: with
//! `BOTFLEET_TEST_CRASH_AT=<point>:<n>` in its environment the engine
//! SIGKILLs itself the n-th time it reaches `<point>`, so a test can stop it
//! exactly between storing an order and sending it, or between the venue's
//! answer and storing the fills. Points: `before-send`, `after-send`,
//! `after-store`, `restored` (a restart decided its capital transfer and
//! phase window, nothing of it stored yet).
//!
//! Test-only: compiled in with the `test-crash-points` cargo feature, which
//! the tests turn on (bot's `[dev-dependencies]`). Without it — every
//! `cargo build`, every release image — [`reached`] is an empty inline
//! function and neither the variable's name nor the kill is in the binary.
//! With it, and without the variable, a crash point costs one relaxed
//! atomic load.

/// Marks `point`; kills the process if the armed crash is due.
#[cfg(not(feature = "test-crash-points"))]
#[inline(always)]
pub fn reached(_point: &str) {}

#[cfg(feature = "test-crash-points")]
pub use armed::{CRASH_AT_ENV, reached};

#[cfg(feature = "test-crash-points")]
mod armed {
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
}
