//! A live market for the real engine: the exchange simulator's kline REST
//! and WebSocket feed (`--feed binance` pointed at it), driven by a task
//! that feeds one candle at a time, so the engine trades on the prices its
//! venue orders fill at. Candle times are one hour apart from
//! [`FIRST_CANDLE`] (the past: every kline is closed).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use botfleet_tests::exchange_sim::{ExchangeSim, SimConfig};
use rust_decimal::Decimal;

use super::real_engine::{Bar, FIRST_CANDLE, HOUR};

/// The engine's args for the simulator's market data.
pub fn live_feed(sim: &ExchangeSim) -> Vec<String> {
    [
        "--feed",
        "binance",
        "--binance-rest-url",
        &sim.url,
        "--binance-ws-url",
        &sim.ws_url,
    ]
    .map(str::to_string)
    .to_vec()
}

/// The price of candle `i` of an endless market.
pub type PriceFn = Arc<dyn Fn(usize) -> Decimal + Send + Sync>;

/// A market moving candle by candle until dropped.
pub struct LiveMarket {
    pub sim: Arc<ExchangeSim>,
    fed: Arc<AtomicUsize>,
    price: Arc<std::sync::Mutex<PriceFn>>,
    task: tokio::task::JoinHandle<()>,
}

impl LiveMarket {
    /// A simulator holding `usdt` (no BTC) with `history` candles already
    /// closed, then one more candle every `pace`, closing at `price(i)`
    /// (each opening at the previous close, a 0.1 % wick on each side).
    pub async fn start(
        key: &str,
        secret: &str,
        usdt: Decimal,
        history: usize,
        pace: Duration,
        price: impl Fn(usize) -> Decimal + Send + Sync + 'static,
    ) -> LiveMarket {
        let mut config = SimConfig::btcusdt(key, secret);
        config.balances = vec![("USDT".into(), usdt)];
        let sim = Arc::new(ExchangeSim::start(config).await);
        let price: Arc<std::sync::Mutex<PriceFn>> =
            Arc::new(std::sync::Mutex::new(Arc::new(price)));
        let fed = Arc::new(AtomicUsize::new(0));
        for _ in 0..history {
            feed_one(&sim, &fed, &price);
        }
        let task = {
            let (sim, fed, price) = (sim.clone(), fed.clone(), price.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(pace).await;
                    feed_one(&sim, &fed, &price);
                }
            })
        };
        LiveMarket {
            sim,
            fed,
            price,
            task,
        }
    }

    /// Candles fed so far.
    pub fn fed(&self) -> usize {
        self.fed.load(Ordering::SeqCst)
    }

    /// From the next candle on, closes follow `price(i)` (i counts every
    /// candle since the start).
    pub fn set_price(&self, price: impl Fn(usize) -> Decimal + Send + Sync + 'static) {
        *self.price.lock().unwrap() = Arc::new(price);
    }

    /// The candles fed so far, as bars.
    pub fn bars(&self) -> Vec<Bar> {
        self.sim
            .klines("BTCUSDT")
            .into_iter()
            .map(|k| Bar {
                time: k.open_time,
                open: k.open,
                high: k.high,
                low: k.low,
                close: k.close,
            })
            .collect()
    }

    /// Stops feeding.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for LiveMarket {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn feed_one(sim: &ExchangeSim, fed: &AtomicUsize, price: &std::sync::Mutex<PriceFn>) {
    let i = fed.load(Ordering::SeqCst);
    let close = (price.lock().unwrap())(i);
    let open = sim.klines("BTCUSDT").last().map_or(close, |k| k.close);
    let wick = Decimal::new(1, 3);
    let high = (open.max(close) * (Decimal::ONE + wick)).round_dp(2);
    let low = (open.min(close) * (Decimal::ONE - wick)).round_dp(2);
    sim.candle_at("BTCUSDT", FIRST_CANDLE + i as i64 * HOUR, low, high, close);
    fed.store(i + 1, Ordering::SeqCst);
}

/// `mid` ± `amplitude_pct` % on a sine of `period` candles, to the cent.
pub fn wave_price(mid: Decimal, amplitude_pct: f64, period: f64) -> impl Fn(usize) -> Decimal {
    move |i| {
        let x = i as f64 / period * std::f64::consts::TAU;
        let factor = 1.0 + amplitude_pct / 100.0 * x.sin();
        (mid * Decimal::try_from(factor).unwrap()).round_dp(2)
    }
}
