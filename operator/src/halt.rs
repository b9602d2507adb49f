//! Halts, pure: whether a bot becomes halted, stays halted or resumes.
//!
//! A halt is a latch kept in `status.halt`. It is set by the manual kill
//! switch (`spec.halted`), by a halt the engine reports, or by a breach the
//! operator sees in the engine's metrics (drawdown, total loss, losing days
//! in a row). It is lifted only by the resume annotation carrying the
//! current halt id, and never while `spec.halted` is true.

use botfleet_crds::HaltStatus;
use botfleet_crds::engine_api::EngineStatus;
use botfleet_crds::limits::PhaseLimits;

/// The halt reason of the manual kill switch.
pub const KILL_SWITCH_REASON: &str = "manual kill switch: spec.halted is true";

/// Who halted the bot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaltSource {
    /// `spec.halted: true`.
    Manual,
    /// The engine halted itself and reported it.
    Engine,
    /// The operator saw a limit breached.
    Breach,
    /// A demotion moves the book to another venue: flatten first.
    BookMove,
}

impl HaltSource {
    /// The reason of the `Halted` condition for a halt from this source.
    pub fn condition_reason(self) -> &'static str {
        use botfleet_crds::condition_reasons as r;
        match self {
            Self::Manual => r::MANUAL_KILL_SWITCH,
            Self::Engine => r::ENGINE_HALTED,
            Self::Breach => r::LIMIT_BREACHED,
            Self::BookMove => r::FLATTEN_BEFORE_MOVE,
        }
    }
}

/// The decision of one reconcile.
#[derive(Clone, Debug, PartialEq)]
pub enum HaltDecision {
    /// Not halted, nothing to do.
    Running,
    /// Halted before and stays halted; `note` explains what would resume it.
    Stay {
        /// Why a resume annotation (if any) did nothing.
        note: Option<String>,
    },
    /// Halt now.
    Halt {
        /// Who halted.
        source: HaltSource,
        /// Why, with the numbers.
        reason: String,
        /// The engine's own halt id when the engine halted itself.
        engine_id: Option<String>,
    },
    /// Lift the current halt.
    Resume {
        /// The halt lifted.
        halt_id: String,
    },
}

/// Inputs of one decision.
#[derive(Clone, Debug)]
pub struct HaltInput<'a> {
    /// `spec.halted`.
    pub manual: bool,
    /// `status.halt`.
    pub latched: Option<&'a HaltStatus>,
    /// The value of the resume annotation.
    pub resume_annotation: Option<&'a str>,
    /// The engine's status, when it answered.
    pub engine: Option<&'a EngineStatus>,
    /// The limits in force in the phase the engine reports (hard caps
    /// included: `RiskPolicySpec::effective_limits`), used for breaches.
    pub engine_limits: Option<&'a PhaseLimits>,
}

/// Decides. A halt the engine still reports under the id that was already
/// resumed (the annotation's value) is not adopted again.
pub fn decide(input: &HaltInput<'_>) -> HaltDecision {
    if let Some(halt) = input.latched {
        return match input.resume_annotation {
            Some(id) if id == halt.id && input.manual => HaltDecision::Stay {
                note: Some(
                    "spec.halted is true: set it to false to let the resume annotation lift the halt"
                        .into(),
                ),
            },
            Some(id) if id == halt.id => HaltDecision::Resume {
                halt_id: halt.id.clone(),
            },
            _ => HaltDecision::Stay { note: None },
        };
    }
    if input.manual {
        return HaltDecision::Halt {
            source: HaltSource::Manual,
            reason: KILL_SWITCH_REASON.into(),
            engine_id: None,
        };
    }
    let Some(engine) = input.engine else {
        return HaltDecision::Running;
    };
    if let Some(h) = &engine.halt
        && input.resume_annotation != Some(h.id.as_str())
    {
        return HaltDecision::Halt {
            source: HaltSource::Engine,
            reason: format!("engine halted itself: {}", h.reason),
            engine_id: Some(h.id.clone()),
        };
    }
    if let Some(limits) = input.engine_limits
        && let Some(b) = botfleet_crds::breach(&engine.window, limits, engine.phase)
    {
        return HaltDecision::Halt {
            source: HaltSource::Breach,
            reason: b.message,
            engine_id: None,
        };
    }
    HaltDecision::Running
}

/// A halt id: time-ordered and unique per bot (`h-<unix ms>-<uid prefix>`).
pub fn new_halt_id(now_ms: i64, uid: &str) -> String {
    let prefix: String = uid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(6)
        .collect();
    format!("h-{now_ms}-{prefix}")
}

#[cfg(test)]
#[path = "halt_tests.rs"]
mod tests;
