//! "Flatten pending": a halt that must close the book keeps closing it until
//! it is closed, across restarts.
//!
//! A halt flattens when the policy says `onHalt.action: flatten` or when
//! `POST /v1/halt` asks for `flatten: true` (also onto an existing halt);
//! either way the action is part of the halt latch, which is stored with
//! the engine's state in every step. The exits sent at the halt may fail:
//! the venue refuses them, is down, or the engine is killed before they
//! fill. So while the halt in force says flatten and a position is open,
//! the trading loop sends the exit again for every position that has no
//! order in flight — at start (after reconciling with the venue) and then
//! with a backoff (1 s doubling to 30 s) — until the book is flat.
//! `/status` says `flattenPending: true` meanwhile.
//!
//! A position smaller than the venue's lot step cannot be sold and does not
//! count as pending (it stays in `openPositions`).

use std::time::{Duration, Instant};

use botfleet_crds::HaltAction;

use crate::engine::Engine;

/// Whether the halt in force still owes a flat book.
pub fn pending(engine: &Engine) -> bool {
    engine
        .risk()
        .halted()
        .is_some_and(|h| h.action == HaltAction::Flatten)
        && engine
            .ledger()
            .positions()
            .any(|p| !p.is_flat() && !engine.venue_quantity(p.symbol(), p.quantity()).is_zero())
}

/// Sends the exit of every position a pending flatten still has to close
/// and no order is in flight for; returns how many were sent (to the venue
/// queue or the paper broker).
pub fn retry(engine: &mut Engine, now: i64) -> usize {
    if !pending(engine) {
        return 0;
    }
    let exits = engine.risk.flatten(now, &engine.ledger);
    let mut sent = 0;
    for exit in exits {
        if engine.any_open_order(|o| o.symbol == exit.symbol)
            || engine.venue_quantity(&exit.symbol, exit.quantity).is_zero()
        {
            continue;
        }
        let before = engine.next_order_id();
        engine.send_exit(&exit);
        if engine.next_order_id() != before {
            *engine
                .counters
                .forced_exits
                .entry(exit.reason.limit().as_str())
                .or_default() += 1;
            sent += 1;
        }
    }
    sent
}

/// When the loop tries again.
#[derive(Debug)]
pub struct Backoff {
    next: Option<Instant>,
    wait: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(30);

    pub fn new() -> Self {
        Self {
            next: None,
            wait: Self::FIRST,
        }
    }

    /// Whether a retry is due now (the first one always is).
    pub fn due(&self) -> bool {
        self.next.is_none_or(|at| Instant::now() >= at)
    }

    /// A retry was made: the next waits longer.
    pub fn tried(&mut self) {
        self.next = Some(Instant::now() + self.wait);
        self.wait = (self.wait * 2).min(Self::MAX);
    }

    /// Nothing pending: the next flatten starts afresh.
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EngineConfig;
    use crate::domain::Timeframe;
    use crate::engine::EventMode;
    use crate::execution::PaperConfig;
    use crate::market_data::{SyntheticConfig, generate};
    use crate::performance::EquityCurve;

    /// The quickstart bot on paper, fed synthetic candles until it holds a
    /// position; the candles left.
    fn long_engine() -> (Engine, Vec<crate::domain::Candle>) {
        let text = include_str!("../../../manifests/examples/quickstart.yaml");
        let manifests = botfleet_crds::Manifests::from_yaml(text).unwrap();
        let config = EngineConfig::from_manifests(&manifests, None, text.as_bytes()).unwrap();
        let candles = generate(&SyntheticConfig::for_timeframe(7, 3000, Timeframe::H1))
            .unwrap()
            .candles;
        let mut engine = Engine::new(
            config,
            PaperConfig::default(),
            EquityCurve::bounded(0),
            candles[0].open_time,
            EventMode::Record,
        )
        .unwrap();
        for (i, c) in candles.iter().enumerate() {
            engine.on_candle(0, c).unwrap();
            engine.drain_events();
            engine.forget_closed_orders();
            if engine.ledger().has_position() && engine.open_order_count() == 0 {
                return (engine, candles[i + 1..].to_vec());
            }
        }
        panic!("the quickstart bot never went long");
    }

    #[test]
    fn a_flatten_added_to_a_halt_is_pending_until_flat_and_sent_once_at_a_time() {
        let (mut engine, rest) = long_engine();
        let now = rest[0].open_time;
        // A halt that only cancels owes nothing.
        engine.halt(now, "manual", false);
        assert!(!pending(&engine));
        assert_eq!(retry(&mut engine, now), 0);
        // Made a flatten: pending, one exit, none more while it is in flight.
        engine.risk.flatten_on_halt();
        assert!(pending(&engine));
        assert_eq!(retry(&mut engine, now), 1);
        assert_eq!(engine.open_order_count(), 1);
        assert_eq!(retry(&mut engine, now), 0, "an exit is in flight");
        // The paper broker fills it on the next candle: flat, nothing pending.
        engine.on_candle(0, &rest[0]).unwrap();
        assert!(!engine.ledger().has_position());
        assert!(!pending(&engine));
        assert_eq!(retry(&mut engine, rest[1].open_time), 0);
        assert!(engine.risk().halted().is_some(), "the halt stays latched");
    }

    #[test]
    fn backoff_doubles_to_half_a_minute_and_resets() {
        let mut b = Backoff::new();
        assert!(b.due());
        b.tried();
        assert!(!b.due());
        for _ in 0..10 {
            b.tried();
        }
        assert_eq!(b.wait, Backoff::MAX);
        b.reset();
        assert!(b.due());
        assert_eq!(b.wait, Backoff::FIRST);
    }
}
