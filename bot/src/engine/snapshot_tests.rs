use super::*;
use crate::domain::{Candle, Fill, Symbol, Timeframe};
use crate::engine::EngineEvent;
use crate::execution::PaperConfig;
use crate::market_data::{SyntheticConfig, generate};

fn config() -> EngineConfig {
    EngineConfig::from_test_yaml(include_str!("../../../manifests/examples/quickstart.yaml"))
}

fn candles(n: usize) -> Vec<Candle> {
    generate(&SyntheticConfig::for_timeframe(7, n, Timeframe::H1))
        .unwrap()
        .candles
}

fn fresh(start: i64) -> Engine {
    Engine::new(
        config(),
        PaperConfig::default(),
        EquityCurve::bounded(0),
        start,
        EventMode::Record,
    )
    .unwrap()
}

/// Feeds `candles`, as the live loop does (drain, forget closed orders).
fn feed(engine: &mut Engine, candles: &[Candle], events: &mut Vec<EngineEvent>) {
    for c in candles {
        engine.on_candle(0, c).unwrap();
        events.extend(engine.drain_events());
        engine.forget_closed_orders();
    }
}

fn fills(events: &[EngineEvent]) -> Vec<Fill> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Fill(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

/// The snapshot goes through JSON as it does through the store.
fn through_json(snapshot: &EngineSnapshot) -> EngineSnapshot {
    serde_json::from_str(&serde_json::to_string(snapshot).unwrap()).unwrap()
}

fn history(data: &[Candle]) -> impl Iterator<Item = (Symbol, Candle)> + '_ {
    data.iter().map(|c| (Symbol::new("BTCUSDT"), *c))
}

#[test]
fn a_restored_engine_continues_exactly_like_an_uninterrupted_one() {
    let data = candles(3_000);
    let start = data[0].open_time;
    let mut reference = fresh(start);
    let mut expected = Vec::new();
    feed(&mut reference, &data, &mut expected);
    let expected_fills = fills(&expected);
    assert!(
        expected_fills.len() >= 6,
        "the data must trade for the test to mean anything"
    );

    // Cut right after an order was submitted (it fills on the next candle
    // after the restart), and at a few arbitrary points.
    let submitted_at = expected
        .iter()
        .find_map(|e| match e {
            EngineEvent::OrderSubmitted { order } => Some(order.created_at),
            _ => None,
        })
        .unwrap();
    let after_submit = data
        .iter()
        .position(|c| c.open_time == submitted_at)
        .unwrap()
        + 1;
    for cut in [1, after_submit, 1_234, 2_999] {
        let mut events = Vec::new();
        let mut first = fresh(start);
        feed(&mut first, &data[..cut], &mut events);
        let open_orders = first.open_order_count();
        let snapshot = through_json(&first.snapshot());
        drop(first);
        let mut second =
            Engine::restore(config(), snapshot, &fills(&events), history(&data[..cut])).unwrap();
        assert_eq!(second.open_order_count(), open_orders, "cut {cut}");
        feed(&mut second, &data[cut..], &mut events);
        assert_eq!(events, expected, "cut at candle {cut}");
        assert_eq!(
            second.performance().summary(),
            reference.performance().summary(),
            "cut {cut}"
        );
        assert_eq!(
            second.ledger().state(),
            reference.ledger().state(),
            "cut {cut}"
        );
        assert_eq!(
            serde_json::to_value(second.risk().state()).unwrap(),
            serde_json::to_value(reference.risk().state()).unwrap(),
            "cut {cut}"
        );
        assert_eq!(second.next_order_id(), reference.next_order_id());
    }
    assert_eq!(
        fresh(start).open_order_count(),
        0,
        "sanity: a fresh engine has no orders"
    );
}

#[test]
fn a_missing_fill_is_refused_not_traded_on() {
    let data = candles(3_000);
    let mut events = Vec::new();
    let mut engine = fresh(data[0].open_time);
    feed(&mut engine, &data, &mut events);
    let mut stored = fills(&events);
    stored.pop();
    let err = Engine::restore(config(), engine.snapshot(), &stored, history(&data))
        .err()
        .expect("an inconsistent store must be refused");
    assert!(err.to_string().contains("inconsistent"), "{err}");
}

#[test]
fn a_snapshot_of_another_version_is_refused() {
    let engine = fresh(0);
    let mut snapshot = engine.snapshot();
    snapshot.version = SNAPSHOT_VERSION + 1;
    let err = Engine::restore(config(), snapshot, &[], std::iter::empty())
        .err()
        .unwrap();
    assert!(err.to_string().contains("version"), "{err}");
}

#[test]
fn a_halt_can_take_the_callers_id_and_only_that_id_resumes_it() {
    let data = candles(50);
    let mut engine = fresh(data[0].open_time);
    feed(&mut engine, &data, &mut Vec::new());
    let halt = engine
        .halt_with_id(
            data[49].open_time,
            "operator: drawdown",
            false,
            Some("h-17-abc"),
        )
        .unwrap();
    assert_eq!(halt.id, "h-17-abc");
    assert_eq!(
        engine.risk().halted().map(|h| h.id.as_str()),
        Some("h-17-abc")
    );
    // Halting again keeps the first halt and its id.
    let again = engine
        .halt_with_id(data[49].open_time, "another", false, Some("h-99-zzz"))
        .unwrap();
    assert_eq!(again.id, "h-17-abc");
    assert!(engine.resume("h-99-zzz").is_err());
    assert_eq!(engine.resume("h-17-abc").unwrap().id, "h-17-abc");
    assert!(engine.risk().halted().is_none());
    // Without an id the risk engine names it.
    let own = engine.halt_with_id(1, "manual", false, None).unwrap();
    assert!(own.id.starts_with("halt-"), "{}", own.id);
}

#[test]
fn a_new_phase_starts_a_new_window() {
    let data = candles(3_000);
    let mut engine = fresh(data[0].open_time);
    feed(&mut engine, &data, &mut Vec::new());
    assert!(engine.performance().window().trades() > 0);
    let now = data[2_999].open_time + 3_600_000;
    engine.start_phase(now).unwrap();
    let window = engine.performance().window();
    assert_eq!(window.trades(), 0);
    assert_eq!(window.start_time(), now);
    assert_eq!(window.start_equity(), engine.equity());
    assert!(engine.performance().overall().trades() > 0);
}
