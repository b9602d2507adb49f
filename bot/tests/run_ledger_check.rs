//! The periodic ledger check of the real engine in Sandbox against the
//! simulator, on Binance spot and on Coinbase Advanced Trade: with books
//! that agree `/status` reports a check
//! with every trade matched; when the venue's trade history then disagrees
//! (a phantom trade, a fee off by a cent) the next check names the
//! difference, and once the venue agrees again so does the check.

mod run_support;

use botfleet_bot::domain::Candle;
use botfleet_crds::engine_api::{EngineStatus, LedgerCheck};
use botfleet_tests::exchange_sim::{Faults, SimTrade};
use run_support::venue::{Kind, simulator_holding, venue_args};
use run_support::{CAPITAL, Engine, Workspace, synthetic};
use rust_decimal::Decimal;

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

fn check(s: &EngineStatus) -> Option<&LedgerCheck> {
    s.ledger_check.as_ref()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_checks_its_ledger_against_the_venue_on_a_schedule() {
    checks_its_ledger_against_the_venue_on_a_schedule(Kind::Binance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_checks_its_ledger_against_the_venue_on_a_schedule_on_coinbase() {
    checks_its_ledger_against_the_venue_on_a_schedule(Kind::Coinbase).await;
}

async fn checks_its_ledger_against_the_venue_on_a_schedule(kind: Kind) {
    let candles: Vec<Candle> = synthetic(200, 7);
    let last = candles.last().unwrap();
    let sim = simulator_holding(kind, Decimal::from(CAPITAL), last.close.value()).await;
    let ws = Workspace::new("Sandbox");
    std::fs::write(ws.config(), kind.manifests(sandbox_manifests())).unwrap();
    let data = ws.write_data(&candles);
    let mut args = ws.replay_args(&data, "max");
    args.extend(venue_args(kind, &ws, &sim));
    args.extend(["--ledger-check-secs".to_string(), "1".to_string()]);

    let engine = Engine::start(&ws, &args, &[]);
    engine.wait_stored(last.open_time).await;
    let (agreeing, _) = engine
        .wait_status_until("a check that saw every venue trade, nothing open", |s| {
            s.open_orders == 0
                && check(s).is_some_and(|c| c.venue_trades as usize == sim.trades().len())
        })
        .await;
    let c = check(&agreeing).unwrap();
    assert!(c.venue_trades > 0, "the bot never traded: {c:?}");
    assert!(c.matches(), "{}", c.summary());
    assert_eq!(
        (c.ledger_trades, c.matched_trades),
        (c.venue_trades, c.venue_trades)
    );
    assert_eq!(c.fee_difference, Decimal::ZERO);
    let first_at = c.at.clone();
    let (later, _) = engine
        .wait_status_until("a later check", |s| {
            check(s).is_some_and(|c| c.at != first_at)
        })
        .await;
    assert!(check(&later).unwrap().matches());

    // The venue reports a trade that never happened.
    let trades = sim.trades();
    let copied = trades.last().unwrap().clone();
    let phantom = kind.trade_id(&SimTrade {
        id: trades.iter().map(|t| t.id).max().unwrap() + 1,
        ..copied.clone()
    });
    sim.set_faults(Faults {
        phantom_trade: true,
        ..Faults::default()
    });
    let (differs, _) = engine
        .wait_status_until("a check that finds the phantom trade", |s| {
            check(s).is_some_and(|c| !c.matches())
        })
        .await;
    let c = check(&differs).unwrap();
    assert_eq!(c.missing_in_ledger.len(), 1, "{}", c.summary());
    assert_eq!(c.missing_in_ledger[0].trade_id, phantom);
    assert_eq!(c.missing_in_ledger[0].quantity, copied.qty);
    assert_eq!(c.fee_difference, copied.commission);
    assert!(c.missing_at_venue.is_empty() && c.mismatched.is_empty());
    assert_eq!(c.assets.len(), 1, "{}", c.summary());
    let summary = c.summary();
    assert!(
        summary.contains(&format!("{} trade {phantom}", kind.symbol())),
        "{summary}"
    );
    let (metrics, _) = engine.metrics().await;
    assert!(
        metrics.get("botfleet_engine_ledger_differences") >= Some(&3.0),
        "{metrics:?}"
    );

    // Every fee a cent higher at the venue.
    sim.set_faults(Faults {
        history_fee_skew: Decimal::new(1, 2),
        ..Faults::default()
    });
    let (skewed, _) = engine
        .wait_status_until("a check that finds the fee difference", |s| {
            check(s).is_some_and(|c| !c.mismatched.is_empty() && c.missing_in_ledger.is_empty())
        })
        .await;
    let c = check(&skewed).unwrap();
    assert_eq!(c.mismatched.len() as u64, c.venue_trades, "{}", c.summary());
    assert_eq!(
        c.fee_difference,
        Decimal::new(1, 2) * Decimal::from(c.venue_trades)
    );
    assert_eq!(c.matched_trades, 0);

    // The venue agrees again.
    sim.set_faults(Faults::default());
    engine
        .wait_status_until("an agreeing check", |s| {
            check(s).is_some_and(LedgerCheck::matches)
        })
        .await;
    let log = engine.log_text();
    let status = engine.terminate();
    assert!(status.success(), "the engine stopped with {status}:\n{log}");
}
