//! What a tick reads from a candle before it looks at the account: the
//! float views of the prices and the flash-crash window's verdict. Both
//! depend only on the symbol's candles and the flash settings, so bots that
//! share both — a sweep's parameter sets — read the candles once
//! ([`RiskEngine::read_candles`]) and each follows the same reads
//! (`Engine::share_candle_reads`) instead of every set keeping its own
//! window: the window is about a tenth of a sweep's time per candle.

use super::engine::RiskEngine;
use super::flash_window::{FlashMove, FlashWindow};
use super::level::CandleF;
use super::level::Factor;
use crate::domain::{Candle, Symbol};

/// One candle as a tick reads it.
#[derive(Clone, Debug)]
pub struct CandleRead {
    /// The candle this read belongs to (a follower checks it).
    pub(super) open_time: i64,
    pub(super) cf: CandleF,
    /// Boxed: a flash move is rare, and a read is handed from thread to
    /// thread (and a sweep keeps one per candle).
    pub(super) flash: Option<Box<FlashMove>>,
}

/// The reads of one symbol's candles, in order, made with one set of flash
/// settings.
#[derive(Clone, Debug)]
pub struct CandleReads {
    window_ms: i64,
    factors: (Factor, Factor),
    reads: Vec<CandleRead>,
}

impl CandleReads {
    /// The read of the `i`-th candle, if it is the candle opening at `open_time`.
    #[inline]
    pub fn get(&self, i: usize, open_time: i64) -> Option<&CandleRead> {
        self.reads.get(i).filter(|r| r.open_time == open_time)
    }
}

/// Reads one symbol's candles one at a time, as [`RiskEngine::read_candles`]
/// reads a slice: the flash window carries over from candle to candle. A
/// backtest reads ahead of its engine with it, on another thread.
#[derive(Clone, Debug)]
pub struct CandleReader {
    window_ms: i64,
    factors: (Factor, Factor),
    window: FlashWindow,
}

impl CandleReader {
    /// The next candle's read. A candle with a price ≤ 0 is skipped by a
    /// tick, so it leaves the window alone here too.
    #[inline]
    pub fn read(&mut self, c: &Candle) -> CandleRead {
        let cf = CandleF::new(c);
        let flash = prices_positive(c)
            .then(|| self.window.update(c, &cf, self.window_ms, &self.factors))
            .flatten()
            .map(Box::new);
        CandleRead {
            open_time: c.open_time,
            cf,
            flash,
        }
    }
}

impl RiskEngine {
    /// A reader of candles with this engine's flash settings, from a fresh
    /// start (see [`CandleReader`]).
    pub fn candle_reader(&self) -> CandleReader {
        let r = &self.resolved;
        CandleReader {
            window_ms: r.flash_window_ms,
            factors: r.flash_factors,
            window: FlashWindow::default(),
        }
    }

    /// Takes over the flash window of `reader`, which read `symbol`'s
    /// candles in this engine's stead: the ticks that read candles
    /// themselves again go on from the window it reached.
    pub fn take_window(&mut self, symbol: &Symbol, reader: CandleReader) {
        self.state.symbols.entry(symbol).flash = reader.window;
    }

    /// Reads `candles` (one symbol, in time order) the way this engine's
    /// ticks would from a fresh start: the same views and the same flash
    /// verdicts.
    pub fn read_candles(&self, candles: &[Candle]) -> CandleReads {
        let mut reader = self.candle_reader();
        CandleReads {
            window_ms: reader.window_ms,
            factors: reader.factors,
            reads: candles.iter().map(|c| reader.read(c)).collect(),
        }
    }

    /// Whether `reads` were made with this engine's flash settings, so its
    /// ticks may follow them.
    pub fn can_follow(&self, reads: &CandleReads) -> bool {
        reads.window_ms == self.resolved.flash_window_ms
            && reads.factors == self.resolved.flash_factors
    }
}

/// Whether every price of `candle` is above zero (a tick ignores one that
/// is not: bad data, refused by every input; this is defence in depth).
#[inline]
pub(super) fn prices_positive(candle: &Candle) -> bool {
    [candle.open, candle.high, candle.low, candle.close]
        .iter()
        .all(|p| p.is_positive())
}
