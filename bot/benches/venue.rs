//! The cost of a real order, without the network: prints a table
//! (`cargo bench -p botfleet-bot --bench venue`).
//!
//! 1. Storing the order before it is sent: one `Store::commit_step` holding
//!    the order, on SQLite (WAL, synchronous=FULL: an fsync per step).
//! 2. The Binance adapter against the local simulator on loopback: a signed
//!    market order (`POST /api/v3/order`), then its fills (`GET order` +
//!    `GET myTrades`), p50/p99. This is the adapter's own overhead (signing,
//!    HTTP, parsing); a real exchange adds its round trips on top.

use std::time::{Duration, Instant};

use botfleet_bot::binance::spot::{SpotClient, SpotCredentials, SpotEndpoint, SpotOptions};
use botfleet_bot::domain::{OrderId, OrderKind, OrderRequest, Price, Quantity, Side, Symbol};
use botfleet_bot::execution::Venue;
use botfleet_bot::store::{Step, StepWrite, Store, StoreConfig};
use botfleet_crds::Phase;
use botfleet_tests::exchange_sim::{ExchangeSim, SimConfig};
use rust_decimal::Decimal;

const ORDERS: u64 = 400;

fn order(id: u64) -> OrderRequest {
    OrderRequest {
        id: OrderId(id),
        symbol: Symbol::new("BTCUSDT"),
        side: if id % 2 == 1 { Side::Buy } else { Side::Sell },
        kind: OrderKind::Market,
        quantity: Quantity::new(Decimal::new(1, 3)),
        reason: "bench".into(),
        created_at: id as i64,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn row(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "| {what} | {} | {:.0} µs | {:.0} µs |",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6
    );
}

async fn store_before_send() -> Vec<Duration> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&StoreConfig::Sqlite {
        path: dir.path().join("bench.db"),
    })
    .await
    .expect("open the store");
    let mut samples = Vec::new();
    for id in 1..=ORDERS {
        let step = Step {
            writes: vec![StepWrite::Order {
                request: order(id),
                client_order_id: format!("bench-{id}"),
            }],
            ..Step::default()
        };
        let started = Instant::now();
        store.commit_step(&step).await.expect("commit");
        samples.push(started.elapsed());
    }
    store.close().await;
    samples
}

async fn adapter_round_trips() -> (Vec<Duration>, Vec<Duration>) {
    let sim = ExchangeSim::start(SimConfig::btcusdt("benchKey", "benchSecret")).await;
    sim.candle(
        "BTCUSDT",
        Decimal::from(50_000),
        Decimal::from(50_000),
        Decimal::from(50_000),
    );
    let endpoint = SpotEndpoint::with_url(Phase::Sandbox, &sim.url).expect("simulator URL");
    let creds = SpotCredentials::new("benchKey", "benchSecret").expect("credentials");
    let mut client =
        SpotClient::new(endpoint, creds, "bench", SpotOptions::default()).expect("client");
    client.sync_time().await.expect("time");
    client.set_reference_price(&Symbol::new("BTCUSDT"), Price::new(Decimal::from(50_000)));
    let (mut submits, mut with_fills) = (Vec::new(), Vec::new());
    for id in 1..=ORDERS {
        let o = order(id);
        let started = Instant::now();
        let state = client.submit(&o).await.expect("submit");
        submits.push(started.elapsed());
        let fills = client.fills(&o.symbol, state.id).await.expect("fills");
        with_fills.push(started.elapsed());
        assert_eq!(
            fills.len(),
            1,
            "a market order fills at once on the simulator"
        );
    }
    (submits, with_fills)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let stored = runtime.block_on(store_before_send());
    let (submits, with_fills) = runtime.block_on(adapter_round_trips());
    println!("| measure | orders | p50 | p99 |");
    println!("|---|---|---|---|");
    row("store the order before sending (SQLite, fsync)", stored);
    row("submit a market order (sign, POST, parse)", submits);
    row("submit + read its fills (3 requests)", with_fills);
}
