//! Strategy tests on hand-built candle series: each expected signal is
//! worked out in the comments (or from member signals asserted first).

mod build;
mod committee;
mod kinds;

use super::*;
use crate::domain::{Price, Quantity};

/// A candle whose every price is `close` (strategies look at the close).
pub(super) fn candle(i: usize, close: f64) -> Candle {
    let price = Price::from_scaled((close * 10_000.0).round() as i64, 4);
    Candle {
        open_time: i as i64 * 60_000,
        open: price,
        high: price,
        low: price,
        close: price,
        volume: Quantity::from(1),
    }
}

/// Every decision for a series of closes.
pub(super) fn run(strategy: &mut dyn Strategy, closes: &[f64]) -> Vec<Advice> {
    closes
        .iter()
        .enumerate()
        .map(|(i, &c)| strategy.on_candle(&candle(i, c)))
        .collect()
}

/// The (candle index, signal) of every non-hold decision.
pub(super) fn signals(decisions: &[Advice]) -> Vec<(usize, Signal)> {
    decisions
        .iter()
        .enumerate()
        .filter(|(_, d)| d.signal != Signal::Hold)
        .map(|(i, d)| (i, d.signal))
        .collect()
}

pub(super) fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// The indicator reason of a decision (panics on a committee reason).
pub(super) fn indicator(d: &Advice) -> IndicatorReason {
    match &d.reason {
        Reason::Indicator(r) => *r,
        Reason::Committee(c) => panic!("expected an indicator reason, got {c:?}"),
    }
}

pub(super) fn committee_reason(d: &Advice) -> &CommitteeReason {
    match &d.reason {
        Reason::Committee(c) => c,
        Reason::Indicator(r) => panic!("expected a committee reason, got {r:?}"),
    }
}
