//! The streamed path (candle cache, sampled charts) reports exactly what the
//! in-memory path reports, and big orders' partial fills are not kept.

use super::*;
use crate::domain::Timeframe;
use crate::market_data::{SyntheticConfig, TimeUnit, generate, write_binance_csv_file};

fn quickstart(capital: Option<&str>) -> EngineConfig {
    let mut text = include_str!("../../../manifests/examples/quickstart.yaml").to_string();
    if let Some(c) = capital {
        text = text.replace("capital: 10000", &format!("capital: {c}"));
    }
    EngineConfig::from_test_yaml(&text)
}

fn json(r: &BacktestReport) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

/// Same CSV, same flags: loaded into memory, then through the candle cache
/// on its first (built) and second (hit) use and with the CSV checked in
/// the background, with `--from/--to`, and of the whole file. The report.json
/// files are identical, byte for byte (input hash included). (13,000 candles:
/// the streamed run hands over several blocks and fills one again.)
#[test]
fn a_cached_streamed_run_reports_what_the_in_memory_run_reports() {
    let cfg = quickstart(None);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("btc.csv");
    let series = generate(&SyntheticConfig::new(11, 13_000)).unwrap();
    write_binance_csv_file(&csv, &series.candles, Timeframe::H1, TimeUnit::Millis).unwrap();
    let selection = DataSelection {
        data: vec![DataArg {
            symbol: None,
            path: csv,
        }],
        seed: 0,
        synthetic_candles: 0,
        from: Some(series.candles[100].open_time),
        to: Some(series.candles[12_900].open_time),
    };
    let options = BacktestOptions::default();
    let memory = run(&cfg, load_series(&cfg, &selection).unwrap(), &options).unwrap();
    assert_eq!(memory.candles, 12_800);
    assert!(memory.trades.len() > 5, "the quickstart trades");
    let cache = dir.path().join("cache");
    for hit in [false, true] {
        let inputs = load_inputs(&cfg, &selection, Some(&cache), CacheCheck::BeforeUse).unwrap();
        assert_eq!(inputs[0].1.cache_hit(), Some(hit));
        let streamed = run_inputs(&cfg, inputs, &options).unwrap();
        assert_eq!(json(&streamed), json(&memory));
    }
    // As the command runs it: the CSV re-hashed beside the run.
    let inputs = load_inputs(&cfg, &selection, Some(&cache), CacheCheck::InBackground).unwrap();
    let input = inputs[0].1.clone();
    assert_eq!(
        json(&run_inputs(&cfg, inputs, &options).unwrap()),
        json(&memory)
    );
    assert!(input.confirm().unwrap());

    // The whole file: the streamed run takes the candles' digest the cache
    // recorded instead of working it out; the input hash is the same.
    let whole = DataSelection {
        from: None,
        to: None,
        ..selection
    };
    let memory = run(&cfg, load_series(&cfg, &whole).unwrap(), &options).unwrap();
    let inputs = load_inputs(&cfg, &whole, Some(&cache), CacheCheck::BeforeUse).unwrap();
    assert!(inputs[0].1.candles_digest().is_some());
    assert_eq!(
        json(&run_inputs(&cfg, inputs, &options).unwrap()),
        json(&memory)
    );
}

/// A big account under the volume cap: orders fill over many candles. A
/// backtest forgets each order (and its partial fills) once it leaves the
/// book; its results equal those of an engine whose broker kept every
/// order: per order, the filled quantity, notional and fees are the sums of
/// its partial fills, the ledger's fees the sum over every fill, and the
/// balances and trades are the same.
#[test]
fn forgetting_closed_orders_keeps_the_results_of_every_partial_fill() {
    let cfg = quickstart(Some("10000000"));
    let series = generate(&SyntheticConfig::new(3, 2_000)).unwrap();
    let symbol = Symbol::new("BTCUSDT");
    let options = BacktestOptions::default();
    let report = run(&cfg, vec![(symbol.clone(), series.clone())], &options).unwrap();

    // The same candles through an engine whose broker keeps every order.
    let mut engine = Engine::new(
        cfg.clone(),
        options.paper.clone(),
        EquityCurve::bounded(0),
        series.candles[0].open_time,
        EventMode::CountOnly,
    )
    .unwrap();
    let index = engine.symbol_index(&symbol).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for c in &series.candles {
        engine.on_candle(index, c).unwrap();
        let broker = engine.broker().unwrap();
        ids.extend(broker.open_orders().map(|o| o.id));
    }
    let broker = engine.broker().unwrap();
    let (mut fills, mut fees) = (0usize, crate::domain::Money::ZERO);
    let mut partial = 0;
    for id in &ids {
        let order = broker.order(*id).unwrap();
        let of = broker.fills_of(*id).unwrap();
        let qty: crate::domain::Quantity = of.iter().map(|f| f.quantity).sum();
        let notional: crate::domain::Money = of.iter().map(|f| f.notional()).sum();
        let fee: crate::domain::Money = of.iter().map(|f| f.fee).sum();
        assert_eq!(order.filled_quantity, qty, "order {id}");
        assert_eq!(order.filled_notional, notional, "order {id}");
        assert_eq!(order.fees, fee, "order {id}");
        partial += usize::from(of.len() > 1);
        fills += of.len();
        fees += fee;
    }
    assert!(
        partial > 0 && fills > 2 * ids.len(),
        "{fills} fills of {} orders",
        ids.len()
    );
    assert_eq!(engine.ledger().snapshot().fees_paid, fees);
    assert_eq!(report.balances, engine.ledger().snapshot());
    assert_eq!(
        serde_json::to_string(&report.trades).unwrap(),
        serde_json::to_string(engine.ledger().closed_trades()).unwrap()
    );
}
