//! `RiskPolicy.spec.gates`: what a bot must show in its current phase before
//! it may be promoted one step.
//!
//! Thresholds are `f64`: they are compared with statistics (win rate,
//! Sharpe, drawdown) that are themselves computed in floating point from a
//! series of returns; they never size an order or touch a balance.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize};

use crate::common::{Phase, overlay_struct, schema_with_defaults};
use crate::trading_bot::GateCriterionStatus;
use crate::validation::ValidationErrors;

overlay_struct! {
    /// Criteria for one promotion, measured over the current phase only.
    /// All must hold: days ≥ minDays, trades ≥ minTrades, win rate >
    /// minWinRatePct, Sharpe > minSharpe, max drawdown < maxDrawdownPct,
    /// return > minReturnPct, error rate ≤ maxErrorRatePct.
    #[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct GateCriteria overlay GateCriteriaOverlay {
        /// Minimum whole days spent in the current phase.
        pub min_days: u32,
        /// Minimum closed trades in the current phase (≥ 1: statistics of no trades prove nothing).
        #[schemars(range(min = 1))]
        pub min_trades: u64,
        /// The share of winning trades must exceed this % (0 ≤ value < 100).
        #[schemars(range(min = 0, max = 100))]
        pub min_win_rate_pct: f64,
        /// The annualized Sharpe ratio must exceed this value.
        pub min_sharpe: f64,
        /// The maximum drawdown in the phase must stay below this % (above 0).
        #[schemars(range(min = 0, max = 100))]
        pub max_drawdown_pct: f64,
        /// The return over the phase must exceed this % (0 means any profit).
        pub min_return_pct: f64,
        /// Rejected or failed orders as % of all orders must be at most this.
        #[schemars(range(min = 0, max = 100))]
        pub max_error_rate_pct: f64,
        /// The engine's ledger must equal the venue's own records (trades,
        /// fees, cash and positions, exactly) in a check at most 30 minutes
        /// old. Default true out of Sandbox and out of LimitedReal; it cannot
        /// be set out of Paper (paper fills never reach a venue).
        pub ledger_matches_venue: bool,
    }
}

impl GateCriteria {
    /// The seed thresholds (≥ 100 trades, win rate > 55 %, Sharpe > 1.5,
    /// drawdown < 10 %, return > 0, errors ≤ 2 %) with `min_days` in phase.
    pub fn seed(min_days: u32) -> Self {
        Self {
            min_days,
            min_trades: 100,
            min_win_rate_pct: 55.0,
            min_sharpe: 1.5,
            max_drawdown_pct: 10.0,
            min_return_pct: 0.0,
            max_error_rate_pct: 2.0,
            ledger_matches_venue: false,
        }
    }

    /// Default gate out of Paper: seed thresholds, 14 days.
    pub fn paper_to_sandbox_default() -> Self {
        Self::seed(14)
    }

    /// Default gate out of Sandbox: seed thresholds, 7 days, and the
    /// ledger must match the test network's records.
    pub fn sandbox_to_limited_real_default() -> Self {
        Self {
            ledger_matches_venue: true,
            ..Self::seed(7)
        }
    }

    /// Default gate out of LimitedReal: seed thresholds, 30 days, and the
    /// ledger must match the exchange's records.
    pub fn limited_real_to_scaling_default() -> Self {
        Self {
            ledger_matches_venue: true,
            ..Self::seed(30)
        }
    }

    /// Evaluates every criterion against `m`, in a fixed order. A criterion
    /// whose statistic is unknown (`None`) is not met.
    pub fn evaluate(&self, m: &GateMeasurement) -> Vec<GateCriterionStatus> {
        use Comparison::{Above, AtLeast, AtMost, Below};
        let row = |name: &str, comparison: Comparison, required: f64, measured: Option<f64>| {
            GateCriterionStatus {
                name: name.into(),
                comparison,
                required,
                measured,
                met: measured.is_some_and(|v| comparison.holds(v, required)),
                detail: None,
            }
        };
        let mut rows = vec![
            row(
                "minDays",
                AtLeast,
                f64::from(self.min_days),
                Some(m.days_in_phase),
            ),
            row(
                "minTrades",
                AtLeast,
                self.min_trades as f64,
                Some(m.trades as f64),
            ),
            row(
                "minWinRatePct",
                Above,
                self.min_win_rate_pct,
                m.win_rate_pct,
            ),
            row("minSharpe", Above, self.min_sharpe, m.sharpe),
            row(
                "maxDrawdownPct",
                Below,
                self.max_drawdown_pct,
                Some(m.max_drawdown_pct),
            ),
            row(
                "minReturnPct",
                Above,
                self.min_return_pct,
                Some(m.return_pct),
            ),
            row(
                "maxErrorRatePct",
                AtMost,
                self.max_error_rate_pct,
                m.error_rate_pct,
            ),
        ];
        if self.ledger_matches_venue {
            // Measured: how many things differ; met only at 0, in a recent check.
            let differences = m.ledger.differences.map(|n| n as f64);
            let mut ledger = row("ledgerMatchesVenue", AtMost, 0.0, differences);
            ledger.detail = Some(m.ledger.detail.clone());
            rows.push(ledger);
        }
        rows
    }

    fn check(&self, path: &str, errs: &mut ValidationErrors) {
        if path.ends_with("paperToSandbox") {
            errs.check(
                !self.ledger_matches_venue,
                format!("{path}.ledgerMatchesVenue"),
                || {
                    "cannot be required out of Paper: paper fills never reach a venue, so there is \
                     no venue record to match; remove it (it applies out of Sandbox and LimitedReal)"
                        .into()
                },
            );
        }
        errs.check(self.min_trades >= 1, format!("{path}.minTrades"), || {
            "must be at least 1: win rate and Sharpe of zero trades prove nothing".into()
        });
        let w = self.min_win_rate_pct;
        errs.check(
            w.is_finite() && (0.0..100.0).contains(&w),
            format!("{path}.minWinRatePct"),
            || format!("must be at least 0 and below 100 (the win rate must exceed it), got {w}"),
        );
        errs.check(
            self.min_sharpe.is_finite(),
            format!("{path}.minSharpe"),
            || "must be a finite number".into(),
        );
        let dd = self.max_drawdown_pct;
        errs.check(
            dd.is_finite() && dd > 0.0 && dd <= 100.0,
            format!("{path}.maxDrawdownPct"),
            || {
                format!(
                    "must be above 0 and at most 100 (the drawdown must stay below it), got {dd}"
                )
            },
        );
        let r = self.min_return_pct;
        errs.check(
            r.is_finite() && r > -100.0,
            format!("{path}.minReturnPct"),
            || format!("must be above -100 (a return cannot be below -100 %), got {r}"),
        );
        let e = self.max_error_rate_pct;
        errs.check(
            e.is_finite() && (0.0..=100.0).contains(&e),
            format!("{path}.maxErrorRatePct"),
            || format!("must be between 0 and 100, got {e}"),
        );
    }
}

/// How a measured value must compare with a gate's threshold. Written in
/// status as the symbol (`>=`, `>`, `<`, `<=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Comparison {
    /// measured ≥ required.
    #[serde(rename = ">=")]
    AtLeast,
    /// measured > required.
    #[serde(rename = ">")]
    Above,
    /// measured < required.
    #[serde(rename = "<")]
    Below,
    /// measured ≤ required.
    #[serde(rename = "<=")]
    AtMost,
}

impl Comparison {
    /// Whether `measured` passes `required`. NaN never passes.
    pub fn holds(self, measured: f64, required: f64) -> bool {
        match self {
            Self::AtLeast => measured >= required,
            Self::Above => measured > required,
            Self::Below => measured < required,
            Self::AtMost => measured <= required,
        }
    }

    /// The symbol, as written in status.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::AtLeast => ">=",
            Self::Above => ">",
            Self::Below => "<",
            Self::AtMost => "<=",
        }
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.symbol())
    }
}

/// What a bot measured in its current phase, the input of
/// [`GateCriteria::evaluate`]. `None` means "not measurable yet".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GateMeasurement {
    /// Days since the phase started (fractional).
    pub days_in_phase: f64,
    /// Closed trades in the phase.
    pub trades: u64,
    /// Winning trades as % of closed trades.
    pub win_rate_pct: Option<f64>,
    /// Annualized Sharpe ratio.
    pub sharpe: Option<f64>,
    /// Largest drawdown from the equity peak in the phase, %.
    pub max_drawdown_pct: f64,
    /// Return since the phase started, %.
    pub return_pct: f64,
    /// Failed or rejected orders as % of orders.
    pub error_rate_pct: Option<f64>,
    /// The engine's last ledger check against the venue.
    pub ledger: LedgerEvidence,
}

/// The ledger check as the gate sees it (see
/// [`crate::ledger_check::evidence`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LedgerEvidence {
    /// How many things differ, from a check recent enough; `None`: no such check.
    pub differences: Option<u64>,
    /// What differs (named, with the numbers), or why there is no usable check.
    pub detail: String,
}

macro_rules! gate_field {
    ($de:ident, $schema:ident, $default:path) => {
        fn $de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<GateCriteria, D::Error> {
            Ok(GateCriteriaOverlay::deserialize(deserializer)?.apply($default()))
        }
        fn $schema(generator: &mut SchemaGenerator) -> Schema {
            schema_with_defaults(generator, &$default())
        }
    };
}

gate_field!(de_p2s, schema_p2s, GateCriteria::paper_to_sandbox_default);
gate_field!(
    de_s2l,
    schema_s2l,
    GateCriteria::sandbox_to_limited_real_default
);
gate_field!(
    de_l2s,
    schema_l2s,
    GateCriteria::limited_real_to_scaling_default
);

/// The gate of each promotion step. Unset fields take that gate's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gates {
    /// Paper → Sandbox.
    #[serde(
        default = "GateCriteria::paper_to_sandbox_default",
        deserialize_with = "de_p2s"
    )]
    #[schemars(schema_with = "schema_p2s")]
    pub paper_to_sandbox: GateCriteria,
    /// Sandbox → LimitedReal (the first real money).
    #[serde(
        default = "GateCriteria::sandbox_to_limited_real_default",
        deserialize_with = "de_s2l"
    )]
    #[schemars(schema_with = "schema_s2l")]
    pub sandbox_to_limited_real: GateCriteria,
    /// LimitedReal → Scaling.
    #[serde(
        default = "GateCriteria::limited_real_to_scaling_default",
        deserialize_with = "de_l2s"
    )]
    #[schemars(schema_with = "schema_l2s")]
    pub limited_real_to_scaling: GateCriteria,
}

impl Default for Gates {
    fn default() -> Self {
        Self {
            paper_to_sandbox: GateCriteria::paper_to_sandbox_default(),
            sandbox_to_limited_real: GateCriteria::sandbox_to_limited_real_default(),
            limited_real_to_scaling: GateCriteria::limited_real_to_scaling_default(),
        }
    }
}

impl Gates {
    /// The gate a bot in `from` must pass to move to `from.next()`
    /// (`None` from Scaling).
    pub fn out_of(&self, from: Phase) -> Option<&GateCriteria> {
        match from {
            Phase::Paper => Some(&self.paper_to_sandbox),
            Phase::Sandbox => Some(&self.sandbox_to_limited_real),
            Phase::LimitedReal => Some(&self.limited_real_to_scaling),
            Phase::Scaling => None,
        }
    }

    /// The gate guarding entry into `target` (`None` for Paper).
    pub fn into_phase(&self, target: Phase) -> Option<&GateCriteria> {
        target.previous().and_then(|from| self.out_of(from))
    }

    pub(crate) fn check(&self, path: &str, errs: &mut ValidationErrors) {
        self.paper_to_sandbox
            .check(&format!("{path}.paperToSandbox"), errs);
        self.sandbox_to_limited_real
            .check(&format!("{path}.sandboxToLimitedReal"), errs);
        self.limited_real_to_scaling
            .check(&format!("{path}.limitedRealToScaling"), errs);
    }
}
