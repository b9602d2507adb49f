//! An exchange simulator speaking Binance's spot REST API (the signed
//! trading endpoints the engine uses, plus `time` and `exchangeInfo`), with
//! the documented JSON shapes, error codes (`{"code","msg"}`) and headers
//! (`X-MBX-USED-WEIGHT-1M`, `Retry-After`), HMAC-SHA256 signature and
//! `recvWindow` checks, a matching engine against candles the test feeds
//! ([`book`]), and fault injection ([`Faults`]).
//!
//! The same candles are its market data ([`market`]): each one becomes a
//! closed kline served by `GET /api/v3/klines` at [`ExchangeSim::url`] and
//! pushed on the kline WebSocket at [`ExchangeSim::ws_url`]
//! (`/ws/<symbol>@kline_<interval>`, `/stream?streams=…`), after the
//! matching engine has traded through it, so an engine on the live feed
//! sees the prices its orders fill at. The same market is also served in
//! Coinbase Advanced Trade's format ([`coinbase_market`]: REST candles at
//! `/api/v3/brokerage/market/products/{id}/candles`, and the
//! `market_trades`/`heartbeats` WebSocket at [`ExchangeSim::coinbase_ws_url`]),
//! for a simulator symbol named like a Coinbase product (`BTC-USD`).
//!
//! ```no_run
//! # async fn example() {
//! use botfleet_tests::exchange_sim::{ExchangeSim, SimConfig};
//! let sim = ExchangeSim::start(SimConfig::btcusdt("key", "secret")).await;
//! sim.candle("BTCUSDT", 50_000.into(), 50_100.into(), 50_050.into());
//! // point a client at sim.url
//! # }
//! ```

pub mod book;
pub mod coinbase_market;
mod coinbase_market_stream;
pub mod coinbase_trade;
pub mod market;
mod server;
mod stream;

pub use book::{
    Book, SimBalance, SimOrder, SimReject, SimSide, SimStatus, SimSymbol, SimTrade, check_price,
};
pub use coinbase_trade::{CoinbaseKey, coinbase_verifying_key};
pub use market::SimKline;

use rust_decimal::Decimal;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::JoinHandle;

/// What the simulator is started with.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub api_key: String,
    pub secret: String,
    pub symbols: Vec<SimSymbol>,
    /// Initial free balances per asset.
    pub balances: Vec<(String, Decimal)>,
    /// Fee per fill, a fraction of the notional (0.001 = 0.1 %).
    pub fee_rate: Decimal,
    /// Added to the local clock to make the simulator's server time.
    pub clock_skew_ms: i64,
    /// The klines' interval in ms (one interval for every symbol; it must
    /// be the engine's timeframe). Candles fed without a time follow each
    /// other one interval apart.
    pub kline_interval_ms: i64,
}

impl SimConfig {
    /// BTCUSDT with Binance's filters (tick 0.01, step 0.00001, min notional
    /// 5), 10 000 USDT and 1 BTC, 0.1 % fees.
    pub fn btcusdt(api_key: &str, secret: &str) -> Self {
        Self {
            api_key: api_key.into(),
            secret: secret.into(),
            symbols: vec![SimSymbol {
                symbol: "BTCUSDT".into(),
                base: "BTC".into(),
                quote: "USDT".into(),
                tick_size: Decimal::new(1, 2),
                step_size: Decimal::new(1, 5),
                min_qty: Decimal::new(1, 5),
                min_notional: Decimal::from(5),
            }],
            balances: vec![
                ("USDT".into(), Decimal::from(10_000)),
                ("BTC".into(), Decimal::ONE),
            ],
            fee_rate: Decimal::new(1, 3),
            clock_skew_ms: 0,
            kline_interval_ms: 3_600_000,
        }
    }
}

impl SimConfig {
    /// BTC-USD as Coinbase lists it (price increment 0.01, base increment
    /// 0.00000001, quote minimum 1), 10 000 USD and 1 BTC, 0.1 % fees. Its
    /// trading API is served once [`ExchangeSim::set_coinbase_key`] names a key.
    pub fn btc_usd() -> Self {
        let mut c = Self::btcusdt("unused", "unused");
        c.symbols = vec![SimSymbol {
            symbol: "BTC-USD".into(),
            base: "BTC".into(),
            quote: "USD".into(),
            tick_size: Decimal::new(1, 2),
            step_size: Decimal::new(1, 8),
            min_qty: Decimal::new(1, 8),
            min_notional: Decimal::ONE,
        }];
        c.balances = vec![
            ("USD".into(), Decimal::from(10_000)),
            ("BTC".into(), Decimal::ONE),
        ];
        c
    }
}

/// Faults injected into the next requests. Counters count down per request
/// they affect.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The next N requests answer 429 with this `Retry-After` (seconds).
    pub rate_limited: u32,
    pub retry_after_secs: u64,
    /// Answer 418 (banned) instead of 429.
    pub banned: bool,
    /// The next N requests answer 503 without being executed.
    pub server_errors: u32,
    /// The next N order lookups (`GET /api/v3/order`) answer 503.
    pub failed_lookups: u32,
    /// The next N order placements are executed, then answered after this delay.
    pub slow_submits: u32,
    pub submit_delay: Duration,
    /// The next N order placements are executed, then the response is cut off.
    pub dropped_submits: u32,
    /// The next N order placements are refused without being placed, as
    /// Binance refuses orders on a symbol that does not trade:
    /// `{"code": -2010, "msg": "Market is closed."}`.
    pub rejected_submits: u32,
    /// Report this weight in `X-MBX-USED-WEIGHT-1M` instead of the real count.
    pub used_weight_override: Option<u32>,
    /// The venue disagrees with what happened: `myTrades` reports one
    /// trade more than there was (a copy of the symbol's last trade under
    /// the next trade id). Lasts until cleared.
    pub phantom_trade: bool,
    /// The venue disagrees on fees: `myTrades` reports every commission
    /// this much higher than charged. Lasts until cleared.
    pub history_fee_skew: Decimal,
}

/// How many times each fault of [`Faults`] actually hit a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultsFired {
    pub rate_limited: u32,
    pub server_errors: u32,
    pub failed_lookups: u32,
    pub slow_submits: u32,
    pub dropped_submits: u32,
    pub rejected_submits: u32,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct SimRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub at: std::time::Instant,
    /// The HTTP status answered (0 when the response was dropped).
    pub status: u16,
}

pub(crate) struct SimState {
    pub config: SimConfig,
    pub book: Book,
    pub market: market::Market,
    pub faults: Faults,
    pub fired: FaultsFired,
    pub requests: Vec<SimRequest>,
    /// (minute, weight used in it).
    pub weight: (i64, u32),
    /// The Coinbase API key `/api/v3/brokerage/...` accepts, once set.
    pub coinbase_key: Option<CoinbaseKey>,
}

/// A running simulator; stops when dropped.
pub struct ExchangeSim {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// WebSocket base URL of the kline streams, e.g. `ws://127.0.0.1:41235`.
    pub ws_url: String,
    state: Arc<Mutex<SimState>>,
    hub: Arc<stream::Hub>,
    task: JoinHandle<()>,
    ws_task: JoinHandle<()>,
}

impl ExchangeSim {
    /// Starts on loopback ports of the OS's choosing.
    pub async fn start(config: SimConfig) -> Self {
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        Self::start_on(config, loopback, loopback).await
    }

    /// Starts with the REST API on `rest` and the kline streams on `ws` (the
    /// `exchange-sim` process binds all interfaces in a cluster).
    ///
    /// # Panics
    /// When an address cannot be bound.
    pub async fn start_on(
        config: SimConfig,
        rest: std::net::SocketAddr,
        ws: std::net::SocketAddr,
    ) -> Self {
        let mut book = Book::default();
        book.fee_rate = config.fee_rate;
        for s in &config.symbols {
            book.symbols.insert(s.symbol.clone(), s.clone());
        }
        for (asset, free) in &config.balances {
            book.balances.insert(
                asset.clone(),
                SimBalance {
                    free: *free,
                    locked: Decimal::ZERO,
                },
            );
        }
        assert!(
            market::interval_name(config.kline_interval_ms).is_some(),
            "SimConfig.kline_interval_ms {} is not a Binance interval (1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w)",
            config.kline_interval_ms
        );
        let market = market::Market::new(config.kline_interval_ms);
        let state = Arc::new(Mutex::new(SimState {
            config,
            book,
            market,
            faults: Faults::default(),
            fired: FaultsFired::default(),
            requests: Vec::new(),
            weight: (0, 0),
            coinbase_key: None,
        }));
        let listener = tokio::net::TcpListener::bind(rest)
            .await
            .unwrap_or_else(|e| panic!("binding the REST API to {rest}: {e}"));
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let app = server::router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let ws_listener = tokio::net::TcpListener::bind(ws)
            .await
            .unwrap_or_else(|e| panic!("binding the kline streams to {ws}: {e}"));
        let ws_url = format!("ws://{}", ws_listener.local_addr().expect("local addr"));
        let hub = Arc::new(stream::Hub::new());
        let ws_task = tokio::spawn(stream::serve(ws_listener, state.clone(), hub.clone()));
        Self {
            url,
            ws_url,
            state,
            hub,
            task,
            ws_task,
        }
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Feeds a closed candle: resting orders it trades through fill, and its
    /// close becomes the price market orders fill at. It is then the
    /// symbol's newest kline (one interval after the last; the first opens
    /// [`market::AUTO_START_INTERVALS`] intervals before now), served over
    /// REST and pushed to the kline streams.
    ///
    /// # Panics
    /// When the simulator refuses the candle (see [`Self::try_candle`]): a
    /// price ≤ 0 is a mistake of the test that injects it.
    pub fn candle(&self, symbol: &str, low: Decimal, high: Decimal, close: Decimal) {
        if let Err(refused) = self.try_candle(symbol, low, high, close) {
            panic!("the exchange simulator refused the candle: {refused}");
        }
    }

    /// Feeds a closed candle like [`Self::candle`]; a price ≤ 0 (or an
    /// unknown symbol) is refused with Binance's error shape and changes
    /// nothing: `{"code": -1013, "msg": "Invalid price. (injected BTCUSDT
    /// candle: low 0)"}`, `-1100` for a negative price.
    pub fn try_candle(
        &self,
        symbol: &str,
        low: Decimal,
        high: Decimal,
        close: Decimal,
    ) -> Result<(), SimReject> {
        let mut st = self.lock();
        let now = server::now_ms(st.config.clock_skew_ms);
        let open_time = st.market.next_open(symbol, now);
        self.feed(&mut st, symbol, open_time, low, high, close, now)
    }

    /// Feeds a closed candle opening at `open_time` (Unix ms, on an
    /// interval boundary, after the symbol's last kline), like
    /// [`Self::try_candle`]; a misplaced time is refused with `-1100`.
    pub fn try_candle_at(
        &self,
        symbol: &str,
        open_time: i64,
        low: Decimal,
        high: Decimal,
        close: Decimal,
    ) -> Result<(), SimReject> {
        let mut st = self.lock();
        let now = server::now_ms(st.config.clock_skew_ms);
        self.feed(&mut st, symbol, open_time, low, high, close, now)
    }

    /// [`Self::try_candle_at`], panicking on a refusal (a test's mistake).
    pub fn candle_at(
        &self,
        symbol: &str,
        open_time: i64,
        low: Decimal,
        high: Decimal,
        close: Decimal,
    ) {
        if let Err(refused) = self.try_candle_at(symbol, open_time, low, high, close) {
            panic!("the exchange simulator refused the candle: {refused}");
        }
    }

    /// Matches, records and publishes one candle; nothing changes when it
    /// is refused.
    #[allow(clippy::too_many_arguments)]
    fn feed(
        &self,
        st: &mut SimState,
        symbol: &str,
        open_time: i64,
        low: Decimal,
        high: Decimal,
        close: Decimal,
        now: i64,
    ) -> Result<(), SimReject> {
        if let Err(refused) = st.market.check(symbol, open_time) {
            return Err(SimReject {
                code: -1100,
                msg: refused.0,
            });
        }
        st.book.on_candle(symbol, low, high, close, now)?;
        let kline = st.market.push(symbol, open_time, low, high, close);
        let interval = market::interval_name(st.market.interval_ms).unwrap_or("?");
        let stream = format!("{}@kline_{interval}", symbol.to_ascii_lowercase());
        for closed in [false, true] {
            let event = kline.stream_event(symbol, interval, closed, now);
            self.hub.publish(stream.clone(), event.to_string());
        }
        coinbase_market_stream::publish_close(&self.hub, symbol, &kline, st.market.interval_ms);
        Ok(())
    }

    /// The klines of `symbol` fed so far (the most recent 100 000), oldest first.
    pub fn klines(&self, symbol: &str) -> Vec<SimKline> {
        self.lock()
            .market
            .klines
            .get(symbol)
            .cloned()
            .unwrap_or_default()
    }

    /// Ends every open kline stream connection (the client must reconnect
    /// and backfill what it missed over REST), as Binance does at 24 h.
    pub fn drop_stream_connections(&self) {
        self.hub.generation.send_modify(|g| *g += 1);
    }

    /// While `down`, the kline streams are down: open connections end and
    /// new ones are refused with 503, so candles fed meanwhile reach a
    /// client only by its REST backfill.
    pub fn set_streams_down(&self, down: bool) {
        self.hub
            .refusing
            .store(down, std::sync::atomic::Ordering::SeqCst);
        if down {
            self.drop_stream_connections();
        }
    }

    /// Kline stream connections open now.
    pub fn stream_connections(&self) -> usize {
        self.hub.open.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Serves Coinbase's Advanced Trade API (`/api/v3/brokerage/...`) to the
    /// API key `name` whose public key is `public_key` (its JWTs are checked
    /// with it). Products are the configured symbols (use Coinbase product
    /// ids such as `BTC-USD`, see [`SimConfig::btc_usd`]).
    pub fn set_coinbase_key(&self, name: &str, public_key: p256::ecdsa::VerifyingKey) {
        self.lock().coinbase_key = Some(CoinbaseKey {
            name: name.to_string(),
            public_key,
        });
    }

    /// [`Self::set_coinbase_key`] with the key as PEM: the EC private key a
    /// bot's Secret holds (SEC1 or PKCS#8), or its public key; `\n` escapes
    /// (a PEM in one line of an env file) are read as line breaks. The
    /// error shows none of the key.
    pub fn set_coinbase_key_pem(&self, name: &str, pem: &str) -> Result<(), String> {
        self.set_coinbase_key(name, coinbase_verifying_key(pem)?);
        Ok(())
    }

    /// Changes the faults injected into the next requests.
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// The faults that hit a request so far (a test that arms faults
    /// asserts each one fired).
    pub fn faults_fired(&self) -> FaultsFired {
        self.lock().fired.clone()
    }

    /// Moves the simulator's clock relative to the local one.
    pub fn set_clock_skew(&self, skew_ms: i64) {
        self.lock().config.clock_skew_ms = skew_ms;
    }

    /// Caps the quantity one order fills per match (partial fills).
    pub fn set_partial_fill_cap(&self, cap: Option<Decimal>) {
        self.lock().book.partial_fill_cap = cap;
    }

    pub fn orders(&self) -> Vec<SimOrder> {
        self.lock().book.orders.clone()
    }

    pub fn trades(&self) -> Vec<SimTrade> {
        self.lock().book.trades.clone()
    }

    pub fn balance(&self, asset: &str) -> SimBalance {
        self.lock().book.balance(asset)
    }

    pub fn requests(&self) -> Vec<SimRequest> {
        self.lock().requests.clone()
    }
}

impl Drop for ExchangeSim {
    fn drop(&mut self) {
        self.task.abort();
        self.ws_task.abort();
        self.drop_stream_connections();
    }
}

#[cfg(test)]
mod tests;
