//! Shared by the `run_*` tests: the real `botfleet-bot run` binary as a
//! subprocess (HTTP on a port the OS picks, logs to a file), quickstart-like
//! manifests and candle data in a temp dir, an HTTP client, and readers of
//! the store the engine leaves behind. Every wait is a poll with a bounded
//! timeout; nothing asserts on time.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use botfleet_bot::domain::{Candle, Timeframe};
use botfleet_bot::market_data::{SyntheticConfig, TimeUnit, generate, write_binance_csv_file};
use botfleet_bot::store::StoreConfig;
use std::sync::atomic::{AtomicU64, Ordering};

use botfleet_crds::control_signature::{RequestParts, SignedHeaders, SigningKey};
use botfleet_crds::engine_api::EngineStatus;
use serde_json::Value;

mod store;
#[allow(unused_imports)]
pub use store::*;
pub mod live;
pub mod venue;

/// The operator's signing key material in these tests; the workspace holds
/// only its public key, as an engine pod does.
pub const OPERATOR_KEY: &str = "operator-key-material-5f3a9c-run-tests-0123";
/// `metadata.uid` of the test TradingBot: signed requests are bound to it.
pub const BOT_UID: &str = "0b7e5c1a-run-tests-bot-uid";
/// Long enough for a debug build on a busy 2-core machine.
pub const TIMEOUT: Duration = Duration::from_secs(120);
pub const CAPITAL: i64 = 10_000;

/// Quickstart-like manifests in `phase` (with an API key Secret named
/// from Sandbox up, as validation wants).
pub fn manifests(phase: &str) -> String {
    let credentials = match phase {
        "Paper" => "",
        "Sandbox" => "\n    sandboxCredentialsSecretRef:\n      name: binance-testnet-keys",
        _ => {
            "\n    sandboxCredentialsSecretRef:\n      name: binance-testnet-keys\n    liveCredentialsSecretRef:\n      name: binance-live-keys"
        }
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
  uid: {BOT_UID}
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

/// The public keys file an engine verifies `OPERATOR_KEY`'s signatures with.
pub fn public_keys_file(materials: &[&str]) -> String {
    materials
        .iter()
        .map(|m| format!("{}\n", signing_key(m).public_key()))
        .collect()
}

pub fn signing_key(material: &str) -> SigningKey {
    SigningKey::from_material(material.as_bytes()).unwrap()
}

/// The signature headers of `POST path` with `body` for `uid` at `timestamp`
/// (Unix seconds), with a fresh nonce.
pub fn signed(material: &str, path: &str, uid: &str, body: &[u8], timestamp: i64) -> SignedHeaders {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nonce = format!(
        "t{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed) + 1_000_000_000_000
    );
    let request = RequestParts {
        method: "POST",
        path,
        uid,
        body,
    };
    signing_key(material).sign(&request, timestamp, &nonce)
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A temp dir with the manifests, the operator's public keys and the data.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new(phase: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bot.yaml"), manifests(phase)).unwrap();
        std::fs::write(
            dir.path().join("control-keys.pub"),
            public_keys_file(&[OPERATOR_KEY]),
        )
        .unwrap();
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

    /// Arguments of a replay of `data` at `speed` with the public keys and
    /// the default SQLite store in this workspace.
    pub fn replay_args(&self, data: &Path, speed: &str) -> Vec<String> {
        vec![
            "--feed".into(),
            "replay".into(),
            "--data".into(),
            data.display().to_string(),
            "--speed".into(),
            speed.into(),
            "--control-keys-file".into(),
            self.path("control-keys.pub").display().to_string(),
        ]
    }
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_botfleet-bot")
}

/// Fails loudly unless the engine binary has the crash points of the kill -9
/// tests (cargo feature `test-crash-points`, which bot's dev-dependencies
/// turn on for `cargo test`). A plain `cargo build -p botfleet-bot` run
/// meanwhile puts the production binary (without them) at the same path.
pub fn assert_crash_points() {
    let bytes = std::fs::read(binary()).unwrap();
    let needle = b"BOTFLEET_TEST_CRASH_AT";
    assert!(
        bytes.windows(needle.len()).any(|w| w == needle),
        "{} has no crash points: it was built without the `test-crash-points` feature \
         (a `cargo build -p botfleet-bot` replaced the test build?); run `cargo test` again",
        binary()
    );
}

/// `botfleet-bot run` with the workspace's config and data dir, a port the
/// OS picks, `args`, stderr to `log`, and none of the environment's secrets
/// or store (a test says what it wants).
fn run_command(ws: &Workspace, args: &[String], log: &Path) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("run")
        .arg("--config")
        .arg(ws.config())
        .arg("--data-dir")
        .arg(ws.dir.path())
        .arg("--listen")
        .arg("127.0.0.1:0")
        .args(args)
        .env_remove("BOTFLEET_CONTROL_KEYS_FILE")
        .env_remove("BOTFLEET_STORE_URL")
        .env_remove("BOTFLEET_DATABASE_URL")
        .env_remove("BOTFLEET_EXCHANGE_API_KEY")
        .env_remove("BOTFLEET_EXCHANGE_API_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(log).unwrap());
    cmd
}

/// The outcome of a run that is expected to stop on its own.
pub fn run_to_exit(ws: &Workspace, args: &[String], envs: &[(&str, &str)]) -> (ExitStatus, String) {
    let log = ws.path("refused.log");
    let mut child = run_command(ws, args, &log)
        .envs(envs.iter().copied())
        .spawn()
        .unwrap();
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
        let mut child = run_command(ws, args, &log)
            .env("RUST_LOG", "info")
            .envs(envs.iter().copied())
            .spawn()
            .unwrap();
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

    /// `/status` once the engine has restored (it answers 503 until then).
    pub async fn wait_status(&self) -> EngineStatus {
        self.wait_status_until("the engine to restore", |_| true)
            .await
            .0
    }

    /// Polls `/status` until `done` holds; returns it, and its raw body.
    pub async fn wait_status_until(
        &self,
        what: &str,
        done: impl Fn(&EngineStatus) -> bool,
    ) -> (EngineStatus, String) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let (code, body) = self.get("/status").await;
            if code == 200 {
                let status: EngineStatus = serde_json::from_str(&body)
                    .unwrap_or_else(|e| panic!("not an EngineStatus ({e}): {body}"));
                if done(&status) {
                    return (status, body);
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} ({code} {body}):\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `/metrics` parsed: `name` (labels dropped) → value, and the raw text.
    pub async fn metrics(&self) -> (HashMap<String, f64>, String) {
        let (code, text) = self.get("/metrics").await;
        assert_eq!(code, 200, "{text}");
        (parse_metrics(&text), text)
    }

    /// POSTs `body`, signed now with the key `material` for the test bot
    /// when given.
    pub async fn post(&self, path: &str, material: Option<&str>, body: Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(&body).unwrap();
        let headers = material.map(|m| signed(m, path, BOT_UID, &bytes, unix_now()));
        self.post_raw(path, headers.as_ref(), bytes).await
    }

    /// POSTs `body` as is with these signature headers (a replay, a forgery).
    pub async fn post_raw(
        &self,
        path: &str,
        headers: Option<&SignedHeaders>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers.iter().flat_map(|h| h.pairs()) {
            request = request.header(name, value);
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

    /// Waits (bounded) for the engine to exit by itself, e.g. at a crash
    /// point; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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
