//! Crash test of the store: a real child process records orders and fills in a
//! loop and is killed with SIGKILL at a random moment, 25 times per backend.
//! After every kill the store is reopened and must hold every fill the child
//! saw acknowledged, each exactly once and with its order's update, and nothing
//! half-written. The child is this test binary re-run in "child mode"; it
//! resumes where the previous one died (finishing open orders, replaying the
//! last fills, which must come back as duplicates).
//!
//! Reproduce a run with `BOTFLEET_CRASH_SEED=<seed printed by the test>`.

use botfleet_bot::domain::{
    Fill, Liquidity, OrderId, OrderKind, OrderRequest, OrderStatus, Quantity, Side, Symbol,
};
use botfleet_bot::engine::AuditRecord;
use botfleet_bot::store::testing::{TestDatabase, postgres_url};
use botfleet_bot::store::{EquitySnapshot, Store, StoreConfig};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "BOTFLEET_STORE_CRASH_CHILD";
const ROUNDS: usize = 25;
const ORDER_QTY: &str = "0.3";
const FILL_QTY: &str = "0.1";

#[test]
fn sqlite_store_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.db");
    crash_rounds(
        &path.display().to_string(),
        &StoreConfig::Sqlite { path: path.clone() },
    );
}

#[test]
fn postgres_store_survives_sigkill() {
    let Some(server) = postgres_url() else { return };
    let rt = runtime();
    let db = rt.block_on(TestDatabase::create(&server));
    crash_rounds(
        &db.url,
        &StoreConfig::Postgres {
            url: db.url.clone(),
        },
    );
}

/// Child mode: started by the tests above with `BOTFLEET_STORE_CRASH_CHILD`
/// naming the store; does nothing otherwise.
#[test]
#[ignore = "the child process of the crash tests, which start it themselves"]
fn crash_child() {
    let Ok(location) = std::env::var(CHILD_ENV) else {
        return;
    };
    runtime().block_on(child(StoreConfig::parse(&location)));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

fn q(s: &str) -> Quantity {
    s.parse().unwrap()
}

fn symbol_for(id: u64) -> Symbol {
    Symbol::new(if id.is_multiple_of(2) {
        "BTCUSDT"
    } else {
        "ETHUSDT"
    })
}

fn fill_for(order: OrderId, index: usize, at: i64) -> Fill {
    Fill {
        trade_id: format!("{}-{index}", order.0),
        order_id: order,
        symbol: symbol_for(order.0),
        side: if order.0.is_multiple_of(3) {
            Side::Sell
        } else {
            Side::Buy
        },
        price: format!("{}.{:08}", 100 + order.0, index * 12_345_679)
            .parse()
            .unwrap(),
        quantity: q(FILL_QTY),
        fee: "0.00000001".parse().unwrap(),
        liquidity: Liquidity::Maker,
        time: at,
    }
}

async fn child(config: StoreConfig) {
    let store = Store::open(&config).await.expect("child: open");
    let restored = store.restore().await.expect("child: restore");
    // A restarted engine replays what it already has: all duplicates.
    for f in restored.fills.iter().rev().take(5) {
        if !store
            .record_fill(f)
            .await
            .expect("child: replay")
            .is_duplicate()
        {
            say(format!("BAD replay of {} was not a duplicate", f.trade_id));
            std::process::exit(3);
        }
    }
    let mut next = restored.state.next_order_id;
    say("ready".into());
    let mut to_finish: Vec<OrderId> = restored.open_orders.iter().map(|o| o.id).collect();
    loop {
        let id = match to_finish.pop() {
            Some(id) => id,
            None => {
                let id = OrderId(next);
                next += 1;
                let request = OrderRequest {
                    id,
                    symbol: symbol_for(id.0),
                    side: fill_for(id, 0, 0).side,
                    kind: OrderKind::Market,
                    quantity: q(ORDER_QTY),
                    reason: "crash test".into(),
                    created_at: id.0 as i64,
                };
                store
                    .record_order(&request, &format!("bf-{}", id.0))
                    .await
                    .expect("child: order");
                id
            }
        };
        let done = store.fills_for_order(id).await.expect("child: fills").len();
        for index in done..3 {
            let f = fill_for(id, index, id.0 as i64 * 10 + index as i64);
            store.record_fill(&f).await.expect("child: fill");
            say(format!("fill {} {}", f.symbol, f.trade_id));
        }
        let at = id.0 as i64;
        let equity = EquitySnapshot {
            at,
            equity: "1000.1".parse().unwrap(),
            cash: "0.2".parse().unwrap(),
        };
        store.record_equity(&equity).await.expect("child: equity");
        let decision = AuditRecord {
            at,
            symbol: symbol_for(id.0),
            signal: "buy".into(),
            verdict: "accepted".into(),
            reason: serde_json::json!({"order": id.0}),
        };
        store
            .record_audit(&decision)
            .await
            .expect("child: decision");
    }
}

/// A small xorshift generator: kill times need no more.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn crash_rounds(location: &str, config: &StoreConfig) {
    let seed = std::env::var("BOTFLEET_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed {seed} (BOTFLEET_CRASH_SEED={seed} reproduces the kill times)");
    let mut rng = Rng(seed);
    let rt = runtime();
    let mut acknowledged: HashSet<(String, String)> = HashSet::new();
    let mut previous = 0;
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(rng.next() % 120);
        let lines = run_and_kill(location, delay, round);
        for line in &lines {
            assert!(
                !line.starts_with("BAD"),
                "round {round} (seed {seed}): {line}"
            );
            if let Some(rest) = line.strip_prefix("fill ") {
                let (symbol, trade) = rest.split_once(' ').expect("fill SYMBOL TRADE");
                acknowledged.insert((symbol.to_string(), trade.to_string()));
            }
        }
        let total = rt.block_on(check_store(config, &acknowledged, round, seed));
        assert!(
            total >= previous,
            "round {round} (seed {seed}): fills went from {previous} to {total}"
        );
        previous = total;
    }
    assert!(
        previous >= ROUNDS,
        "the children made too little progress to test anything: {previous} fills"
    );
    eprintln!(
        "crash test: {ROUNDS} kills, {previous} fills, {} acknowledged",
        acknowledged.len()
    );
}

/// Starts a child, lets it write for `delay` after it is ready, SIGKILLs it and
/// returns everything it printed.
fn run_and_kill(location: &str, delay: Duration, round: usize) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, location)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning the child");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            // libtest prints "test crash_child ... " with no newline before it.
            Ok(line) if line.ends_with("ready") => break,
            Ok(line) => lines.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "round {round}: the child never became ready; it printed {:?}",
                    tail(&lines)
                );
            }
        }
    }
    std::thread::sleep(delay);
    if let Some(status) = child.try_wait().unwrap() {
        lines.extend(rx.try_iter());
        panic!(
            "round {round}: the child exited by itself ({status}): {:?}",
            tail(&lines)
        );
    }
    child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
    child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    lines
}

fn tail(lines: &[String]) -> &[String] {
    &lines[lines.len().saturating_sub(10)..]
}

/// Reopens the store and checks every invariant a crash must not break.
async fn check_store(
    config: &StoreConfig,
    acknowledged: &HashSet<(String, String)>,
    round: usize,
    seed: u64,
) -> usize {
    let ctx = format!("round {round} (seed {seed})");
    let store = Store::open(config)
        .await
        .unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
    let restored = store.restore().await.unwrap();
    let mut seen = HashSet::new();
    let mut per_order: HashMap<OrderId, Quantity> = HashMap::new();
    for f in &restored.fills {
        assert!(
            seen.insert((f.symbol.to_string(), f.trade_id.clone())),
            "{ctx}: duplicate fill {}",
            f.trade_id
        );
        *per_order.entry(f.order_id).or_default() += f.quantity;
    }
    for (symbol, trade) in acknowledged {
        assert!(
            seen.contains(&(symbol.clone(), trade.clone())),
            "{ctx}: acknowledged fill {symbol} {trade} is lost"
        );
    }
    let mut open = 0;
    for id in 1..restored.state.next_order_id {
        let Some(order) = store.order(OrderId(id)).await.unwrap() else {
            panic!(
                "{ctx}: order {id} is missing below next_order_id {}",
                restored.state.next_order_id
            )
        };
        let filled = per_order.remove(&order.id).unwrap_or_default();
        assert_eq!(
            order.filled_quantity, filled,
            "{ctx}: order {id} filled quantity vs its fills"
        );
        let expected = if filled == order.quantity {
            OrderStatus::Filled
        } else if filled.is_zero() {
            OrderStatus::New
        } else {
            OrderStatus::PartiallyFilled
        };
        assert_eq!(
            order.status, expected,
            "{ctx}: order {id} status with {filled} filled"
        );
        open += usize::from(order.status.is_open());
    }
    assert!(
        per_order.is_empty(),
        "{ctx}: fills of unrecorded orders: {per_order:?}"
    );
    assert_eq!(
        restored.open_orders.len(),
        open,
        "{ctx}: restore's open orders"
    );
    assert!(
        open <= 1,
        "{ctx}: a child finishes open orders before new ones, found {open} open"
    );
    store.close().await;
    restored.fills.len()
}
