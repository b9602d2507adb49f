//! The report's input hash: BLAKE3 over the manifests, the simulation
//! settings and, for each symbol, its name and the digest of its candles
//! ([`CandleDigest`](crate::market_data::CandleDigest): the time and close
//! of each candle). A run on a whole cached file takes the candles' digest
//! the cache recorded when it was built; every other run works it out as it
//! reads the candles. Either way the same candles give the same hash.

use super::BacktestOptions;
use crate::config::EngineConfig;

pub(super) struct InputHash {
    hasher: blake3::Hasher,
}

impl InputHash {
    /// Starts with the manifests and the simulation settings.
    pub fn new(cfg: &EngineConfig, options: &BacktestOptions) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(cfg.config_hash.as_bytes());
        hasher.update(&serde_json::to_vec(&options.paper).unwrap_or_default());
        Self { hasher }
    }

    /// A symbol and the digest of its candles
    /// ([`CandleDigest`](crate::market_data::CandleDigest)).
    pub fn series(&mut self, symbol: &str, candles: [u8; 32]) {
        // Length first: a symbol's name never runs into the digest after it.
        self.hasher.update(&(symbol.len() as u64).to_le_bytes());
        self.hasher.update(symbol.as_bytes());
        self.hasher.update(&candles);
    }

    /// The hash, as lowercase hex.
    pub fn finish(self) -> String {
        self.hasher.finalize().to_hex().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Candle;
    use crate::market_data::{CandleDigest, SyntheticConfig, generate};

    fn hash(
        cfg: &EngineConfig,
        options: &BacktestOptions,
        symbols: &[(&str, &[Candle])],
    ) -> String {
        let mut h = InputHash::new(cfg, options);
        for (symbol, candles) in symbols {
            h.series(symbol, CandleDigest::of(candles));
        }
        h.finish()
    }

    /// The hash tells two runs apart by what they were given: the same
    /// inputs give the same hash, and any change to a candle's time or
    /// close, to the symbol, to the settings or to the manifests gives
    /// another. (3,000 candles: the digest's gathered bytes are flushed
    /// several times.)
    #[test]
    fn the_input_hash_changes_with_every_input_and_only_with_them() {
        let cfg = EngineConfig::from_test_yaml(include_str!(
            "../../../manifests/examples/quickstart.yaml"
        ));
        let options = BacktestOptions::default();
        let candles = generate(&SyntheticConfig::new(3, 3_000)).unwrap().candles;
        let base = hash(&cfg, &options, &[("BTCUSDT", &candles)]);
        assert_eq!(base.len(), 64, "hex of 32 bytes: {base}");
        assert_eq!(base, hash(&cfg, &options, &[("BTCUSDT", &candles)]));

        let mut close = candles.clone();
        close[2_500].close = crate::domain::Price::new(
            close[2_500].close.value() + rust_decimal::Decimal::new(1, 8),
        );
        let mut time = candles.clone();
        time[7].open_time += 1;
        let mut settings = options.clone();
        settings.paper.taker_fee_bps += rust_decimal::Decimal::ONE;
        let mut manifests = cfg.clone();
        manifests.config_hash.push('0');
        for other in [
            hash(&cfg, &options, &[("BTCUSDT", &close)]),
            hash(&cfg, &options, &[("BTCUSDT", &time)]),
            hash(&cfg, &options, &[("ETHUSDT", &candles)]),
            hash(&cfg, &options, &[("BTCUSDT", &candles[..2_999])]),
            hash(&cfg, &settings, &[("BTCUSDT", &candles)]),
            hash(&manifests, &options, &[("BTCUSDT", &candles)]),
        ] {
            assert_ne!(other, base);
        }
    }
}
