//! `RiskPolicy` (short name `risk`): limits, tiers, gates, the capital
//! schedule and what to do on a halt. Shared by many bots. Every field has a
//! default (the seed figures), so `spec: {}` is a complete policy.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::amount::{Amount, Percent};
use crate::common::Phase;
use crate::gates::Gates;
use crate::limits::{Limits, PhaseLimits};
use crate::sizing::Sizing;
use crate::tiers::{RiskTier, check_tiers, default_tiers, tier_for};
use crate::validation::ValidationErrors;

/// Spec of a RiskPolicy.
// Repeated `printcolumn(type_ = ...)` entries look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "botfleet.dev",
    version = "v1alpha1",
    kind = "RiskPolicy",
    plural = "riskpolicies",
    namespaced,
    shortname = "risk",
    category = "botfleet",
    status = "RiskPolicyStatus",
    derive = "PartialEq",
    doc = "Risk limits per phase, per-symbol risk tiers, promotion gates, the capital schedule and the halt action, shared by many TradingBots.",
    printcolumn(
        name = "Bots",
        type_ = "integer",
        json_path = ".status.bots",
        description = "TradingBots using this policy"
    ),
    printcolumn(
        name = "LR-MaxPos",
        type_ = "number",
        json_path = ".spec.limits.limitedReal.maxPosition",
        description = "LimitedReal absolute position cap"
    ),
    printcolumn(
        name = "LR-DailyLoss",
        type_ = "number",
        json_path = ".spec.limits.limitedReal.dailyLossLimit",
        description = "LimitedReal absolute daily loss limit"
    ),
    printcolumn(
        name = "OnHalt",
        type_ = "string",
        json_path = ".spec.onHalt.action",
        priority = 1
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the operator accepted the policy"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RiskPolicySpec {
    /// Risk limits of each phase (paper, sandbox, limitedReal, scaling); unset fields take the phase's defaults.
    pub limits: Limits,
    /// Per-symbol overrides by risk tier; a symbol's tier is found by its base asset (BTCUSDT → BTC).
    pub tiers: Vec<RiskTier>,
    /// Position sizing (exactly one of fixedFraction, atr, kelly); the phase's caps still bound every entry. Default: fixedFraction 100 %, so the caps decide.
    pub sizing: Sizing,
    /// Promotion gates: what a bot must show in its current phase to move one step up.
    pub gates: Gates,
    /// Capital schedule of the Scaling phase.
    pub capital: CapitalPolicy,
    /// What the operator does when a bot is halted, and where a resumed bot restarts.
    pub on_halt: OnHalt,
}

impl Default for RiskPolicySpec {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            tiers: default_tiers(),
            sizing: Sizing::default(),
            gates: Gates::default(),
            capital: CapitalPolicy::default(),
            on_halt: OnHalt::default(),
        }
    }
}

/// How capital grows in the Scaling phase: one step of the schedule per
/// interval while the bot is profitable, back on a losing interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CapitalPolicy {
    /// Capital of each Scaling step in quote currency, strictly increasing; a bot enters Scaling at the first step.
    pub schedule: Vec<Amount>,
    /// Days between two step decisions (≥ 1).
    #[schemars(range(min = 1))]
    pub step_interval_days: u32,
    /// Conditions over the last interval to move one step up.
    pub step_up: StepUp,
    /// Steps to move down after a losing interval (return below 0); 0 keeps the current step.
    pub step_down_on_loss: u32,
}

impl Default for CapitalPolicy {
    fn default() -> Self {
        Self {
            schedule: [5000u32, 10000, 20000, 35000, 50000]
                .into_iter()
                .map(Amount::from)
                .collect(),
            step_interval_days: 30,
            step_up: StepUp::default(),
            step_down_on_loss: 1,
        }
    }
}

/// Conditions to step capital up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct StepUp {
    /// The interval's return must exceed this % (0 = any profitable interval).
    pub min_return_pct: f64,
    /// The interval's maximum drawdown must stay below this %.
    pub max_drawdown_pct: Percent,
}

impl Default for StepUp {
    fn default() -> Self {
        Self {
            min_return_pct: 0.0,
            max_drawdown_pct: Percent::whole(10),
        }
    }
}

impl CapitalPolicy {
    /// Capital at `step` (0-based), clamped to the last step; `None` when the schedule is empty.
    pub fn amount_at(&self, step: usize) -> Option<Amount> {
        self.schedule
            .get(step.min(self.schedule.len().saturating_sub(1)))
            .copied()
    }

    /// The step after an interval with `return_pct` and `max_drawdown_pct`:
    /// up one when both step-up conditions hold, down `stepDownOnLoss` after
    /// a loss, otherwise unchanged. Never leaves the schedule.
    pub fn next_step(&self, step: usize, return_pct: f64, max_drawdown_pct: f64) -> usize {
        let last = self.schedule.len().saturating_sub(1);
        if return_pct < 0.0 {
            step.saturating_sub(self.step_down_on_loss as usize)
                .min(last)
        } else if return_pct > self.step_up.min_return_pct
            && max_drawdown_pct < self.step_up.max_drawdown_pct.to_f64()
        {
            (step + 1).min(last)
        } else {
            step.min(last)
        }
    }

    fn check(&self, path: &str, errs: &mut ValidationErrors) {
        errs.check(
            !self.schedule.is_empty(),
            format!("{path}.schedule"),
            || "needs at least one step, e.g. [5000, 10000, 20000, 35000, 50000]".into(),
        );
        for (i, amount) in self.schedule.iter().enumerate() {
            errs.check(
                amount.value() > Decimal::ZERO,
                format!("{path}.schedule[{i}]"),
                || "capital steps must be above 0".into(),
            );
            if i > 0 {
                let before = self.schedule[i - 1];
                errs.check(*amount > before, format!("{path}.schedule[{i}]"), || {
                    format!("the schedule must strictly increase: {amount} follows {before}")
                });
            }
        }
        errs.check(
            self.step_interval_days >= 1,
            format!("{path}.stepIntervalDays"),
            || "must be at least 1".into(),
        );
        errs.check(
            self.step_up.min_return_pct.is_finite(),
            format!("{path}.stepUp.minReturnPct"),
            || "must be a finite number".into(),
        );
        errs.check(
            self.step_up.max_drawdown_pct.value() > Decimal::ZERO,
            format!("{path}.stepUp.maxDrawdownPct"),
            || "must be above 0 (a drawdown below 0 % is impossible)".into(),
        );
    }
}

/// What happens to open orders and positions when a bot halts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum HaltAction {
    /// Cancel open orders and keep positions (their stops stay with the engine).
    #[default]
    CancelOrders,
    /// Cancel open orders and close every position at market.
    Flatten,
}

/// The halt action and the resume phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct OnHalt {
    /// `cancelOrders` (default) or `flatten`.
    pub action: HaltAction,
    /// Phase a resumed bot restarts in (Paper, Sandbox or LimitedReal); it must earn the phases above again.
    pub resume_phase: Phase,
}

/// Status of a RiskPolicy, written by the operator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RiskPolicyStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`: the spec passed validation (reason and message say why not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Number of TradingBots that reference this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bots: Option<u32>,
}

/// The limits that apply to one symbol in one phase, tiers included.
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolLimits {
    /// The symbol's tier number, if any tier matched.
    pub tier: Option<u32>,
    /// The smaller of the phase's and the tier's max position %.
    pub max_position_pct: Percent,
    /// The tier's stop-loss if a tier matched, else the phase's.
    pub stop_loss_pct: Percent,
}

impl RiskPolicySpec {
    /// The limits of `phase`.
    pub fn limits_for(&self, phase: Phase) -> &PhaseLimits {
        self.limits.for_phase(phase)
    }

    /// The limits in force in `phase`: [`Self::limits_for`] with the phase's
    /// hard caps applied ([`PhaseLimits::effective`]).
    pub fn effective_limits(&self, phase: Phase) -> PhaseLimits {
        self.limits_for(phase).effective(phase)
    }

    /// The tier of `symbol` (`BTCUSDT` → the tier listing `BTC`, else the catch-all tier).
    pub fn tier_for(&self, symbol: &str) -> Option<&RiskTier> {
        tier_for(&self.tiers, symbol)
    }

    /// Position size and stop-loss for `symbol` in `phase`: a tier can only
    /// lower the max position, and its stop-loss replaces the phase's
    /// (stops are calibrated to the asset's volatility).
    pub fn symbol_limits(&self, phase: Phase, symbol: &str) -> SymbolLimits {
        let limits = self.limits_for(phase);
        match self.tier_for(symbol) {
            Some(t) => SymbolLimits {
                tier: Some(t.tier),
                max_position_pct: limits.max_position_pct.min(t.max_position_pct),
                stop_loss_pct: t.stop_loss_pct,
            },
            None => SymbolLimits {
                tier: None,
                max_position_pct: limits.max_position_pct,
                stop_loss_pct: limits.stop_loss_pct,
            },
        }
    }

    /// Every problem the schema cannot catch, with paths like `spec.limits.limitedReal.maxPosition`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errs = ValidationErrors::new();
        self.limits.check("spec.limits", &mut errs);
        check_tiers(&self.tiers, "spec.tiers", &mut errs);
        self.sizing.check("spec.sizing", &mut errs);
        self.gates.check("spec.gates", &mut errs);
        self.capital.check("spec.capital", &mut errs);
        errs.check(self.on_halt.resume_phase != Phase::Scaling, "spec.onHalt.resumePhase", || {
            "a halted bot may not resume straight into Scaling; use Paper, Sandbox or LimitedReal".into()
        });
        errs.into_result()
    }
}
