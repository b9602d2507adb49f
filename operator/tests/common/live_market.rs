//! A live market for the real engine: the exchange simulator's market data
//! (Binance kline REST and WebSocket, or Coinbase candles and its
//! market-data WebSocket; `--feed live` pointed at it), driven by a task
//! that feeds one candle at a time, so the engine trades on the prices its
//! venue orders fill at. Candle times are one hour apart: on Binance from
//! [`FIRST_CANDLE`] (the past: every kline is closed); on Coinbase the
//! history ends at the current hour and live candles run into the future,
//! because a Coinbase feed takes its clock from trade times and warms up
//! from the candles just before the wall clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use botfleet_tests::exchange_sim::ExchangeSim;
use botfleet_tests::venue_kind::VenueKind;
use rust_decimal::Decimal;

use super::real_engine::{Bar, FIRST_CANDLE, HOUR};

/// The engine's args for the simulator's market data of `kind`.
pub fn live_feed_on(kind: VenueKind, sim: &ExchangeSim) -> Vec<String> {
    [
        "--feed",
        "live",
        "--market-rest-url",
        &sim.url,
        "--market-ws-url",
        &kind.market_ws_url(sim),
    ]
    .map(str::to_string)
    .to_vec()
}

/// The price of candle `i` of an endless market.
pub type PriceFn = Arc<dyn Fn(usize) -> Decimal + Send + Sync>;

/// A market moving candle by candle until dropped.
pub struct LiveMarket {
    pub sim: Arc<ExchangeSim>,
    pub kind: VenueKind,
    fed: Arc<AtomicUsize>,
    price: Arc<std::sync::Mutex<PriceFn>>,
    task: tokio::task::JoinHandle<()>,
}

impl LiveMarket {
    /// A simulator of `kind` (its test credentials) holding `quote` of the
    /// quote currency (no BTC) with `history` candles already closed, then
    /// one more candle every `pace`, closing at `price(i)` (each opening at
    /// the previous close, a 0.1 % wick on each side).
    pub async fn start_on(
        kind: VenueKind,
        quote: Decimal,
        history: usize,
        pace: Duration,
        price: impl Fn(usize) -> Decimal + Send + Sync + 'static,
    ) -> LiveMarket {
        let sim = kind.simulator(quote).await;
        Self::run(kind, sim, history, pace, price)
    }

    fn run(
        kind: VenueKind,
        sim: ExchangeSim,
        history: usize,
        pace: Duration,
        price: impl Fn(usize) -> Decimal + Send + Sync + 'static,
    ) -> LiveMarket {
        let sim = Arc::new(sim);
        let first = match kind {
            VenueKind::Binance => FIRST_CANDLE,
            VenueKind::Coinbase => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as i64;
                now - now.rem_euclid(HOUR) - history as i64 * HOUR
            }
        };
        let price: Arc<std::sync::Mutex<PriceFn>> =
            Arc::new(std::sync::Mutex::new(Arc::new(price)));
        let fed = Arc::new(AtomicUsize::new(0));
        let feeder = Feeder {
            sim: sim.clone(),
            symbol: kind.symbol(),
            first,
            fed: fed.clone(),
            price: price.clone(),
        };
        for _ in 0..history {
            feeder.feed_one();
        }
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(pace).await;
                feeder.feed_one();
            }
        });
        LiveMarket {
            sim,
            kind,
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
            .klines(self.kind.symbol())
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

/// Feeds one candle after another.
struct Feeder {
    sim: Arc<ExchangeSim>,
    symbol: &'static str,
    /// Open time of candle 0.
    first: i64,
    fed: Arc<AtomicUsize>,
    price: Arc<std::sync::Mutex<PriceFn>>,
}

impl Feeder {
    fn feed_one(&self) {
        let i = self.fed.load(Ordering::SeqCst);
        let close = (self.price.lock().unwrap())(i);
        let open = self
            .sim
            .klines(self.symbol)
            .last()
            .map_or(close, |k| k.close);
        let wick = Decimal::new(1, 3);
        let high = (open.max(close) * (Decimal::ONE + wick)).round_dp(2);
        let low = (open.min(close) * (Decimal::ONE - wick)).round_dp(2);
        self.sim
            .candle_at(self.symbol, self.first + i as i64 * HOUR, low, high, close);
        self.fed.store(i + 1, Ordering::SeqCst);
    }
}

/// `mid` ± `amplitude_pct` % on a sine of `period` candles, to the cent.
pub fn wave_price(mid: Decimal, amplitude_pct: f64, period: f64) -> impl Fn(usize) -> Decimal {
    move |i| {
        let x = i as f64 / period * std::f64::consts::TAU;
        let factor = 1.0 + amplitude_pct / 100.0 * x.sin();
        (mid * Decimal::try_from(factor).unwrap()).round_dp(2)
    }
}
