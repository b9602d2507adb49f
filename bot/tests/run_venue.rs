//! `botfleet-bot run` in Sandbox against the exchange simulator
//! (`botfleet_tests::exchange_sim`), on Binance spot and on Coinbase
//! Advanced Trade ([`Kind`]): the real engine process, its real venue
//! adapter, a real SQLite store.
//!
//! - with every fault the simulator can inject, the run ends with the
//!   engine's books equal to the venue's;
//! - killed with SIGKILL 50 times at random points of the order flow
//!   (crash points between storing an order and sending it, between the
//!   venue's answer and storing it, after storing it, and at random times),
//!   it loses and duplicates nothing;
//! - the API key and secret appear in no log line, `/status` or `/metrics`.
//!
//! The shared scenarios take the venue as a parameter and run once per venue.

mod run_support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Duration;

use botfleet_bot::domain::{Candle, OrderStatus};
use botfleet_bot::ledger::Ledger;
use botfleet_bot::store::Store;
use botfleet_tests::exchange_sim::{ExchangeSim, Faults, SimStatus};
use run_support::venue::{self, Kind, coinbase_pem, simulator_holding, venue_args};
use run_support::{CAPITAL, Engine, Workspace, synthetic};
use rust_decimal::Decimal;

/// A fast SMA crossover (many orders) in Sandbox. The limits that count
/// time are opened wide: the replay's clock is 2024 while the venue stamps
/// fills with today's time, so a cooldown or a daily limit would never end.
fn sandbox_manifests(kind: Kind) -> String {
    let yaml = run_support::manifests("Sandbox")
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
        );
    kind.manifests(yaml)
}

/// The simulator with the bot's capital in USDT and nothing else; a task
/// moves its price along `candles`, round and round, until dropped.
async fn simulator(
    kind: Kind,
    candles: Vec<Candle>,
) -> (Arc<ExchangeSim>, tokio::task::JoinHandle<()>) {
    // A price before the first order, then the moving one.
    let first = candles[0].close.value();
    let sim = Arc::new(simulator_holding(kind, Decimal::from(CAPITAL), first).await);
    let feeder = sim.clone();
    let prices = tokio::spawn(async move {
        for c in candles.iter().cycle() {
            feeder.candle(
                kind.symbol(),
                c.low.value(),
                c.high.value(),
                c.close.value(),
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (sim, prices)
}

struct Setup {
    ws: Workspace,
    args: Vec<String>,
    kind: Kind,
}

fn setup(kind: Kind, sim: &ExchangeSim, candles: &[Candle]) -> Setup {
    let ws = Workspace::new("Sandbox");
    std::fs::write(ws.config(), sandbox_manifests(kind)).unwrap();
    let data = ws.write_data(candles);
    let mut args = ws.replay_args(&data, "max");
    args.extend(venue_args(kind, &ws, sim));
    Setup { ws, args, kind }
}

/// Runs the engine (with `envs`, e.g. a debug log level) until the replay
/// is traded and no order is open, then stops it with SIGTERM. Returns
/// every `/status` body polled during the run (the last one first, then
/// the others in order) and the last `/metrics`.
async fn run_to_the_end(s: &Setup, last_open_time: i64, envs: &[(&str, &str)]) -> Vec<String> {
    let engine = Engine::start(&s.ws, &s.args, envs);
    let mut polled = Vec::new();
    let want = last_open_time as f64 / 1000.0;
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let (code, body) = engine.get("/status").await;
        if code == 200 {
            polled.push(body);
        }
        let (metrics, _) = engine.metrics().await;
        if metrics.get("botfleet_engine_last_candle_time_seconds") == Some(&want) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the last candle was not stored in time:\n{}",
            engine.log_text()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, status) = engine
        .wait_status_until("no order open", |s| s.open_orders == 0)
        .await;
    let mut bodies = vec![status];
    bodies.extend(polled);
    bodies.push(engine.get("/metrics").await.1);
    let log = engine.log_text();
    let status = engine.terminate();
    assert!(status.success(), "the engine stopped with {status}:\n{log}");
    bodies
}

/// The engine traded, and its books equal the venue's.
async fn assert_books_equal(s: &Setup, sim: &ExchangeSim) {
    assert!(!sim.trades().is_empty(), "the bot never traded");
    venue::assert_books_equal(s.kind, &s.ws, sim).await;
}

/// The engine's stored positions and cash are the ledger rebuilt from its
/// stored fills, and its last `/status` reports the same positions (and,
/// flat, the same equity).
async fn assert_status_matches_store(s: &Setup, last: &botfleet_crds::engine_api::EngineStatus) {
    let store = Store::open(&s.ws.sqlite()).await.unwrap();
    let mut ledger = Ledger::new(botfleet_bot::domain::Money::from(CAPITAL)).unwrap();
    for f in &store.fills().await.unwrap() {
        let _ = ledger.apply_fill(f).unwrap();
    }
    let held: BTreeMap<String, Decimal> = ledger
        .positions()
        .filter(|p| !p.is_flat())
        .map(|p| (p.symbol().to_string(), p.quantity().value()))
        .collect();
    let stored: BTreeMap<String, Decimal> = store
        .positions()
        .await
        .unwrap()
        .iter()
        .filter(|p| !p.quantity.is_zero())
        .map(|p| (p.symbol.to_string(), p.quantity.value()))
        .collect();
    assert_eq!(stored, held, "stored positions vs the ledger's");
    let reported: BTreeMap<String, Decimal> = last
        .open_positions
        .iter()
        .map(|p| (p.symbol.clone(), p.quantity))
        .collect();
    assert_eq!(reported, held, "/status positions vs the ledger's");
    let snapshot: serde_json::Value = store
        .get_value("engine_snapshot")
        .await
        .unwrap()
        .expect("the engine stored a snapshot");
    let cash: botfleet_bot::domain::Money =
        serde_json::from_value(snapshot["cash"].clone()).unwrap();
    assert_eq!(cash, ledger.cash(), "stored cash vs the ledger's");
    if held.is_empty() {
        assert_eq!(
            last.window.equity,
            ledger.cash().value(),
            "/status equity of a flat book vs the ledger's cash"
        );
    }
    assert_eq!(last.open_orders, 0, "open orders in the last /status");
    store.close().await;
}

fn assert_no_secret(kind: Kind, texts: &[String]) {
    for text in texts {
        for secret in kind.secrets() {
            assert!(!text.contains(&secret), "a credential leaked into:\n{text}");
        }
    }
}

fn all_logs(ws: &Workspace) -> Vec<String> {
    std::fs::read_dir(ws.dir.path())
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension().is_some_and(|x| x == "log"))
                .then(|| std::fs::read_to_string(path).unwrap())
        })
        .collect()
}

/// How long a slow submit is answered after: longer than the client's timeout.
const SLOW_SUBMIT: Duration = Duration::from_millis(700);

/// Every fault the simulator can inject, armed again each time the venue
/// has answered `every` more requests (faults by request count, not by
/// time, so the client's retries always get through eventually).
fn every_fault(sim: Arc<ExchangeSim>, every: usize) -> tokio::task::JoinHandle<()> {
    sim.set_partial_fill_cap(Some(Decimal::new(2, 2)));
    tokio::spawn(async move {
        let mut armed_at: Option<usize> = None;
        loop {
            let seen = sim.requests().len();
            if armed_at.is_none_or(|at| seen >= at + every) {
                armed_at = Some(seen);
                sim.set_faults(Faults {
                    rate_limited: 1,
                    retry_after_secs: 1,
                    server_errors: 1,
                    failed_lookups: 1,
                    slow_submits: 1,
                    submit_delay: SLOW_SUBMIT,
                    dropped_submits: 1,
                    ..Faults::default()
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_with_every_fault_ends_with_the_books_equal() {
    every_fault_ends_with_the_books_equal(Kind::Binance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_with_every_fault_ends_with_the_books_equal_on_coinbase() {
    every_fault_ends_with_the_books_equal(Kind::Coinbase).await;
}

async fn every_fault_ends_with_the_books_equal(kind: Kind) {
    let candles = synthetic(240, 7);
    let (sim, prices) = simulator(kind, candles.clone()).await;
    let s = setup(kind, &sim, &candles);
    // A submit costs one request: re-arming every 12 requests puts several
    // rounds of faults into a run of ~50 requests.
    let faults = every_fault(sim.clone(), 12);
    // Debug logs: a secret must not leak at any level.
    let mut seen = run_to_the_end(
        &s,
        candles.last().unwrap().open_time,
        &[("RUST_LOG", "debug")],
    )
    .await;
    faults.abort();
    prices.abort();

    let mut answered: BTreeMap<u16, usize> = BTreeMap::new();
    for r in sim.requests() {
        *answered.entry(r.status).or_default() += 1;
    }
    eprintln!(
        "{} orders, {} trades; requests by HTTP status (0 = dropped): {answered:?}",
        sim.orders().len(),
        sim.trades().len()
    );
    let statuses: BTreeSet<u16> = answered.keys().copied().collect();
    for (code, fault) in [
        (429, "rate limit"),
        (503, "server error"),
        (0, "dropped response"),
    ] {
        assert!(
            statuses.contains(&code),
            "no {fault} was injected: {statuses:?}"
        );
    }
    assert!(
        sim.orders()
            .iter()
            .any(|o| o.status == SimStatus::Expired && o.executed_qty > Decimal::ZERO),
        "no partial fill happened"
    );
    // Every armed fault hit a request; a slow submit outlives the client's
    // timeout (`--venue-timeout-ms 400`), so it took the timeout path.
    let fired = sim.faults_fired();
    eprintln!("faults fired: {fired:?}");
    for (count, fault) in [
        (fired.rate_limited, "rate limit (429)"),
        (fired.server_errors, "server error (503)"),
        (fired.failed_lookups, "failed order lookup"),
        (fired.slow_submits, "slow submit (timeout)"),
        (fired.dropped_submits, "dropped submit response"),
    ] {
        assert!(count > 0, "the armed {fault} never fired: {fired:?}");
    }
    assert!(SLOW_SUBMIT > Duration::from_millis(400));
    let last: botfleet_crds::engine_api::EngineStatus = serde_json::from_str(&seen[0]).unwrap();
    assert_books_equal(&s, &sim).await;
    assert_status_matches_store(&s, &last).await;
    seen.extend(all_logs(&s.ws));
    assert_no_secret(kind, &seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_order_is_stored_with_the_venues_code_and_message() {
    refused_order_is_stored_with_the_venues_code_and_message(Kind::Binance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_order_is_stored_with_the_venues_code_and_message_on_coinbase() {
    refused_order_is_stored_with_the_venues_code_and_message(Kind::Coinbase).await;
}

/// The venue refuses the bot's entries (the account holds less than the
/// bot's capital): each refused order is stored as rejected with the
/// venue's code and message, counted as an order error, and nothing trades.
/// The code differs per venue: Binance answers `-2010` with HTTP 400,
/// Coinbase `success: false` with `INSUFFICIENT_FUND` and a
/// `PREVIEW_INSUFFICIENT_FUND` reason.
async fn refused_order_is_stored_with_the_venues_code_and_message(kind: Kind) {
    let candles = synthetic(240, 7);
    let last = candles.last().unwrap();
    let sim = simulator_holding(kind, Decimal::from(20), last.close.value()).await;
    let s = setup(kind, &sim, &candles);
    let seen = run_to_the_end(&s, last.open_time, &[]).await;
    let status: botfleet_crds::engine_api::EngineStatus = serde_json::from_str(&seen[0]).unwrap();
    assert!(status.window.order_errors > 0, "{}", seen[0]);
    assert_eq!(status.window.order_errors, status.window.orders);

    assert!(sim.orders().is_empty() && sim.trades().is_empty());
    let store = Store::open(&s.ws.sqlite()).await.unwrap();
    assert!(store.fills().await.unwrap().is_empty());
    let state = store.load_state().await.unwrap();
    let mut rejected = 0;
    for id in 0..8 {
        let cid = format!("quickstart-{}", state.next_order_id - 1 - id);
        let Some(order) = store.order_by_client_id(&cid).await.unwrap() else {
            continue;
        };
        assert_eq!(order.status, OrderStatus::Rejected, "{cid}");
        let reason = order.status_reason.unwrap_or_default();
        assert!(
            reason.contains(kind.refusal_code()) && reason.contains("insufficient balance"),
            "{cid}: {reason}"
        );
        rejected += 1;
    }
    store.close().await;
    assert!(rejected > 0, "no refused order was stored");
}

/// Wrong credentials: the engine does not trade, exits with the venue's
/// code and message, and names neither the key nor the secret it was given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_stop_the_engine_without_showing_them() {
    let candles = synthetic(60, 7);
    let sim = simulator_holding(
        Kind::Binance,
        Decimal::from(CAPITAL),
        candles[0].close.value(),
    )
    .await;
    let s = setup(Kind::Binance, &sim, &candles);
    let wrong_secret = "wrongSecret9Zq4Lm2Vx7Tb";
    std::fs::write(s.ws.path("api-secret"), wrong_secret).unwrap();
    let (status, log) = run_support::run_to_exit(&s.ws, &s.args, &[]);
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("-1022") && log.contains("Signature for this request is not valid"),
        "{log}"
    );
    assert!(sim.orders().is_empty());
    assert_no_secret(Kind::Binance, std::slice::from_ref(&log));
    assert!(!log.contains(wrong_secret), "{log}");
}

/// Coinbase: a private key that is not the API key's own is refused (401);
/// the engine stops naming the refusal, and shows neither the key name nor
/// either private key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_stop_the_engine_without_showing_them_on_coinbase() {
    let candles = synthetic(60, 7);
    let sim = simulator_holding(
        Kind::Coinbase,
        Decimal::from(CAPITAL),
        candles[0].close.value(),
    )
    .await;
    let s = setup(Kind::Coinbase, &sim, &candles);
    let wrong = coinbase_pem(9);
    std::fs::write(s.ws.path("api-secret"), &wrong).unwrap();
    let (status, log) = run_support::run_to_exit(&s.ws, &s.args, &[]);
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("401") && log.contains("the API key was refused"),
        "{log}"
    );
    assert!(sim.orders().is_empty());
    assert_no_secret(Kind::Coinbase, std::slice::from_ref(&log));
    for line in wrong.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!log.contains(line), "{log}");
    }
}

/// A Sandbox Coinbase bot cannot be pointed at the live API: the engine
/// refuses `--venue-url https://api.coinbase.com` (in any spelling) before
/// it sends anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_coinbase_bot_refuses_the_live_api() {
    let candles = synthetic(60, 7);
    let sim = simulator_holding(
        Kind::Coinbase,
        Decimal::from(CAPITAL),
        candles[0].close.value(),
    )
    .await;
    let s = setup(Kind::Coinbase, &sim, &candles);
    for live in ["https://api.coinbase.com", "https://API.coinbase.com.:443/"] {
        let mut args = s.args.clone();
        let at = args.iter().position(|a| a == "--venue-url").unwrap();
        args[at + 1] = live.to_string();
        let (status, log) = run_support::run_to_exit(&s.ws, &args, &[]);
        assert!(!status.success(), "{log}");
        assert!(
            log.contains("may not use") && log.contains("api-sandbox.coinbase.com"),
            "{log}"
        );
    }
    assert!(sim.requests().is_empty(), "nothing reached any venue");
}

/// Synthetic candles, then a slide and a gentle climb: the fast average
/// crosses above the slow one at the end, so the bot ends long (bought at
/// the bottom's price, below every later close: no stop fires).
fn candles_ending_long() -> Vec<Candle> {
    let mut candles = synthetic(200, 7);
    let tf = 3_600_000;
    let mut last = *candles.last().unwrap();
    for step in [-2, -2, -2, -2, -2, -2, 1, 1, 1, 1, 1, 1] {
        let close = last.close.value() * (Decimal::ONE + Decimal::new(step, 2));
        let price = botfleet_bot::domain::Price::new(close.round_dp(2));
        last = Candle {
            open_time: last.open_time + tf,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_to_paper_needs_a_flat_venue_book() {
    demotion_to_paper_needs_a_flat_venue_book(Kind::Binance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_to_paper_needs_a_flat_venue_book_on_coinbase() {
    demotion_to_paper_needs_a_flat_venue_book(Kind::Coinbase).await;
}

/// A Sandbox store starts in Paper (a demotion) only once its venue book is
/// flat: a position on the exchange cannot move to the paper broker. After a
/// halt with flatten it can, and the bot trades on paper from then on.
async fn demotion_to_paper_needs_a_flat_venue_book(kind: Kind) {
    let candles = candles_ending_long();
    // The venue's price stays at the bottom of the slide: every fill is at
    // that price, so the run is the same every time (and ends long).
    let bottom = candles[candles.len() - 7].close.value();
    let sim = simulator_holding(kind, Decimal::from(CAPITAL), bottom).await;
    let end = candles.last().unwrap();
    let s = setup(kind, &sim, &candles);
    run_to_the_end(&s, end.open_time, &[]).await;
    let paper = sandbox_manifests(kind).replace("phase: Sandbox", "phase: Paper");
    let paper_args: Vec<String> = s.ws.replay_args(&s.ws.path("candles.csv"), "max");

    let store = Store::open(&s.ws.sqlite()).await.unwrap();
    let held = store.positions().await.unwrap();
    store.close().await;
    assert!(
        held.iter().any(|p| !p.quantity.is_zero()),
        "the run should end long: {held:?}"
    );
    std::fs::write(s.ws.config(), &paper).unwrap();
    let (status, log) = run_support::run_to_exit(&s.ws, &paper_args, &[]);
    assert!(
        !status.success(),
        "Paper must not start on a venue position:\n{log}"
    );
    assert!(
        log.contains("a position of") && log.contains("flatten"),
        "{log}"
    );
    std::fs::write(s.ws.config(), sandbox_manifests(kind)).unwrap();

    // Flatten on the venue, then demote.
    let engine = Engine::start(&s.ws, &s.args, &[]);
    engine.wait_status().await;
    let (code, body) = engine
        .post(
            "/v1/halt",
            Some(run_support::OPERATOR_KEY),
            serde_json::json!({"reason": "demote", "flatten": true}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    engine
        .wait_status_until("a flat book", |s| {
            s.open_positions.is_empty() && s.open_orders == 0
        })
        .await;
    assert!(engine.terminate().success());

    std::fs::write(s.ws.config(), &paper).unwrap();
    let engine = Engine::start(&s.ws, &paper_args, &[]);
    assert_eq!(
        engine.wait_status().await.phase,
        botfleet_crds::Phase::Paper
    );
    assert!(
        engine.log_text().contains("trading on paper from now on"),
        "{}",
        engine.log_text()
    );
    assert!(engine.terminate().success());
    assert_books_equal(&s, &sim).await;
}

/// A seeded xorshift: the same rounds every run (the seed is printed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_killed_50_times_loses_and_duplicates_nothing() {
    killed_50_times_loses_and_duplicates_nothing(Kind::Binance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_killed_50_times_loses_and_duplicates_nothing_on_coinbase() {
    killed_50_times_loses_and_duplicates_nothing(Kind::Coinbase).await;
}

async fn killed_50_times_loses_and_duplicates_nothing(kind: Kind) {
    let candles = synthetic(2_000, 11);
    let (sim, prices) = simulator(kind, candles.clone()).await;
    let s = setup(kind, &sim, &candles);
    run_support::assert_crash_points();
    let faults = every_fault(sim.clone(), 80);
    let seed = 0x5eed_b07f_1ee7_u64;
    eprintln!("crash rounds seeded with {seed:#x}");
    let mut rng = Rng(seed);
    let points = ["before-send", "after-send", "after-store"];
    let mut crashed_at: BTreeMap<&str, u32> = BTreeMap::new();
    let mut round = 0;
    while crashed_at.values().sum::<u32>() < 50 {
        round += 1;
        assert!(
            round <= 80,
            "the order flow ended before 50 kills: {crashed_at:?}"
        );
        let pick = rng.below(4) as usize;
        if pick < points.len() {
            let point = points[pick];
            let at = format!("{point}:{}", 1 + rng.below(3));
            let mut engine =
                Engine::start(&s.ws, &s.args, &[("BOTFLEET_TEST_CRASH_AT", at.as_str())]);
            match engine.wait_exit(Duration::from_secs(15)) {
                Some(status) => {
                    assert_eq!(
                        status.signal(),
                        Some(9),
                        "round {round}: {status}\n{}",
                        engine.log_text()
                    );
                    *crashed_at.entry(point).or_default() += 1;
                }
                // The order flow ended first (the replay is traded).
                None => {
                    engine.kill9();
                }
            }
        } else {
            let engine = Engine::start(&s.ws, &s.args, &[]);
            tokio::time::sleep(Duration::from_millis(50 + rng.below(400))).await;
            engine.kill9();
            *crashed_at.entry("random time").or_default() += 1;
        }
    }
    eprintln!("SIGKILLs by where they hit: {crashed_at:?}");
    for point in points {
        assert!(
            crashed_at.get(point).copied().unwrap_or(0) >= 5,
            "too few kills at {point}: {crashed_at:?}"
        );
    }
    faults.abort();
    let mut seen = run_to_the_end(&s, candles.last().unwrap().open_time, &[]).await;
    prices.abort();
    assert_books_equal(&s, &sim).await;
    seen.extend(all_logs(&s.ws));
    assert_no_secret(kind, &seen);
}
