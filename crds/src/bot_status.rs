//! Status of a TradingBot, written by the operator: effective phase, state,
//! conditions, metrics, the gate table, capital, halt and phase history.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use rust_decimal::RoundingStrategy;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::amount::{Amount, SignedAmount};
use crate::common::{Phase, optional_enum};
use crate::conditions::ConditionStatus;
use crate::gates::Comparison;

/// What the bot is doing right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BotState {
    /// The engine is starting or restoring its state.
    Starting,
    /// Trading normally.
    Trading,
    /// New entries paused (daily loss limit, flash-crash breaker) until the time in status.
    Paused,
    /// Halted: no trading until a deliberate resume.
    Halted,
    /// The engine is unreachable or unhealthy.
    Degraded,
}

/// Most entries kept in `status.phaseHistory` (oldest dropped first).
pub const PHASE_HISTORY_LIMIT: usize = 20;

/// Status of a TradingBot, written by the operator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TradingBotStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Effective phase: the phase the engine trades in (spec.phase is the desired one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_enum::<Phase>")]
    pub phase: Option<Phase>,
    /// Starting, Trading, Paused, Halted or Degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_enum::<BotState>")]
    pub state: Option<BotState>,
    /// Ready, EngineHealthy, GateSatisfied, PromotionBlocked and Halted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Performance measured since the current phase started (rounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<BotMetrics>,
    /// The gate to the next phase, criterion by criterion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateStatus>,
    /// Capital currently allocated to the bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capital: Option<CapitalStatus>,
    /// The active halt, if the bot is halted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halt: Option<HaltStatus>,
    /// Recent phase changes, oldest first (at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub phase_history: Vec<PhaseTransition>,
    /// The image the engine pod actually runs, by digest, as the kubelet reports it (the pod's status.containerStatuses[].imageID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_image_id: Option<String>,
    /// PhaseApprovals used to enter a real-money phase, oldest first (at most 20): who approved, which object, when it was used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub approvals: Vec<ApprovalRecord>,
}

impl TradingBotStatus {
    /// Appends a transition, dropping the oldest beyond [`PHASE_HISTORY_LIMIT`].
    pub fn push_phase_transition(&mut self, transition: PhaseTransition) {
        self.phase_history.push(transition);
        let excess = self.phase_history.len().saturating_sub(PHASE_HISTORY_LIMIT);
        self.phase_history.drain(..excess);
    }

    /// Records a used approval, dropping the oldest beyond [`PHASE_HISTORY_LIMIT`].
    pub fn push_approval(&mut self, record: ApprovalRecord) {
        self.approvals.push(record);
        let excess = self.approvals.len().saturating_sub(PHASE_HISTORY_LIMIT);
        self.approvals.drain(..excess);
    }

    /// UIDs of the approvals already used (an approval lets a bot in once).
    pub fn used_approval_uids(&self) -> Vec<String> {
        self.approvals.iter().map(|a| a.uid.clone()).collect()
    }

    /// The condition of `type_`, if present.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// True when the condition of `type_` has `status` and `reason`.
    pub fn condition_is(&self, type_: &str, status: ConditionStatus, reason: &str) -> bool {
        self.condition(type_)
            .is_some_and(|c| c.status == status.as_str() && c.reason == reason)
    }
}

/// Performance in the current phase. Money is exact; ratios are statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotMetrics {
    /// Current equity (cash plus open positions at market), quote currency.
    pub equity: SignedAmount,
    /// Return since the phase started, %.
    pub return_pct: f64,
    /// Current drawdown from the equity peak, %.
    pub drawdown_pct: f64,
    /// Largest drawdown from the equity peak in the phase, %.
    pub max_drawdown_pct: f64,
    /// Winning trades as % of closed trades (absent before the first closed trade).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub win_rate_pct: Option<f64>,
    /// Annualized Sharpe ratio (absent until measurable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharpe: Option<f64>,
    /// Closed trades in the phase.
    pub trades: u64,
    /// Positions open now.
    pub open_positions: u32,
    /// Profit or loss since the start of the UTC day, quote currency.
    pub daily_pnl: SignedAmount,
}

impl BotMetrics {
    /// A copy rounded half away from zero for status (money to cents,
    /// statistics to 2 decimals),
    /// so tiny changes do not rewrite the resource.
    pub fn rounded(&self) -> Self {
        let money = |a: SignedAmount| {
            SignedAmount::new(
                a.value()
                    .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
            )
        };
        let stat = |v: f64| (v * 100.0).round() / 100.0;
        Self {
            equity: money(self.equity),
            return_pct: stat(self.return_pct),
            drawdown_pct: stat(self.drawdown_pct),
            max_drawdown_pct: stat(self.max_drawdown_pct),
            win_rate_pct: self.win_rate_pct.map(stat),
            sharpe: self.sharpe.map(stat),
            trades: self.trades,
            open_positions: self.open_positions,
            daily_pnl: money(self.daily_pnl),
        }
    }
}

/// The gate to the next phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateStatus {
    /// The phase this gate leads to.
    pub target_phase: Phase,
    /// True when every criterion is met.
    pub met: bool,
    /// Every criterion with its required and measured value.
    pub criteria: Vec<GateCriterionStatus>,
    /// The hash of what trades (strategy, limits, symbols, image) the
    /// measured window was earned under; absent while the engine still runs
    /// another config (the window restarts when it runs this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trading_hash: Option<String>,
}

/// One gate criterion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateCriterionStatus {
    /// Criterion name, as in the policy (minTrades, minWinRatePct, ...).
    pub name: String,
    /// How measured compares with required: >=, >, < or <=.
    pub comparison: Comparison,
    /// Threshold from the RiskPolicy.
    pub required: f64,
    /// Value measured in the current phase (absent when not measurable yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    /// Whether the criterion holds.
    pub met: bool,
    /// What was measured, in words, where a number does not say it
    /// (`ledgerMatchesVenue`: the differences named, or why there is no check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Capital allocated to the bot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapitalStatus {
    /// Capital the engine may trade with now, quote currency.
    pub allocated: Amount,
    /// Index into the policy's capital schedule (0 = first step); absent outside Scaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    /// The Scaling interval being measured (absent outside Scaling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<CapitalPeriod>,
}

/// The Scaling interval being measured. Written by the operator in the same
/// status apply as the step it decides: it cannot be forged (status is the
/// operator's) nor a step repeated (one write).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapitalPeriod {
    /// When the interval started (RFC 3339); absent until the engine trades in Scaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Equity when it started, quote currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_equity: Option<SignedAmount>,
    /// The engine's time-weighted phase return when it started, %: the
    /// interval's return is measured from it, so a capital transfer (a step)
    /// never counts as profit or loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_return_pct: Option<f64>,
    /// Largest drawdown seen during the interval, %, rounded up to 0.1.
    #[serde(default)]
    pub max_drawdown_pct: f64,
}

/// An active halt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HaltStatus {
    /// Halt id; a resume must name it.
    pub id: String,
    /// Why the bot was halted (limit breached, manual kill switch, ...).
    pub reason: String,
    /// When the halt happened.
    pub at: Time,
}

/// One phase change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTransition {
    /// Phase before (absent for the first entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_enum::<Phase>")]
    pub from: Option<Phase>,
    /// Phase after.
    pub to: Phase,
    /// When it happened.
    pub at: Time,
    /// Why (gate met, manual demotion, resume after halt, ...).
    pub reason: String,
}

/// A PhaseApproval the operator used to move the bot into a real-money phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRecord {
    /// The PhaseApproval's name.
    pub name: String,
    /// The PhaseApproval's UID.
    pub uid: String,
    /// The phase it let the bot into.
    pub phase: Phase,
    /// Who approved (spec.approvedBy, as recorded by the admission webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// The trading hash it approved.
    pub trading_hash: String,
    /// When the operator used it.
    pub used_at: Time,
}
