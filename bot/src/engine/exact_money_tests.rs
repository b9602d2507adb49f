//! The scaled-integer mark (`ledger/fixed.rs`) against `rust_decimal`: the
//! same backtest run twice, once with every mark forced through the decimal
//! arithmetic, must agree on every trade, fee, P&L figure and the equity at
//! each trade — exactly, not within a tolerance.

use super::*;
use crate::domain::{Candle, Timeframe};
use crate::execution::PaperConfig;
use crate::ledger::{ClosedTrade, force_decimal};
use crate::market_data::{SyntheticConfig, generate};
use crate::performance::{EquityCurve, PerformanceSummary};

const MANIFESTS: &str = r#"
apiVersion: botfleet.dev/v1alpha1
kind: Strategy
metadata: {name: sma}
spec:
  timeframe: 1m
  smaCrossover: {fast: 10, slow: 30}
---
apiVersion: botfleet.dev/v1alpha1
kind: RiskPolicy
metadata: {name: all-checks}
spec:
  limits:
    paper:
      maxPositionPct: 25
      maxOpenPositions: 2
      stopLossPct: 2
      takeProfitPct: 4
      trailingStopPct: 3
      maxDrawdownPct: 100
      maxTotalLossPct: 100
      maxLosingDaysInRow: 1000
      maxTradesPerDay: 1000
      symbolCooldownMinutes: 5
---
apiVersion: botfleet.dev/v1alpha1
kind: TradingBot
metadata: {name: exact}
spec:
  strategyRef: {name: sma}
  riskPolicyRef: {name: all-checks}
  exchange: {venue: binance, symbols: [BTCUSDT, ETHUSDT]}
  phase: Paper
  capital: CAPITAL
"#;

/// Everything money the run produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Each round trip with the account's equity on the candle it closed.
    trades: Vec<(ClosedTrade, Money)>,
    /// Equity after every 1,000th candle.
    equity: Vec<Money>,
    cash: Money,
    fees: Money,
    realized: Money,
    unrealized: Money,
    summary: PerformanceSummary,
}

fn candles(seed: u64, n: usize) -> Vec<Candle> {
    generate(&SyntheticConfig::for_timeframe(seed, n, Timeframe::M1))
        .unwrap()
        .candles
}

/// Two symbols interleaved, so marks also take the several-positions path.
fn run(capital: &str, decimal: bool) -> Outcome {
    let text = MANIFESTS.replace("CAPITAL", capital);
    let config = EngineConfig::from_test_yaml(&text);
    let (btc, eth) = (candles(7, 60_000), candles(11, 60_000));
    let mut engine = Engine::new(
        config,
        PaperConfig::default(),
        EquityCurve::bounded(0),
        btc[0].open_time,
        EventMode::CountOnly,
    )
    .unwrap();
    force_decimal(decimal);
    let mut out = Outcome {
        trades: Vec::new(),
        equity: Vec::new(),
        cash: Money::ZERO,
        fees: Money::ZERO,
        realized: Money::ZERO,
        unrealized: Money::ZERO,
        summary: engine.performance().summary(),
    };
    for (i, (b, e)) in btc.iter().zip(&eth).enumerate() {
        for (index, candle) in [(0, b), (1, e)] {
            let closed = engine.ledger().closed_trades().len();
            engine.on_candle(index, candle).unwrap();
            let l = engine.ledger();
            for t in &l.closed_trades()[closed..] {
                out.trades.push((t.clone(), l.equity()));
            }
        }
        if i % 1_000 == 0 {
            out.equity.push(engine.equity());
        }
    }
    force_decimal(false);
    let l = engine.ledger();
    out.cash = l.cash();
    out.fees = l.fees_paid();
    out.realized = l.realized_pnl();
    out.unrealized = l.unrealized_pnl();
    out.summary = engine.performance().summary();
    out
}

#[test]
fn a_backtest_marked_on_scaled_integers_equals_the_decimal_one() {
    // The bench's account, and one large enough for the volume cap to split
    // orders into partial fills (partial sells round the removed cost).
    for capital in ["10000", "50000000"] {
        let reference = run(capital, true);
        let fast = run(capital, false);
        // The large account trades less often (the volume cap stretches
        // each order over many candles) but in many partial fills.
        assert!(
            reference.trades.len() > 20,
            "capital {capital}: only {} trades; the comparison needs many",
            reference.trades.len()
        );
        assert!(reference.fees > Money::ZERO);
        assert_eq!(
            fast.trades.len(),
            reference.trades.len(),
            "capital {capital}"
        );
        for (i, (f, r)) in fast.trades.iter().zip(&reference.trades).enumerate() {
            assert_eq!(f, r, "capital {capital}: trade {i} differs");
        }
        assert_eq!(fast, reference, "capital {capital}");
    }
}
