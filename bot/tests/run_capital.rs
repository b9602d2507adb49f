//! The real `botfleet-bot run` restarted with an edited manifest, as the
//! operator restarts it with a new rendered config:
//! - a new `spec.capital` (a Scaling step) is a ledger transfer: no halt,
//!   the allocation listed in `/status`, the window's start equity re-based
//!   on it, the window kept;
//! - a new strategy parameter changes the trading hash and restarts the
//!   phase window; a new capital alone does neither.

mod run_support;

use std::path::Path;

use botfleet_bot::domain::{Candle, Money};
use botfleet_bot::engine::EngineSnapshot;
use botfleet_bot::ledger::Ledger;
use botfleet_bot::run::status::rfc3339;
use botfleet_bot::store::Store;
use botfleet_crds::engine_api::{EngineState, EngineStatus};
use run_support::*;
use rust_decimal::{Decimal, RoundingStrategy};

/// Rewrites the workspace's manifest: `from` → `to` (exactly once).
fn edit(ws: &Workspace, from: &str, to: &str) {
    let text = std::fs::read_to_string(ws.config()).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from:?} in\n{text}");
    std::fs::write(ws.config(), text.replacen(from, to, 1)).unwrap();
}

/// Runs the engine on `candles` (replayed at full speed) to their end and
/// stops it; `/status` at the end.
async fn run(ws: &Workspace, candles: &[Candle]) -> EngineStatus {
    let data = ws.write_data(candles);
    let engine = Engine::start(ws, &ws.replay_args(&data, "max"), &[]);
    engine.wait_stored(candles.last().unwrap().open_time).await;
    let (status, _) = engine
        .wait_status_until("ready", |s| s.state != EngineState::Starting)
        .await;
    assert!(engine.terminate().success());
    status
}

/// The start equity after a transfer of `amount` with the window at
/// `equity`: scaled with the account, 8 dp (as the engine computes it).
fn rebased(start: Decimal, equity: Decimal, amount: i64) -> Decimal {
    (start * (equity + Decimal::from(amount)) / equity)
        .round_dp_with_strategy(8, RoundingStrategy::MidpointAwayFromZero)
}

/// The stored fills replayed with the stored transfers give the stored cash.
async fn assert_books(db: &Path) {
    let store = Store::open(&botfleet_bot::store::StoreConfig::Sqlite {
        path: db.to_path_buf(),
    })
    .await
    .unwrap();
    let snapshot: EngineSnapshot = store.get_value("engine_snapshot").await.unwrap().unwrap();
    let fills = store.fills().await.unwrap();
    let last = store.last_equity().await.unwrap().unwrap();
    store.close().await;
    let mut ledger = Ledger::new(Money::from(CAPITAL)).unwrap();
    let mut transfers = snapshot.transfers.iter().peekable();
    for f in &fills {
        let applied = ledger.fills_applied();
        while let Some(t) = transfers.next_if(|t| t.after_fills <= applied) {
            ledger.replay_transfer(t).unwrap();
        }
        let _ = ledger.apply_fill(f).unwrap();
    }
    for t in transfers {
        ledger.replay_transfer(t).unwrap();
    }
    assert_eq!(ledger.cash(), last.cash, "cash from fills and transfers");
    assert!(!ledger.cash().is_sign_negative());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_steps_are_transfers_not_halts() {
    let candles = synthetic(2_000, 23);
    let cuts = [800, 1_200, 1_600, 2_000];
    let ws = Workspace::new("Paper");
    let first = run(&ws, &candles[..cuts[0]]).await;
    assert!(first.window.trades > 0, "the data must trade");
    assert!(first.allocations.is_empty());

    // 10000 → 20000 → 35000 → 20000, trading in between. Before transfers
    // the first step alone halted the engine (total-loss floor 70 % of
    // 20000 against an equity of about 10000).
    let mut capital = CAPITAL;
    let mut before = first.clone();
    let mut start = first.window.start_equity;
    for (step, (to, cut)) in [(20_000, cuts[1]), (35_000, cuts[2]), (20_000, cuts[3])]
        .into_iter()
        .enumerate()
    {
        edit(
            &ws,
            &format!("capital: {capital}\n"),
            &format!("capital: {to}\n"),
        );
        let amount = to - capital;
        start = rebased(start, before.window.equity, amount);
        let status = run(&ws, &candles[..cut]).await;
        assert_eq!(
            status.state,
            EngineState::Trading,
            "step {step}: {status:?}"
        );
        assert!(status.halt.is_none());
        assert_eq!(status.allocations.len(), step + 1);
        let a = status.allocations.last().unwrap();
        assert_eq!(a.at, rfc3339(candles[cuts[step]].open_time));
        assert_eq!(
            (a.amount, a.capital_after, a.shortfall),
            (Decimal::from(amount), Decimal::from(to), Decimal::ZERO)
        );
        assert_eq!(status.window.start_equity, start, "step {step}");
        assert_eq!(
            status.phase_started_at, first.phase_started_at,
            "window kept"
        );
        assert_eq!(status.trading_hash, first.trading_hash);
        assert!(status.window.trades >= before.window.trades);
        // The equity moved by the amount (the rest is trading since).
        let moved = status.window.equity - before.window.equity - Decimal::from(amount);
        assert!(
            moved.abs() < Decimal::from(to) / Decimal::from(4),
            "{moved}"
        );
        capital = to;
        before = status;
    }
    assert_books(&ws.db()).await;

    // The same capital again: nothing new is recorded.
    let again = run(&ws, &candles).await;
    assert_eq!(again.allocations, before.allocations);
    assert_eq!(again.window, before.window);
    let c = contents(&ws.sqlite()).await;
    assert_eq!(c.phase_events.len(), 1, "no transfer restarts the window");
    let transfers = c.decisions.iter().filter(|d| d.signal == "capital").count();
    assert_eq!(transfers, 3, "each transfer in the audit log once");
}

/// Killed after the restart decided the transfer and before it was stored:
/// the next start records it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_transfer_is_stored_records_it_once() {
    assert_crash_points();
    let candles = synthetic(1_200, 23);
    let ws = Workspace::new("Paper");
    let first = run(&ws, &candles[..800]).await;
    edit(&ws, &format!("capital: {CAPITAL}\n"), "capital: 20000\n");
    let data = ws.write_data(&candles);
    let mut engine = Engine::start(
        &ws,
        &ws.replay_args(&data, "max"),
        &[("BOTFLEET_TEST_CRASH_AT", "restored:1")],
    );
    let exit = engine
        .wait_exit(TIMEOUT)
        .expect("killed at the crash point");
    assert!(!exit.success());
    let store = Store::open(&ws.sqlite()).await.unwrap();
    let snapshot: EngineSnapshot = store.get_value("engine_snapshot").await.unwrap().unwrap();
    store.close().await;
    assert!(snapshot.transfers.is_empty(), "nothing stored");

    let after = run(&ws, &candles).await;
    assert_eq!(after.allocations.len(), 1);
    assert_eq!(after.allocations[0].amount, Decimal::from(10_000));
    assert_eq!(after.allocations[0].at, rfc3339(candles[800].open_time));
    assert_eq!(after.phase_started_at, first.phase_started_at);
    assert_eq!(run(&ws, &candles).await.allocations, after.allocations);
    assert_books(&ws.db()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_strategy_restarts_the_window_and_a_new_capital_does_not() {
    let candles = synthetic(1_500, 23);
    let ws = Workspace::new("Paper");
    let first = run(&ws, &candles).await;
    assert_eq!(first.state, EngineState::Trading);
    let hash = first.trading_hash.clone().expect("the engine reports it");
    assert_eq!(hash.len(), 64);
    assert!(first.window.trades > 0);

    // Capital only: the window and the hash stay.
    edit(&ws, &format!("capital: {CAPITAL}\n"), "capital: 15000\n");
    let capital = run(&ws, &candles).await;
    assert_eq!(capital.trading_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(capital.phase_started_at, first.phase_started_at);
    assert_eq!(capital.window.trades, first.window.trades);
    assert_eq!(capital.allocations.len(), 1);
    assert_eq!(capital.state, EngineState::Trading);

    // A strategy parameter: a new hash, a new window from now.
    edit(&ws, "fast: 10\n", "fast: 12\n");
    let traded = run(&ws, &candles).await;
    let new_hash = traded.trading_hash.clone().unwrap();
    assert_ne!(new_hash, hash);
    let restart = candles.last().unwrap().open_time + 3_600_000;
    assert_eq!(traded.phase_started_at, rfc3339(restart));
    assert_eq!(traded.window.trades, 0);
    assert_eq!(traded.window.start_equity, traded.window.equity);
    assert_eq!(traded.allocations, capital.allocations, "history kept");

    let c = contents(&ws.sqlite()).await;
    assert_eq!(c.phase_events.len(), 2);
    let event = &c.phase_events[1];
    assert_eq!(
        (event.from.as_deref(), event.to.as_str(), event.at),
        (Some("Paper"), "Paper", restart)
    );
    assert!(
        event.reason.starts_with("what trades changed") && event.reason.contains(&hash[..12]),
        "{}",
        event.reason
    );

    // Restarted again unchanged: the new window goes on.
    let again = run(&ws, &candles).await;
    assert_eq!(again.phase_started_at, traded.phase_started_at);
    assert_eq!(again.trading_hash, traded.trading_hash);
}
