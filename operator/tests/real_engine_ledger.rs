//! The `ledgerMatchesVenue` gate criterion with the REAL engine: a bot
//! promoted to Sandbox trades on the Binance spot simulator, its engine
//! checks its ledger against the simulator's trade history every second
//! (`--ledger-check-secs 1`, set by the kubelet stand-in), and the
//! operator's gate to LimitedReal shows the result. Books that agree meet
//! the criterion; a simulator told to report a trade that never happened
//! blocks the gate with that trade named in the bot's status.
//!
//! Harness and conventions: `real_engine.rs`.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use botfleet_crds::condition_types as ct;
use botfleet_crds::{GateCriterionStatus, Phase, TradingBot};
use botfleet_tests::exchange_sim::Faults;
use common::real_engine::*;
use common::*;
use rust_decimal::Decimal;
use serde_json::json;

const API_KEY: &str = "ledgerKey6Rb2NvXq8Tz";
const API_SECRET: &str = "ledgerSecret1Hs5Kd7Wm3Pc";

fn wide_limits() -> serde_json::Value {
    json!({
        "maxPositionPct": 25,
        "stopLossPct": 5,
        "maxTradesPerDay": 1000,
        "dailyLossLimitPct": 90,
        "maxDrawdownPct": 90,
        "maxTotalLossPct": 90,
        "maxLosingDaysInRow": 1000,
        "symbolCooldownMinutes": 0,
        "flashCrash": {"movePct": 90},
    })
}

/// A gate any bot that traded a little meets (one-second days: 0 days).
fn low_gate() -> serde_json::Value {
    json!({
        "minDays": 0,
        "minTrades": 1,
        "minWinRatePct": 0,
        "minSharpe": -1000,
        "maxDrawdownPct": 100,
        "minReturnPct": -99,
        "maxErrorRatePct": 100,
    })
}

fn phase(b: &TradingBot) -> Option<Phase> {
    b.status.as_ref().and_then(|s| s.phase)
}

fn ledger_row(b: &TradingBot) -> Option<GateCriterionStatus> {
    let gate = b.status.as_ref()?.gate.as_ref()?;
    if gate.target_phase != Phase::LimitedReal {
        return None;
    }
    gate.criteria
        .iter()
        .find(|c| c.name == "ledgerMatchesVenue")
        .cloned()
}

fn condition(b: &TradingBot, type_: &str) -> Option<(String, String, String)> {
    b.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn csv(dir: &tempfile::TempDir, name: &str, bars: &[Bar]) -> PathBuf {
    let path = dir.path().join(name);
    write_csv(&path, bars).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_that_disagrees_with_the_venue_blocks_the_gate_with_the_difference_named() {
    let rw = RealWorld::new("real-ledger").await.unwrap();
    let op = rw.start_operator(rw.config());
    rw.credentials("keys", API_KEY, API_SECRET).await.unwrap();
    rw.sma("fast-sma", 2, 5).await.unwrap();
    rw.policy(
        "policy",
        json!({
            "limits": {"paper": wide_limits(), "sandbox": wide_limits()},
            "gates": {"paperToSandbox": low_gate(), "sandboxToLimitedReal": low_gate()},
        }),
    )
    .await
    .unwrap();
    let started = Instant::now();
    // Paper: waves, then a slide that closes the position. Sandbox: more
    // waves on the simulator, from `switch` on.
    let mid = Decimal::from(30_000);
    let mut bars = bars(FIRST_CANDLE, mid, &wave(168, mid, 3.0, 24.0, 0));
    let last = bars.last().unwrap().close;
    extend(&mut bars, &trend(8, last, -1));
    let switch = bars.last().unwrap().time + HOUR;
    let base = bars.last().unwrap().close;
    extend(&mut bars, &wave(96, base, 3.0, 24.0, 0));
    let end = bars.last().unwrap().time;
    let venue_bars: Vec<Bar> = bars.iter().filter(|b| b.time >= switch).copied().collect();
    let (sim, prices) = simulator(API_KEY, API_SECRET, Decimal::from(10_000), venue_bars).await;
    rw.kubelet.set_venue(&sim.url);
    let data = tempfile::Builder::new()
        .prefix("real-engine-data-")
        .tempdir()
        .unwrap();
    let feed = csv(&data, "paper-then-sandbox.csv", &bars);
    let _bot = rw
        .bot("ledger", "fast-sma", "policy", json!({}), move |s| {
            let to = (s.phase == Some(Phase::Paper)).then_some(switch);
            replay(&feed, to)
        })
        .await
        .unwrap();
    rw.wait_bot("ledger", "the paper gate is met", |b| {
        condition_is(b, ct::GATE_SATISFIED, "True")
    })
    .await
    .unwrap();
    rw.patch_spec("ledger", json!({"phase": "Sandbox"}))
        .await
        .unwrap();
    rw.wait_bot("ledger", "promoted to Sandbox", |b| {
        phase(b) == Some(Phase::Sandbox)
    })
    .await
    .unwrap();
    let sandbox = rw.kubelet.wait_replayed("ledger", end).await.unwrap();
    assert!(sandbox.window.orders > 0, "{:?}", sandbox.window);
    assert!(!sim.trades().is_empty(), "no trade at the venue");

    // Books that agree: the criterion is met, every venue trade matched.
    let agreeing = rw
        .wait_bot("ledger", "ledgerMatchesVenue met", |b| {
            ledger_row(b).is_some_and(|r| r.met)
        })
        .await
        .unwrap();
    let row = ledger_row(&agreeing).unwrap();
    assert_eq!(row.measured, Some(0.0), "{row:?}");
    assert!(
        row.detail
            .as_deref()
            .is_some_and(|d| d.starts_with("ledger matches the venue")),
        "{row:?}"
    );

    // The venue reports a trade that never happened.
    let phantom = sim.trades().iter().map(|t| t.id).max().unwrap() + 1;
    sim.set_faults(Faults {
        phantom_trade: true,
        ..Faults::default()
    });
    let named = format!("the venue reports BTCUSDT trade {phantom} ");
    let differs = rw
        .wait_bot(
            "ledger",
            "ledgerMatchesVenue not met, the trade named",
            |b| {
                ledger_row(b).is_some_and(|r| {
                    !r.met && r.detail.as_deref().is_some_and(|d| d.contains(&named))
                })
            },
        )
        .await
        .unwrap();
    let row = ledger_row(&differs).unwrap();
    assert!(row.measured.is_some_and(|m| m >= 1.0), "{row:?}");
    let detail = row.detail.unwrap();
    assert!(detail.contains("the ledger lacks"), "{detail}");
    assert!(detail.contains("fees differ by"), "{detail}");

    // Asking for LimitedReal: blocked by the gate, the difference named.
    rw.patch_spec("ledger", json!({"phase": "LimitedReal"}))
        .await
        .unwrap();
    let blocked = rw
        .wait_bot("ledger", "the promotion blocked by the ledger", |b| {
            condition(b, ct::PROMOTION_BLOCKED)
                .is_some_and(|(s, _, m)| s == "True" && m.contains("ledgerMatchesVenue"))
        })
        .await
        .unwrap();
    let (_, reason, message) = condition(&blocked, ct::PROMOTION_BLOCKED).unwrap();
    assert_eq!(reason, "GateNotMet", "{message}");
    assert!(message.contains(&named), "{message}");
    assert_eq!(phase(&blocked), Some(Phase::Sandbox));
    let (status, _, gate_message) = condition(&blocked, ct::GATE_SATISFIED).unwrap();
    assert_eq!(status, "False");
    assert!(gate_message.contains(&named), "{gate_message}");

    // The venue agrees again: the criterion is met again.
    sim.set_faults(Faults::default());
    rw.wait_bot("ledger", "ledgerMatchesVenue met again", |b| {
        ledger_row(b).is_some_and(|r| r.met)
    })
    .await
    .unwrap();

    op.stop().await;
    rw.kubelet.park("ledger").await.unwrap();
    prices.abort();
    eprintln!(
        "SCENARIO ledger check gate: {:.1?} (after the control plane and the engine binary were ready)",
        started.elapsed()
    );
}
