//! The report's input hash: SHA-256 over the manifests, the simulation
//! settings and the candles (each symbol, then the time and close of each
//! of its candles: enough to tell two data sets apart, and cheap enough not
//! to dominate a million-candle run). The candles' bytes are gathered in
//! blocks before hashing: two hasher calls per candle cost more than the
//! hashing itself.

use sha2::{Digest, Sha256};

use super::BacktestOptions;
use crate::config::{EngineConfig, hex};
use crate::domain::Candle;

/// Bytes one candle adds: its open time and its close, serialized.
const CANDLE: usize = 8 + 16;
/// Candles gathered per hasher call.
const GATHER: usize = 128;

pub(super) struct InputHash {
    sha: Sha256,
    gathered: [u8; CANDLE * GATHER],
    len: usize,
}

impl InputHash {
    /// Starts with the manifests and the simulation settings.
    pub fn new(cfg: &EngineConfig, options: &BacktestOptions) -> Self {
        let mut sha = Sha256::new();
        sha.update(cfg.config_hash.as_bytes());
        sha.update(serde_json::to_vec(&options.paper).unwrap_or_default());
        Self {
            sha,
            gathered: [0; CANDLE * GATHER],
            len: 0,
        }
    }

    /// A symbol: its candles follow.
    pub fn symbol(&mut self, symbol: &str) {
        self.flush();
        self.sha.update(symbol.as_bytes());
    }

    #[inline]
    pub fn candle(&mut self, c: &Candle) {
        if self.len == self.gathered.len() {
            self.flush();
        }
        let at = self.len;
        self.gathered[at..at + 8].copy_from_slice(&c.open_time.to_le_bytes());
        self.gathered[at + 8..at + CANDLE].copy_from_slice(&c.close.value().serialize());
        self.len += CANDLE;
    }

    /// The hash, as lowercase hex.
    pub fn finish(mut self) -> String {
        self.flush();
        hex(&self.sha.finalize())
    }

    fn flush(&mut self) {
        self.sha.update(&self.gathered[..self.len]);
        self.len = 0;
    }
}
