//! `botfleet-bot run` as a subprocess: the `/status` contract, `/metrics`,
//! the probes, the signed control endpoints, the refusal of real
//! phases.

mod run_support;

use botfleet_bot::config::EngineConfig;
use botfleet_bot::domain::{Candle, OrderStatus, Side};
use botfleet_bot::engine::{Engine as CoreEngine, EngineEvent, EventMode};
use botfleet_bot::execution::PaperConfig;
use botfleet_bot::ledger::Ledger;
use botfleet_bot::performance::EquityCurve;
use botfleet_crds::Phase;
use botfleet_crds::engine_api::{ENGINE_STATUS_API_VERSION, EngineState};
use run_support::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SERIES: [&str; 17] = [
    "botfleet_engine_equity",
    "botfleet_engine_return_pct",
    "botfleet_engine_drawdown_pct",
    "botfleet_engine_max_drawdown_pct",
    "botfleet_engine_trades",
    "botfleet_engine_orders",
    "botfleet_engine_order_errors",
    "botfleet_engine_open_positions",
    "botfleet_engine_open_orders",
    "botfleet_engine_halted",
    "botfleet_engine_paused",
    "botfleet_engine_ready",
    "botfleet_engine_candles_processed_total",
    "botfleet_engine_last_candle_time_seconds",
    "botfleet_engine_feed_reconnects_total",
    "botfleet_engine_feed_finished",
    "botfleet_engine_store_commit_errors_total",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_metrics_follow_the_contract() {
    let ws = Workspace::new("Paper");
    let candles = synthetic(3_000, 7);
    let data = ws.write_data(&candles);
    let engine = Engine::start(&ws, &ws.replay_args(&data, "max"), &[]);
    assert_eq!(engine.get("/healthz").await.0, 200);
    engine.wait_stored(candles.last().unwrap().open_time).await;
    assert_eq!(engine.get("/readyz").await, (200, "ready\n".to_string()));

    let (code, raw) = engine.get("/status").await;
    assert_eq!(code, 200);
    let json: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        json["window"]["startEquity"], "10000",
        "money is a decimal string"
    );
    assert!(json["window"]["equity"].is_string() && json["window"]["dailyPnl"].is_string());
    assert!(json["window"]["trades"].is_u64() && json["window"]["returnPct"].is_number());
    let status = engine.status().await;
    assert_eq!(status.api_version, ENGINE_STATUS_API_VERSION);
    assert_eq!(status.bot, "quickstart");
    assert_eq!(status.phase, Phase::Paper);
    assert_eq!(status.state, EngineState::Trading);
    let file = std::fs::read(ws.config()).unwrap();
    let hash: String = Sha256::digest(&file)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(status.config_hash, hash);
    assert_eq!(
        status.phase_started_at, "2024-01-01T00:00:00.000Z",
        "the first replayed candle"
    );
    chrono::DateTime::parse_from_rfc3339(&status.engine_started_at).unwrap();
    assert_eq!(status.halt, None);
    assert!(status.window.trades > 0 && status.window.wins <= status.window.trades);
    assert!(status.window.orders >= 2 * status.window.trades);

    let (m, text) = engine.metrics().await;
    for name in SERIES {
        assert!(m.contains_key(name), "{name} missing from\n{text}");
    }
    assert!(text.contains(r#"bot="quickstart""#), "{text}");
    assert_eq!(m["botfleet_engine_candles_processed_total"], 3_000.0);
    assert_eq!(m["botfleet_engine_trades"], status.window.trades as f64);
    assert_eq!(m["botfleet_engine_orders"], status.window.orders as f64);
    assert_eq!(m["botfleet_engine_halted"], 0.0);
    assert_eq!(m["botfleet_engine_ready"], 1.0);
    let equity: f64 = status.window.equity.to_string().parse().unwrap();
    assert!((m["botfleet_engine_equity"] - equity).abs() < 1e-6);

    assert!(engine.terminate().success());
    let c = contents(&ws.sqlite()).await;
    assert_consistent(&c);
    // /status says what the store holds.
    let mut ledger = Ledger::new(botfleet_bot::domain::Money::from(CAPITAL)).unwrap();
    for f in &c.fills {
        let _ = ledger.apply_fill(f).unwrap();
    }
    assert_eq!(ledger.closed_trades().len() as u64, status.window.trades);
    assert_eq!(c.orders.len() as u64, status.window.orders);
    assert_eq!(
        c.equity.last().unwrap().equity.value(),
        status.window.equity
    );
    assert_eq!(c.candles, 3_000);
    assert_eq!(c.phase_events.len(), 1);
    assert_eq!(c.phase_events[0].to, "Paper");
}

/// Candles ending on the one where the bot submits a buy: the replay stops
/// with that order open (it would fill on the next candle).
fn candles_ending_with_an_open_order() -> Vec<Candle> {
    let candles = synthetic(3_000, 7);
    let text = manifests("Paper");
    let m = botfleet_crds::Manifests::from_yaml(&text).unwrap();
    let cfg = EngineConfig::from_manifests(&m, None, text.as_bytes()).unwrap();
    let mut engine = CoreEngine::new(
        cfg,
        PaperConfig::default(),
        EquityCurve::bounded(0),
        candles[0].open_time,
        EventMode::Record,
    )
    .unwrap();
    for (i, c) in candles.iter().enumerate() {
        engine.on_candle(0, c).unwrap();
        let buys = engine
            .drain_events()
            .into_iter()
            .any(|e| matches!(e, EngineEvent::OrderSubmitted { order } if order.side == Side::Buy));
        if buys && engine.ledger().closed_trades().len() >= 2 {
            return candles[..=i].to_vec();
        }
    }
    panic!("the data never buys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_needs_a_signature_and_halt_resume_cancel_work() {
    let ws = Workspace::new("Paper");
    let candles = candles_ending_with_an_open_order();
    let data = ws.write_data(&candles);
    let engine = Engine::start(&ws, &ws.replay_args(&data, "max"), &[]);
    engine.wait_stored(candles.last().unwrap().open_time).await;
    let before = engine.status().await;
    assert_eq!(before.open_orders, 1, "the last candle's buy is open");
    assert_eq!(before.state, EngineState::Trading);

    // Unsigned, signed by another key: 401 with the reason, nothing echoed.
    let halt = json!({"reason": "test halt", "haltId": "h-op-1"});
    let (code, body) = engine.post("/v1/halt", None, halt.clone()).await;
    assert_eq!(code, 401, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("unsigned request"),
        "{body}"
    );
    let wrong = "not-the-operators-key-material-8d1e-0123456789";
    let (code, body) = engine.post("/v1/halt", Some(wrong), halt.clone()).await;
    assert_eq!(code, 401, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("invalid signature"),
        "{body}"
    );
    for path in ["/v1/resume", "/v1/cancel-all"] {
        let (code, _) = engine.post(path, Some(wrong), json!({"haltId": "x"})).await;
        assert_eq!(code, 401, "{path}");
    }
    assert_eq!(
        engine.status().await.open_orders,
        1,
        "refused calls change nothing"
    );

    // A bad body is a 400 that names the field.
    let (code, body) = engine
        .post("/v1/halt", Some(OPERATOR_KEY), json!({"reason": " "}))
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("reason"));

    // Halt: the open order is canceled, the operator's id is adopted.
    let (code, body) = engine
        .post("/v1/halt", Some(OPERATOR_KEY), halt.clone())
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["haltId"], "h-op-1");
    assert_eq!(body["canceledOrders"], 1);
    let halted = engine.status().await;
    assert_eq!(halted.state, EngineState::Halted);
    assert_eq!(halted.open_orders, 0);
    let h = halted.halt.clone().expect("halt info");
    assert_eq!((h.id.as_str(), h.reason.as_str()), ("h-op-1", "test halt"));
    assert!(halted.limits_hit.iter().any(|l| l.limit == "halted"));
    // Halting again keeps the halt and its id.
    let (code, body) = engine
        .post(
            "/v1/halt",
            Some(OPERATOR_KEY),
            json!({"reason": "again", "haltId": "h-op-2"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (body["haltId"].as_str(), body["alreadyHalted"].as_bool()),
        (Some("h-op-1"), Some(true))
    );

    // A stale id is refused with the reason; the right one resumes.
    let (code, body) = engine
        .post(
            "/v1/resume",
            Some(OPERATOR_KEY),
            json!({"haltId": "h-op-0"}),
        )
        .await;
    assert_eq!(code, 409, "{body}");
    let reason = body["error"].as_str().unwrap();
    assert!(
        reason.contains("h-op-0") && reason.contains("h-op-1"),
        "{reason}"
    );
    assert_eq!(engine.status().await.state, EngineState::Halted);
    let (code, body) = engine
        .post(
            "/v1/resume",
            Some(OPERATOR_KEY),
            json!({"haltId": "h-op-1"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let resumed = engine.status().await;
    assert_eq!((resumed.state, resumed.halt), (EngineState::Trading, None));
    // A resume starts a new phase window at the engine's clock (the replay
    // ended: the open time of the candle after the last).
    let now = candles.last().unwrap().open_time + 3_600_000;
    assert_eq!(
        resumed.phase_started_at,
        botfleet_bot::run::status::rfc3339(now)
    );
    assert_eq!(body["phaseStartedAt"], resumed.phase_started_at.as_str());
    assert_eq!(resumed.window.trades, 0);
    assert_eq!(resumed.window.start_equity, halted.window.equity);
    assert!(halted.window.trades >= 2);
    let (code, body) = engine
        .post(
            "/v1/resume",
            Some(OPERATOR_KEY),
            json!({"haltId": "h-op-1"}),
        )
        .await;
    assert_eq!(code, 409, "nothing to resume: {body}");

    let (code, body) = engine
        .post("/v1/cancel-all", Some(OPERATOR_KEY), json!({}))
        .await;
    assert_eq!((code, body), (200, json!({"canceledOrders": 0})));

    let (_, text) = engine.metrics().await;
    assert!(
        text.contains(r#"botfleet_engine_control_requests_total{action="halt",outcome="unauthorized",bot="quickstart"} 2"#),
        "{text}"
    );
    let (_, status_text) = engine.get("/status").await;
    for exposed in [text.as_str(), status_text.as_str(), &engine.log_text()] {
        assert!(!exposed.contains(OPERATOR_KEY), "the key material leaked");
        assert!(!exposed.contains(wrong), "key material leaked");
    }
    assert!(engine.terminate().success());

    // All of it is in the store.
    let c = contents(&ws.sqlite()).await;
    assert_consistent(&c);
    let last = c.orders.last().unwrap();
    assert_eq!((last.side, last.status), (Side::Buy, OrderStatus::Canceled));
    let control: Vec<&str> = c
        .decisions
        .iter()
        .filter(|d| d.signal == "control")
        .map(|d| d.verdict.as_str())
        .collect();
    assert_eq!(control, ["halt", "halt", "resume", "cancel-all"]);
    let resumed_event = c.phase_events.last().unwrap();
    assert_eq!(resumed_event.to, "Paper");
    assert!(
        resumed_event.reason.contains("h-op-1"),
        "{}",
        resumed_event.reason
    );
}

/// Candles ending with a position held and no order open.
fn candles_ending_in_a_position() -> Vec<Candle> {
    let candles = synthetic(3_000, 7);
    let text = manifests("Paper");
    let m = botfleet_crds::Manifests::from_yaml(&text).unwrap();
    let cfg = EngineConfig::from_manifests(&m, None, text.as_bytes()).unwrap();
    let mut engine = CoreEngine::new(
        cfg,
        PaperConfig::default(),
        EquityCurve::bounded(0),
        candles[0].open_time,
        EventMode::Record,
    )
    .unwrap();
    for (i, c) in candles.iter().enumerate() {
        engine.on_candle(0, c).unwrap();
        engine.drain_events();
        if engine.ledger().has_position() && engine.open_order_count() == 0 && i > 500 {
            return candles[..=i].to_vec();
        }
    }
    panic!("the data never holds a position");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halt_with_flatten_sells_the_positions() {
    let ws = Workspace::new("Paper");
    let candles = candles_ending_in_a_position();
    let data = ws.write_data(&candles);
    let engine = Engine::start(&ws, &ws.replay_args(&data, "max"), &[]);
    engine.wait_stored(candles.last().unwrap().open_time).await;
    let before = engine.status().await;
    assert_eq!((before.open_positions.len(), before.open_orders), (1, 0));
    let held = before.open_positions[0].quantity;

    let (code, body) = engine
        .post(
            "/v1/halt",
            Some(OPERATOR_KEY),
            json!({"reason": "flatten it", "flatten": true}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (
            body["flattenOrders"].as_u64(),
            body["canceledOrders"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let id = body["haltId"].as_str().unwrap().to_string();
    assert!(
        id.starts_with("halt-"),
        "the engine names a halt sent without an id: {id}"
    );
    let halted = engine.status().await;
    assert_eq!(halted.state, EngineState::Halted);
    assert_eq!(halted.open_orders, 1, "the sell waits for the next candle");
    assert_eq!(halted.halt.unwrap().id, id);
    assert!(engine.terminate().success());

    let c = contents(&ws.sqlite()).await;
    assert_consistent(&c);
    let sell = c.orders.last().unwrap();
    assert_eq!(
        (sell.side, sell.status, sell.quantity.value()),
        (Side::Sell, OrderStatus::New, held)
    );
    assert!(sell.reason.contains("flatten"), "{}", sell.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_keys_come_from_a_file_or_the_environment_and_are_required() {
    let ws = Workspace::new("Paper");
    let synthetic_args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["--feed", "synthetic", "--speed", "max", "--candles", "100"]
            .map(String::from)
            .to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // No keys and no --insecure-no-auth: refuses to start, says how.
    let (status, log) = run_to_exit(&ws, &synthetic_args(&[]), &[]);
    assert!(!status.success());
    assert!(
        log.contains("--control-keys-file") && log.contains("BOTFLEET_CONTROL_KEYS_FILE"),
        "{log}"
    );
    assert!(
        !ws.db().exists(),
        "nothing is opened before the keys are settled"
    );
    // A keys file without a key: refuses to start, names the file.
    std::fs::write(ws.path("empty.pub"), "# no key yet\n").unwrap();
    let empty = ws.path("empty.pub").display().to_string();
    let (status, log) = run_to_exit(&ws, &synthetic_args(&["--control-keys-file", &empty]), &[]);
    assert!(!status.success());
    assert!(
        log.contains("empty.pub") && log.contains("no public key"),
        "{log}"
    );

    // The operator's variable names the file.
    let keys = ws.path("control-keys.pub").display().to_string();
    let engine = Engine::start(
        &ws,
        &synthetic_args(&[]),
        &[("BOTFLEET_CONTROL_KEYS_FILE", keys.as_str())],
    );
    let (code, body) = engine
        .post("/v1/cancel-all", Some(OPERATOR_KEY), json!({}))
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, _) = engine.post("/v1/cancel-all", None, json!({})).await;
    assert_eq!(code, 401);
    assert!(engine.terminate().success());

    let engine = Engine::start(&ws, &synthetic_args(&["--insecure-no-auth"]), &[]);
    let (code, body) = engine.post("/v1/cancel-all", None, json!({})).await;
    assert_eq!(code, 200, "--insecure-no-auth: {body}");
    assert!(engine.log_text().contains("--insecure-no-auth"));
    assert!(engine.terminate().success());
}

/// Real phases start only with what real orders need, and say what is missing.
#[test]
fn real_phases_need_credentials_a_safe_url_and_live_data() {
    let refused = |phase: &str, extra: &[&str], envs: &[(&str, &str)], expect: &[&str]| {
        let ws = Workspace::new(phase);
        let mut args: Vec<String> = [
            "--feed",
            "synthetic",
            "--speed",
            "max",
            "--control-keys-file",
            &ws.path("control-keys.pub").display().to_string(),
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        let (status, log) = run_to_exit(&ws, &args, envs);
        assert!(!status.success(), "{phase} {extra:?} must not start");
        for e in expect {
            assert!(
                log.contains(e),
                "{phase} {extra:?}: expected `{e}` in:\n{log}"
            );
        }
        assert!(!ws.db().exists(), "{phase}: no store is touched");
        log
    };
    // No credentials: names both ways to give them.
    refused(
        "Sandbox",
        &[],
        &[],
        &[
            "BOTFLEET_EXCHANGE_API_KEY",
            "--api-key-file",
            "phase Sandbox",
        ],
    );
    // Real money trades on live data only.
    for phase in ["LimitedReal", "Scaling"] {
        refused(phase, &[], &[], &["sends real orders", "--feed binance"]);
    }
    // Sandbox never reaches the live API, even when told to.
    let creds = [
        ("BOTFLEET_EXCHANGE_API_KEY", "liveLookingKey123"),
        ("BOTFLEET_EXCHANGE_API_SECRET", "liveLookingSecret456"),
    ];
    let log = refused(
        "Sandbox",
        &["--venue-url", "https://api.binance.com"],
        &creds,
        &["--venue-url", "may not use https://api.binance.com"],
    );
    assert!(!log.contains("liveLookingKey123") && !log.contains("liveLookingSecret456"));
    // Paper has no venue to point at.
    refused(
        "Paper",
        &["--venue-url", "http://127.0.0.1:9"],
        &[],
        &["phase Paper, which fills on paper"],
    );
}

#[test]
fn bad_flags_are_refused_with_the_fix() {
    let ws = Workspace::new("Paper");
    let token = ws.path("control-keys.pub").display().to_string();
    let cases: [(&[&str], &str); 4] = [
        (&["--feed", "replay"], "--feed replay needs --data"),
        (
            &["--feed", "synthetic", "--data", "x.csv"],
            "--data is for --feed replay",
        ),
        (
            &["--feed", "binance", "--from", "2024-01-01"],
            "--from/--to select replayed candles",
        ),
        (
            &["--feed", "replay", "--speed", "fast", "--data", "x.csv"],
            "not a speed",
        ),
    ];
    for (args, message) in cases {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(["--control-keys-file".to_string(), token.clone()]);
        let (status, log) = run_to_exit(&ws, &all, &[]);
        assert!(!status.success(), "{args:?}");
        assert!(log.contains(message), "{args:?}: {log}");
    }
    let missing = ws.path("missing.csv").display().to_string();
    let args: Vec<String> = [
        "--feed",
        "replay",
        "--speed",
        "max",
        "--data",
        &missing,
        "--control-keys-file",
        &token,
    ]
    .map(String::from)
    .to_vec();
    let (status, log) = run_to_exit(&ws, &args, &[]);
    assert!(!status.success());
    assert!(
        log.contains("missing.csv"),
        "the missing file is named: {log}"
    );
}
