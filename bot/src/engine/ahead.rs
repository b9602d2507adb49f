//! Reading ahead: what [`Engine::on_candle`] works out of a candle before it
//! looks at the account — the risk engine's read of it (float views, the
//! flash-crash window) and the strategy's advice — depends only on the
//! symbol's candles, for a strategy without a model member (one is shown
//! the account before it decides). So a backtest has a [`ReaderAhead`] work
//! them out on its second core, a block of candles ahead, and the engine
//! steps on them with [`Engine::on_candle_ahead`]: the same decisions, in
//! the same order, from the same strategy instance.

use super::{Engine, EngineError};
use crate::domain::Candle;
use crate::risk::{CandleRead, CandleReader};
use crate::strategy::{Advice, Signal, Strategy};

/// One candle as read ahead of the engine. Small (48 bytes), because
/// every one crosses from one core to the other: the advice is kept only
/// when it is to act (a hold leaves the engine nothing to do).
#[derive(Debug)]
pub struct CandleAhead {
    pub(super) read: CandleRead,
    pub(super) advice: Option<Box<Advice>>,
}

const _: () = assert!(std::mem::size_of::<CandleAhead>() <= 48);

/// The strategy of one symbol, lent by its engine, with a candle reader of
/// the engine's flash settings.
pub struct ReaderAhead {
    index: usize,
    risk: CandleReader,
    strategy: Box<dyn Strategy>,
}

impl ReaderAhead {
    /// The next candle of the symbol, read.
    #[inline]
    pub fn read(&mut self, candle: &Candle) -> CandleAhead {
        let read = self.risk.read(candle);
        let advice = self.strategy.on_candle(candle);
        CandleAhead {
            read,
            advice: (advice.signal != Signal::Hold).then(|| Box::new(advice)),
        }
    }
}

impl Engine {
    /// Lends the strategy of the symbol at `index` to a reader ahead, which
    /// feeds it from then on; [`Engine::end_read_ahead`] gives it back.
    /// Meanwhile the symbol takes only [`Engine::on_candle_ahead`]
    /// ([`Engine::on_candle`] refuses its candles, [`Engine::warm`] panics).
    /// `None` for a strategy with a model member (the engine reads each
    /// candle) or one already lent.
    pub fn read_ahead(&mut self, index: usize) -> Option<ReaderAhead> {
        let market = &mut self.markets[index];
        if market.uses_llm || market.lent {
            return None;
        }
        let stand_in = Box::new(Lent {
            warmup: market.strategy.warmup_candles(),
            name: market.strategy.name().to_string(),
        });
        market.lent = true;
        Some(ReaderAhead {
            index,
            risk: self.risk.candle_reader(),
            strategy: std::mem::replace(&mut market.strategy, stand_in),
        })
    }

    /// Takes back the strategy lent to `reader`, fed every candle it read,
    /// and the flash window it kept: the engine reads on from there.
    pub fn end_read_ahead(&mut self, reader: ReaderAhead) {
        let market = &mut self.markets[reader.index];
        market.strategy = reader.strategy;
        market.lent = false;
        self.risk.take_window(&market.symbol, reader.risk);
    }

    /// [`Engine::on_candle`] on a candle read ahead by the reader this
    /// engine lent the symbol's strategy to. Feed every candle the reader
    /// read, in its order.
    pub fn on_candle_ahead(
        &mut self,
        index: usize,
        candle: &Candle,
        ahead: CandleAhead,
    ) -> Result<(), EngineError> {
        self.step(index, candle, Some(ahead))
    }
}

/// Holds a lent strategy's place: answers what the engine may ask of it
/// while lent (its warm-up, its name); it is never fed: the engine refuses
/// a lent symbol's candles that were not read ahead, and warming it.
struct Lent {
    warmup: usize,
    name: String,
}

impl Strategy for Lent {
    fn on_candle(&mut self, _candle: &Candle) -> Advice {
        unreachable!("the strategy is lent to a reader ahead; the engine refuses its candles")
    }

    fn warmup_candles(&self) -> usize {
        self.warmup
    }

    fn name(&self) -> &str {
        &self.name
    }
}
