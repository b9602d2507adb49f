//! Engines following shared candle reads (`Engine::share_candle_reads`, what
//! a sweep's sets do) or stepping on candles read ahead (`ahead.rs`, what a
//! backtest's second core does) against engines reading each candle
//! themselves: the same pauses, exits, orders, trades and equity on every
//! candle.

use std::sync::Arc;

use super::*;
use crate::domain::{Candle, Timeframe};
use crate::execution::PaperConfig;
use crate::ledger::ClosedTrade;
use crate::market_data::{SyntheticConfig, generate};
use crate::performance::EquityCurve;

/// A flash-crash breaker that trips often on synthetic one-minute data, and
/// stops that fire, so the reads decide many ticks.
const MANIFESTS: &str = r#"
apiVersion: botfleet.dev/v1alpha1
kind: Strategy
metadata: {name: sma}
spec:
  timeframe: 1m
  smaCrossover: {fast: 5, slow: 20}
---
apiVersion: botfleet.dev/v1alpha1
kind: RiskPolicy
metadata: {name: flashy}
spec:
  limits:
    paper:
      maxPositionPct: 25
      stopLossPct: 1
      takeProfitPct: 2
      trailingStopPct: 1
      maxDrawdownPct: 100
      maxTotalLossPct: 100
      maxLosingDaysInRow: 1000
      maxTradesPerDay: 1000
      symbolCooldownMinutes: 0
      flashCrash: {movePct: MOVE, windowMinutes: 5, pauseMinutes: 3}
---
apiVersion: botfleet.dev/v1alpha1
kind: TradingBot
metadata: {name: follower}
spec:
  strategyRef: {name: sma}
  riskPolicyRef: {name: flashy}
  exchange: {venue: binance, symbols: [BTCUSDT]}
  phase: Paper
  capital: 10000
"#;

fn engine(flash_move_pct: &str, start: i64) -> Engine {
    let text = MANIFESTS.replace("MOVE", flash_move_pct);
    let config = EngineConfig::from_test_yaml(&text);
    Engine::new(
        config,
        PaperConfig::default(),
        EquityCurve::bounded(0),
        start,
        EventMode::CountOnly,
    )
    .unwrap()
}

fn candles() -> Vec<Candle> {
    generate(&SyntheticConfig::for_timeframe(3, 20_000, Timeframe::M1))
        .unwrap()
        .candles
}

/// What the run did: counters, every round trip, the equity after each candle.
fn run(engine: &mut Engine, candles: &[Candle]) -> (RiskCounters, Vec<ClosedTrade>, Vec<Money>) {
    let equity = candles
        .iter()
        .map(|c| {
            engine.on_candle(0, c).unwrap();
            engine.equity()
        })
        .collect();
    let trades = engine.ledger().closed_trades().to_vec();
    (engine.counters().clone(), trades, equity)
}

#[test]
fn an_engine_on_shared_candle_reads_acts_as_one_reading_each_candle_itself() {
    let data = candles();
    let start = data[0].open_time;
    let mut own = engine("0.5", start);
    let expected = run(&mut own, &data);
    // The comparison means something only if the breaker and the stops acted.
    assert!(
        expected.0.pauses.get("flashCrash").copied().unwrap_or(0) > 10,
        "{:?}",
        expected.0
    );
    assert!(!expected.0.forced_exits.is_empty(), "{:?}", expected.0);
    assert!(expected.1.len() > 20);

    let reads = Arc::new(engine("0.5", start).risk().read_candles(&data));
    for _ in 0..2 {
        let mut follower = engine("0.5", start);
        follower.share_candle_reads(0, reads.clone()).unwrap();
        assert_eq!(run(&mut follower, &data), expected);
    }
}

#[test]
fn reads_made_with_other_flash_settings_are_refused() {
    let data = candles();
    let start = data[0].open_time;
    let reads = Arc::new(engine("0.5", start).risk().read_candles(&data));
    let mut other = engine("0.8", start);
    let err = other.share_candle_reads(0, reads).unwrap_err();
    assert!(err.to_string().contains("flash-crash settings"), "{err}");
}

#[test]
fn an_engine_given_candles_out_of_step_with_its_reads_reads_them_itself() {
    let data = candles();
    let start = data[0].open_time;
    let mut own = engine("0.5", start);
    let expected = run(&mut own, &data[1..]);
    // Reads of the whole series, but the engine starts at the second
    // candle: the first read is not its candle, so it reads every candle itself.
    let reads = Arc::new(engine("0.5", start).risk().read_candles(&data));
    let mut follower = engine("0.5", start);
    follower.share_candle_reads(0, reads).unwrap();
    assert_eq!(run(&mut follower, &data[1..]), expected);
}

/// The strategy lent for the first 15,000 candles, then given back: the
/// same run as an engine that read every candle itself — also after the
/// strategy came back (it was fed every candle while lent). While lent,
/// the symbol refuses a candle not read ahead.
#[test]
fn an_engine_stepping_on_candles_read_ahead_acts_as_one_reading_each_candle_itself() {
    let data = candles();
    let start = data[0].open_time;
    let expected = run(&mut engine("0.5", start), &data);
    assert!(expected.0.pauses.get("flashCrash").copied().unwrap_or(0) > 10);

    let mut ahead = engine("0.5", start);
    let mut reader = ahead.read_ahead(0).expect("an indicator strategy is lent");
    assert!(ahead.read_ahead(0).is_none(), "lent once");
    let refused = ahead.on_candle(0, &data[0]).unwrap_err();
    assert!(matches!(refused, EngineError::StrategyLent(_)), "{refused}");
    let (lent, back) = data.split_at(15_000);
    let mut equity: Vec<Money> = lent
        .iter()
        .map(|c| {
            let read = reader.read(c);
            ahead.on_candle_ahead(0, c, read).unwrap();
            ahead.equity()
        })
        .collect();
    ahead.end_read_ahead(reader);
    let (counters, trades, rest) = run(&mut ahead, back);
    equity.extend(rest);
    assert_eq!((counters, trades, equity), expected);
}
