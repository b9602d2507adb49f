//! Sizing methods: the notional an entry would have before the caps.
//!
//! - **fixedFraction**: `pct` % of equity.
//! - **atr**: risk `riskPct` % of equity on a stop `atrMultiple × ATR` below
//!   the price: quantity = risk ÷ stop distance, notional = quantity × price.
//! - **kelly**: from the bot's own closed round trips (P&L after fees),
//!   win rate `W` and payoff `R` = average win ÷ average loss, the Kelly
//!   bet is `f* = W − (1 − W) ÷ R` (`f* = W` when no trade lost yet). The
//!   entry is `fraction × f*` of equity, at most `capPct` %; below
//!   `minTrades` closed trades, `fallbackPct` % instead. An edge of 0 or
//!   less refuses the entry.

use super::config::pct_of;
use super::fmt_dec;
use crate::domain::{Money, Price};
use crate::ledger::ClosedTrade;
use botfleet_crds::Sizing;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Running statistics of closed round trips for Kelly sizing (O(1) per trade).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KellyStats {
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    /// Σ P&L of the winning trades.
    pub gross_win: Money,
    /// Σ |P&L| of the losing trades.
    pub gross_loss: Money,
}

impl KellyStats {
    /// Counts one round trip by its P&L after fees (0 is neither win nor loss).
    pub fn record(&mut self, pnl: Money) {
        self.trades += 1;
        if pnl > Money::ZERO {
            self.wins += 1;
            self.gross_win += pnl;
        } else if pnl < Money::ZERO {
            self.losses += 1;
            self.gross_loss -= pnl;
        }
    }

    /// Statistics of `trades`, e.g. the ledger's closed trades after a restart.
    pub fn from_trades<'a>(trades: impl IntoIterator<Item = &'a ClosedTrade>) -> Self {
        let mut s = Self::default();
        trades.into_iter().for_each(|t| s.record(t.pnl));
        s
    }

    /// Wins ÷ trades.
    pub fn win_rate(&self) -> Option<Decimal> {
        (self.trades > 0).then(|| Decimal::from(self.wins) / Decimal::from(self.trades))
    }

    /// Average win ÷ average loss (`None` without a win and a loss).
    pub fn payoff(&self) -> Option<Decimal> {
        if self.wins == 0 || self.losses == 0 || self.gross_loss.is_zero() {
            return None;
        }
        let avg_win = self.gross_win.value() / Decimal::from(self.wins);
        let avg_loss = self.gross_loss.value() / Decimal::from(self.losses);
        Some(avg_win / avg_loss)
    }

    /// The full Kelly fraction `W − (1 − W) / R`; `W` when nothing lost;
    /// −1 when nothing won but something lost. `None` with no trades.
    pub fn kelly(&self) -> Option<Decimal> {
        let w = self.win_rate()?;
        Some(match self.payoff() {
            Some(r) => w - (Decimal::ONE - w) / r,
            None if self.losses == 0 => w,
            None => -Decimal::ONE,
        })
    }
}

/// The sizing method's proposal.
pub(super) struct Target {
    pub method: &'static str,
    pub notional: Money,
    pub explanation: String,
}

/// An `f64` (an indicator value or a YAML float) as the decimal of its
/// shortest text, so `0.1` is exactly 0.1; `None` if not finite.
pub(super) fn decimal_from_f64(value: f64) -> Option<Decimal> {
    if !value.is_finite() {
        return None;
    }
    let text = format!("{value}");
    Decimal::from_str_exact(&text).ok()
}

/// The notional `sizing` proposes for an entry at `price`; `Err` carries
/// the message of a `sizing` refusal.
///
/// `explain: false` leaves the approval's explanation empty (a backtest that
/// keeps no log): formatting it costs more than the rest of the entry.
pub(super) fn target(
    sizing: &Sizing,
    equity: Money,
    price: Price,
    atr: Option<f64>,
    kelly: &KellyStats,
    explain: bool,
) -> Result<Target, String> {
    let words = |text: &dyn Fn() -> String| if explain { text() } else { String::new() };
    if equity <= Money::ZERO {
        return Err(format!("equity is {equity}; nothing to size from"));
    }
    if let Some(f) = &sizing.fixed_fraction {
        let pct = f.pct.value();
        let notional = pct_of(equity, pct);
        return Ok(Target {
            method: "fixedFraction",
            notional,
            explanation: words(&|| {
                format!("fixedFraction {pct} % of equity {equity} = {notional}")
            }),
        });
    }
    if let Some(a) = &sizing.atr {
        let Some(atr) = atr.filter(|v| *v > 0.0).and_then(decimal_from_f64) else {
            return Err(format!(
                "atr sizing needs ATR({}) and it is {} (still warming up, or a flat market); no entry until it is above 0",
                a.atr_period,
                atr.map_or_else(|| "not ready".to_string(), |v| v.to_string())
            ));
        };
        let k = decimal_from_f64(a.atr_multiple).unwrap_or(Decimal::ONE);
        let risk = pct_of(equity, a.risk_pct.value());
        let distance = k * atr;
        let quantity = risk.value() / distance;
        let notional = Money::new(quantity * price.value());
        return Ok(Target {
            method: "atr",
            notional,
            explanation: words(&|| {
                format!(
                    "atr: risk {} % of equity {equity} = {risk} over a stop {k} × ATR {} = {} away → {} units = {notional} at {price}",
                    a.risk_pct,
                    fmt_dec(atr),
                    fmt_dec(distance),
                    quantity.round_dp(8).normalize()
                )
            }),
        });
    }
    let Some(k) = &sizing.kelly else {
        return Err("spec.sizing sets no method; set fixedFraction, atr or kelly".into());
    };
    if kelly.trades < u64::from(k.min_trades) {
        let pct = k.fallback_pct.value();
        let notional = pct_of(equity, pct);
        return Ok(Target {
            method: "kellyFallback",
            notional,
            explanation: words(&|| {
                format!(
                    "kelly fallback: {} of {} closed trades needed → {pct} % of equity {equity} = {notional}",
                    kelly.trades, k.min_trades
                )
            }),
        });
    }
    let full = kelly.kelly().unwrap_or(Decimal::ZERO);
    let win_rate = kelly.win_rate().unwrap_or_default() * Decimal::ONE_HUNDRED;
    let payoff = kelly
        .payoff()
        .map_or_else(|| "n/a".to_string(), |r| fmt_dec(r).to_string());
    let stats = format!(
        "{} trades, win rate {} %, payoff {payoff} → Kelly {} %",
        kelly.trades,
        fmt_dec(win_rate),
        fmt_dec(full * Decimal::ONE_HUNDRED)
    );
    if full <= Decimal::ZERO {
        return Err(format!("kelly: {stats}: no edge, no entry"));
    }
    let fraction = decimal_from_f64(k.fraction).unwrap_or(Decimal::ONE);
    let wanted = full * fraction * Decimal::ONE_HUNDRED;
    let pct = wanted.min(k.cap_pct.value());
    let notional = pct_of(equity, pct);
    Ok(Target {
        method: "kelly",
        notional,
        explanation: words(&|| {
            format!(
                "kelly: {stats} × {fraction} = {} %, cap {} % → {} % of equity {equity} = {notional}",
                fmt_dec(wanted),
                k.cap_pct,
                fmt_dec(pct)
            )
        }),
    })
}

/// `value` rounded down to a multiple of `step` (> 0).
pub(super) fn floor_to_step(value: Decimal, step: Decimal) -> Decimal {
    if value <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    ((value / step).floor() * step).normalize()
}
