//! The audit log records every signal with the risk verdict, halted or not.

use botfleet_bot::config::EngineConfig;
use botfleet_bot::engine::{Engine, EngineEvent, EventMode};
use botfleet_bot::market_data::{SyntheticConfig, generate};
use botfleet_bot::performance::EquityCurve;

fn engine() -> (Engine, Vec<botfleet_bot::domain::Candle>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../manifests/examples/quickstart.yaml");
    let cfg = EngineConfig::load(&path, None).unwrap();
    let candles = generate(&SyntheticConfig::for_timeframe(42, 2_000, cfg.timeframe))
        .unwrap()
        .candles;
    let start = candles[0].open_time;
    let engine = Engine::new(
        cfg,
        Default::default(),
        EquityCurve::bounded(100),
        start,
        EventMode::Record,
    )
    .unwrap();
    (engine, candles)
}

fn decisions(events: &[EngineEvent]) -> Vec<&botfleet_bot::engine::AuditRecord> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Audit(d) => Some(d),
            _ => None,
        })
        .collect()
}

#[test]
fn signals_are_audited_while_trading_and_while_halted() {
    let (mut engine, candles) = engine();
    let (first, rest) = candles.split_at(1_000);
    for c in first {
        engine.on_candle(0, c).unwrap();
    }
    let trading = engine.drain_events();
    let audited = decisions(&trading);
    assert!(!audited.is_empty(), "signals while trading are audited");
    assert!(
        audited.iter().all(|d| d.signal != "hold"),
        "holds are not logged"
    );
    assert!(audited.iter().any(|d| d.verdict == "accepted"));

    let halt = engine.halt(first[999].open_time, "test kill switch", false);
    for c in rest {
        engine.on_candle(0, c).unwrap();
    }
    let halted = engine.drain_events();
    let audited = decisions(&halted);
    assert!(
        !audited.is_empty(),
        "signals while halted are still audited"
    );
    for d in &audited {
        assert_eq!(d.verdict, "refused");
        assert_eq!(d.reason["risk"]["limit"], "halted");
        assert!(
            d.reason["risk"]["message"]
                .as_str()
                .unwrap()
                .contains(&halt.id)
        );
    }
    let entries = halted.iter().filter(|e| {
        matches!(e, EngineEvent::OrderSubmitted { order } if order.side == botfleet_bot::domain::Side::Buy)
    });
    assert_eq!(
        entries.count(),
        0,
        "no entry while halted (stops may still exit)"
    );
}
