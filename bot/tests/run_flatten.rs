//! "Flatten pending" survives a SIGKILL: a halt with flatten that could not
//! close the venue position (the venue refused the exit, then was down, and
//! the engine was killed) is stored with the halt, shown in `/status`, and
//! retried after the restart until the position is closed; at the end the
//! engine's books equal the venue's. Each scenario runs on Binance spot and
//! on Coinbase Advanced Trade.

mod run_support;

use std::time::Duration;

use botfleet_bot::domain::{Candle, OrderStatus, Price};
use botfleet_bot::store::Store;
use botfleet_crds::engine_api::EngineState;
use botfleet_tests::exchange_sim::{Faults, SimSide, SimStatus};
use run_support::venue::{Kind, assert_books_equal, simulator_holding, venue_args};
use run_support::{CAPITAL, Engine, OPERATOR_KEY, Workspace, synthetic};
use rust_decimal::Decimal;
use serde_json::json;

/// A fast SMA crossover in Sandbox with the limits that count time opened
/// wide (the replay's clock is 2024, the venue stamps fills with today).
fn sandbox_manifests() -> String {
    run_support::manifests("Sandbox")
        .replace("fast: 10", "fast: 2")
        .replace("slow: 30", "slow: 5")
        .replace(
            "      maxLosingDaysInRow: 10\n",
            "      maxLosingDaysInRow: 10
    sandbox:
      maxPositionPct: 25
      stopLossPct: 5
      maxTradesPerDay: 1000
      dailyLossLimitPct: 90
      maxDrawdownPct: 90
      maxTotalLossPct: 90
      maxLosingDaysInRow: 1000
      symbolCooldownMinutes: 0
      flashCrash:
        movePct: 90
",
        )
}

/// Synthetic candles, then a slide and a gentle climb: the bot ends long.
fn candles_ending_long() -> Vec<Candle> {
    let mut candles = synthetic(200, 7);
    let mut last = *candles.last().unwrap();
    for step in [-2, -2, -2, -2, -2, -2, 1, 1, 1, 1, 1, 1] {
        let close = last.close.value() * (Decimal::ONE + Decimal::new(step, 2));
        let price = Price::new(close.round_dp(2));
        last = Candle {
            open_time: last.open_time + 3_600_000,
            open: last.close,
            high: price.max(last.close),
            low: price.min(last.close),
            close: price,
            volume: last.volume,
        };
        candles.push(last);
    }
    candles
}

fn refusing() -> Faults {
    Faults {
        rejected_submits: u32::MAX,
        ..Faults::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_flatten_survives_a_sigkill_and_ends_flat() {
    pending_flatten_survives_a_sigkill_and_ends_flat(Kind::Binance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_flatten_survives_a_sigkill_and_ends_flat_on_coinbase() {
    pending_flatten_survives_a_sigkill_and_ends_flat(Kind::Coinbase).await;
}

async fn pending_flatten_survives_a_sigkill_and_ends_flat(kind: Kind) {
    let candles = candles_ending_long();
    let bottom = candles[candles.len() - 7].close.value();
    let sim = simulator_holding(kind, Decimal::from(CAPITAL), bottom).await;
    let ws = Workspace::new("Sandbox");
    std::fs::write(ws.config(), kind.manifests(sandbox_manifests())).unwrap();
    let data = ws.write_data(&candles);
    let mut args = ws.replay_args(&data, "max");
    args.extend(venue_args(kind, &ws, &sim));

    let engine = Engine::start(&ws, &args, &[]);
    engine.wait_stored(candles.last().unwrap().open_time).await;
    let (long, _) = engine
        .wait_status_until("a position and no open order", |s| {
            !s.open_positions.is_empty() && s.open_orders == 0
        })
        .await;

    // The venue refuses every order: the halt's exit is rejected.
    let orders_before = sim.orders().len();
    sim.set_faults(refusing());
    let (code, body) = engine
        .post(
            "/v1/halt",
            Some(OPERATOR_KEY),
            json!({"reason": "test: close the book", "flatten": true, "haltId": "h-flat-1"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["haltId"], "h-flat-1");
    let errors = long.window.order_errors;
    let (refused, _) = engine
        .wait_status_until("the exit refused", |s| s.window.order_errors > errors)
        .await;
    assert!(refused.flatten_pending, "{refused:?}");
    assert_eq!(refused.state, EngineState::Halted);
    assert_eq!(refused.open_positions.len(), 1);
    assert_eq!(refused.open_positions, long.open_positions);
    engine
        .wait_metrics("flatten_pending 1", |m| {
            m.get("botfleet_engine_flatten_pending") == Some(&1.0)
        })
        .await;

    // The venue goes down (503 to everything), and the engine is killed.
    sim.set_faults(Faults {
        server_errors: u32::MAX,
        ..Faults::default()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    engine.kill9();

    // Restarted while the venue is down, it waits to reconcile...
    let engine = Engine::start(&ws, &args, &[]);
    let deadline = std::time::Instant::now() + run_support::TIMEOUT;
    while !engine.log_text().contains("the venue is unavailable") {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            engine.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...then the venue answers but still refuses orders: the restarted
    // engine knows the flatten is pending, and keeps trying.
    sim.set_faults(refusing());
    let (after, _) = engine
        .wait_status_until("flatten pending after the restart", |s| s.flatten_pending)
        .await;
    assert_eq!(after.halt.as_ref().map(|h| h.id.as_str()), Some("h-flat-1"));
    let held = |s: &botfleet_crds::engine_api::EngineStatus| {
        s.open_positions
            .iter()
            .map(|p| (p.symbol.clone(), p.quantity))
            .collect::<Vec<_>>()
    };
    assert_eq!(held(&after), held(&long));
    let errors = after.window.order_errors;
    engine
        .wait_status_until("an exit sent after the restart", |s| {
            s.window.order_errors > errors
        })
        .await;

    // The venue recovers: the next retry closes the position.
    sim.set_faults(Faults::default());
    let (flat, _) = engine
        .wait_status_until("a flat book", |s| {
            !s.flatten_pending && s.open_positions.is_empty() && s.open_orders == 0
        })
        .await;
    assert_eq!(flat.state, EngineState::Halted, "the halt stays latched");
    assert_eq!(flat.halt.as_ref().map(|h| h.id.as_str()), Some("h-flat-1"));
    let log = engine.log_text();
    assert!(engine.terminate().success(), "{log}");
    assert!(
        log.contains("flatten pending from before the restart"),
        "{log}"
    );

    let after_halt = &sim.orders()[orders_before..];
    assert_eq!(
        after_halt.len(),
        1,
        "one exit reached the venue: {after_halt:?}"
    );
    let exit = &after_halt[0];
    assert_eq!((exit.side, exit.status), (SimSide::Sell, SimStatus::Filled));
    assert_eq!(Some(exit.executed_qty), held(&long).first().map(|p| p.1));
    assert_books_equal(kind, &ws, &sim).await;

    // The refused exits are stored with the venue's code and message.
    let store = Store::open(&ws.sqlite()).await.unwrap();
    let state = store.load_state().await.unwrap();
    let mut rejected = 0;
    // Order ids start from the clock: look at the last ones only.
    for id in state.next_order_id.saturating_sub(50)..state.next_order_id {
        let Some(o) = store
            .order(botfleet_bot::domain::OrderId(id))
            .await
            .unwrap()
        else {
            continue;
        };
        if o.status == OrderStatus::Rejected {
            let reason = o.status_reason.unwrap_or_default();
            assert!(reason.contains("Market is closed"), "{reason}");
            rejected += 1;
        }
    }
    store.close().await;
    assert!(
        rejected >= 2,
        "refused before and after the restart: {rejected}"
    );
}

/// A crash candle fires the stop-loss exit and the drawdown halt at once:
/// the halt cancels the exit that the venue fills as it is sent. The engine
/// must take that fill once and go on answering: before the fix the cancel's
/// look-up re-applied the filled exit as an order "found at the venue", the
/// store refused the reused order id, and the trading loop retried that step
/// for ever (a resume timed out) — first seen on the real cluster (scripts/e2e).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halt_cancelling_an_exit_the_venue_already_filled_leaves_the_engine_answering() {
    halt_cancelling_an_exit_the_venue_already_filled_leaves_the_engine_answering(Kind::Binance)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halt_cancelling_an_exit_the_venue_already_filled_leaves_the_engine_answering_on_coinbase()
 {
    halt_cancelling_an_exit_the_venue_already_filled_leaves_the_engine_answering(Kind::Coinbase)
        .await;
}

async fn halt_cancelling_an_exit_the_venue_already_filled_leaves_the_engine_answering(kind: Kind) {
    // Flat, then a climb (the fast SMA crosses up: the bot buys near the
    // top, where the simulator's price sits), then a 40 % crash.
    let template = synthetic(1, 7)[0];
    let mut candles = Vec::new();
    let mut close = Decimal::from(50_000);
    let mut time = template.open_time;
    let mut push = |close: Decimal, open: Decimal, time: i64| {
        candles.push(Candle {
            open_time: time,
            open: Price::new(open),
            high: Price::new(open.max(close)),
            low: Price::new(open.min(close)),
            close: Price::new(close),
            volume: template.volume,
        });
    };
    for _ in 0..60 {
        push(close, close, time);
        time += 3_600_000;
    }
    for _ in 0..4 {
        let next = (close * Decimal::new(101, 2)).round_dp(2);
        push(next, close, time);
        close = next;
        time += 3_600_000;
    }
    let bottom = close;
    push((close * Decimal::new(6, 1)).round_dp(2), close, time);
    let sim = simulator_holding(kind, Decimal::from(CAPITAL), bottom).await;
    let ws = Workspace::new("Sandbox");
    // A 40 % crash on a 25 % position is a 10 % drawdown: over this 5 % limit.
    let manifests =
        sandbox_manifests().replacen("      maxDrawdownPct: 90\n", "      maxDrawdownPct: 5\n", 1);
    assert!(manifests.contains("maxDrawdownPct: 5"));
    std::fs::write(ws.config(), kind.manifests(manifests)).unwrap();
    let data = ws.write_data(&candles);
    let mut args = ws.replay_args(&data, "max");
    args.extend(venue_args(kind, &ws, &sim));

    let engine = Engine::start(&ws, &args, &[]);
    engine.wait_stored(candles.last().unwrap().open_time).await;
    let (halted, _) = engine
        .wait_status_until("halted by the drawdown, flat, nothing open", |s| {
            s.state == EngineState::Halted && s.open_positions.is_empty() && s.open_orders == 0
        })
        .await;
    let halt = halted.halt.expect("the halt is reported");
    assert!(halt.reason.contains("drawdown"), "{}", halt.reason);
    let log = engine.log_text();
    assert!(log.contains("stop-loss"), "the exit fired too: {log}");

    // The trading loop still takes control requests.
    let (code, body) = engine
        .post("/v1/resume", Some(OPERATOR_KEY), json!({"haltId": halt.id}))
        .await;
    assert_eq!(code, 200, "{body}");
    let log = engine.log_text();
    assert!(!log.contains("the store refused a step"), "{log}");
    assert!(!log.contains("found at the venue"), "{log}");
    assert!(engine.terminate().success(), "{log}");
    assert_books_equal(kind, &ws, &sim).await;
}
