//! The candle side of a one-symbol backtest, on the second core: reading
//! the candles (decoding the candle cache), their digest for the input hash
//! (unless the cache recorded it), the price chart
//! and — when the engine lends its strategy — each candle's risk read and
//! strategy advice (`engine/ahead.rs`) run on a helper thread a block
//! ahead of the engine, which steps on them. Both sides take the candles in
//! the same order, so the report is the one a single thread would make,
//! byte for byte.

use std::sync::mpsc;

use super::{BacktestError, SeriesInput};
use crate::domain::Candle;
use crate::engine::{CandleAhead, ReaderAhead};
use crate::market_data::{CandleDigest, MarketDataError};
use crate::report::PriceChart;

/// Candles per block handed from the reading thread to the engine. Each
/// hand-over costs both threads a wait (spun, then parked); 4,096 candles
/// (≈ 0.6 MB with their reads, within a core's L2 cache) against 1,024: the
/// 1 M-candle peer run 159.0 → 150.4 ms of wall, 284 → 268 ms of CPU, max
/// RSS 17.7 → 16.9 MB (medians of 10 pairs).
const BLOCK: usize = 4096;
/// Blocks read ahead of the engine at most.
const AHEAD: usize = 2;

/// What the candle side keeps of every candle.
pub(super) struct CandleSide {
    /// `None` when the digest is known already.
    pub digest: Option<CandleDigest>,
    pub price: PriceChart,
    /// The engine's reader ahead, if it lent one.
    pub ahead: Option<ReaderAhead>,
}

impl CandleSide {
    #[inline]
    fn take(&mut self, c: &Candle, block: &mut Block) {
        if let Some(digest) = self.digest.as_mut() {
            digest.push(c);
        }
        self.price.push(c);
        if let Some(reader) = self.ahead.as_mut() {
            block.ahead.push(reader.read(c));
        }
        block.candles.push(*c);
    }
}

/// Candles, with what was read ahead of each (empty without a reader).
#[derive(Default)]
struct Block {
    candles: Vec<Candle>,
    ahead: Vec<CandleAhead>,
}

/// Feeds every candle of `input` to `step` (with its reading ahead, when
/// `side` has a reader), in order, while a helper thread reads them and
/// feeds `side`. Stops at the first error of either.
pub(super) fn run<F>(
    input: SeriesInput,
    side: CandleSide,
    step: F,
) -> Result<CandleSide, BacktestError>
where
    F: FnMut(&Candle, Option<CandleAhead>) -> Result<(), BacktestError>,
{
    match input {
        SeriesInput::Memory(series) => {
            feed_blocks(series.candles.iter().map(|c| Ok(*c)), side, step)
        }
        SeriesInput::Cached(series) => feed_blocks(series.reader(), side, step),
    }
}

fn feed_blocks<I, F>(candles: I, side: CandleSide, mut step: F) -> Result<CandleSide, BacktestError>
where
    I: Iterator<Item = Result<Candle, MarketDataError>> + Send,
    F: FnMut(&Candle, Option<CandleAhead>) -> Result<(), BacktestError>,
{
    std::thread::scope(|scope| {
        let (blocks, from_reader) = mpsc::sync_channel::<Result<Block, MarketDataError>>(AHEAD);
        // Stepped blocks go back to the reader to be filled again.
        let (spent, to_refill) = mpsc::channel::<Block>();
        let helper = scope.spawn(move || {
            let mut side = side;
            let mut candles = candles;
            loop {
                let mut block = to_refill.try_recv().unwrap_or_else(|_| Block {
                    candles: Vec::with_capacity(BLOCK),
                    ahead: Vec::new(),
                });
                block.candles.clear();
                block.ahead.clear();
                let read = candles.by_ref().take(BLOCK).try_for_each(|c| {
                    side.take(&c?, &mut block);
                    Ok::<_, MarketDataError>(())
                });
                let done = block.candles.is_empty() || read.is_err();
                let sent = match read {
                    Ok(()) if block.candles.is_empty() => Ok(()),
                    Ok(()) => blocks.send(Ok(block)),
                    Err(e) => blocks.send(Err(e)),
                };
                // A failed send: the engine stopped and dropped its end.
                if done || sent.is_err() {
                    return side;
                }
            }
        });
        let mut stepped = Ok(());
        for block in from_reader {
            stepped = block
                .map_err(BacktestError::from)
                .and_then(|mut b| step_block(&mut b, &mut step).map(|()| b))
                .map(|b| {
                    let _ = spent.send(b);
                });
            if stepped.is_err() {
                break;
            }
        }
        // Leaving the loop dropped the receiver: a reader blocked on a full
        // channel wakes up and stops.
        let side = helper
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        stepped.map(|()| side)
    })
}

fn step_block<F>(block: &mut Block, step: &mut F) -> Result<(), BacktestError>
where
    F: FnMut(&Candle, Option<CandleAhead>) -> Result<(), BacktestError>,
{
    if block.ahead.is_empty() {
        return block.candles.iter().try_for_each(|c| step(c, None));
    }
    block
        .candles
        .iter()
        .zip(block.ahead.drain(..))
        .try_for_each(|(c, a)| step(c, Some(a)))
}
