//! The O(1) accumulators of one measurement window and its summary.

use super::moments::ReturnMoments;
use crate::domain::Money;
use crate::ledger::MONEY_DP;
use serde::{Deserialize, Serialize};

/// Milliseconds in a UTC day.
pub const DAY_MS: i64 = 86_400_000;

/// Statistics of one window (the whole run, or one phase), updated in O(1)
/// per candle with no allocation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowStats {
    label: String,
    start_time: i64,
    last_time: i64,
    start_equity: Money,
    equity: Money,
    peak: Money,
    peak_f64: f64,
    /// Current drawdown from the peak, as a fraction.
    drawdown: f64,
    max_drawdown: f64,
    /// Per-candle simple returns: count, mean, variance, downside sum.
    #[serde(flatten)]
    returns: ReturnMoments,
    candles: u64,
    candles_in_position: u64,
    trades: u64,
    wins: u64,
    losses: u64,
    gross_profit: Money,
    gross_loss: Money,
    // UTC days.
    next_day_start: i64,
    day_start_equity: Money,
    days_completed: u32,
    losing_days: u32,
    losing_streak: u32,
    max_losing_streak: u32,
    orders: u64,
    order_errors: u64,
    /// Σ capital transfers in the window (see [`WindowStats::transfer`]).
    #[serde(default)]
    net_transfers: Money,
    /// The window's start equity plus its transfers: the base of its P&L in
    /// money. `None`: no transfer yet (the start equity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contributed: Option<Money>,
}

impl WindowStats {
    /// These statistics under another label.
    pub(super) fn relabelled(&self, label: &str) -> Self {
        Self {
            label: label.to_string(),
            ..self.clone()
        }
    }

    pub(super) fn new(label: String, start_time: i64, start_equity: Money) -> Self {
        Self {
            label,
            start_time,
            last_time: start_time,
            start_equity,
            equity: start_equity,
            peak: start_equity,
            peak_f64: approx_f64(start_equity),
            drawdown: 0.0,
            max_drawdown: 0.0,
            returns: ReturnMoments::default(),
            candles: 0,
            candles_in_position: 0,
            trades: 0,
            wins: 0,
            losses: 0,
            gross_profit: Money::ZERO,
            gross_loss: Money::ZERO,
            next_day_start: next_day_start(start_time),
            day_start_equity: start_equity,
            days_completed: 0,
            losing_days: 0,
            losing_streak: 0,
            max_losing_streak: 0,
            orders: 0,
            order_errors: 0,
            net_transfers: Money::ZERO,
            contributed: None,
        }
    }

    /// A capital transfer of `amount` after the last candle. The start
    /// equity and the peak scale with the account (`(equity + amount) /
    /// equity`), so the return chains the sub-periods between transfers
    /// (time-weighted) and the drawdown stays what it was; today's start
    /// moves by the amount, so neither the day's P&L nor the window's money
    /// P&L count it. An account at or below zero cannot scale: the start and
    /// peak move by the amount instead.
    pub(super) fn transfer(&mut self, amount: Money) {
        let before = self.equity;
        let after = before + amount;
        let rebase = |x: Money| {
            if before > Money::ZERO {
                Money::new(x.value() * after.value() / before.value()).round_dp(MONEY_DP)
            } else {
                x + amount
            }
        };
        self.contributed = Some(self.contributed.unwrap_or(self.start_equity) + amount);
        self.net_transfers += amount;
        self.start_equity = rebase(self.start_equity);
        self.peak = rebase(self.peak);
        self.peak_f64 = approx_f64(self.peak);
        self.equity = after;
        self.day_start_equity += amount;
    }

    /// One candle: `equity` at its close, `equity_f64` the same as a float,
    /// `ret` the candle's simple return (None for a window's first candle
    /// when there is no previous equity).
    #[inline]
    pub(super) fn update(
        &mut self,
        time: i64,
        equity: Money,
        equity_f64: f64,
        ret: Option<f64>,
        in_position: bool,
    ) {
        if time >= self.next_day_start {
            self.roll_day(time);
        }
        self.last_time = time;
        self.equity = equity;
        self.candles += 1;
        self.candles_in_position += u64::from(in_position);
        // The exact comparison costs ~6 ns; skip it when the float view says
        // the equity is clearly (by far more than its rounding) below the peak.
        let below_peak = equity_f64 < self.peak_f64 * (1.0 - 1e-9)
            || crate::domain::cmp_exact(equity.value(), self.peak.value()).is_lt();
        if !below_peak {
            self.peak = equity;
            self.peak_f64 = equity_f64;
            self.drawdown = 0.0;
        } else if self.peak_f64 > 0.0 {
            // The float conversion is approximate: clamp so it is never negative.
            let dd = ((self.peak_f64 - equity_f64) / self.peak_f64).max(0.0);
            self.drawdown = dd;
            if dd > self.max_drawdown {
                self.max_drawdown = dd;
            }
        }
        if let Some(r) = ret {
            self.returns.push(r);
        }
    }

    /// Re-marks the equity between candles (a fill changed it): equity,
    /// peak and drawdown follow at once; no candle and no return sample is
    /// added (the next candle's return spans the fill).
    pub(super) fn mark(&mut self, equity: Money, equity_f64: f64) {
        self.equity = equity;
        if equity >= self.peak {
            self.peak = equity;
            self.peak_f64 = equity_f64;
            self.drawdown = 0.0;
        } else if self.peak_f64 > 0.0 {
            let dd = ((self.peak_f64 - equity_f64) / self.peak_f64).max(0.0);
            self.drawdown = dd;
            self.max_drawdown = self.max_drawdown.max(dd);
        }
    }

    /// Closes the day(s) before `time`: the day that ended made
    /// `equity − day_start_equity`. Days with no candle at all are not
    /// counted (no data, no verdict).
    fn roll_day(&mut self, time: i64) {
        let pnl = self.equity - self.day_start_equity;
        self.days_completed += 1;
        if pnl < Money::ZERO {
            self.losing_days += 1;
            self.losing_streak += 1;
            self.max_losing_streak = self.max_losing_streak.max(self.losing_streak);
        } else {
            self.losing_streak = 0;
        }
        self.day_start_equity = self.equity;
        self.next_day_start = next_day_start(time);
    }

    pub(super) fn record_trade(&mut self, pnl: Money) {
        self.trades += 1;
        if pnl > Money::ZERO {
            self.wins += 1;
            self.gross_profit += pnl;
        } else if pnl < Money::ZERO {
            self.losses += 1;
            self.gross_loss -= pnl;
        }
    }

    pub(super) fn record_order(&mut self, accepted: bool) {
        self.orders += 1;
        self.order_errors += u64::from(!accepted);
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn start_time(&self) -> i64 {
        self.start_time
    }

    /// The start equity, scaled by every transfer since (the base of the
    /// time-weighted return).
    pub fn start_equity(&self) -> Money {
        self.start_equity
    }

    /// Σ capital transfers in the window.
    pub fn net_transfers(&self) -> Money {
        self.net_transfers
    }

    /// P&L in money: equity minus the start equity and the transfers.
    pub fn net_pnl(&self) -> Money {
        self.equity - self.contributed.unwrap_or(self.start_equity)
    }

    pub fn equity(&self) -> Money {
        self.equity
    }

    pub fn peak_equity(&self) -> Money {
        self.peak
    }

    /// `(equity − start) / start × 100`, computed exactly then shown as f64;
    /// time-weighted across transfers (they scale `start`).
    pub fn return_pct(&self) -> f64 {
        if self.start_equity.is_zero() {
            return 0.0;
        }
        pct((self.equity - self.start_equity) / self.start_equity)
    }

    /// Current drawdown from the running equity peak, in %. Never negative.
    pub fn drawdown_pct(&self) -> f64 {
        self.drawdown * 100.0
    }

    /// Largest drawdown seen in the window, in %. Never decreases.
    pub fn max_drawdown_pct(&self) -> f64 {
        self.max_drawdown * 100.0
    }

    /// Annualized Sharpe ratio: mean / sample standard deviation of the
    /// per-candle simple returns × √periods_per_year, risk-free rate 0.
    /// `None` with fewer than two returns or zero variance.
    pub fn sharpe(&self, periods_per_year: f64) -> Option<f64> {
        let n = self.returns.count();
        if n < 2 {
            return None;
        }
        let var = self.returns.m2() / (n - 1) as f64;
        (var > 0.0).then(|| self.returns.mean() / var.sqrt() * periods_per_year.sqrt())
    }

    /// Annualized Sortino ratio: mean / downside deviation × √periods_per_year,
    /// target 0, downside deviation = √(Σ min(r, 0)² / n) over all n returns.
    /// `None` when no return was negative (undefined, not infinite).
    pub fn sortino(&self, periods_per_year: f64) -> Option<f64> {
        let (n, downside_sq) = (self.returns.count(), self.returns.downside_sq());
        if n == 0 || downside_sq <= 0.0 {
            return None;
        }
        let dd = (downside_sq / n as f64).sqrt();
        Some(self.returns.mean() / dd * periods_per_year.sqrt())
    }

    /// Closed round trips in the window.
    pub fn trades(&self) -> u64 {
        self.trades
    }

    pub fn wins(&self) -> u64 {
        self.wins
    }

    /// `wins / trades × 100`; `None` before the first trade.
    pub fn win_rate_pct(&self) -> Option<f64> {
        (self.trades > 0).then(|| self.wins as f64 / self.trades as f64 * 100.0)
    }

    /// Σ winning P&L / Σ |losing P&L| (after fees); `None` without a loss.
    pub fn profit_factor(&self) -> Option<f64> {
        (!self.gross_loss.is_zero()).then(|| ratio(self.gross_profit / self.gross_loss))
    }

    /// % of the window's candles that closed with a position open.
    pub fn exposure_pct(&self) -> f64 {
        if self.candles == 0 {
            return 0.0;
        }
        self.candles_in_position as f64 / self.candles as f64 * 100.0
    }

    /// P&L of the current UTC day so far.
    pub fn daily_pnl(&self) -> Money {
        self.equity - self.day_start_equity
    }

    /// Completed UTC days in a row that ended with a loss (a day with P&L
    /// ≥ 0 resets it; the day in progress does not count yet).
    pub fn losing_days_in_a_row(&self) -> u32 {
        self.losing_streak
    }

    pub fn summary(&self, periods_per_year: f64) -> WindowSummary {
        WindowSummary {
            label: self.label.clone(),
            start_time: self.start_time,
            end_time: self.last_time,
            candles: self.candles,
            start_equity: self.start_equity,
            equity: self.equity,
            peak_equity: self.peak,
            net_transfers: self.net_transfers,
            net_pnl: self.net_pnl(),
            return_pct: self.return_pct(),
            drawdown_pct: self.drawdown_pct(),
            max_drawdown_pct: self.max_drawdown_pct(),
            sharpe: self.sharpe(periods_per_year),
            sortino: self.sortino(periods_per_year),
            trades: self.trades,
            wins: self.wins,
            losses: self.losses,
            win_rate_pct: self.win_rate_pct(),
            profit_factor: self.profit_factor(),
            gross_profit: self.gross_profit,
            gross_loss: self.gross_loss,
            exposure_pct: self.exposure_pct(),
            daily_pnl: self.daily_pnl(),
            days_completed: self.days_completed,
            losing_days: self.losing_days,
            losing_days_in_a_row: self.losing_streak,
            max_losing_days_in_a_row: self.max_losing_streak,
            orders: self.orders,
            order_errors: self.order_errors,
        }
    }
}

/// A window's figures for `/status`, the report and the operator's gates.
/// Money as decimal strings; statistics as numbers; `null` where a
/// statistic is undefined (no trades, no losses, fewer than two returns).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowSummary {
    pub label: String,
    pub start_time: i64,
    /// Time of the last candle recorded.
    pub end_time: i64,
    pub candles: u64,
    pub start_equity: Money,
    pub equity: Money,
    pub peak_equity: Money,
    /// Σ capital transfers in the window (they are not P&L).
    #[serde(default)]
    pub net_transfers: Money,
    /// Equity − start equity − transfers, in money.
    pub net_pnl: Money,
    pub return_pct: f64,
    pub drawdown_pct: f64,
    pub max_drawdown_pct: f64,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    pub win_rate_pct: Option<f64>,
    pub profit_factor: Option<f64>,
    /// Σ P&L of winning round trips, after fees.
    pub gross_profit: Money,
    /// Σ |P&L| of losing round trips, after fees (a positive amount).
    pub gross_loss: Money,
    pub exposure_pct: f64,
    pub daily_pnl: Money,
    pub days_completed: u32,
    pub losing_days: u32,
    pub losing_days_in_a_row: u32,
    pub max_losing_days_in_a_row: u32,
    pub orders: u64,
    pub order_errors: u64,
}

fn next_day_start(time: i64) -> i64 {
    (time.div_euclid(DAY_MS) + 1) * DAY_MS
}

fn ratio(d: rust_decimal::Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(0.0)
}

fn pct(d: rust_decimal::Decimal) -> f64 {
    ratio(d * rust_decimal::Decimal::ONE_HUNDRED)
}

/// Money as f64 for statistics: the float view (within a few ulp of the
/// exact value; an `i128 → f64` cast is a library call, too slow per
/// candle). Comparisons that matter (new peak or not) are done on the
/// exact `Money`, and the drawdown is clamped at 0.
#[inline]
pub(crate) fn approx_f64(m: Money) -> f64 {
    crate::domain::float_view(m.value())
}
