//! The digest of a series of candles, as a backtest's input hash reads
//! them: BLAKE3 over the time and the close of each candle (enough to tell
//! two data sets apart). Here, below the backtest, so that the candle cache
//! can record the digest of its candles when it is built and a run on the
//! whole cached file reads it instead of hashing a million candles again
//! (≈ 18 ms of the helper core's CPU, measured).

use crate::domain::Candle;

/// Bytes one candle adds: its open time and its close, serialized.
const CANDLE: usize = 8 + 16;
/// Candles gathered per hasher call (24 KiB: BLAKE3 hashes that many bytes'
/// 1 KiB chunks side by side in its SIMD lanes; two hasher calls per
/// candle cost more than the hashing itself).
const GATHER: usize = 1024;

/// A BLAKE3 digest of candles, fed one candle at a time.
pub struct CandleDigest {
    hasher: blake3::Hasher,
    gathered: Box<[u8; CANDLE * GATHER]>,
    len: usize,
}

impl Default for CandleDigest {
    fn default() -> Self {
        Self {
            hasher: blake3::Hasher::new(),
            gathered: Box::new([0; CANDLE * GATHER]),
            len: 0,
        }
    }
}

impl CandleDigest {
    /// The digest of `candles`, in order.
    pub fn of(candles: &[Candle]) -> [u8; 32] {
        let mut d = Self::default();
        candles.iter().for_each(|c| d.push(c));
        d.finish()
    }

    #[inline]
    pub fn push(&mut self, c: &Candle) {
        if self.len == self.gathered.len() {
            self.flush();
        }
        let at = self.len;
        self.gathered[at..at + 8].copy_from_slice(&c.open_time.to_le_bytes());
        self.gathered[at + 8..at + CANDLE].copy_from_slice(&c.close.value().serialize());
        self.len += CANDLE;
    }

    pub fn finish(mut self) -> [u8; 32] {
        self.flush();
        self.hasher.finalize().into()
    }

    fn flush(&mut self) {
        self.hasher.update(&self.gathered[..self.len]);
        self.len = 0;
    }
}
