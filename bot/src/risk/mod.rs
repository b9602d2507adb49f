//! The risk engine: every limit of the RiskPolicy for the bot's current
//! phase, enforced by the engine itself, before each entry and on every tick.
//!
//! One [`RiskEngine`] per bot. The engine loop calls, per candle of a symbol:
//! 1. `ledger.mark(symbol, candle.close)` (after applying the candle's fills,
//!    each closed round trip also going to [`RiskEngine::on_trade_closed`]);
//! 2. [`RiskEngine::on_candle`]: stop-loss / take-profit / trailing stop
//!    exits, the flash-crash breaker, then the account checks (daily loss
//!    pause, drawdown / total loss / losing-days halts) on `ledger.equity()`;
//! 3. for an entry signal, [`RiskEngine::check_entry`] → an approved size or
//!    a refusal naming the limit and the numbers. Exits are never refused
//!    ([`RiskEngine::exit_quantity`] only clips to what is held).
//!
//! **Clock.** Every time is Unix milliseconds, UTC. In a candle loop pass the
//! candle's open time, as [`crate::performance`] does: `on_candle` uses
//! `candle.open_time`, and a day's P&L is its last equity minus the previous
//! day's last equity. Pauses that start on a candle run from its *close*
//! (`open_time + timeframe`), so a pause of one candle length still blocks
//! the next candle.
//!
//! **Boundaries.** Counts refuse the entry that would exceed them (3 open,
//! limit 3 → refused). Losses trip when they *reach* the limit (drawdown
//! ≥ 10 % halts). The flash-crash breaker trips on a move of *more than*
//! `movePct`. A size exactly at a cap is allowed. Every decision is exact
//! (`Decimal`); a tick compares float views first and falls back to the
//! exact numbers when they are close (`level.rs`), so a quiet tick costs
//! about 700 instructions. Only the ATR, an indicator, arrives as `f64`.
//!
//! **Caps reduce, limits refuse.** The sizing method proposes a notional;
//! each cap (position %, position amount, order notional, free cash) lowers
//! it. Only when the capped size is below [`RiskConfig::min_notional`] is the
//! entry refused, naming the cap that bound it.
//!
//! **LimitedReal hard caps.** In LimitedReal the engine applies
//! [`HardCaps`] (seed figures: position $250, order $250, daily loss $50,
//! total loss $500) whatever the rendered config says: a missing or looser
//! cap is replaced by the hard one.
//!
//! **Capital transfers** ([`RiskEngine::transfer`]) re-base the peak and
//! the loss limits so that a transfer never trips or loosens one (see
//! `transfer.rs`).
//!
//! **Halt** is a latch with an id ([`Halt::id`], `halt-<time>-<n>`,
//! deterministic in backtests, or the operator's id via
//! [`RiskEngine::halt_with_id`]); only [`RiskEngine::resume`] with that id
//! clears it. Every decision is a structured record (limit, numbers, reason)
//! for the audit log and `/status`.

mod candle_read;
mod config;
mod control;
mod engine;
mod entry;
mod flash_window;
mod level;
mod loss_base;
mod records;
mod sizing;
mod state;
mod tick;
mod transfer;

#[cfg(test)]
mod tests;

pub use candle_read::{CandleRead, CandleReader, CandleReads};
pub use config::{HardCaps, RiskConfig, RiskConfigError};
pub use engine::RiskEngine;
pub use records::{
    Approval, Binding, EntryHold, ExitOrder, ExitReason, Halt, Pause, Refusal, ResumeError,
    RiskAction, RiskActions, RiskStatus, SizingNote, Verdict,
};
pub use sizing::KellyStats;
pub use state::RiskState;

use serde::{Deserialize, Serialize};
use std::fmt;

/// The limit behind a decision, named as the RiskPolicy field (or the
/// TradingBot field `halted` for a manual halt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Limit {
    /// A halt latch is set (manual, or any halting limit).
    Halted,
    MaxPositionPct,
    MaxPosition,
    MaxOpenPositions,
    MaxOrderNotional,
    MaxTradesPerDay,
    StopLossPct,
    TakeProfitPct,
    TrailingStopPct,
    DailyLossLimitPct,
    DailyLossLimit,
    MaxDrawdownPct,
    MaxTotalLossPct,
    MaxTotalLoss,
    MaxLosingDaysInRow,
    FlashCrash,
    SymbolCooldownMinutes,
    /// `spec.sizing`: the method could not size (ATR warming up, no edge).
    Sizing,
    /// The account's free cash (not a policy field).
    Cash,
    /// The smallest order worth sending ([`RiskConfig::min_notional`]).
    MinNotional,
    /// The dead-man switch: no operator poll for `deadManMinutes`.
    DeadManMinutes,
}

impl Limit {
    /// The field name, e.g. `maxOpenPositions`.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Halted => "halted",
            Limit::MaxPositionPct => "maxPositionPct",
            Limit::MaxPosition => "maxPosition",
            Limit::MaxOpenPositions => "maxOpenPositions",
            Limit::MaxOrderNotional => "maxOrderNotional",
            Limit::MaxTradesPerDay => "maxTradesPerDay",
            Limit::StopLossPct => "stopLossPct",
            Limit::TakeProfitPct => "takeProfitPct",
            Limit::TrailingStopPct => "trailingStopPct",
            Limit::DailyLossLimitPct => "dailyLossLimitPct",
            Limit::DailyLossLimit => "dailyLossLimit",
            Limit::MaxDrawdownPct => "maxDrawdownPct",
            Limit::MaxTotalLossPct => "maxTotalLossPct",
            Limit::MaxTotalLoss => "maxTotalLoss",
            Limit::MaxLosingDaysInRow => "maxLosingDaysInRow",
            Limit::FlashCrash => "flashCrash",
            Limit::SymbolCooldownMinutes => "symbolCooldownMinutes",
            Limit::Sizing => "sizing",
            Limit::Cash => "cash",
            Limit::MinNotional => "minNotional",
            Limit::DeadManMinutes => "deadManMinutes",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Milliseconds in a UTC day.
const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;

/// Start of the UTC day after the one containing `time`.
fn next_day_start(time: i64) -> i64 {
    (time.div_euclid(DAY_MS) + 1) * DAY_MS
}

/// `2026-11-22 00:40 UTC`, for messages.
fn fmt_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || format!("{ms} ms"),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// A ratio or percentage for messages: at most 2 decimals, no trailing zeros.
fn fmt_dec(value: rust_decimal::Decimal) -> rust_decimal::Decimal {
    value.round_dp(2).normalize()
}
