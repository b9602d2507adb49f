//! Crash safety of the order flow at the venue boundary: 60 rounds, each
//! submitting an order through a fresh client while faults are on and the
//! submit is cut off at a random point (as a kill -9 would: the request may
//! or may not have reached the venue, the response may be lost). After every
//! crash the "restarted engine" reconciles: the store holds each order from
//! before it is sent (write-ahead), the ledger holds trade ids. At the end
//! the ledger equals the simulator: every trade recorded exactly once, no
//! order placed twice.

use botfleet_bot::binance::RetryPolicy;
use botfleet_bot::binance::spot::{SpotClient, SpotCredentials, SpotEndpoint, SpotOptions};
use botfleet_bot::domain::{OrderId, OrderKind, OrderRequest, Price, Quantity, Side, Symbol};
use botfleet_bot::execution::{Venue, reconcile};
use botfleet_crds::Phase;
use botfleet_tests::exchange_sim::{ExchangeSim, Faults, SimConfig};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const KEY: &str = "crashKey1";
const SECRET: &str = "crashSecret2";

/// A small deterministic generator (no randomness crate needed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn client(sim: &ExchangeSim) -> SpotClient {
    let endpoint = SpotEndpoint::with_url(Phase::Sandbox, &sim.url).unwrap();
    let creds = SpotCredentials::new(KEY, SECRET).unwrap();
    let opts = SpotOptions {
        timeout: Duration::from_millis(150),
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(2),
        },
        // Sixty restarts in seconds use more request weight than a real
        // minute allows; the weight limit has its own test.
        weight_limit_1m: u32::MAX,
        ..SpotOptions::default()
    };
    SpotClient::new(endpoint, creds, "crashbot", opts).unwrap()
}

#[tokio::test]
async fn sixty_crashes_lose_and_duplicate_nothing() {
    let mut config = SimConfig::btcusdt(KEY, SECRET);
    config.balances = vec![
        ("USDT".into(), Decimal::from(1_000_000)),
        ("BTC".into(), Decimal::from(100)),
    ];
    let sim = ExchangeSim::start(config).await;
    let btc = Symbol::new("BTCUSDT");
    let mut rng = Lcg(0x5eed);
    let mut price = Decimal::from(50_000);
    sim.candle("BTCUSDT", price, price, price);

    // The engine's durable state: orders by id (open ones need
    // reconciliation), fills by trade id.
    let mut stored_open: Vec<(Symbol, OrderId)> = Vec::new();
    let mut ledger: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut crashes = 0;
    let mut recovered_fills = 0;
    let mut orphans = 0;

    for round in 1..=60u64 {
        let mut venue = client(&sim);
        // Restart: reconcile first, then trade.
        tokio::time::sleep(Duration::from_millis(50)).await; // in-flight requests land
        let seen: BTreeSet<String> = ledger.keys().cloned().collect();
        let r = reconcile(&mut venue, &stored_open, |t| seen.contains(t))
            .await
            .unwrap();
        orphans += r.orphans_canceled.len();
        recovered_fills += r.missed_fills.len();
        for f in r.missed_fills {
            assert!(ledger.insert(f.trade_id.clone(), f.quantity).is_none());
        }
        let closed: BTreeSet<OrderId> = r
            .updated
            .iter()
            .filter(|o| !o.is_open())
            .map(|o| o.id)
            .chain(r.vanished.iter().map(|(_, id)| *id))
            .collect();
        stored_open.retain(|(_, id)| !closed.contains(id));

        sim.set_faults(match rng.below(5) {
            0 => Faults {
                dropped_submits: 1,
                ..Faults::default()
            },
            1 => Faults {
                slow_submits: 1,
                submit_delay: Duration::from_millis(200),
                ..Faults::default()
            },
            2 => Faults {
                server_errors: 1,
                ..Faults::default()
            },
            3 => Faults {
                rate_limited: 1,
                retry_after_secs: 0,
                ..Faults::default()
            },
            _ => Faults::default(),
        });
        sim.set_partial_fill_cap(if rng.below(2) == 0 {
            Some(Decimal::new(5, 3))
        } else {
            None
        });
        let side = if rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let kind = if rng.below(2) == 0 {
            OrderKind::Market
        } else {
            let offset = Decimal::from(rng.below(200) as i64 - 100);
            OrderKind::Limit {
                price: Price::new(price + offset),
            }
        };
        let order = OrderRequest {
            id: OrderId(round),
            symbol: btc.clone(),
            side,
            kind,
            quantity: Quantity::new(Decimal::new(1 + rng.below(20) as i64, 3)),
            reason: "crash test".into(),
            created_at: 0,
        };
        // Write-ahead, before sending. Now and then the record is lost (an
        // engine that records after sending and dies in between): the order
        // must then come back as an orphan. Only resting orders far from the
        // market, since a lost record of an order that already closed is
        // beyond what the venue can tell us.
        let mut order = order;
        if rng.below(6) == 0 {
            let far = Decimal::from(2_000);
            order.kind = OrderKind::Limit {
                price: Price::new(match order.side {
                    Side::Buy => price - far,
                    Side::Sell => price + far,
                }),
            };
        } else {
            stored_open.push((btc.clone(), order.id));
        }
        let kill_after = Duration::from_millis(rng.below(40));
        match tokio::time::timeout(kill_after, venue.submit(&order)).await {
            Err(_) => crashes += 1, // killed mid-flight; nothing more happens
            Ok(Err(e)) => assert!(e.is_fate_unknown() || e.is_retryable(), "{e:?}"),
            Ok(Ok(state)) => {
                // Sometimes the engine dies before it records the fills.
                if rng.below(3) > 0 {
                    for f in venue.fills(&btc, order.id).await.unwrap() {
                        ledger.entry(f.trade_id).or_insert(f.quantity);
                    }
                    if !state.is_open() {
                        stored_open.retain(|(_, id)| *id != order.id);
                    } else {
                        // Its later fills come through reconciliation.
                    }
                }
            }
        }
        drop(venue);
        sim.set_faults(Faults::default());
        // The market moves.
        let step = Decimal::from(rng.below(400) as i64 - 200);
        price += step;
        sim.candle(
            "BTCUSDT",
            price - Decimal::from(150),
            price + Decimal::from(150),
            price,
        );
    }

    // Final restart: reconcile, then cancel what is still open.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut venue = client(&sim);
    let seen: BTreeSet<String> = ledger.keys().cloned().collect();
    let r = reconcile(&mut venue, &stored_open, |t| seen.contains(t))
        .await
        .unwrap();
    for f in r.missed_fills {
        assert!(ledger.insert(f.trade_id.clone(), f.quantity).is_none());
    }
    for (symbol, id) in &stored_open {
        let _ = venue.cancel(symbol, *id).await;
    }

    eprintln!(
        "{crashes} crashes, {recovered_fills} fills recovered by reconciliation, \
         {orphans} orphans canceled, {} trades, {} orders at the venue",
        sim.trades().len(),
        sim.orders().len()
    );
    assert!(crashes >= 5, "the test crashed the flow {crashes} times");
    assert!(
        recovered_fills >= 5,
        "reconciliation recovered {recovered_fills} fills"
    );
    assert!(orphans >= 2, "reconciliation canceled {orphans} orphans");
    let trades = sim.trades();
    let venue_trades: BTreeMap<String, Quantity> = trades
        .iter()
        .map(|t| (t.id.to_string(), Quantity::new(t.qty)))
        .collect();
    assert_eq!(ledger, venue_trades, "ledger equals the venue's trades");
    let mut per_client_id: BTreeMap<String, usize> = BTreeMap::new();
    for o in sim.orders() {
        *per_client_id.entry(o.client_order_id).or_default() += 1;
    }
    assert!(
        per_client_id.values().all(|n| *n == 1),
        "an order was placed twice: {per_client_id:?}"
    );
    assert!(sim.orders().iter().all(|o| !o.status.is_open()));

    // The simulator's own books balance: nothing locked, and the balances
    // moved by exactly the trades.
    let (mut btc_moved, mut usdt_moved) = (Decimal::ZERO, Decimal::ZERO);
    for t in &trades {
        let sign = if t.side == botfleet_tests::exchange_sim::book::SimSide::Buy {
            Decimal::ONE
        } else {
            -Decimal::ONE
        };
        btc_moved += sign * t.qty;
        usdt_moved -= sign * t.qty * t.price + t.commission;
    }
    let (b, u) = (sim.balance("BTC"), sim.balance("USDT"));
    assert_eq!((b.locked, u.locked), (Decimal::ZERO, Decimal::ZERO));
    assert_eq!(b.free, Decimal::from(100) + btc_moved);
    assert_eq!(u.free, Decimal::from(1_000_000) + usdt_moved);
}
