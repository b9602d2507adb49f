//! `run`'s command line, and where its secrets come from.
//!
//! Secrets (a PostgreSQL URL with a password) are read from a file or the
//! environment, never echoed: the store URL is logged through
//! `store::redact`. The control endpoints need no secret here: the engine
//! verifies the operator's signatures with public keys (`super::control_auth`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::bail;

use crate::backtest::DataArg;
use crate::execution::PaperConfig;
use crate::market_data::parse_time_flag;
use crate::store::StoreConfig;

/// Env var holding the store URL (a PostgreSQL URL from a Secret).
pub const STORE_ENV: &str = "BOTFLEET_STORE_URL";
/// The same, under the name the operator's StatefulSet sets.
pub const OPERATOR_STORE_ENV: &str = "BOTFLEET_DATABASE_URL";
/// The SQLite file under `--data-dir` when no store is named.
pub const DEFAULT_DB_FILE: &str = "bot.db";

/// Arguments of `run`. Not `Debug`: `--store` may hold a password.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The rendered config (the same multi-document YAML as `backtest -f`).
    #[arg(long, short = 'f', visible_alias = "file")]
    pub config: PathBuf,
    /// The TradingBot to run when the file holds several.
    #[arg(long, env = "BOTFLEET_BOT")]
    pub bot: Option<String>,
    /// Address of the HTTP server (/status, /metrics, /healthz, /readyz, /v1/*).
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// The store: a SQLite file (PATH or sqlite://PATH) or a postgres:// URL.
    /// Default: $BOTFLEET_STORE_URL, else $BOTFLEET_DATABASE_URL, else
    /// DATA_DIR/bot.db. Prefer the env var for a URL with a password.
    #[arg(long, value_name = "URL|PATH")]
    pub store: Option<String>,
    /// Directory of the default SQLite store.
    #[arg(long, default_value = "/var/lib/botfleet")]
    pub data_dir: PathBuf,
    /// File of the operator's Ed25519 public keys (one base64 key a line)
    /// that verify signed control requests (else $BOTFLEET_CONTROL_KEYS_FILE).
    /// Re-read on every control request, so a key rotation needs no restart.
    #[arg(long, value_name = "PATH")]
    pub control_keys_file: Option<PathBuf>,
    /// Serve the control endpoints unsigned. Local use only.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Where candles come from.
    #[arg(long, value_enum, default_value_t = FeedKind::Binance)]
    pub feed: FeedKind,
    /// Candles to replay (`--feed replay`): a Binance kline CSV or
    /// `timestamp,open,high,low,close,volume`; `SYMBOL=FILE` per symbol.
    #[arg(long = "data", value_name = "[SYMBOL=]FILE")]
    pub data: Vec<DataArg>,
    /// Replay speed: N times real time (candle time / N), or `max`.
    #[arg(long, default_value = "1")]
    pub speed: Speed,
    /// First candle to replay (2024-01-31, RFC 3339 or Unix time).
    #[arg(long, value_parser = parse_time_flag)]
    pub from: Option<i64>,
    /// Replay candles strictly before this time.
    #[arg(long, value_parser = parse_time_flag)]
    pub to: Option<i64>,
    /// Seed of `--feed synthetic`.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Candles per symbol of `--feed synthetic`.
    #[arg(long, default_value_t = 8_760)]
    pub candles: usize,
    /// Public market data REST base URL of the live feed. Default: the
    /// bot's venue's production host (https://api.binance.com,
    /// https://api.coinbase.com).
    #[arg(
        long = "market-rest-url",
        visible_alias = "binance-rest-url",
        value_name = "URL"
    )]
    pub market_rest_url: Option<String>,
    /// Public market data WebSocket URL of the live feed. Default: the
    /// bot's venue's (wss://stream.binance.com:9443,
    /// wss://advanced-trade-ws.coinbase.com).
    #[arg(
        long = "market-ws-url",
        visible_alias = "binance-ws-url",
        value_name = "URL"
    )]
    pub market_ws_url: Option<String>,
    /// Taker fee of the simulated fills, in basis points.
    #[arg(long, default_value = "10")]
    pub taker_fee_bps: rust_decimal::Decimal,
    /// Maker fee of the simulated fills, in basis points.
    #[arg(long, default_value = "10")]
    pub maker_fee_bps: rust_decimal::Decimal,
    /// Slippage of market orders, in basis points.
    #[arg(long, default_value = "5")]
    pub slippage_bps: rust_decimal::Decimal,
    /// Log as JSON lines (for log collectors) instead of text.
    #[arg(long)]
    pub log_json: bool,
    #[command(flatten)]
    pub venue: super::venue::VenueArgs,
}

/// Candle sources of `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedKind {
    /// Live market data of the bot's venue (`exchange.venue`): Binance
    /// klines (REST warm-up and backfill, kline WebSocket) or Coinbase
    /// candles (REST candles, market-data WebSocket). Also `--feed live`.
    #[value(alias = "live")]
    Binance,
    /// A CSV file (`--data`), paced by `--speed`.
    Replay,
    /// Seeded synthetic candles (labelled synthetic), paced by `--speed`.
    Synthetic,
}

/// `--speed`: how fast a replay goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// As fast as the engine and the store allow.
    Max,
    /// Candle time divided by this (1 = real time).
    Times(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(Speed::Times(x)),
            _ => Err(format!(
                "`{s}` is not a speed: give a positive factor (1 = real time, 60 = a minute per second) or `max`"
            )),
        }
    }
}

impl RunArgs {
    /// Who may call the control endpoints: signatures by the operator's
    /// keys for the bot `uid` (from the config), or nobody checks.
    pub fn auth(&self, uid: Option<&str>) -> anyhow::Result<super::control_auth::Auth> {
        super::control_auth::from_args(
            self.control_keys_file.as_deref(),
            self.insecure_no_auth,
            uid,
        )
    }

    /// `--store`, else the env vars, else the SQLite file under `--data-dir`.
    pub fn store(&self) -> StoreConfig {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match self
            .store
            .clone()
            .or_else(|| env(STORE_ENV))
            .or_else(|| env(OPERATOR_STORE_ENV))
        {
            Some(location) => StoreConfig::parse(&location),
            None => StoreConfig::Sqlite {
                path: self.data_dir.join(DEFAULT_DB_FILE),
            },
        }
    }

    /// The simulated fills' fees and slippage.
    pub fn paper(&self) -> anyhow::Result<PaperConfig> {
        let paper = PaperConfig {
            taker_fee_bps: self.taker_fee_bps,
            maker_fee_bps: self.maker_fee_bps,
            slippage_bps: self.slippage_bps,
            ..PaperConfig::default()
        };
        paper.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(paper)
    }

    /// Flags that only make sense with another feed are refused, so a typo
    /// never silently trades on the wrong data.
    pub fn check_feed(&self) -> anyhow::Result<()> {
        match self.feed {
            FeedKind::Replay if self.data.is_empty() => {
                bail!("--feed replay needs --data FILE (or SYMBOL=FILE per symbol)")
            }
            FeedKind::Binance | FeedKind::Synthetic if !self.data.is_empty() => bail!(
                "--data is for --feed replay; with --feed {} it would be ignored",
                self.feed_name()
            ),
            FeedKind::Binance if self.from.is_some() || self.to.is_some() => {
                bail!("--from/--to select replayed candles; the live feed starts now")
            }
            FeedKind::Synthetic if self.candles == 0 => {
                bail!("--candles must be at least 1")
            }
            _ => Ok(()),
        }
    }

    pub fn feed_name(&self) -> &'static str {
        match self.feed {
            FeedKind::Binance => "binance",
            FeedKind::Replay => "replay",
            FeedKind::Synthetic => "synthetic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_parses_factors_and_max() {
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("MAX".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("60".parse::<Speed>(), Ok(Speed::Times(60.0)));
        assert_eq!("0.5".parse::<Speed>(), Ok(Speed::Times(0.5)));
        for bad in ["0", "-1", "fast", "inf", "NaN"] {
            let err = bad.parse::<Speed>().unwrap_err();
            assert!(err.contains("positive factor"), "{bad}: {err}");
        }
    }
}
