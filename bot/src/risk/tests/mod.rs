//! Risk engine tests: every limit with its boundary, sizing on hand-computed
//! numbers, halt latch and state round trip. Real `Ledger`s with real fills.

mod account;
mod breach_agrees;
mod control;
mod entry;
mod halt_state;
mod sizing;
mod ticks;
mod transfers;

use super::*;
use crate::domain::{
    Candle, Fill, Liquidity, Money, OrderId, Price, Quantity, Side, Symbol, Timeframe,
};
use crate::ledger::{ClosedTrade, Ledger};
use botfleet_crds::{Phase, RiskPolicySpec};
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// 2026-01-01 00:00 UTC.
pub(super) const T0: i64 = 1_767_225_600_000;
pub(super) const MIN: i64 = 60_000;
pub(super) const DAY: i64 = 86_400_000;

pub(super) fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}
pub(super) fn m(s: &str) -> Money {
    Money::new(d(s))
}
pub(super) fn p(s: &str) -> Price {
    Price::new(d(s))
}
pub(super) fn q(s: &str) -> Quantity {
    Quantity::new(d(s))
}
pub(super) fn sym(s: &str) -> Symbol {
    Symbol::new(s)
}

/// The default (seed) policy's config for `phase`, 1-minute candles.
pub(super) fn config(phase: Phase, capital: &str) -> RiskConfig {
    RiskConfig::from_policy(&RiskPolicySpec::default(), phase, m(capital), Timeframe::M1)
}

/// A Paper config with no cooldown, flash breaker far away, cash reserve 0,
/// so a test sees only the limit it sets.
pub(super) fn plain(capital: &str) -> RiskConfig {
    let mut c = config(Phase::Paper, capital);
    c.limits.symbol_cooldown_minutes = 0;
    c.limits.flash_crash.move_pct = "90".parse().unwrap();
    c.cash_reserve_pct = Decimal::ZERO;
    c
}

pub(super) fn engine(config: RiskConfig) -> RiskEngine {
    let capital = config.capital;
    RiskEngine::new(config, T0, capital).unwrap()
}

pub(super) fn ledger(cash: &str) -> Ledger {
    Ledger::new(m(cash)).unwrap()
}

static TRADE: AtomicU64 = AtomicU64::new(1);

fn fill(symbol: &str, side: Side, price: &str, qty: &str, time: i64) -> Fill {
    let n = TRADE.fetch_add(1, Ordering::Relaxed);
    Fill {
        trade_id: format!("t{n}"),
        order_id: OrderId(n),
        symbol: sym(symbol),
        side,
        price: p(price),
        quantity: q(qty),
        fee: Money::ZERO,
        liquidity: Liquidity::Taker,
        time,
    }
}

/// Buys `qty` of `symbol` at `price` (no fee).
pub(super) fn buy(l: &mut Ledger, symbol: &str, price: &str, qty: &str, time: i64) {
    let _ = l
        .apply_fill(&fill(symbol, Side::Buy, price, qty, time))
        .unwrap();
}

/// Sells `qty`; the closed round trip if it went flat.
pub(super) fn sell(
    l: &mut Ledger,
    symbol: &str,
    price: &str,
    qty: &str,
    time: i64,
) -> Option<ClosedTrade> {
    l.apply_fill(&fill(symbol, Side::Sell, price, qty, time))
        .unwrap()
        .closed_trade()
        .cloned()
}

/// A candle at `t` with open = previous close unknown: open = close.
pub(super) fn candle(t: i64, high: &str, low: &str, close: &str) -> Candle {
    Candle {
        open_time: t,
        open: p(close),
        high: p(high),
        low: p(low),
        close: p(close),
        volume: q("1000"),
    }
}

/// Marks the ledger at the candle's close and runs the risk tick.
pub(super) fn tick(e: &mut RiskEngine, l: &mut Ledger, symbol: &str, c: &Candle) -> RiskActions {
    let s = sym(symbol);
    l.mark(&s, c.close);
    e.on_candle(&s, c, l)
}

pub(super) fn refused(v: &Verdict) -> &Refusal {
    v.refusal()
        .unwrap_or_else(|| panic!("expected a refusal, got {v:?}"))
}

pub(super) fn approved(v: &Verdict) -> &Approval {
    v.approval()
        .unwrap_or_else(|| panic!("expected an approval, got {v:?}"))
}
