use super::*;
use crate::config::EngineConfig;
use crate::domain::{Candle, Fill, Timeframe};
use crate::engine::{EngineSnapshot, EventMode};
use crate::execution::PaperConfig;
use crate::market_data::{SyntheticConfig, generate};
use crate::performance::EquityCurve;
use crate::risk::Limit;

fn config(capital: i64) -> EngineConfig {
    let mut c =
        EngineConfig::from_test_yaml(include_str!("../../../manifests/examples/quickstart.yaml"));
    c.capital = Money::from(capital);
    c
}

fn candles(n: usize) -> Vec<Candle> {
    generate(&SyntheticConfig::for_timeframe(7, n, Timeframe::H1))
        .unwrap()
        .candles
}

/// Feeds `candles` as the live loop does; the fills go to `fills`.
fn feed(engine: &mut Engine, candles: &[Candle], fills: &mut Vec<Fill>) {
    for c in candles {
        engine.on_candle(0, c).unwrap();
        fills.extend(engine.drain_events().into_iter().filter_map(|e| match e {
            EngineEvent::Fill(f) => Some(f),
            _ => None,
        }));
        engine.forget_closed_orders();
        assert!(!engine.ledger().cash().is_sign_negative());
        if let Some(b) = engine.broker() {
            assert_eq!(b.cash(), engine.ledger().cash(), "broker and ledger agree");
        }
    }
}

/// As the store does: through JSON, then restored on every stored candle.
fn restore(capital: i64, snapshot: &EngineSnapshot, fills: &[Fill], data: &[Candle]) -> Engine {
    let snapshot = serde_json::from_str(&serde_json::to_string(snapshot).unwrap()).unwrap();
    let history = data.iter().map(|c| (Symbol::new("BTCUSDT"), *c));
    Engine::restore(config(capital), snapshot, fills, history).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn no_loss_halt(engine: &Engine) {
    let limit = engine.risk().halted().map(|h| h.limit);
    assert!(
        !matches!(limit, Some(Limit::MaxTotalLossPct | Limit::MaxTotalLoss)),
        "{:?}",
        engine.risk().halted()
    );
}

#[test]
fn a_new_capital_on_restore_is_one_transfer_and_no_halt() {
    let data = candles(3_000);
    let mut fills = Vec::new();
    let mut first = Engine::new(
        config(10_000),
        PaperConfig::default(),
        EquityCurve::bounded(0),
        data[0].open_time,
        EventMode::Record,
    )
    .unwrap();
    feed(&mut first, &data[..1_500], &mut fills);
    assert!(!fills.is_empty() && first.risk().halted().is_none());
    let snapshot = first.snapshot();
    let (equity, window) = (first.equity(), first.performance().window().clone());
    let now = data[1_500].open_time;

    // Doubled: before transfers the loss floor was 70 % of 20000 against an
    // equity of about 10000, and the engine halted itself.
    let mut second = restore(20_000, &snapshot, &fills, &data[..1_500]);
    let t = second.apply_allocation(now).unwrap().expect("a transfer");
    assert_eq!(
        (t.at, t.amount, t.capital_after),
        (now, Money::from(10_000), Money::from(20_000))
    );
    assert_eq!(second.equity(), equity + Money::from(10_000));
    assert_eq!(second.ledger().net_pnl(), first.ledger().net_pnl());
    assert_eq!(second.allocated_capital(), Money::from(20_000));
    let w = second.performance().window();
    assert!(close(w.return_pct(), window.return_pct()));
    assert!(close(w.drawdown_pct(), window.drawdown_pct()));
    assert_eq!(w.trades(), window.trades(), "the window goes on");
    assert!(second.risk().total_loss_floor() < second.equity());
    assert!(
        second.apply_allocation(now).unwrap().is_none(),
        "recorded once"
    );
    // A crash before the step was stored: the restart records it again, once.
    let mut again = restore(20_000, &snapshot, &fills, &data[..1_500]);
    assert_eq!(again.apply_allocation(now).unwrap().as_ref(), Some(&t));

    feed(&mut second, &data[1_500..2_500], &mut fills);
    no_loss_halt(&second);
    // Restored from a store that holds the transfer between the fills: the
    // same capital records nothing, and the cash replays exactly.
    let stored = second.snapshot();
    let mut third = restore(20_000, &stored, &fills, &data[..2_500]);
    assert!(
        third
            .apply_allocation(data[2_500].open_time)
            .unwrap()
            .is_none()
    );
    assert_eq!(third.ledger().state(), second.ledger().state());
    assert_eq!(third.ledger().transfers().len(), 1);

    // Back down to 10000 and on.
    let t = third.apply_allocation_for_test(10_000, data[2_500].open_time);
    assert_eq!(t.capital_after, Money::from(10_000));
    feed(&mut third, &data[2_500..], &mut fills);
    no_loss_halt(&third);
    let end = restore(10_000, &third.snapshot(), &fills, &data);
    assert_eq!(end.ledger().state(), third.ledger().state());
    assert_eq!(end.ledger().net_transfers(), third.ledger().net_transfers());
}

#[test]
fn a_cut_larger_than_the_free_cash_moves_the_rest_once_it_frees() {
    let data = candles(3_000);
    let mut fills = Vec::new();
    let mut engine = Engine::new(
        config(10_000),
        PaperConfig::default(),
        EquityCurve::bounded(0),
        data[0].open_time,
        EventMode::Record,
    )
    .unwrap();
    let mut i = 0;
    while !engine.ledger().has_position() {
        feed(&mut engine, &data[i..i + 1], &mut fills);
        i += 1;
    }
    let held = engine.ledger().positions_value();
    let mut cut = restore(10_000, &engine.snapshot(), &fills, &data[..i]);
    cut.config.capital = Money::from(1_000);
    let t = cut.apply_allocation(data[i].open_time).unwrap().unwrap();
    assert!(!t.shortfall.is_zero(), "{t:?}");
    assert_eq!(-t.amount + t.shortfall, Money::from(9_000));
    assert!(cut.ledger().cash() < Money::from(1), "all free cash moved");
    assert!(cut.equity() >= held, "the position stays");
    let mut j = i;
    while cut.ledger().owed_out() > Money::ZERO {
        assert!(j < data.len(), "the position never closed");
        feed(&mut cut, &data[j..j + 1], &mut fills);
        j += 1;
    }
    let transfers = cut.ledger().transfers();
    assert!(transfers.len() >= 2);
    let last = transfers.last().unwrap();
    assert_eq!(
        (last.capital_after, last.shortfall),
        (Money::from(1_000), Money::ZERO)
    );
    assert_eq!(cut.ledger().contributed(), Money::from(1_000));
    assert!(cut.risk().halted().is_none(), "{:?}", cut.risk().halted());
    let back = restore(1_000, &cut.snapshot(), &fills, &data[..j]);
    assert_eq!(back.ledger().state(), cut.ledger().state());
}

impl Engine {
    fn apply_allocation_for_test(&mut self, capital: i64, now: i64) -> crate::ledger::Transfer {
        self.config.capital = Money::from(capital);
        self.risk
            .reconfigure(crate::engine::risk_config(&self.config))
            .unwrap();
        self.apply_allocation(now).unwrap().unwrap()
    }
}
