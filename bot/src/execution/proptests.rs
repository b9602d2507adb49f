//! Property tests of the paper broker, the ledger and the performance
//! tracker wired together as the engine loop wires them.

use super::*;
use crate::domain::{
    Candle, Fill, Liquidity, Money, OrderId, OrderKind, OrderRequest, Price, Quantity, Side,
    Symbol, Timeframe,
};
use crate::ledger::{FillOutcome, Ledger};
use crate::performance::{EquityCurve, Performance};
use proptest::prelude::*;
use rust_decimal::Decimal;

#[derive(Clone, Debug)]
enum Action {
    Candle {
        sym: usize,
        /// Open = previous close + this many cents.
        gap: i64,
        /// Close = open + this many cents.
        body: i64,
        up: i64,
        down: i64,
        /// Thousandths.
        volume: i64,
    },
    Order {
        sym: usize,
        buy: bool,
        /// Limit at the last close + this many cents; `None`: market.
        limit_offset: Option<i64>,
        /// Thousandths.
        qty: i64,
    },
    /// Sell the whole free holding (so round trips close).
    Flatten {
        sym: usize,
        limit_offset: Option<i64>,
    },
    Cancel(usize),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0..2usize, -400..400i64, -600..600i64, 0..500i64, 0..500i64, 0..40_000i64).prop_map(
            |(sym, gap, body, up, down, volume)| Action::Candle { sym, gap, body, up, down, volume }
        ),
        3 => (0..2usize, any::<bool>(), prop::option::of(-800..800i64), 1..4_000i64).prop_map(
            |(sym, buy, limit_offset, qty)| Action::Order { sym, buy, limit_offset, qty }
        ),
        1 => (0..2usize, prop::option::of(-300..300i64))
            .prop_map(|(sym, limit_offset)| Action::Flatten { sym, limit_offset }),
        1 => (0..8usize).prop_map(Action::Cancel),
    ]
}

fn config() -> impl Strategy<Value = PaperConfig> {
    (0..40i64, 0..40i64, 0..30i64, prop::option::of(1..=100i64)).prop_map(|(t, mk, s, cap)| {
        PaperConfig {
            taker_fee_bps: Decimal::new(t, 0) / Decimal::TWO,
            maker_fee_bps: Decimal::new(mk, 0) / Decimal::TWO,
            slippage_bps: Decimal::new(s, 0),
            max_volume_participation_pct: cap.map(|c| Decimal::new(c, 0)),
        }
    })
}

struct World {
    symbols: [Symbol; 2],
    close: [i64; 2],
    clock: i64,
    next_id: u64,
    broker: PaperBroker,
    ledger: Ledger,
    perf: Performance,
    fills: Vec<Fill>,
    realized: Money,
    last_max_dd: f64,
}

impl World {
    fn check(&mut self, start: Money) -> Result<(), TestCaseError> {
        let l = &self.ledger;
        // equity = cash + marked positions (recomputed from scratch).
        let marked: Money = l.positions().map(|p| p.quantity() * p.mark_price()).sum();
        prop_assert_eq!(l.equity(), l.cash() + marked);
        // Cash reconciles exactly with the fills.
        let (mut buys, mut sells, mut fees) = (Money::ZERO, Money::ZERO, Money::ZERO);
        for f in &self.fills {
            match f.side {
                Side::Buy => buys += f.notional(),
                Side::Sell => sells += f.notional(),
            }
            fees += f.fee;
        }
        prop_assert_eq!(l.cash(), start - buys - fees + sells);
        prop_assert_eq!(l.fees_paid(), fees);
        prop_assert_eq!(l.realized_pnl(), self.realized);
        prop_assert_eq!(
            l.net_pnl(),
            l.realized_pnl() - l.fees_paid() + l.unrealized_pnl()
        );
        prop_assert!(!l.cash().is_sign_negative(), "cash {}", l.cash());
        // The venue's account and the engine's book agree.
        prop_assert_eq!(self.broker.cash(), l.cash());
        for s in &self.symbols {
            let held = l.position(s).map_or(Quantity::ZERO, |p| p.quantity());
            prop_assert_eq!(self.broker.holding(s), held);
            prop_assert!(!held.is_sign_negative());
        }
        if !l.has_position() {
            let trips: Money = l.closed_trades().iter().map(|t| t.pnl).sum();
            prop_assert_eq!(trips, l.cash() - start);
        }
        // Drawdown never negative, max drawdown monotone.
        for w in [self.perf.overall(), &self.perf.window()] {
            prop_assert!(w.drawdown_pct() >= 0.0);
            prop_assert!(w.max_drawdown_pct() >= w.drawdown_pct());
        }
        prop_assert!(self.perf.overall().max_drawdown_pct() >= self.last_max_dd);
        self.last_max_dd = self.perf.overall().max_drawdown_pct();
        Ok(())
    }
}

fn cents(c: i64) -> Price {
    Price::from_scaled(c, 2)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn ledger_broker_and_performance_reconcile_at_every_step(
        config in config(),
        start_cents in 100_000i64..10_000_000,
        actions in prop::collection::vec(action(), 1..120),
    ) {
        let start = Money::from_scaled(start_cents, 2);
        let mut w = World {
            symbols: [Symbol::new("BTCUSDT"), Symbol::new("ETHUSDT")],
            close: [10_000, 2_000],
            clock: 0,
            next_id: 1,
            broker: PaperBroker::new(config.clone(), start).unwrap(),
            ledger: Ledger::new(start).unwrap(),
            perf: Performance::new(Timeframe::M1, "Paper", 0, start, EquityCurve::bounded(64)),
            fills: Vec::new(),
            realized: Money::ZERO,
            last_max_dd: 0.0,
        };
        let mut report = ExecutionReport::default();
        for (step, a) in actions.into_iter().enumerate() {
            if step == 60 {
                w.perf.start_window("Sandbox", w.clock);
            }
            match a {
                Action::Candle { sym, gap, body, up, down, volume } => {
                    w.clock += 60_000;
                    let open = (w.close[sym] + gap).max(50);
                    let close = (open + body).max(50);
                    let candle = Candle {
                        open_time: w.clock,
                        open: cents(open),
                        high: cents(open.max(close) + up),
                        low: cents((open.min(close) - down).max(1)),
                        close: cents(close),
                        volume: Quantity::from_scaled(volume, 3),
                    };
                    w.close[sym] = close;
                    let symbol = w.symbols[sym].clone();
                    report.clear();
                    w.broker.on_candle(&symbol, &candle, &mut report);
                    let mut filled = Quantity::ZERO;
                    for f in &report.fills {
                        prop_assert_eq!(f.time, candle.open_time);
                        filled += f.quantity;
                        let order = w.broker.order(f.order_id).unwrap();
                        // Never on the candle the order was placed after.
                        prop_assert!(order.created_at < candle.open_time);
                        let rate = match f.liquidity {
                            Liquidity::Taker => config.taker_fee_bps,
                            Liquidity::Maker => config.maker_fee_bps,
                        } / Decimal::from(10_000);
                        prop_assert_eq!(f.fee, fee(f.notional(), rate));
                        prop_assert!(f.fee.value().scale() <= 8);
                        match order.kind {
                            OrderKind::Market => prop_assert_eq!(
                                f.price,
                                market_price(f.side, candle.open, config.slippage_bps / Decimal::from(10_000))
                            ),
                            OrderKind::Limit { price } => match f.side {
                                Side::Buy => prop_assert!(f.price <= price && f.price >= candle.low),
                                Side::Sell => prop_assert!(f.price >= price && f.price <= candle.high),
                            },
                        }
                        match w.ledger.apply_fill(f).unwrap() {
                            FillOutcome::Applied(a) => {
                                w.realized += a.realized_pnl;
                                if let Some(t) = &a.closed_trade {
                                    w.perf.record_trade(t);
                                }
                            }
                            FillOutcome::AlreadyApplied => prop_assert!(false, "trade id reused: {}", f.trade_id),
                        }
                        w.fills.push(f.clone());
                    }
                    if let Some(pct) = config.max_volume_participation_pct {
                        prop_assert!(filled.value() <= candle.volume.value() * pct / Decimal::ONE_HUNDRED);
                    }
                    // Replaying the fills changes nothing.
                    let equity = w.ledger.equity();
                    for f in &report.fills {
                        prop_assert_eq!(w.ledger.apply_fill(f).unwrap(), FillOutcome::AlreadyApplied);
                    }
                    prop_assert_eq!(w.ledger.equity(), equity);
                    w.ledger.mark(&symbol, candle.close);
                    w.perf.on_candle(w.clock, w.ledger.equity(), w.ledger.has_position());
                }
                Action::Flatten { sym, limit_offset } => {
                    let free = w
                        .broker
                        .balances()
                        .holdings
                        .iter()
                        .find(|h| h.symbol == w.symbols[sym])
                        .map_or(Quantity::ZERO, |h| h.free);
                    if free.is_zero() {
                        continue;
                    }
                    let kind = match limit_offset {
                        None => OrderKind::Market,
                        Some(o) => OrderKind::Limit { price: cents((w.close[sym] + o).max(1)) },
                    };
                    let request = OrderRequest {
                        id: OrderId(w.next_id),
                        symbol: w.symbols[sym].clone(),
                        side: Side::Sell,
                        kind,
                        quantity: free,
                        reason: "flatten".into(),
                        created_at: w.clock,
                    };
                    w.next_id += 1;
                    w.broker.submit(request).unwrap();
                    w.perf.record_order(true);
                }
                Action::Order { sym, buy, limit_offset, qty } => {
                    let kind = match limit_offset {
                        None => OrderKind::Market,
                        Some(o) => OrderKind::Limit { price: cents((w.close[sym] + o).max(1)) },
                    };
                    let request = OrderRequest {
                        id: OrderId(w.next_id),
                        symbol: w.symbols[sym].clone(),
                        side: if buy { Side::Buy } else { Side::Sell },
                        kind,
                        quantity: Quantity::from_scaled(qty, 3),
                        reason: "proptest".into(),
                        created_at: w.clock,
                    };
                    w.next_id += 1;
                    let accepted = w.broker.submit(request).is_ok();
                    w.perf.record_order(accepted);
                }
                Action::Cancel(i) => {
                    let id = w.broker.open_orders().nth(i).map(|o| o.id);
                    if let Some(id) = id {
                        w.broker.cancel(id).unwrap();
                    }
                }
            }
            w.check(start)?;
        }
    }
}
