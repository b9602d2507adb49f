//! `botfleet-bot run` on PostgreSQL (the URL from `BOTFLEET_STORE_URL`, as a
//! Secret would give it): it trades, survives SIGKILL mid-run, and trades
//! exactly as the same run on SQLite — and the URL's password shows nowhere.
//!
//! Needs the test server: `export BOTFLEET_TEST_POSTGRES_URL="$(scripts/start-test-postgres.sh)"`.

mod run_support;

use botfleet_bot::store::StoreConfig;
use botfleet_bot::store::testing::{TestDatabase, postgres_url};
use botfleet_crds::engine_api::EngineState;
use run_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_and_restarts_on_postgres_without_showing_the_password() {
    let Some(server) = postgres_url() else { return };
    let db = TestDatabase::create(&server).await;
    let password = db
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, p)| p.to_string())
        .expect("the test server URL carries a password");
    assert!(password.len() >= 8);

    let candles = synthetic(3_000, 17);
    let reference = reference_run(&candles).await;
    let ws = Workspace::new("Paper");
    let data = ws.write_data(&candles);
    let env = [("BOTFLEET_STORE_URL", db.url.as_str())];
    let pg = StoreConfig::Postgres {
        url: db.url.clone(),
    };

    let engine = Engine::start(&ws, &ws.replay_args(&data, "1440000"), &env);
    let target = candles[1_200].open_time as f64 / 1000.0;
    engine
        .wait_metrics("candle 1200", |m| {
            m["botfleet_engine_last_candle_time_seconds"] >= target
        })
        .await;
    let log = engine.kill9();
    assert!(log.contains("PostgreSQL postgres://"), "{log}");
    assert!(log.contains(":***@"), "the URL is logged redacted: {log}");
    assert!(!log.contains(&password), "the password leaked into the log");

    let killed = contents(&pg).await;
    assert_consistent(&killed);
    assert_prefix(&killed, &reference);
    assert!(killed.candles < candles.len(), "killed mid-run");

    let engine = Engine::start(&ws, &ws.replay_args(&data, "max"), &env);
    engine.wait_stored(candles.last().unwrap().open_time).await;
    assert_eq!(engine.status().await.state, EngineState::Trading);
    let (_, status) = engine.get("/status").await;
    let (_, metrics) = engine.metrics().await;
    for exposed in [status, metrics, engine.log_text()] {
        assert!(!exposed.contains(&password), "the password leaked");
    }
    assert!(engine.terminate().success());

    let done = contents(&pg).await;
    assert_consistent(&done);
    assert_same_trading(&done, &reference);
    assert!(
        !ws.db().exists(),
        "no SQLite file next to a PostgreSQL store"
    );
}
