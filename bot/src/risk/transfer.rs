//! Capital transfers (a Scaling step, an edit of `spec.capital`) re-base the
//! loss limits: a transfer is neither profit nor loss, never a drawdown and
//! never a breach, in or out, whatever happened before it.
//!
//! Each limit keeps its distance in its own unit:
//! - limits in % of a base (`maxDrawdownPct` from the peak,
//!   `maxTotalLossPct` from the phase's capital, `dailyLossLimitPct` from the
//!   day's start) scale their base with the account, `(equity + amount) /
//!   equity`: the loss in % stays what it was (the time-weighted view);
//! - absolute limits (`maxTotalLoss`, `dailyLossLimit`) move their base by
//!   the amount: the money lost so far stays lost, no more, no less.
//!
//! The floor is the higher (tighter) of the two, as without transfers.

use super::engine::RiskEngine;
use super::loss_base::Rebased;
use crate::domain::Money;
use crate::ledger::MONEY_DP;

impl RiskEngine {
    /// A capital transfer of `amount` (in > 0, out < 0) after the last
    /// equity seen: re-bases the peak, the day and the loss bases (see the
    /// module docs). An account at or below zero cannot scale: its %
    /// bases move by the amount instead.
    pub fn transfer(&mut self, amount: Money) {
        let capital = self.resolved.capital;
        let s = &mut self.state;
        let before = s.last_equity;
        let after = before + amount;
        let scale = |x: Money| {
            if before > Money::ZERO {
                Money::new(x.value() * after.value() / before.value()).round_dp(MONEY_DP)
            } else {
                x + amount
            }
        };
        let day_start = s.day_start_equity;
        let b = s.rebased.get_or_insert(Rebased {
            total_pct: capital,
            total_abs: capital,
            day_pct: None,
        });
        b.total_pct = scale(b.total_pct);
        b.total_abs += amount;
        b.day_pct = Some(scale(b.day_pct.unwrap_or(day_start)));
        s.day_start_equity += amount;
        s.peak_equity = scale(s.peak_equity);
        s.last_equity = after;
        self.refresh_floors();
    }

    /// Counts the total loss from `base` instead of the config's capital:
    /// the capital the book holds when it differs from the allocation (a
    /// restore before the allocation's transfer, or a shortfall still owed).
    pub fn set_capital_base(&mut self, base: Money) {
        self.state.rebased = Some(Rebased {
            total_pct: base,
            total_abs: base,
            day_pct: None,
        });
        self.refresh_floors();
    }

    /// Whether the loss bases were set by a transfer or a base.
    pub fn is_rebased(&self) -> bool {
        self.state.rebased.is_some()
    }

    /// Equity at or below which the total loss halts.
    pub fn total_loss_floor(&self) -> Money {
        self.floors.total_limit.floor
    }

    /// Equity at or below which today's loss pauses entries.
    pub fn daily_loss_floor(&self) -> Money {
        self.floors.day_limit.floor
    }
}
