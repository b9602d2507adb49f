//! Restarts of `botfleet-bot run` on the same SQLite store: after SIGTERM and
//! after SIGKILL mid-run, the engine continues exactly as an uninterrupted
//! run would have (same orders, fills, equity curve, audit log), with no
//! fill lost or stored twice; a new phase starts a new window.

mod run_support;

use botfleet_bot::store::Store;
use botfleet_crds::engine_api::EngineState;
use run_support::*;

/// Paced replay: about 400 one-hour candles per second, so a run of
/// 4000 candles takes ~10 s and can be interrupted in the middle.
const PACED: &str = "1440000";

fn hours(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_then_restart_continues_like_an_uninterrupted_run() {
    let candles = synthetic(4_000, 11);
    let reference = reference_run(&candles).await;
    let last = candles.last().unwrap().open_time;

    let ws = Workspace::new("Paper");
    let data = ws.write_data(&candles);
    let engine = Engine::start(&ws, &ws.replay_args(&data, PACED), &[]);
    let mid_time = hours(candles[1_000].open_time);
    engine
        .wait_metrics("1000 candles", |m| {
            m["botfleet_engine_last_candle_time_seconds"] >= mid_time
        })
        .await;
    let exit = engine.terminate();
    assert!(exit.success(), "SIGTERM must exit 0, got {exit}");

    let stopped = contents(&ws.sqlite()).await;
    assert_consistent(&stopped);
    assert_prefix(&stopped, &reference);
    assert!(
        stopped.candles < candles.len(),
        "stopped mid-run ({} candles)",
        stopped.candles
    );
    assert!(
        !stopped.fills.is_empty(),
        "the interrupted run traded before it stopped"
    );
    let stopped_at = stopped.last_candle_time.expect("the last step is stored");
    assert_eq!(
        stopped.equity.last().unwrap().at,
        stopped_at,
        "the state is the last step's"
    );

    let engine = Engine::start(&ws, &ws.replay_args(&data, "max"), &[]);
    engine.wait_stored(last).await;
    assert!(engine.log_text().contains("restored from the store"));
    let status = engine.status().await;
    assert_eq!(status.state, EngineState::Trading);
    assert_eq!(
        status.phase_started_at, "2024-01-01T00:00:00.000Z",
        "same phase, same window"
    );
    assert!(engine.terminate().success());

    let done = contents(&ws.sqlite()).await;
    assert_consistent(&done);
    assert_same_trading(&done, &reference);
    assert_eq!(done.phase_events.len(), 1, "a restart is not a new phase");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_loses_and_duplicates_nothing() {
    let candles = synthetic(4_000, 13);
    let reference = reference_run(&candles).await;
    let last = candles.last().unwrap().open_time;

    let ws = Workspace::new("Paper");
    let data = ws.write_data(&candles);
    let mut previous = 0;
    for at in [600, 1_700, 2_900] {
        let engine = Engine::start(&ws, &ws.replay_args(&data, PACED), &[]);
        let target = hours(candles[at].open_time);
        engine
            .wait_metrics(&format!("candle {at}"), |m| {
                m["botfleet_engine_last_candle_time_seconds"] >= target
            })
            .await;
        engine.kill9();

        let killed = contents(&ws.sqlite()).await;
        assert_consistent(&killed);
        assert_prefix(&killed, &reference);
        assert!(killed.candles > previous, "each round gets further");
        assert!(killed.candles < candles.len(), "killed mid-run");
        previous = killed.candles;
    }

    let engine = Engine::start(&ws, &ws.replay_args(&data, "max"), &[]);
    engine.wait_stored(last).await;
    assert!(engine.terminate().success());
    let done = contents(&ws.sqlite()).await;
    assert_consistent(&done);
    assert_same_trading(&done, &reference);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_phase_in_the_store_starts_a_new_window() {
    let candles = synthetic(2_000, 5);
    let ws = Workspace::new("Paper");
    let first = ws.write_data(&candles[..1_500]);
    let engine = Engine::start(&ws, &ws.replay_args(&first, "max"), &[]);
    engine.wait_stored(candles[1_499].open_time).await;
    let before = engine.status().await;
    assert!(before.window.trades > 0);
    assert!(engine.terminate().success());

    // As if the bot had been in Sandbox and was demoted to Paper.
    let store = Store::open(&ws.sqlite()).await.unwrap();
    let mut state = store.load_state().await.unwrap();
    state.phase = Some("Sandbox".into());
    store.save_state(&state).await.unwrap();
    store.close().await;

    let all = ws.write_data(&candles);
    let engine = Engine::start(&ws, &ws.replay_args(&all, "max"), &[]);
    engine.wait_stored(candles[1_999].open_time).await;
    let after = engine.status().await;
    assert!(engine.terminate().success());

    // The window starts at the first candle after the restart, from the
    // equity the bot had then; only trades closed since count.
    assert_eq!(
        after.phase_started_at,
        botfleet_bot::run::status::rfc3339(candles[1_500].open_time)
    );
    assert_eq!(after.window.start_equity, before.window.equity);
    let c = contents(&ws.sqlite()).await;
    assert_consistent(&c);
    assert_eq!(c.phase_events.len(), 2);
    let event = &c.phase_events[1];
    assert_eq!(
        (event.from.as_deref(), event.to.as_str()),
        (Some("Sandbox"), "Paper")
    );
    assert_eq!(event.at, candles[1_500].open_time);
    let mut ledger =
        botfleet_bot::ledger::Ledger::new(botfleet_bot::domain::Money::from(CAPITAL)).unwrap();
    let mut closed_after = 0;
    for f in &c.fills {
        if let Some(t) = ledger.apply_fill(f).unwrap().closed_trade()
            && t.closed_at >= candles[1_500].open_time
        {
            closed_after += 1;
        }
    }
    assert_eq!(after.window.trades, closed_after);
    assert!(ledger.closed_trades().len() as u64 > after.window.trades);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_engine_on_the_same_store_is_refused() {
    let candles = synthetic(300, 3);
    let ws = Workspace::new("Paper");
    let data = ws.write_data(&candles);
    let engine = Engine::start(&ws, &ws.replay_args(&data, "max"), &[]);
    engine.wait_stored(candles.last().unwrap().open_time).await;

    // Never two engines on one account: the second waits for the lock, then gives up.
    let (status, log) = run_to_exit(&ws, &ws.replay_args(&data, "max"), &[]);
    assert!(!status.success());
    assert!(log.contains("in use by another engine"), "{log}");

    assert_eq!(engine.status().await.state, EngineState::Trading);
    assert!(engine.terminate().success());
    assert_consistent(&contents(&ws.sqlite()).await);
}

/// The store refuses writes for a while (a trigger makes every candle insert
/// fail): the engine reports Degraded, keeps the step and retries, takes no
/// new candle meanwhile, and once the store takes writes again it goes on
/// exactly as an undisturbed run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_refuses_writes_degrades_and_loses_nothing() {
    use sqlx::Connection;
    let candles = synthetic(3_000, 19);
    let reference = reference_run(&candles).await;
    let ws = Workspace::new("Paper");
    let data = ws.write_data(&candles);
    let engine = Engine::start(&ws, &ws.replay_args(&data, PACED), &[]);
    let early = hours(candles[300].open_time);
    engine
        .wait_metrics("candle 300", |m| {
            m["botfleet_engine_last_candle_time_seconds"] >= early
        })
        .await;

    let url = format!("sqlite://{}", ws.db().display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_candles BEFORE INSERT ON candles \
         BEGIN SELECT RAISE(ABORT, 'test: the store refuses writes'); END",
    )
    .execute(&mut db)
    .await
    .unwrap();
    engine
        .wait_metrics("a refused step", |m| {
            m["botfleet_engine_store_commit_errors_total"] >= 2.0
                && m["botfleet_engine_degraded"] == 1.0
        })
        .await;
    let degraded = engine.status().await;
    assert_eq!(degraded.state, EngineState::Degraded);
    let (m, _) = engine.metrics().await;
    let stuck_at = m["botfleet_engine_last_candle_time_seconds"];
    engine
        .wait_metrics("more retries", |m| {
            m["botfleet_engine_store_commit_errors_total"] >= 4.0
        })
        .await;
    let (m, _) = engine.metrics().await;
    assert_eq!(
        m["botfleet_engine_last_candle_time_seconds"], stuck_at,
        "no candle is taken while the step is not stored"
    );

    sqlx::query("DROP TRIGGER refuse_candles")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    engine.wait_stored(candles.last().unwrap().open_time).await;
    assert_eq!(engine.status().await.state, EngineState::Trading);
    assert!(engine.log_text().contains("the store accepts writes again"));
    assert!(engine.terminate().success());
    let done = contents(&ws.sqlite()).await;
    assert_consistent(&done);
    assert_same_trading(&done, &reference);
}
