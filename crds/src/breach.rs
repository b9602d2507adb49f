//! The halting limits, evaluated on what the engine reports: the one rule
//! the operator's breach check and `kubectl botfleet status` call (the
//! engine enforces the same limits per tick on its exact fast path, and a
//! test in the engine proves both give the same verdict).
//!
//! Pass the limits in force ([`PhaseLimits::effective`]) so the LimitedReal
//! hard caps count. Arithmetic on reported numbers is checked: an engine
//! that reports numbers which overflow is halted, never a panic.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::common::Phase;
use crate::engine_api::WindowMetrics;
use crate::limits::PhaseLimits;

/// Which halting limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaltingLimit {
    MaxDrawdownPct,
    MaxTotalLossPct,
    MaxTotalLoss,
    MaxLosingDaysInRow,
    /// The reported equity cannot be compared (the arithmetic overflows).
    UnreadableEquity,
}

impl HaltingLimit {
    /// The RiskPolicy field, as a user writes it.
    pub fn field(self) -> &'static str {
        match self {
            Self::MaxDrawdownPct => "maxDrawdownPct",
            Self::MaxTotalLossPct => "maxTotalLossPct",
            Self::MaxTotalLoss => "maxTotalLoss",
            Self::MaxLosingDaysInRow => "maxLosingDaysInRow",
            Self::UnreadableEquity => "window.equity",
        }
    }
}

/// A halting limit reached, with the numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Breach {
    pub limit: HaltingLimit,
    /// What was reached, e.g. `drawdown 12.00 % reached limits.paper.maxDrawdownPct = 10 %`.
    pub message: String,
}

/// The first halting limit `window` reaches under `limits` (the limits in
/// force in `phase`), in a fixed order: drawdown, total loss (%, then
/// absolute), losing days in a row.
pub fn breach(window: &WindowMetrics, limits: &PhaseLimits, phase: Phase) -> Option<Breach> {
    let path = |field: &str| format!("limits.{}.{field}", phase.key());
    let found = |limit: HaltingLimit, message: String| Some(Breach { limit, message });
    let dd_limit = limits.max_drawdown_pct.to_f64();
    if window.drawdown_pct.is_finite() && window.drawdown_pct >= dd_limit {
        return found(
            HaltingLimit::MaxDrawdownPct,
            format!(
                "drawdown {:.2} % reached {} = {dd_limit} %",
                window.drawdown_pct,
                path("maxDrawdownPct")
            ),
        );
    }
    let Some(loss) = window.start_equity.checked_sub(window.equity) else {
        return found(
            HaltingLimit::UnreadableEquity,
            format!(
                "the engine reports start equity {} and equity {}, which cannot be compared",
                window.start_equity, window.equity
            ),
        );
    };
    if loss > Decimal::ZERO && window.start_equity > Decimal::ZERO {
        let pct_limit = limits.max_total_loss_pct.value();
        // loss ≤ start here, so loss × 100 / start ≤ 100 and cannot overflow
        // once loss × 100 does not.
        let Some(loss_pct) = loss
            .checked_mul(Decimal::ONE_HUNDRED)
            .and_then(|l| l.checked_div(window.start_equity))
        else {
            return found(
                HaltingLimit::UnreadableEquity,
                format!("the engine reports a loss of {loss} that cannot be measured"),
            );
        };
        if loss_pct >= pct_limit {
            let pct_f = loss_pct.round_dp(2).to_f64().unwrap_or(f64::MAX);
            return found(
                HaltingLimit::MaxTotalLossPct,
                format!(
                    "total loss {} ({pct_f} %) reached {} = {pct_limit} %",
                    loss.round_dp(2),
                    path("maxTotalLossPct")
                ),
            );
        }
    }
    // The absolute cap counts money: from the money base (start equity plus
    // the capital transfers), not the start equity that transfers scale for
    // the time-weighted return.
    let base = window.money_base.unwrap_or(window.start_equity);
    let Some(money_loss) = base.checked_sub(window.equity) else {
        return found(
            HaltingLimit::UnreadableEquity,
            format!(
                "the engine reports money base {base} and equity {}, which cannot be compared",
                window.equity
            ),
        );
    };
    if let Some(cap) = limits.max_total_loss
        && money_loss > Decimal::ZERO
        && money_loss >= cap.value()
    {
        return found(
            HaltingLimit::MaxTotalLoss,
            format!(
                "total loss {} reached {} = {cap}",
                money_loss.round_dp(2),
                path("maxTotalLoss")
            ),
        );
    }
    if window.losing_days_in_a_row >= limits.max_losing_days_in_row {
        return found(
            HaltingLimit::MaxLosingDaysInRow,
            format!(
                "{} losing days in a row reached {} = {}",
                window.losing_days_in_a_row,
                path("maxLosingDaysInRow"),
                limits.max_losing_days_in_row
            ),
        );
    }
    None
}

#[cfg(test)]
#[path = "breach_tests.rs"]
mod tests;
