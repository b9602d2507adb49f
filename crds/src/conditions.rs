//! The conditions on a TradingBot: their types, statuses and reasons. The
//! operator writes them, the plugin and alerts read them; spelled once here.

/// Condition types written on a TradingBot.
pub mod condition_types {
    /// The bot is running as specified.
    pub const READY: &str = "Ready";
    /// The engine answers its health and status endpoints.
    pub const ENGINE_HEALTHY: &str = "EngineHealthy";
    /// The gate to the next phase is met.
    pub const GATE_SATISFIED: &str = "GateSatisfied";
    /// A requested promotion is refused; the message names every unmet criterion.
    pub const PROMOTION_BLOCKED: &str = "PromotionBlocked";
    /// The bot is halted; the message gives the reason and halt id.
    pub const HALTED: &str = "Halted";
    /// The engine reports the operator's halt, under the same id (`True`);
    /// `False` while a latched halt is not confirmed yet.
    pub const HALT_CONFIRMED: &str = "HaltConfirmed";
}

/// The reasons the operator gives, by condition. Resolution problems
/// (`StrategyNotFound`, `InvalidSpec`, …) come from the operator's resolver.
pub mod condition_reasons {
    /// Ready: the engine trades in the effective phase.
    pub const TRADING: &str = "Trading";
    /// Ready: the workload is applied but the engine does not answer yet.
    pub const ENGINE_NOT_HEALTHY: &str = "EngineNotHealthy";
    /// Ready and Halted: the bot is halted (a halt whose cause is unknown).
    pub const HALTED: &str = "Halted";
    /// EngineHealthy: `/status` answered.
    pub const STATUS_OK: &str = "StatusOK";
    /// EngineHealthy: the pod has no IP yet.
    pub const NO_POD_IP: &str = "NoPodIP";
    /// EngineHealthy: polls failed past the threshold.
    pub const POLL_FAILED: &str = "PollFailed";
    /// EngineHealthy: polls fail, below the threshold.
    pub const POLL_FAILING: &str = "PollFailing";
    /// GateSatisfied: every criterion met.
    pub const GATE_MET: &str = "GateMet";
    /// GateSatisfied / PromotionBlocked: a criterion is not met.
    pub const GATE_NOT_MET: &str = "GateNotMet";
    /// GateSatisfied: Scaling is the last phase.
    pub const NO_FURTHER_PHASE: &str = "NoFurtherPhase";
    /// PromotionBlocked: nothing is asked for.
    pub const NOT_BLOCKED: &str = "NotBlocked";
    /// PromotionBlocked: more than one step was asked for.
    pub const SKIP_REFUSED: &str = "SkipRefused";
    /// PromotionBlocked: the engine's metrics of this phase are not available.
    pub const METRICS_UNAVAILABLE: &str = "MetricsUnavailable";
    /// PromotionBlocked: the bot holds a position or an order.
    pub const NOT_FLAT: &str = "NotFlat";
    /// Halted: `spec.halted` is true.
    pub const MANUAL_KILL_SWITCH: &str = "ManualKillSwitch";
    /// Halted: the engine halted itself.
    pub const ENGINE_HALTED: &str = "EngineHalted";
    /// Halted: the operator saw a halting limit breached.
    pub const LIMIT_BREACHED: &str = "LimitBreached";
    /// Halted: the bot was halted to flatten its book before a phase change
    /// that moves it to another venue.
    pub const FLATTEN_BEFORE_MOVE: &str = "FlattenBeforeMove";
    /// HaltConfirmed: the engine reports the latched halt.
    pub const ENGINE_CONFIRMED: &str = "EngineConfirmed";
    /// HaltConfirmed: the engine does not report the latched halt (yet).
    pub const NOT_CONFIRMED: &str = "NotConfirmed";
    /// Ready: the engine image is not in the operator's trusted images;
    /// nothing is rendered or started for it.
    pub const UNTRUSTED_IMAGE: &str = "UntrustedImage";
    /// Ready: a child's name (`<bot>-config`, the StatefulSet, ...) is taken
    /// by an object this bot does not own; it is not taken over.
    pub const CHILD_CONFLICT: &str = "ChildConflict";
    /// Halted: the bot is not halted.
    pub const NOT_HALTED: &str = "NotHalted";
}

/// A condition's status, as Kubernetes spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    /// `True` or `False`.
    pub fn from_bool(b: bool) -> Self {
        if b { Self::True } else { Self::False }
    }

    /// The string written in `status.conditions[].status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

impl std::fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
