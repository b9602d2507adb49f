//! Shared by the `run_*` tests: the real `botfleet-bot run` binary as a
//! subprocess (HTTP on a port the OS picks, logs to a file), quickstart-like
//! manifests and candle data in a temp dir, an HTTP client, and readers of
//! the store the engine leaves behind. Every wait is a poll with a bounded
//! timeout; nothing asserts on time.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use botfleet_bot::domain::{Candle, Fill, Money, OrderId, OrderStatus, Quantity, Timeframe};
use botfleet_bot::ledger::Ledger;
use botfleet_bot::market_data::{SyntheticConfig, TimeUnit, generate, write_binance_csv_file};
use botfleet_bot::store::{
    Decision, EquitySnapshot, OrderRecord, PhaseEvent, PositionRecord, Store, StoreConfig,
};
use botfleet_crds::engine_api::EngineStatus;
use serde_json::Value;

pub const TOKEN: &str = "tok-5f3a9c-run-tests";
/// Long enough for a debug build on a busy 2-core machine.
pub const TIMEOUT: Duration = Duration::from_secs(120);
pub const CAPITAL: i64 = 10_000;

/// Quickstart-like manifests in `phase` (with an API key Secret named
/// from Sandbox up, as validation wants).
pub fn manifests(phase: &str) -> String {
    let credentials = if phase == "Paper" {
        ""
    } else {
        "\n    credentialsSecretRef:\n      name: binance-keys"
    };
    format!(
        r#"apiVersion: botfleet.dev/v1alpha1
kind: Strategy
metadata:
  name: quickstart-sma
spec:
  timeframe: 1h
  smaCrossover:
    fast: 10
    slow: 30
---
apiVersion: botfleet.dev/v1alpha1
kind: RiskPolicy
metadata:
  name: quickstart
spec:
  limits:
    paper:
      maxPositionPct: 25
      stopLossPct: 5
      takeProfitPct: 12
      maxDrawdownPct: 20
      maxLosingDaysInRow: 10
---
apiVersion: botfleet.dev/v1alpha1
kind: TradingBot
metadata:
  name: quickstart
spec:
  strategyRef:
    name: quickstart-sma
  riskPolicyRef:
    name: quickstart
  exchange:
    venue: binance
    symbols: [BTCUSDT]{credentials}
  phase: {phase}
  capital: {CAPITAL}
"#
    )
}

/// Seeded synthetic one-hour candles.
pub fn synthetic(n: usize, seed: u64) -> Vec<Candle> {
    generate(&SyntheticConfig::for_timeframe(seed, n, Timeframe::H1))
        .unwrap()
        .candles
}

/// A temp dir with the manifests, the token file and the data.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new(phase: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bot.yaml"), manifests(phase)).unwrap();
        std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
        Workspace { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn config(&self) -> PathBuf {
        self.path("bot.yaml")
    }

    pub fn db(&self) -> PathBuf {
        self.path("bot.db")
    }

    pub fn sqlite(&self) -> StoreConfig {
        StoreConfig::Sqlite { path: self.db() }
    }

    /// Writes `candles` as a Binance kline CSV; returns its path.
    pub fn write_data(&self, candles: &[Candle]) -> PathBuf {
        let path = self.path("candles.csv");
        write_binance_csv_file(&path, candles, Timeframe::H1, TimeUnit::Millis).unwrap();
        path
    }

    /// Arguments of a replay of `data` at `speed` with the token file and
    /// the default SQLite store in this workspace.
    pub fn replay_args(&self, data: &Path, speed: &str) -> Vec<String> {
        vec![
            "--feed".into(),
            "replay".into(),
            "--data".into(),
            data.display().to_string(),
            "--speed".into(),
            speed.into(),
            "--token-file".into(),
            self.path("token").display().to_string(),
        ]
    }
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_botfleet-bot")
}

/// The outcome of a run that is expected to stop on its own.
pub fn run_to_exit(ws: &Workspace, args: &[String], envs: &[(&str, &str)]) -> (ExitStatus, String) {
    let log = ws.path("refused.log");
    let mut cmd = Command::new(binary());
    cmd.arg("run")
        .arg("--config")
        .arg(ws.config())
        .arg("--data-dir")
        .arg(ws.dir.path())
        .arg("--listen")
        .arg("127.0.0.1:0")
        .args(args)
        .env_remove("BOTFLEET_CONTROL_TOKEN")
        .env_remove("BOTFLEET_ENGINE_TOKEN")
        .env_remove("BOTFLEET_STORE_URL")
        .env_remove("BOTFLEET_DATABASE_URL")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap());
    let mut child = cmd.spawn().unwrap();
    let status = wait_exit(&mut child, TIMEOUT).expect("the engine should have stopped by itself");
    (status, std::fs::read_to_string(&log).unwrap())
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running engine.
pub struct Engine {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub log: PathBuf,
    client: reqwest::Client,
}

impl Engine {
    /// Starts `run` with the workspace's config and data dir on a port the
    /// OS picks, and waits until it serves HTTP.
    pub fn start(ws: &Workspace, args: &[String], envs: &[(&str, &str)]) -> Engine {
        let n = std::fs::read_dir(ws.dir.path()).unwrap().count();
        let log = ws.path(&format!("engine-{n}.log"));
        let mut cmd = Command::new(binary());
        cmd.arg("run")
            .arg("--config")
            .arg(ws.config())
            .arg("--data-dir")
            .arg(ws.dir.path())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(args)
            .env_remove("BOTFLEET_CONTROL_TOKEN")
            .env_remove("BOTFLEET_ENGINE_TOKEN")
            .env_remove("BOTFLEET_STORE_URL")
            .env_remove("BOTFLEET_DATABASE_URL")
            .env("RUST_LOG", "info")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        let mut child = cmd.spawn().unwrap();
        let deadline = Instant::now() + TIMEOUT;
        let addr = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(addr) = text
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))
                .and_then(|a| a.parse().ok())
            {
                break addr;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the engine exited ({status}) before serving HTTP:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "the engine never served HTTP:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Engine {
            child: Some(child),
            addr,
            log,
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn status(&self) -> EngineStatus {
        let (code, body) = self.get("/status").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not an EngineStatus ({e}): {body}"))
    }

    /// `/metrics` parsed: `name` (labels dropped) → value, and the raw text.
    pub async fn metrics(&self) -> (HashMap<String, f64>, String) {
        let (code, text) = self.get("/metrics").await;
        assert_eq!(code, 200, "{text}");
        (parse_metrics(&text), text)
    }

    /// POSTs `body` with `Authorization: Bearer <token>` when given.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let r = request.send().await.unwrap();
        let code = r.status().as_u16();
        let text = r.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (code, value)
    }

    /// Polls `/metrics` until `done` says so.
    pub async fn wait_metrics(&self, what: &str, done: impl Fn(&HashMap<String, f64>) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let (m, text) = self.metrics().await;
            if done(&m) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; metrics:\n{text}\nlog:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the candle opening at `last_open_time` is stored (the
    /// metric is published after each step's commit).
    pub async fn wait_stored(&self, last_open_time: i64) {
        let want = last_open_time as f64 / 1000.0;
        self.wait_metrics("the last candle to be stored", |m| {
            m.get("botfleet_engine_last_candle_time_seconds") == Some(&want)
        })
        .await;
    }

    /// SIGTERM, then the exit status (bounded wait).
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
        wait_exit(&mut child, TIMEOUT).unwrap_or_else(|| {
            panic!(
                "the engine did not stop after SIGTERM:\n{}",
                self.log_text()
            )
        })
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) -> String {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        self.log_text()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let name = series.split('{').next().unwrap();
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("metric value of {line:?}"));
        // Series with labels (beyond `bot`) are summed under the name.
        *out.entry(name.to_string()).or_insert(0.0) += value;
    }
    out
}

/// Everything a run leaves in its store that must never be lost or doubled.
#[derive(Debug, PartialEq)]
pub struct Contents {
    pub orders: Vec<OrderRecord>,
    pub fills: Vec<Fill>,
    pub equity: Vec<EquitySnapshot>,
    pub positions: Vec<PositionRecord>,
    pub decisions: Vec<Decision>,
    pub phase_events: Vec<PhaseEvent>,
    pub candles: usize,
    pub last_candle_time: Option<i64>,
}

/// Reads the store (the engine must have stopped: it holds the lock).
pub async fn contents(store: &StoreConfig) -> Contents {
    let store = Store::open(store).await.unwrap();
    let state = store.load_state().await.unwrap();
    let mut orders = Vec::new();
    for id in 1..state.next_order_id {
        if let Some(o) = store.order(OrderId(id)).await.unwrap() {
            orders.push(o);
        }
    }
    let c = Contents {
        orders,
        fills: store.fills().await.unwrap(),
        equity: store.equity_since(i64::MIN).await.unwrap(),
        positions: store.positions().await.unwrap(),
        decisions: store.decisions_since(i64::MIN, u32::MAX).await.unwrap(),
        phase_events: store.phase_events().await.unwrap(),
        candles: store.candles().await.unwrap().len(),
        last_candle_time: state.last_candle_time,
    };
    store.close().await;
    c
}

/// The store agrees with itself: every fill once, each order's filled
/// quantity is the sum of its fills and its status follows, and the fills
/// replayed into a ledger give the stored cash and positions.
pub fn assert_consistent(c: &Contents) {
    let mut seen = std::collections::HashSet::new();
    for f in &c.fills {
        assert!(
            seen.insert((f.symbol.clone(), f.trade_id.clone())),
            "fill {} stored twice",
            f.trade_id
        );
    }
    let mut filled: BTreeMap<OrderId, Quantity> = BTreeMap::new();
    for f in &c.fills {
        *filled.entry(f.order_id).or_insert(Quantity::ZERO) += f.quantity;
    }
    for o in &c.orders {
        let sum = filled.get(&o.id).copied().unwrap_or(Quantity::ZERO);
        assert_eq!(
            o.filled_quantity, sum,
            "order {} filled vs its fills",
            o.id.0
        );
        match o.status {
            OrderStatus::Filled => assert_eq!(o.filled_quantity, o.quantity, "order {}", o.id.0),
            OrderStatus::New => assert_eq!(sum, Quantity::ZERO, "order {}", o.id.0),
            OrderStatus::PartiallyFilled => {
                assert!(sum > Quantity::ZERO && sum < o.quantity, "order {}", o.id.0)
            }
            _ => assert!(sum < o.quantity, "order {} closed but complete", o.id.0),
        }
    }
    for id in filled.keys() {
        assert!(
            c.orders.iter().any(|o| o.id == *id),
            "fills of order {} which is not stored",
            id.0
        );
    }
    let mut ledger = Ledger::new(Money::from(CAPITAL)).unwrap();
    for f in &c.fills {
        let _ = ledger.apply_fill(f).unwrap();
    }
    if let Some(last) = c.equity.last() {
        assert_eq!(
            ledger.cash(),
            last.cash,
            "cash from the fills vs the last equity point"
        );
    }
    let held: Vec<(String, Quantity)> = ledger
        .positions()
        .filter(|p| !p.is_flat())
        .map(|p| (p.symbol().to_string(), p.quantity()))
        .collect();
    let stored: Vec<(String, Quantity)> = c
        .positions
        .iter()
        .map(|p| (p.symbol.to_string(), p.quantity))
        .collect();
    assert_eq!(
        held, stored,
        "positions from the fills vs the stored positions"
    );
}

/// `prefix` is where `full` was at some point: the same orders so far
/// (an order may have moved on since), and the same fills, in order.
pub fn assert_prefix(prefix: &Contents, full: &Contents) {
    assert!(prefix.fills.len() <= full.fills.len());
    assert_eq!(
        prefix.fills[..],
        full.fills[..prefix.fills.len()],
        "fills so far"
    );
    for o in &prefix.orders {
        let f = full
            .orders
            .iter()
            .find(|x| x.id == o.id)
            .expect("order in the full run");
        assert_eq!(o.request(), f.request(), "order {}", o.id.0);
    }
    assert_eq!(
        prefix.equity[..],
        full.equity[..prefix.equity.len()],
        "equity curve so far"
    );
}

/// Two runs traded alike: orders, fills, equity curve, positions, audit log.
pub fn assert_same_trading(got: &Contents, expected: &Contents) {
    assert_eq!(got.fills, expected.fills, "fills");
    assert_eq!(got.orders, expected.orders, "orders");
    assert_eq!(got.equity, expected.equity, "equity curve");
    assert_eq!(got.positions, expected.positions, "positions");
    let trading = |d: &[Decision]| -> Vec<Decision> {
        d.iter()
            .filter(|d| d.signal != "control")
            .cloned()
            .collect()
    };
    assert_eq!(
        trading(&got.decisions),
        trading(&expected.decisions),
        "audit log"
    );
    assert_eq!(got.candles, expected.candles, "candles");
}

/// A replay at `speed` of `candles`, run to its end and stopped: the store
/// it leaves (the reference an interrupted run must match).
pub async fn reference_run(candles: &[Candle]) -> Contents {
    let ws = Workspace::new("Paper");
    let data = ws.write_data(candles);
    let engine = Engine::start(&ws, &ws.replay_args(&data, "max"), &[]);
    engine.wait_stored(candles.last().unwrap().open_time).await;
    assert!(engine.terminate().success());
    let c = contents(&ws.sqlite()).await;
    assert_consistent(&c);
    assert!(
        c.fills.len() >= 20,
        "the data must trade: {} fills",
        c.fills.len()
    );
    c
}
