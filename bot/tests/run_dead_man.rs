//! The dead-man switch in LimitedReal, the real engine against the exchange
//! simulator (its trading API and its market data as the live feed), on
//! Binance spot and on Coinbase Advanced Trade: with nobody polling
//! `/status` for `deadManMinutes` (3 s here) the engine opens no position,
//! while its exits still go out; a poll lifts the hold and entries resume.

mod run_support;

use std::time::{Duration, Instant};

use botfleet_bot::domain::{Candle, Price, Quantity};
use botfleet_bot::store::Store;
use botfleet_crds::engine_api::EngineState;
use botfleet_tests::exchange_sim::{ExchangeSim, SimSide, SimStatus};
use run_support::live::HOUR;
use run_support::venue::{
    Kind, assert_books_equal, feed, market_args, simulator_with_history, venue_args,
    wait_feed_subscribed,
};
use run_support::{CAPITAL, Engine, TIMEOUT, Workspace};
use rust_decimal::Decimal;

const TRIPPED: &str = "botfleet_engine_dead_man_tripped";

fn candle(open_time: i64, open: Decimal, close: Decimal) -> Candle {
    Candle {
        open_time,
        open: Price::new(open),
        high: Price::new(open.max(close)),
        low: Price::new(open.min(close)),
        close: Price::new(close),
        volume: Quantity::new(Decimal::from(10)),
    }
}

/// Candles from `open_time` on, each moving the price by `moves` per mille.
fn path(open_time: i64, mut price: Decimal, moves: &[i64]) -> Vec<Candle> {
    let mut out = Vec::new();
    for (i, m) in moves.iter().enumerate() {
        let next = (price * (Decimal::from(1000 + m) / Decimal::from(1000))).round_dp(2);
        out.push(candle(open_time + i as i64 * HOUR, price, next));
        price = next;
    }
    out
}

/// Six hours down 1 %, four up 1 %: the 2/5 SMA crossover buys on the
/// second hour up.
const V: [i64; 10] = [-10, -10, -10, -10, -10, -10, 10, 10, 10, 10];

/// Feeds `candles` to the venue (its live feed, and the price its market
/// orders fill at: the close the engine saw), then waits until the engine
/// has stored the last.
async fn trade(kind: Kind, sim: &ExchangeSim, engine: &Engine, candles: &[Candle]) {
    let mut last = 0;
    for c in candles {
        last = feed(kind, sim, c);
    }
    engine.wait_stored(last).await;
}

async fn wait_for(what: &str, engine: &Engine, done: impl Fn() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{}",
            engine.log_text()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn orders(sim: &ExchangeSim, side: SimSide) -> usize {
    sim.orders()
        .iter()
        .filter(|o| o.side == side && o.status == SimStatus::Filled)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_polls_limited_real_opens_nothing_and_resumes_after_a_poll() {
    dead_man_switch(Kind::Binance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_polls_limited_real_opens_nothing_and_resumes_after_a_poll_on_coinbase() {
    dead_man_switch(Kind::Coinbase).await;
}

async fn dead_man_switch(kind: Kind) {
    let now = chrono::Utc::now().timestamp_millis();
    let hour = now - now.rem_euclid(HOUR);
    // 150 closed hours of a quiet market (±0.1 %), then the stream.
    let quiet: Vec<i64> = (0..150).map(|i| if i % 2 == 0 { 1 } else { -1 }).collect();
    let history = path(hour - 150 * HOUR, Decimal::from(30_000), &quiet);
    let start = history.last().unwrap().close.value();
    let sim = simulator_with_history(kind, Decimal::from(CAPITAL), &history).await;
    let (mut price, mut next) = (start, hour);
    let mut shape = |moves: &[i64]| {
        let candles = path(next, price, moves);
        next += moves.len() as i64 * HOUR;
        price = candles.last().unwrap().close.value();
        candles
    };

    let ws = Workspace::new("LimitedReal");
    let manifests = kind
        .manifests(run_support::manifests("LimitedReal"))
        .replace("fast: 10", "fast: 2")
        .replace("slow: 30", "slow: 5")
        .replace(
            "      maxLosingDaysInRow: 10\n",
            "      maxLosingDaysInRow: 10\n    limitedReal:\n      deadManMinutes: 0.05\n",
        );
    std::fs::write(ws.config(), manifests).unwrap();
    let mut args = market_args(kind, &ws, &sim);
    args.extend(venue_args(kind, &ws, &sim));
    let engine = Engine::start(&ws, &args, &[]);
    wait_feed_subscribed(kind, &sim).await;
    engine
        .wait_metrics("ready", |m| m.get("botfleet_engine_ready") == Some(&1.0))
        .await;

    // Nobody polls /status (the test reads /metrics only): after 3 s the
    // switch holds entries, and a buy signal opens nothing.
    engine
        .wait_metrics("the switch to trip", |m| m.get(TRIPPED) == Some(&1.0))
        .await;
    trade(kind, &sim, &engine, &shape(&V)).await;
    assert!(sim.orders().is_empty(), "an entry while nobody polls");

    // The first poll sees why...
    let held = engine.status().await;
    assert_eq!(held.state, EngineState::Paused);
    let pause = held.pause.expect("the hold shows as a pause");
    assert!(
        pause.reason.starts_with("dead-man switch: "),
        "{}",
        pause.reason
    );
    assert_eq!(pause.until, None, "it lasts until the next poll");
    assert!(
        held.limits_hit.iter().any(|l| l.limit == "deadManMinutes"),
        "{:?}",
        held.limits_hit
    );
    // ...and lifts it; an operator keeps polling.
    let url = engine.url("/status");
    let poller = tokio::spawn(async move {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        loop {
            let _ = client.get(&url).send().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    engine
        .wait_metrics("the switch to lift", |m| m.get(TRIPPED) == Some(&0.0))
        .await;
    let lifted = engine.status().await;
    assert_eq!(lifted.state, EngineState::Trading);
    assert!(lifted.pause.is_none(), "{:?}", lifted.pause);
    trade(kind, &sim, &engine, &shape(&V)).await;
    wait_for("the entry to fill", &engine, || {
        orders(&sim, SimSide::Buy) == 1
    })
    .await;

    // The polls stop: entries are held again, but the exit still goes out.
    poller.abort();
    engine
        .wait_metrics("the switch to trip again", |m| m.get(TRIPPED) == Some(&1.0))
        .await;
    trade(kind, &sim, &engine, &shape(&V)).await;
    wait_for("the exit to fill", &engine, || {
        orders(&sim, SimSide::Sell) == 1
    })
    .await;
    assert_eq!(orders(&sim, SimSide::Buy), 1, "no entry while held");

    engine.status().await;
    engine
        .wait_metrics("the switch to lift again", |m| m.get(TRIPPED) == Some(&0.0))
        .await;
    let log = engine.log_text();
    assert!(engine.terminate().success(), "{log}");
    assert!(log.contains("dead-man switch tripped"), "{log}");

    // Both held buy signals are in the audit log, refused by the switch.
    let store = Store::open(&ws.sqlite()).await.unwrap();
    let decisions = store.audit_since(i64::MIN, u32::MAX).await.unwrap();
    store.close().await;
    let held: Vec<_> = decisions
        .iter()
        .filter(|d| d.signal == "buy" && d.reason["risk"]["limit"] == "deadManMinutes")
        .collect();
    assert_eq!(held.len(), 2, "{decisions:#?}");
    assert!(held.iter().all(|d| d.verdict == "refused"), "{held:#?}");
    let switched = decisions
        .iter()
        .filter(|d| d.verdict == "dead-man-switch")
        .count();
    assert!(
        switched >= 4,
        "two trips and two lifts are audited: {decisions:#?}"
    );
    assert_books_equal(kind, &ws, &sim).await;
}
