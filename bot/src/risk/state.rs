//! The risk engine's memory, serializable so the engine persists it and
//! restores it after a restart: equity peak, day figures, trades today,
//! pauses, the halt latch, the losing-day streak, cooldowns, trailing highs
//! and the Kelly statistics.
//!
//! Not persisted (rebuilt on the fly): the flash-crash price window (it
//! refills within `windowMinutes`, see `flash_window.rs`) and figures
//! derived from the config.

use super::config::SymbolRule;
use super::flash_window::FlashWindow;
use super::level::Level;
use super::loss_base::Rebased;
use super::records::{Halt, Pause};
use super::sizing::KellyStats;
use crate::domain::{Money, Price, Quantity, Symbol};
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
    #[inline]
    pub fn get(&self, symbol: &Symbol) -> Option<&SymbolState> {
        symbol.index_in(&self.0, |(s, _)| s).map(|i| &self.0[i].1)
    }

    #[inline]
    pub fn get_mut(&mut self, symbol: &Symbol) -> Option<&mut SymbolState> {
        symbol
            .index_in(&self.0, |(s, _)| s)
            .map(|i| &mut self.0[i].1)
    }

    /// The entry of `symbol`, created empty on first sight.
    #[inline]
    pub fn entry(&mut self, symbol: &Symbol) -> &mut SymbolState {
        let i = match symbol.index_in(&self.0, |(s, _)| s) {
            Some(i) => i,
            None => self.add(symbol),
        };
        &mut self.0[i].1
    }

    /// A new empty entry; its index. Out of line: the state is ~800 bytes
    /// built on the stack, which the per-candle lookup must not carry.
    #[cold]
    #[inline(never)]
    fn add(&mut self, symbol: &Symbol) -> usize {
        self.0.push((symbol.clone(), SymbolState::default()));
        self.0.len() - 1
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
