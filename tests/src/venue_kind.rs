//! Which venue a shared test scenario runs on ([`VenueKind`]): the product
//! id, the quote currency, the simulator's test credentials and how the
//! engine names the venue's trades. The engine's and the operator's test
//! suites run the same scenarios on Binance spot and on Coinbase Advanced
//! Trade through it.

use crate::exchange_sim::{ExchangeSim, SimConfig, SimTrade};
use rust_decimal::Decimal;

/// The simulator's Binance API key and secret.
pub const SIM_API_KEY: &str = "simKey7Hq2RkT9vLx4NcPz";
pub const SIM_API_SECRET: &str = "simSecret3Wm8YdJf6QsBnKe1UoA5";
/// The simulator's Coinbase API key name.
pub const COINBASE_KEY_NAME: &str = "organizations/simOrg4Tz/apiKeys/simKey8Rw";
/// The simulator's Coinbase key (the byte the test key is made of).
pub const COINBASE_KEY: u8 = 7;

/// Which venue a shared scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueKind {
    Binance,
    Coinbase,
}

impl VenueKind {
    /// The `exchange.venue` value of a TradingBot on this venue.
    pub fn crd_name(self) -> &'static str {
        match self {
            VenueKind::Binance => "binance",
            VenueKind::Coinbase => "coinbase",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            VenueKind::Binance => "BTCUSDT",
            VenueKind::Coinbase => "BTC-USD",
        }
    }

    pub fn quote(self) -> &'static str {
        match self {
            VenueKind::Binance => "USDT",
            VenueKind::Coinbase => "USD",
        }
    }

    /// The venue's trade id of a simulator trade, as the engine stores it.
    pub fn trade_id(self, t: &SimTrade) -> String {
        match self {
            VenueKind::Binance => t.id.to_string(),
            VenueKind::Coinbase => format!("trade-{}", t.id),
        }
    }

    /// The manifests (written for Binance) with this venue and its product id.
    pub fn manifests(self, yaml: String) -> String {
        match self {
            VenueKind::Binance => yaml,
            VenueKind::Coinbase => {
                let out = yaml
                    .replace("venue: binance", "venue: coinbase")
                    .replace("symbols: [BTCUSDT]", "symbols: [BTC-USD]");
                assert!(out.contains("[BTC-USD]"), "the manifests name BTCUSDT");
                out
            }
        }
    }

    /// The credentials: Binance's key and secret, or Coinbase's key name
    /// and EC private key (`key_byte` picks the key), each with a trailing
    /// newline as a file or Secret written by hand has.
    pub fn credentials(self, key_byte: u8) -> (String, String) {
        match self {
            VenueKind::Binance => (format!("{SIM_API_KEY}\n"), format!("{SIM_API_SECRET}\n")),
            VenueKind::Coinbase => (format!("{COINBASE_KEY_NAME}\n"), coinbase_pem(key_byte)),
        }
    }

    /// The venue's code for a refusal for want of funds.
    pub fn refusal_code(self) -> &'static str {
        match self {
            VenueKind::Binance => "-2010",
            VenueKind::Coinbase => "INSUFFICIENT_FUND",
        }
    }

    /// What must appear in no output.
    pub fn secrets(self) -> Vec<String> {
        match self {
            VenueKind::Binance => vec![SIM_API_KEY.into(), SIM_API_SECRET.into()],
            VenueKind::Coinbase => {
                let mut s = vec![COINBASE_KEY_NAME.to_string(), "simOrg4Tz".to_string()];
                s.extend(
                    coinbase_pem(COINBASE_KEY)
                        .lines()
                        .filter(|l| !l.starts_with("-----"))
                        .map(str::to_string),
                );
                s
            }
        }
    }

    /// A simulator of this venue holding `quote` of the quote currency and
    /// nothing else, with no candle yet; it accepts [`Self::credentials`]
    /// of [`COINBASE_KEY`].
    pub async fn simulator(self, quote: Decimal) -> ExchangeSim {
        let mut config = match self {
            VenueKind::Binance => SimConfig::btcusdt(SIM_API_KEY, SIM_API_SECRET),
            VenueKind::Coinbase => SimConfig::btc_usd(),
        };
        config.balances = vec![(self.quote().into(), quote)];
        let sim = ExchangeSim::start(config).await;
        if self == VenueKind::Coinbase {
            sim.set_coinbase_key(
                COINBASE_KEY_NAME,
                p256::ecdsa::VerifyingKey::from(coinbase_secret(COINBASE_KEY).public_key()),
            );
        }
        sim
    }

    /// The URL of the simulator's market-data WebSocket for this venue.
    pub fn market_ws_url(self, sim: &ExchangeSim) -> String {
        match self {
            VenueKind::Binance => sim.ws_url.clone(),
            VenueKind::Coinbase => sim.coinbase_ws_url(),
        }
    }
}

pub fn coinbase_secret(byte: u8) -> p256::SecretKey {
    p256::SecretKey::from_slice(&[byte; 32]).unwrap()
}

pub fn coinbase_pem(byte: u8) -> String {
    coinbase_secret(byte)
        .to_sec1_pem(p256::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string()
}
