//! The risk engine's memory, serializable so the engine persists it and
//! restores it after a restart: equity peak, day figures, trades today,
//! pauses, the halt latch, the losing-day streak, cooldowns, trailing highs
//! and the Kelly statistics.
//!
//! Not persisted (rebuilt on the fly): the flash-crash price window (it
//! refills within `windowMinutes`) and figures derived from the config.

use super::config::SymbolRule;
use super::level::{Factor, Level, approx, cmp_approx};
use super::loss_base::Rebased;
use super::records::{Halt, Pause};
use super::sizing::KellyStats;
use crate::domain::{Candle, Money, Price, Quantity, Symbol};
use serde::{Deserialize, Serialize};
use serde::{Deserializer, Serializer};
use std::collections::BTreeMap;

/// Everything the risk engine remembers (see the module docs).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskState {
    pub(super) started_at: i64,
    pub(super) peak_equity: Money,
    pub(super) last_equity: Money,
    pub(super) last_update: i64,
    pub(super) day_start_equity: Money,
    pub(super) next_day_start: i64,
    pub(super) losing_days_in_row: u32,
    pub(super) trades_today: u32,
    /// Start (ms) of the UTC day `trades_today` counts.
    pub(super) trades_day: i64,
    pub(super) daily_pause: Option<Pause>,
    pub(super) flash_pause: Option<Pause>,
    pub(super) halt: Option<Halt>,
    /// Halts raised so far: the `<n>` of the next halt id.
    pub(super) halt_seq: u64,
    pub(super) kelly: KellyStats,
    pub(super) symbols: SymbolMap,
    /// Loss bases moved by capital transfers in this phase (`transfer.rs`);
    /// `None`: the config's capital.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) rebased: Option<Rebased>,
}

impl RiskState {
    pub fn peak_equity(&self) -> Money {
        self.peak_equity
    }

    pub fn day_start_equity(&self) -> Money {
        self.day_start_equity
    }

    pub fn losing_days_in_row(&self) -> u32 {
        self.losing_days_in_row
    }

    pub fn trades_today(&self) -> u32 {
        self.trades_today
    }

    pub fn halt(&self) -> Option<&Halt> {
        self.halt.as_ref()
    }

    pub fn kelly(&self) -> &KellyStats {
        &self.kelly
    }

    /// Highest price since entry of the open position in `symbol`, as tracked
    /// for its trailing stop.
    pub fn trailing_high(&self, symbol: &Symbol) -> Option<Price> {
        self.symbols.get(symbol)?.trip.as_ref().map(|t| t.high)
    }

    /// When `symbol` may be entered again after its last close.
    pub fn cooldown_until(&self, symbol: &Symbol) -> Option<i64> {
        self.symbols.get(symbol)?.cooldown_until
    }
}

/// Per-symbol memory, in first-seen order: a bot trades a handful of
/// symbols, and a linear scan with one string comparison beats a tree
/// lookup. Serialized as a map ordered by symbol (deterministic).
#[derive(Clone, Debug, Default)]
pub(super) struct SymbolMap(Vec<(Symbol, SymbolState)>);

impl SymbolMap {
    pub fn get(&self, symbol: &Symbol) -> Option<&SymbolState> {
        self.0.iter().find(|(s, _)| s == symbol).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, symbol: &Symbol) -> Option<&mut SymbolState> {
        self.0.iter_mut().find(|(s, _)| s == symbol).map(|(_, v)| v)
    }

    /// The entry of `symbol`, created empty on first sight.
    pub fn entry(&mut self, symbol: &Symbol) -> &mut SymbolState {
        let i = match self.0.iter().position(|(s, _)| s == symbol) {
            Some(i) => i,
            None => {
                self.0.push((symbol.clone(), SymbolState::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Symbol, &SymbolState)> {
        self.0.iter().map(|(s, v)| (s, v))
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut SymbolState> {
        self.0.iter_mut().map(|(_, v)| v)
    }
}

impl Serialize for SymbolMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.iter()
            .collect::<BTreeMap<_, _>>()
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SymbolMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<Symbol, SymbolState>::deserialize(deserializer)?;
        Ok(Self(map.into_iter().collect()))
    }
}

/// Per-symbol memory.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SymbolState {
    pub cooldown_until: Option<i64>,
    /// The open round trip's stop tracking.
    pub trip: Option<Trip>,
    /// The trip's price levels; derived, cleared whenever their inputs change.
    #[serde(skip)]
    pub levels: Option<Levels>,
    #[serde(skip)]
    pub flash: FlashWindow,
    /// Derived from the config; cleared on reconfigure.
    #[serde(skip)]
    pub rule: Option<SymbolRule>,
}

/// Stop tracking of one open position (one round trip).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Trip {
    /// The ledger's `opened_at` of the round trip: a new trip resets the tracking.
    pub opened_at: i64,
    /// Quantity the levels were computed for (scaling in moves the entry).
    pub quantity: Quantity,
    pub entry: Price,
    /// Highest price since entry (the trailing stop follows it).
    pub high: Price,
    /// An exit was emitted; no other until it fails or the trip ends.
    pub exit_pending: bool,
}

/// Price levels derived from the entry, the high and the limits.
#[derive(Clone, Copy, Debug)]
pub(super) struct Levels {
    /// Float view of the trip's high.
    pub high: f64,
    pub stop: Level,
    pub take: Option<Level>,
    pub trail: Option<Level>,
}

/// Float views of a candle's prices, computed once per tick.
#[derive(Clone, Copy, Debug)]
pub(super) struct CandleF {
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

impl CandleF {
    pub fn new(c: &Candle) -> Self {
        Self {
            high: approx(c.high.value()),
            low: approx(c.low.value()),
            close: approx(c.close.value()),
        }
    }
}

/// One price in the flash-crash window, with its float view.
#[derive(Clone, Copy, Debug)]
struct Mark {
    time: i64,
    price: Price,
    approx: f64,
}

/// A queue of marks, oldest first, popped at both ends: a `Vec` plus a
/// head index (cheaper per candle than `VecDeque`'s wrap-around). The dead
/// prefix is dropped only when the `Vec` is full, so a warm queue neither
/// allocates nor shifts often.
#[derive(Clone, Debug, Default)]
struct Marks {
    items: Vec<Mark>,
    head: usize,
}

impl Marks {
    #[inline]
    fn front(&self) -> Option<&Mark> {
        self.items.get(self.head)
    }

    #[inline]
    fn back(&self) -> Option<&Mark> {
        self.items.last().filter(|_| self.items.len() > self.head)
    }

    #[inline]
    fn pop_front(&mut self) {
        self.head += 1;
        if self.head >= self.items.len() {
            self.items.clear();
            self.head = 0;
        }
    }

    #[inline]
    fn pop_back(&mut self) {
        self.items.pop();
        if self.head >= self.items.len() {
            self.items.clear();
            self.head = 0;
        }
    }

    #[inline]
    fn push_back(&mut self, mark: Mark) {
        if self.items.len() == self.items.capacity() && self.head > 0 {
            self.items.drain(..self.head);
            self.head = 0;
        }
        self.items.push(mark);
    }
}

/// The highs and lows of the last `windowMinutes` as two monotonic queues:
/// the front of `highs` is the highest high in the window, the front of
/// `lows` the lowest low. O(1) amortized per candle, and a warm window does
/// not allocate.
#[derive(Clone, Debug, Default)]
pub(super) struct FlashWindow {
    highs: Marks,
    lows: Marks,
}

/// A move that trips the breaker: from `from` to `to` within the window.
#[derive(Clone, Debug)]
pub(super) struct FlashMove {
    pub from: Price,
    pub to: Price,
    pub from_time: i64,
}

impl FlashWindow {
    /// Adds `candle` and returns the move of more than the breaker's % within
    /// the window ending at it, if any (a candle's own range counts).
    /// `down`/`up` are `1 ∓ movePct/100`: the move trips when the low is
    /// below `highest × down` or the high above `lowest × up`.
    #[inline]
    pub fn update(
        &mut self,
        candle: &Candle,
        cf: &CandleF,
        window_ms: i64,
        (down, up): &(Factor, Factor),
    ) -> Option<FlashMove> {
        let t = candle.open_time;
        let oldest = t - window_ms;
        while self.highs.front().is_some_and(|m| m.time <= oldest) {
            self.highs.pop_front();
        }
        while self.lows.front().is_some_and(|m| m.time <= oldest) {
            self.lows.pop_front();
        }
        let (high, low) = (candle.high.value(), candle.low.value());
        while let Some(m) = self.highs.back()
            && cmp_approx(m.price.value(), m.approx, high, cf.high).is_le()
        {
            self.highs.pop_back();
        }
        while let Some(m) = self.lows.back()
            && cmp_approx(m.price.value(), m.approx, low, cf.low).is_ge()
        {
            self.lows.pop_back();
        }
        self.highs.push_back(Mark {
            time: t,
            price: candle.high,
            approx: cf.high,
        });
        self.lows.push_back(Mark {
            time: t,
            price: candle.low,
            approx: cf.low,
        });
        let top = self.highs.front()?;
        let floor = Level::new(top.price.value(), top.approx, *down);
        if floor.cmp(low, cf.low).is_lt() {
            return Some(FlashMove {
                from: top.price,
                to: candle.low,
                from_time: top.time,
            });
        }
        let bottom = self.lows.front()?;
        let ceiling = Level::new(bottom.price.value(), bottom.approx, *up);
        ceiling.cmp(high, cf.high).is_gt().then_some(FlashMove {
            from: bottom.price,
            to: candle.high,
            from_time: bottom.time,
        })
    }
}
