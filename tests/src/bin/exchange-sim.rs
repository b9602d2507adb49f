//! The exchange simulator as a process: the venue and market data of the
//! end-to-end run's cluster (scripts/e2e), where no exchange is reachable.
//!
//! It speaks Binance's spot wire format (`botfleet_tests::exchange_sim`: signed
//! trading endpoints, klines over REST and WebSocket) for one account whose key
//! pair comes from `SIM_API_KEY` / `SIM_SECRET`. With `SIM_COINBASE_KEY_NAME`
//! and `SIM_COINBASE_KEY` (the API key's EC key, PEM: the private key a bot's
//! Secret holds, or its public key) it also speaks Coinbase Advanced Trade
//! for the same account: ES256 JWTs checked with that key, product
//! `--coinbase-product` (USD quote) at the same prices, its candles over REST
//! and the market-data WebSocket at path `/` of the WebSocket port. It makes
//! its own prices: a
//! wave around a level, one closed candle per `--candle-every` of wall time
//! (each a full `--interval` of market time), after `--history` candles fed at
//! start for the engines' warm-up. Orders fill against those candles.
//!
//! A small admin API (its own port) is for the test driver only:
//! - `GET /sim/health`: 200 once the history is fed;
//! - `GET /sim/books`: every order and trade the venue holds (JSON);
//! - `POST /sim/crash {"pct": 40}`: the level drops by `pct` % in the next candle
//!   and the wave goes on from there.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use botfleet_tests::exchange_sim::{ExchangeSim, SimConfig, SimSide, coinbase_verifying_key};
use clap::Parser;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(
    name = "exchange-sim",
    about = "A Binance spot (and Coinbase Advanced Trade) simulator for end-to-end runs"
)]
struct Args {
    /// REST API (trading and klines).
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Kline WebSocket streams.
    #[arg(long, default_value = "0.0.0.0:8081")]
    ws_listen: SocketAddr,
    /// The admin API (`/sim/*`).
    #[arg(long, default_value = "0.0.0.0:8082")]
    admin_listen: SocketAddr,
    /// The symbol traded (USDT quote, BTC base).
    #[arg(long, default_value = "BTCUSDT")]
    symbol: String,
    /// Wall time between two candles, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    candle_every_ms: u64,
    /// Candles fed at start (the engines' warm-up reads them over REST).
    #[arg(long, default_value_t = 200)]
    history: u64,
    /// Candles per wave (the SMA crossovers' rhythm).
    #[arg(long, default_value_t = 24)]
    period: u64,
    /// Wave amplitude, % of the level.
    #[arg(long, default_value = "3")]
    amplitude_pct: Decimal,
    /// Starting level of the price.
    #[arg(long, default_value = "50000")]
    level: Decimal,
    /// USDT of the account.
    #[arg(long, default_value = "100000")]
    usdt: Decimal,
    /// The Coinbase product traded when a Coinbase key is given (BTC base,
    /// USD quote), at the same prices as `--symbol`.
    #[arg(long, default_value = "BTC-USD")]
    coinbase_product: String,
    /// USD of the account (Coinbase's quote currency).
    #[arg(long, default_value = "100000")]
    usd: Decimal,
}

/// The Coinbase API key from `SIM_COINBASE_KEY_NAME` and `SIM_COINBASE_KEY`
/// (PEM: an EC private key, SEC1 or PKCS#8, or a public key), or `None`
/// when neither is set.
fn coinbase_key() -> anyhow::Result<Option<(String, p256::ecdsa::VerifyingKey)>> {
    let name = std::env::var("SIM_COINBASE_KEY_NAME").ok();
    let pem = std::env::var("SIM_COINBASE_KEY").ok();
    let (name, pem) = match (name, pem) {
        (None, None) => return Ok(None),
        (Some(name), Some(pem)) if !name.trim().is_empty() => (name, pem),
        _ => anyhow::bail!(
            "set both SIM_COINBASE_KEY_NAME (organizations/.../apiKeys/...) and \
             SIM_COINBASE_KEY (its EC key, PEM), or neither"
        ),
    };
    let key = coinbase_verifying_key(&pem).map_err(|e| anyhow::anyhow!("SIM_COINBASE_KEY: {e}"))?;
    Ok(Some((name.trim().to_string(), key)))
}

struct Prices {
    candle: AtomicU64,
    /// The level in cents, lowered by a crash.
    level_cents: AtomicU64,
    period: u64,
    amplitude: f64,
}

impl Prices {
    /// The close of candle `k`: the level times a sine wave (rounded to the tick).
    fn close(&self, k: u64) -> Decimal {
        let level = Decimal::new(self.level_cents.load(Ordering::SeqCst) as i64, 2);
        let phase = 2.0 * std::f64::consts::PI * (k % self.period) as f64 / self.period as f64;
        let factor = Decimal::from_f64(1.0 + self.amplitude * phase.sin()).unwrap_or(Decimal::ONE);
        (level * factor).round_dp(2)
    }
}

struct App {
    sim: ExchangeSim,
    prices: Prices,
    /// Every symbol fed (Binance's, and Coinbase's product when served).
    symbols: Vec<String>,
    /// The Coinbase product and the open time of its first candle: its
    /// history ends at the current interval, because a Coinbase feed warms
    /// up from the candles just before the wall clock and takes its clock
    /// from trade times (Binance's klines may lie anywhere in the past).
    coinbase_start: Option<(String, i64)>,
    last_close: std::sync::Mutex<Decimal>,
}

impl App {
    fn next_candle(&self) {
        let k = self.prices.candle.fetch_add(1, Ordering::SeqCst);
        let close = self.prices.close(k);
        let mut last = self.last_close.lock().expect("lock");
        let prev = if last.is_zero() { close } else { *last };
        let tick = Decimal::new(1, 2);
        let low = (prev.min(close) * Decimal::new(999, 3))
            .round_dp(2)
            .max(tick);
        let high = (prev.max(close) * Decimal::new(1001, 3)).round_dp(2);
        for symbol in &self.symbols {
            let fed = match &self.coinbase_start {
                Some((product, first)) if k == 0 && product == symbol => {
                    self.sim.try_candle_at(symbol, *first, low, high, close)
                }
                _ => self.sim.try_candle(symbol, low, high, close),
            };
            if let Err(e) = fed {
                eprintln!("exchange-sim: {symbol} candle {k} refused: {e:?}");
            }
        }
        *last = close;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let key = std::env::var("SIM_API_KEY").map_err(|_| anyhow::anyhow!("set SIM_API_KEY"))?;
    let secret = std::env::var("SIM_SECRET").map_err(|_| anyhow::anyhow!("set SIM_SECRET"))?;
    let coinbase = coinbase_key()?;
    let mut config = SimConfig::btcusdt(&key, &secret);
    config.symbols[0].symbol = args.symbol.clone();
    config.balances = vec![("USDT".into(), args.usdt), ("BTC".into(), Decimal::ZERO)];
    let mut symbols = vec![args.symbol.clone()];
    let mut coinbase_start = None;
    if coinbase.is_some() {
        let interval = config.kline_interval_ms;
        let now = chrono::Utc::now().timestamp_millis();
        let first = now - now.rem_euclid(interval) - args.history as i64 * interval;
        coinbase_start = Some((args.coinbase_product.clone(), first));
        let mut product = SimConfig::btc_usd().symbols.remove(0);
        product.symbol = args.coinbase_product.clone();
        config.symbols.push(product);
        config.balances.push(("USD".into(), args.usd));
        symbols.push(args.coinbase_product.clone());
    }
    let sim = ExchangeSim::start_on(config, args.listen, args.ws_listen).await;
    if let Some((name, public)) = &coinbase {
        sim.set_coinbase_key(name, *public);
        eprintln!(
            "exchange-sim: Coinbase Advanced Trade for {}",
            args.coinbase_product
        );
    }
    let level_cents = (args.level * Decimal::from(100))
        .to_u64()
        .ok_or_else(|| anyhow::anyhow!("--level must be positive"))?;
    let app = Arc::new(App {
        sim,
        prices: Prices {
            candle: AtomicU64::new(0),
            level_cents: AtomicU64::new(level_cents),
            period: args.period.max(2),
            amplitude: (args.amplitude_pct / Decimal::from(100))
                .to_f64()
                .unwrap_or(0.03),
        },
        symbols,
        coinbase_start,
        last_close: std::sync::Mutex::new(Decimal::ZERO),
    });
    for _ in 0..args.history {
        app.next_candle();
    }
    let ticker = app.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(args.candle_every_ms));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            ticker.next_candle();
        }
    });
    let admin = Router::new()
        .route("/sim/health", get(|| async { "ok" }))
        .route("/sim/books", get(books))
        .route("/sim/crash", post(crash))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(args.admin_listen).await?;
    eprintln!(
        "exchange-sim: REST {}, WebSocket {}, admin {}",
        args.listen, args.ws_listen, args.admin_listen
    );
    axum::serve(listener, admin).await?;
    Ok(())
}

async fn books(State(app): State<Arc<App>>) -> Json<Value> {
    let side = |s: SimSide| match s {
        SimSide::Buy => "BUY",
        SimSide::Sell => "SELL",
    };
    let orders: Vec<Value> = app
        .sim
        .orders()
        .iter()
        .map(|o| {
            json!({
                "orderId": o.order_id, "clientOrderId": o.client_order_id, "symbol": o.symbol,
                "side": side(o.side), "status": o.status.as_str(),
                "origQty": o.orig_qty.to_string(), "executedQty": o.executed_qty.to_string(),
            })
        })
        .collect();
    let trades: Vec<Value> = app
        .sim
        .trades()
        .iter()
        .map(|t| {
            json!({
                "id": t.id, "orderId": t.order_id, "symbol": t.symbol, "side": side(t.side),
                "price": t.price.to_string(), "qty": t.qty.to_string(),
                "commission": t.commission.to_string(), "commissionAsset": t.commission_asset,
            })
        })
        .collect();
    Json(json!({"orders": orders, "trades": trades}))
}

#[derive(serde::Deserialize)]
struct Crash {
    pct: Decimal,
}

async fn crash(
    State(app): State<Arc<App>>,
    Json(c): Json<Crash>,
) -> Result<Json<Value>, (StatusCode, String)> {
    if c.pct <= Decimal::ZERO || c.pct >= Decimal::from(100) {
        return Err((StatusCode::BAD_REQUEST, "pct must be in (0, 100)".into()));
    }
    let keep = (Decimal::from(100) - c.pct) / Decimal::from(100);
    let cents = app.prices.level_cents.load(Ordering::SeqCst);
    let lowered = (Decimal::from(cents) * keep)
        .round()
        .to_u64()
        .unwrap_or(cents);
    app.prices
        .level_cents
        .store(lowered.max(1), Ordering::SeqCst);
    Ok(Json(
        json!({"level": Decimal::new(lowered as i64, 2).to_string()}),
    ))
}
