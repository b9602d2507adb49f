//! Performance measurement: equity curve, return, drawdown, Sharpe/Sortino,
//! win rate, profit factor, trade count, exposure, daily P&L and losing
//! streaks — over the whole run and over the current phase window.
//!
//! Conventions:
//! - **Returns** are per-candle simple returns of equity,
//!   `r = equity_t / equity_{t−1} − 1`, over every candle of the window
//!   (flat candles included, with r = 0).
//! - **Sharpe** = mean(r) / sample std(r) × √P and **Sortino** =
//!   mean(r) / √(Σ min(r, 0)² / n) × √P, risk-free rate and target 0,
//!   P = `Timeframe::periods_per_year()` = candles in a 365-day year
//!   (crypto trades every day). Undefined values are `None`/`null`.
//! - **Drawdown** = (peak − equity) / peak from the running equity peak of
//!   the window; max drawdown is its running maximum.
//! - **Trades** are round trips (flat → flat) from the ledger; a win has
//!   P&L > 0 after fees. Profit factor = Σ wins / Σ |losses|, after fees.
//! - **Exposure** = % of candles closing with a position open.
//! - **Capital transfers** ([`Performance::transfer`]) are neither return
//!   nor drawdown: the window's start equity and peak scale with the
//!   account, so the return is time-weighted (the sub-periods between
//!   transfers chain) and a candle's return is measured from the equity
//!   after the transfer; P&L in money leaves the transfers out.
//! - **Days** are UTC days of the time passed to `on_candle`; a day's P&L is
//!   its last equity minus the previous day's last equity (or the window's
//!   start equity).
//!
//! Statistics are f64; money figures (equity, P&L, peak) stay exact
//! `Money`. Every update is O(1).

mod curve;
mod metrics;
mod moments;
mod window;

#[cfg(test)]
mod tests;

pub use curve::{CurvePoint, EquityCurve};
pub(crate) use metrics::approx_f64;
pub use metrics::{DAY_MS, WindowStats, WindowSummary};
pub use window::{OVERALL, Performance, PerformanceSummary};
