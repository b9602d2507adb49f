//! The candle side of a one-symbol backtest, on the second core: reading
//! the candles (decoding the candle cache), the input hash and the price
//! chart run on a helper thread a block ahead of the engine, which only
//! steps. Both sides see the candles in the same order, so the report is
//! the one a single thread would make, byte for byte.

use std::sync::mpsc;

use sha2::Sha256;

use super::{BacktestError, SeriesInput, hash_candle};
use crate::domain::Candle;
use crate::market_data::MarketDataError;
use crate::report::PriceChart;

/// Candles per block handed from the reading thread to the engine.
const BLOCK: usize = 4096;
/// Blocks read ahead of the engine at most.
const AHEAD: usize = 4;

/// What the candle side made of every candle.
pub(super) struct CandleSide {
    pub hasher: Sha256,
    pub price: PriceChart,
}

/// Feeds every candle of `input` to `step`, in order, while a helper thread
/// reads them and feeds `side`. Stops at the first error of either.
pub(super) fn run<F>(
    input: SeriesInput,
    side: CandleSide,
    mut step: F,
) -> Result<CandleSide, BacktestError>
where
    F: FnMut(&Candle) -> Result<(), BacktestError>,
{
    match input {
        SeriesInput::Memory(series) => std::thread::scope(|scope| {
            let candles = &series.candles;
            let helper = scope.spawn(move || {
                let mut side = side;
                candles.iter().for_each(|c| side.take(c));
                side
            });
            let stepped = candles.iter().try_for_each(&mut step);
            let side = join(helper);
            stepped.map(|()| side)
        }),
        SeriesInput::Cached(series) => std::thread::scope(|scope| {
            let (blocks, from_reader) = mpsc::sync_channel::<Result<Vec<Candle>, _>>(AHEAD);
            // Stepped blocks go back to the reader to be filled again.
            let (spent, to_refill) = mpsc::channel::<Vec<Candle>>();
            let helper = scope.spawn(move || {
                let mut side = side;
                let mut reader = series.reader();
                loop {
                    let mut block = to_refill
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(BLOCK));
                    block.clear();
                    let read = reader.by_ref().take(BLOCK).try_for_each(|c| {
                        let c = c?;
                        side.take(&c);
                        block.push(c);
                        Ok::<_, MarketDataError>(())
                    });
                    let done = block.is_empty() || read.is_err();
                    let sent = match read {
                        Ok(()) if block.is_empty() => Ok(()),
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
                    .and_then(|b| b.iter().try_for_each(&mut step).map(|()| b))
                    .map(|b| {
                        let _ = spent.send(b);
                    });
                if stepped.is_err() {
                    break;
                }
            }
            // Leaving the loop dropped the receiver: a reader blocked on a
            // full channel wakes up and stops.
            let side = join(helper);
            stepped.map(|()| side)
        }),
    }
}

impl CandleSide {
    #[inline]
    fn take(&mut self, c: &Candle) {
        hash_candle(&mut self.hasher, c);
        self.price.push(c);
    }
}

fn join<T>(helper: std::thread::ScopedJoinHandle<'_, T>) -> T {
    helper
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
