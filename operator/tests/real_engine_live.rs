//! The real-engine tier on a live market: every engine, Paper included,
//! reads the exchange simulator's kline REST and WebSocket feed
//! (`--feed live` pointed at it), and from Sandbox up trades on the
//! simulator, whose matching engine fills at the same candles. Candles
//! arrive one at a time (a fraction of a second each), the operator's
//! "days" last a second, gates and Scaling intervals are small. Every wait
//! is a bounded poll; durations are printed, never asserted.

mod common;

use std::time::{Duration, Instant};

use botfleet_crds::condition_types as ct;
use botfleet_crds::{Phase, TradingBot};
use botfleet_tests::venue_kind::VenueKind;
use common::climb::*;
use common::live_market::*;
use common::real_engine::*;
use common::*;
use rust_decimal::Decimal;
use serde_json::json;

/// (h) The full climb on real trading: a bot asking for Scaling with
/// automatic promotion earns Paper → Sandbox → LimitedReal → Scaling, each
/// gate met by the real engine's trades on the live feed (in Paper on its
/// paper broker, from Sandbox up on the simulator), each move made on a
/// flat book. Entering Scaling allocates the schedule's first step: one
/// ledger transfer, reported in `/status`. At the end the engine's books
/// equal the venue's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h_the_full_climb_to_scaling_on_gates_met_by_real_trading() {
    let (rw, op) = world(
        VenueKind::Binance,
        "live-climb",
        json!({
            "limits": every_phase(wide_limits()),
            "gates": {
                "paperToSandbox": low_gate(),
                "sandboxToLimitedReal": low_gate(),
                "limitedRealToScaling": low_gate(),
            },
            "capital": {"schedule": [1500, 2000], "stepIntervalDays": 1000, "stepDownOnLoss": 0},
        }),
    )
    .await;
    let started = Instant::now();
    let market = climbing_bot(&rw, VenueKind::Binance, "climber", Phase::Scaling).await;
    let sim = market.sim.clone();
    let bot = wait_climbed(&rw, "climber", Phase::Scaling).await;
    for t in &bot.status.as_ref().unwrap().phase_history[1..] {
        assert!(t.reason.contains("automatic promotion"), "{}", t.reason);
    }
    for t in &bot.status.as_ref().unwrap().phase_history[2..] {
        assert!(
            t.reason.contains("approved by risk-manager@test"),
            "{}",
            t.reason
        );
    }
    // Every phase ran the real engine on the simulator's live feed.
    assert_every_phase_ran_on(&rw, "climber", &market, Phase::LimitedReal);
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.path == "/ws/btcusdt@kline_1h" && r.status == 101),
        "the engines read the simulator's kline stream"
    );

    // In Scaling the engine trades the first step of the schedule: one
    // transfer of 500 in, on top of the 1000 it climbed with.
    let scaling = rw
        .kubelet
        .wait_engine("climber", "the engine trades in Scaling", |s| {
            s.phase == Phase::Scaling && !s.allocations.is_empty()
        })
        .await
        .unwrap();
    let moves: Vec<(Decimal, Decimal)> = scaling
        .allocations
        .iter()
        .map(|a| (a.amount, a.capital_after))
        .collect();
    assert_eq!(moves, [(Decimal::from(500), Decimal::from(1500))]);
    // Trades on the venue in each real phase: its orders carry the bot's ids.
    let orders = sim.orders();
    assert!(orders.len() >= 4, "{} orders at the venue", orders.len());
    for o in &orders {
        assert!(o.client_order_id.starts_with("climber-"), "{o:?}");
    }
    let bot = rw.get("climber").await.unwrap();
    assert!(condition_is(&bot, ct::HALTED, "False"));
    assert_eq!(
        rw.kubelet.restarts("climber"),
        0,
        "{}",
        rw.kubelet.journal()
    );

    stop_and_assert_books_equal(&rw, op, &market, "climber").await;
    took("h (full climb on the live feed)", started);
}

/// A trend from the market's last close, `pct_per_candle` % a candle.
fn trend_from(market: &LiveMarket, pct_per_candle: i64) {
    let from = market.fed();
    let start = market.bars().last().unwrap().close;
    let factor = Decimal::ONE + Decimal::new(pct_per_candle, 3);
    market.set_price(move |i| {
        let mut p = start;
        for _ in from..=i {
            p *= factor;
        }
        p.round_dp(2)
    });
}

/// The allocations the operator has decided so far in Scaling, one entry
/// per change (polled; a step lasts at least an interval).
#[derive(Default)]
struct Steps {
    seen: Vec<(u32, Decimal)>,
}

impl Steps {
    fn note(&mut self, bot: &TradingBot) {
        let Some(c) = bot.status.as_ref().and_then(|s| s.capital.as_ref()) else {
            return;
        };
        let (Some(step), Some(Phase::Scaling)) = (c.step, phase(bot)) else {
            return;
        };
        if self.seen.last().map(|s| s.0) != Some(step) {
            eprintln!("capital step {step}: {}", c.allocated.value());
            self.seen.push((step, c.allocated.value()));
        }
    }

    fn step(&self) -> Option<u32> {
        self.seen.last().map(|s| s.0)
    }
}

/// Waits until the bot's capital step is `want`, noting every step, and
/// that it is never halted on the way.
async fn wait_step(rw: &RealWorld, name: &str, steps: &mut Steps, want: u32) {
    let deadline = Instant::now() + CLIMB;
    loop {
        let bot = rw.get(name).await.unwrap();
        steps.note(&bot);
        assert!(
            !condition_is(&bot, ct::HALTED, "True"),
            "halted while stepping: {:#?}",
            bot.status
        );
        if steps.step() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "capital step {want} not reached after {CLIMB:?}; steps so far {:?}; status {:#?}\n{}",
            steps.seen,
            bot.status,
            rw.kubelet.journal()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (i) Scaling steps up and down several times without a halt: rising
/// markets make profitable intervals (a step up), a falling one a losing
/// interval (a step down). Each step is a ledger transfer in the real
/// engine, never profit or loss, and never trips a loss limit: the engine's
/// allocation history (`/status.allocations`) walks exactly the steps the
/// operator decided, and the books equal the venue's at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i_scaling_steps_up_and_down_without_a_halt_and_the_allocations_follow() {
    let schedule = [1200, 1500, 2000, 2500].map(Decimal::from);
    let mut limits = wide_limits();
    // Loss limits in force that a step mistaken for a loss would trip.
    limits["maxTotalLossPct"] = json!(20);
    limits["dailyLossLimitPct"] = json!(20);
    let (rw, op) = world(
        VenueKind::Binance,
        "live-scaling",
        json!({
            "limits": every_phase(limits),
            "gates": {
                "paperToSandbox": low_gate(),
                "sandboxToLimitedReal": low_gate(),
                "limitedRealToScaling": low_gate(),
            },
            "capital": {
                "schedule": [1200, 1500, 2000, 2500],
                "stepIntervalDays": 2,
                "stepUp": {"minReturnPct": 0, "maxDrawdownPct": 50},
                "stepDownOnLoss": 1,
            },
        }),
    )
    .await;
    let started = Instant::now();
    let market = climbing_bot(&rw, VenueKind::Binance, "scaler", Phase::Scaling).await;
    let mut steps = Steps::default();
    wait_step(&rw, "scaler", &mut steps, 0).await;
    let climbed = started.elapsed();

    // Up, up; down; up, up; down.
    trend_from(&market, 5);
    wait_step(&rw, "scaler", &mut steps, 2).await;
    trend_from(&market, -8);
    wait_step(&rw, "scaler", &mut steps, 1).await;
    trend_from(&market, 5);
    wait_step(&rw, "scaler", &mut steps, 3).await;
    trend_from(&market, -8);
    wait_step(&rw, "scaler", &mut steps, 2).await;
    let walked: Vec<u32> = steps.seen.iter().map(|s| s.0).collect();
    assert_eq!(walked, [0, 1, 2, 1, 2, 3, 2], "one step at a time");
    for (step, allocated) in &steps.seen {
        assert_eq!(*allocated, schedule[*step as usize]);
    }

    // The engine recorded each allocation as a transfer, in order.
    let want: Vec<Decimal> = steps.seen.iter().map(|s| s.1).collect();
    let engine = rw
        .kubelet
        .wait_engine("scaler", "the engine has the last allocation", |s| {
            s.allocations.last().map(|a| a.capital_after) == want.last().copied()
        })
        .await
        .unwrap();
    let mut history: Vec<Decimal> = engine.allocations.iter().map(|a| a.capital_after).collect();
    // A cut larger than the free cash is settled by later entries with the
    // same allocation.
    history.dedup();
    assert_eq!(history, want, "/status.allocations vs the operator's steps");
    assert!(engine.halt.is_none(), "{:?}", engine.halt);
    assert_eq!(rw.kubelet.restarts("scaler"), 0, "{}", rw.kubelet.journal());

    stop_and_assert_books_equal(&rw, op, &market, "scaler").await;
    eprintln!("climb to Scaling: {climbed:.1?}");
    took("i (scaling up and down)", started);
}

/// (j) A resume while the venue holds a position: the kill switch halts a
/// Sandbox bot that is long (the policy's `cancelOrders` keeps the
/// position), and the resume returns it to Paper (the default resume
/// phase), which does not trade on the venue. The operator first has the
/// engine flatten on the venue, waits for the engine to confirm a flat
/// book, then moves: no position is stranded at the exchange, the engine
/// never crash-loops, and the books end equal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn j_a_resume_while_holding_a_venue_position_flattens_first() {
    let (rw, op) = world(
        VenueKind::Binance,
        "live-resume",
        json!({
            "limits": every_phase(wide_limits()),
            "gates": {"paperToSandbox": low_gate()},
        }),
    )
    .await;
    let started = Instant::now();
    let usdt = Decimal::from(10_000);
    let market = LiveMarket::start_on(
        VenueKind::Binance,
        usdt,
        40,
        Duration::from_millis(150),
        wave_price(Decimal::from(30_000), 3.0, 16.0),
    )
    .await;
    let sim = market.sim.clone();
    rw.kubelet.set_venue(&sim.url);
    let feed_args = live_feed_on(VenueKind::Binance, &sim);
    rw.bot(
        "resumer",
        "fast-sma",
        "policy",
        json!({"phase": "Sandbox", "promotion": "Automatic"}),
        move |_| feed_args.clone(),
    )
    .await
    .unwrap();
    wait_long(&rw, "resumer", "promoted to Sandbox", CLIMB, |b| {
        phase(b) == Some(Phase::Sandbox)
    })
    .await;
    // Long on the venue, and a rising market keeps it long.
    rw.kubelet
        .wait_engine("resumer", "long in Sandbox", |s| {
            s.phase == Phase::Sandbox && !s.open_positions.is_empty() && s.open_orders == 0
        })
        .await
        .unwrap();
    trend_from(&market, 3);
    rw.patch_spec("resumer", json!({"halted": true}))
        .await
        .unwrap();
    let bot = rw
        .wait_bot("resumer", "halted", |b| condition_is(b, ct::HALTED, "True"))
        .await
        .unwrap();
    let id = bot.status.unwrap().halt.unwrap().id;
    let engine = rw
        .kubelet
        .wait_engine("resumer", "the engine confirms the halt", |s| {
            s.halt.as_ref().map(|h| h.id.as_str()) == Some(id.as_str())
        })
        .await
        .unwrap();
    assert!(
        !engine.open_positions.is_empty(),
        "cancelOrders keeps the position: {:?}",
        engine.open_positions
    );
    let btc = sim.balance("BTC");
    assert!(btc.free + btc.locked > Decimal::ZERO, "the venue holds BTC");

    rw.patch_spec("resumer", json!({"halted": false, "phase": "Paper"}))
        .await
        .unwrap();
    rw.annotate("resumer", "botfleet.dev/resume", &id)
        .await
        .unwrap();
    let bot = wait_long(&rw, "resumer", "resumed in Paper", CLIMB, |b| {
        phase(b) == Some(Phase::Paper) && condition_is(b, ct::HALTED, "False")
    })
    .await;
    let last = bot.status.as_ref().unwrap().phase_history.last().unwrap();
    assert_eq!((last.from, last.to), (Some(Phase::Sandbox), Phase::Paper));
    assert!(last.reason.contains(&id), "{}", last.reason);
    let btc = sim.balance("BTC");
    assert_eq!(
        btc.free + btc.locked,
        Decimal::ZERO,
        "a position stranded at the venue"
    );
    let paper = rw
        .kubelet
        .wait_run("resumer", "an engine in Paper", |r| {
            r.phase == Some(Phase::Paper)
        })
        .await
        .unwrap();
    let engine = rw
        .kubelet
        .wait_engine("resumer", "trading on paper", |s| {
            s.phase == Phase::Paper && s.halt.is_none()
        })
        .await
        .unwrap();
    assert!(
        engine.open_positions.is_empty(),
        "{:?}",
        engine.open_positions
    );
    assert_eq!(
        rw.kubelet.restarts("resumer"),
        0,
        "crash loop:\n{}",
        rw.kubelet.journal()
    );

    op.stop().await;
    market.stop();
    let last = rw.kubelet.status("resumer").await.unwrap();
    rw.kubelet.park("resumer").await.unwrap();
    assert_books_equal(&store_url(&paper), &sim, usdt, CAPITAL, &last).await;
    took("j (resume flattens first)", started);
}
