//! Settings, counters and errors of the live feed ([`super::live_feed`]).

use super::kline_stream::{BINANCE_TESTNET_WS_URL, BINANCE_WS_URL};
use super::market_client::{BINANCE_API_URL, BINANCE_TESTNET_API_URL, RestError, RetryPolicy};
use crate::domain::{Symbol, Timeframe};
use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Why the feed stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("invalid live feed config: `{field}` {problem}")]
    Config {
        field: &'static str,
        problem: String,
    },
    /// A REST answer that no retry can fix (unknown symbol, rejected parameter).
    #[error("Binance refused the klines request for {symbol}: {source}")]
    Rest {
        symbol: Symbol,
        #[source]
        source: RestError,
    },
    /// A venue's refusal of the candles request that no retry can fix
    /// (a venue other than Binance: its REST error type differs).
    #[error("{venue} refused the candles request for {symbol}: {reason}")]
    Refused {
        venue: &'static str,
        symbol: Symbol,
        reason: String,
    },
    #[error("the live feed task failed: {0}")]
    Task(String),
}

/// What the live feed subscribes to, where, and how it behaves on failure.
#[derive(Clone, Debug)]
pub struct LiveFeedConfig {
    /// One kline stream each; several share one combined-stream connection.
    pub symbols: Vec<Symbol>,
    pub timeframe: Timeframe,
    /// REST base, e.g. [`BINANCE_API_URL`] or [`BINANCE_TESTNET_API_URL`].
    pub rest_base_url: String,
    /// WebSocket base, e.g. [`BINANCE_WS_URL`] or [`BINANCE_TESTNET_WS_URL`].
    pub ws_base_url: String,
    /// Closed candles per symbol delivered at start, so indicators are warm (0: none).
    pub warmup: usize,
    pub reconnect: ReconnectPolicy,
    /// A connection with no message (not even a ping) for this long is dead.
    /// Binance pings every 20 s and pushes each kline every 2 s.
    pub stale_after: Duration,
    /// Reconnect before Binance's 24 h cut-off, at a moment of our choosing.
    pub max_connection_age: Duration,
    pub connect_timeout: Duration,
    /// Per REST request.
    pub request_timeout: Duration,
    pub rest_retry: RetryPolicy,
    /// A REST kline whose close time is less than this in the past may still
    /// be open on Binance's clock; it is left to the stream.
    pub clock_skew_margin: Duration,
    /// Candles buffered for a slow consumer before the feed waits for it.
    pub channel_capacity: usize,
}

impl LiveFeedConfig {
    /// Production Binance, 100 warm-up candles.
    pub fn new(symbols: impl IntoIterator<Item = Symbol>, timeframe: Timeframe) -> Self {
        Self {
            symbols: symbols.into_iter().collect(),
            timeframe,
            rest_base_url: BINANCE_API_URL.to_string(),
            ws_base_url: BINANCE_WS_URL.to_string(),
            warmup: 100,
            reconnect: ReconnectPolicy::default(),
            stale_after: Duration::from_secs(60),
            max_connection_age: Duration::from_secs(23 * 3600 + 30 * 60),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            rest_retry: RetryPolicy::default(),
            clock_skew_margin: Duration::from_secs(2),
            channel_capacity: 1024,
        }
    }

    /// The Spot Test Network's market data instead of production's.
    pub fn testnet(symbols: impl IntoIterator<Item = Symbol>, timeframe: Timeframe) -> Self {
        Self {
            rest_base_url: BINANCE_TESTNET_API_URL.to_string(),
            ws_base_url: BINANCE_TESTNET_WS_URL.to_string(),
            ..Self::new(symbols, timeframe)
        }
    }

    /// Checks every setting; the error names the field and what it needs.
    pub fn validate(&self) -> Result<(), FeedError> {
        let bad = |field: &'static str, problem: String| Err(FeedError::Config { field, problem });
        if self.symbols.is_empty() {
            return bad(
                "symbols",
                "is empty; name at least one, e.g. BTCUSDT".into(),
            );
        }
        let mut seen = HashSet::new();
        for s in &self.symbols {
            if s.as_str().is_empty() || !s.as_str().chars().all(|c| c.is_ascii_alphanumeric()) {
                return bad(
                    "symbols",
                    format!("`{s}` is not a Binance symbol (letters and digits, e.g. BTCUSDT)"),
                );
            }
            if !seen.insert(s) {
                return bad("symbols", format!("lists `{s}` twice"));
            }
        }
        if self.channel_capacity == 0 {
            return bad("channel_capacity", "must be at least 1".into());
        }
        if self.reconnect.initial.is_zero() || self.reconnect.max < self.reconnect.initial {
            return bad(
                "reconnect",
                format!(
                    "needs 0 < initial ({:?}) <= max ({:?})",
                    self.reconnect.initial, self.reconnect.max
                ),
            );
        }
        for (field, d) in [
            ("stale_after", self.stale_after),
            ("max_connection_age", self.max_connection_age),
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
        ] {
            if d.is_zero() {
                return bad(field, "must be longer than zero".into());
            }
        }
        if self.rest_retry.max_attempts == 0 {
            return bad("rest_retry.max_attempts", "must be at least 1".into());
        }
        Ok(())
    }
}

/// Backoff between reconnects: `initial`, doubling up to `max`; reset once a
/// connection delivers a kline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconnectPolicy {
    pub initial: Duration,
    pub max: Duration,
    /// Wait a random time in `delay/2..=delay` instead of exactly `delay`.
    pub jitter: bool,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            jitter: true,
        }
    }
}

impl ReconnectPolicy {
    /// `delay`, or with jitter a pick in `delay/2..=delay` (spreads the
    /// reconnects of many bots after a shared outage).
    pub(crate) fn jittered(&self, delay: Duration) -> Duration {
        if !self.jitter || delay.is_zero() {
            return delay;
        }
        let half = delay / 2;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        // A fresh randomly keyed hasher each call: random enough for jitter.
        let random = RandomState::new().hash_one(nanos);
        let span = (delay - half).as_nanos().max(1) as u64;
        half + Duration::from_nanos(random % (span + 1))
    }
}

/// What the feed has done so far (a snapshot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Successful WebSocket connections.
    pub connections: u64,
    /// Interruptions followed by a reconnect attempt (drops, failed connects,
    /// stale connections, failed backfills, the age limit).
    pub reconnects: u64,
    pub pings: u64,
    pub warmup_candles: u64,
    pub backfilled_candles: u64,
    pub stream_candles: u64,
    /// Closed klines received again after being delivered (stream replays).
    pub duplicates_skipped: u64,
    pub malformed_messages: u64,
    /// Well-formed but not for us (other symbol, interval or event type, error replies).
    pub unexpected_messages: u64,
    /// Intervals for which Binance had no kline at all.
    pub missing_klines: u64,
    /// Jumps in a stream's message sequence numbers (messages lost; the
    /// feed backfills over REST). Binance's kline stream has none.
    pub sequence_gaps: u64,
}

impl FeedStats {
    /// Candles delivered, all sources.
    pub fn candles(&self) -> u64 {
        self.warmup_candles + self.backfilled_candles + self.stream_candles
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub connections: AtomicU64,
    pub reconnects: AtomicU64,
    pub pings: AtomicU64,
    pub warmup_candles: AtomicU64,
    pub backfilled_candles: AtomicU64,
    pub stream_candles: AtomicU64,
    pub duplicates_skipped: AtomicU64,
    pub malformed_messages: AtomicU64,
    pub unexpected_messages: AtomicU64,
    pub missing_klines: AtomicU64,
    pub sequence_gaps: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> FeedStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FeedStats {
            connections: get(&self.connections),
            reconnects: get(&self.reconnects),
            pings: get(&self.pings),
            warmup_candles: get(&self.warmup_candles),
            backfilled_candles: get(&self.backfilled_candles),
            stream_candles: get(&self.stream_candles),
            duplicates_skipped: get(&self.duplicates_skipped),
            malformed_messages: get(&self.malformed_messages),
            unexpected_messages: get(&self.unexpected_messages),
            missing_klines: get(&self.missing_klines),
            sequence_gaps: get(&self.sequence_gaps),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> LiveFeedConfig {
        LiveFeedConfig::new([Symbol::new("btcusdt")], Timeframe::M1)
    }

    #[test]
    fn defaults_are_valid_and_point_at_production_or_testnet() {
        let c = cfg();
        c.validate().unwrap();
        assert_eq!(c.rest_base_url, "https://api.binance.com");
        assert_eq!(c.ws_base_url, "wss://stream.binance.com:9443");
        let t = LiveFeedConfig::testnet([Symbol::new("BTCUSDT")], Timeframe::H1);
        assert_eq!(t.rest_base_url, "https://testnet.binance.vision");
        assert_eq!(t.ws_base_url, "wss://stream.testnet.binance.vision");
    }

    #[test]
    fn invalid_settings_name_their_field() {
        type Change = Box<dyn Fn(&mut LiveFeedConfig)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|c| c.symbols.clear()), "symbols"),
            (
                Box::new(|c| c.symbols.push(Symbol::new("BTC/USDT"))),
                "symbols",
            ),
            (
                Box::new(|c| c.symbols.push(Symbol::new("BTCUSDT"))),
                "symbols",
            ),
            (Box::new(|c| c.channel_capacity = 0), "channel_capacity"),
            (
                Box::new(|c| c.reconnect.max = Duration::from_millis(1)),
                "reconnect",
            ),
            (Box::new(|c| c.stale_after = Duration::ZERO), "stale_after"),
            (
                Box::new(|c| c.rest_retry.max_attempts = 0),
                "rest_retry.max_attempts",
            ),
        ];
        for (change, field) in cases {
            let mut c = cfg();
            change(&mut c);
            match c.validate() {
                Err(FeedError::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected a config error, got {other:?}"),
            }
        }
    }

    #[test]
    fn jitter_stays_within_half_to_full_delay() {
        let p = ReconnectPolicy::default();
        let d = Duration::from_millis(800);
        for _ in 0..200 {
            let j = p.jittered(d);
            assert!(j >= d / 2 && j <= d, "{j:?}");
        }
        let fixed = ReconnectPolicy { jitter: false, ..p };
        assert_eq!(fixed.jittered(d), d);
    }
}
