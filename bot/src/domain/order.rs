//! Orders and fills.

use super::{Money, Price, Quantity};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A trading pair as the venue spells it, e.g. `BTCUSDT`. Shared text: every
/// order and fill carries its symbol, and a clone is a count, not a copy.
#[derive(Clone, Debug, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Symbol(pub Arc<str>);

/// Byte equality in a few word compares, in line: the engine compares
/// symbols several times per candle, and a `memcmp` call (or a byte loop)
/// for a 7-byte string costs more than the comparison.
impl PartialEq for Symbol {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        // Clones of one symbol share their text: the usual match.
        if Arc::ptr_eq(&self.0, &other.0) {
            return true;
        }
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        let n = a.len();
        if n != b.len() {
            return false;
        }
        let word8 =
            |s: &[u8], i: usize| u64::from_ne_bytes(s[i..i + 8].try_into().expect("8 bytes"));
        let word4 =
            |s: &[u8], i: usize| u32::from_ne_bytes(s[i..i + 4].try_into().expect("4 bytes"));
        match n {
            // Whole words, then the last word (overlapping the one before).
            8.. => {
                (0..(n - 1) / 8).all(|k| word8(a, 8 * k) == word8(b, 8 * k))
                    && word8(a, n - 8) == word8(b, n - 8)
            }
            // The first and the last four bytes cover 4 to 7.
            4..=7 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
            _ => a == b,
        }
    }
}

/// The text's hash, as equality compares the text.
impl std::hash::Hash for Symbol {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl Symbol {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into().to_ascii_uppercase().into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where this symbol is in `items` (by `symbol_of`), the first match.
    /// The ledger, the risk engine and the paper broker each look a symbol
    /// up a few times per candle, nearly always in a bot of one symbol whose
    /// entries share this very text: that case is one pointer compare, in
    /// line, before the scan.
    #[inline(always)]
    pub(crate) fn index_in<T>(
        &self,
        items: &[T],
        symbol_of: impl Fn(&T) -> &Symbol,
    ) -> Option<usize> {
        match items.first() {
            Some(first) if Arc::ptr_eq(&symbol_of(first).0, &self.0) => Some(0),
            _ => self.scan(items, symbol_of),
        }
    }

    /// [`Symbol::index_in`] past its first entry's pointer: out of line, so
    /// the common case stays a few instructions where it is called.
    #[inline(never)]
    fn scan<T>(&self, items: &[T], symbol_of: impl Fn(&T) -> &Symbol) -> Option<usize> {
        items.iter().position(|item| symbol_of(item) == self)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Self {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    /// +1 for buys, -1 for sells.
    pub fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

/// The engine's own order id: monotonic per bot, never reused, the root of the
/// venue's client order id (so a retry after a crash is idempotent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(pub u64);

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum OrderKind {
    Market,
    Limit { price: Price },
}

/// What the strategy/risk pipeline asks the broker to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    pub id: OrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub kind: OrderKind,
    pub quantity: Quantity,
    /// Why the order exists (signal, stop-loss, flatten on halt, ...).
    pub reason: String,
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderStatus {
    /// Accepted by the broker, nothing filled yet.
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
    /// The remainder will never fill (volume cap at the end of its life, IOC).
    Expired,
}

impl OrderStatus {
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::New | OrderStatus::PartiallyFilled)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Liquidity {
    Maker,
    Taker,
}

/// One execution. `trade_id` is unique per venue and symbol: the ledger refuses
/// a fill it has already applied, so replays after a crash never double count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fill {
    pub trade_id: String,
    pub order_id: OrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub price: Price,
    pub quantity: Quantity,
    /// Fee in quote currency.
    pub fee: Money,
    pub liquidity: Liquidity,
    pub time: i64,
}

impl Fill {
    pub fn notional(&self) -> Money {
        self.price * self.quantity
    }
}

#[cfg(test)]
mod symbol_tests {
    use super::Symbol;

    #[test]
    fn symbols_are_equal_exactly_when_their_text_is() {
        let names = [
            "",
            "B",
            "AB",
            "AC",
            "BTC",
            "BTCD",
            "BTCE",
            "XTCD",
            "BTCUSDT",
            "BTCUSDC",
            "BTC-USD",
            "ETHUSDT",
            "BTCUSDTT",
            "1000SHIBUSDT",
            "1000SHIBUSDC",
            "1000PEPEUSDT",
            "ABCDEFGHIJKLMNOP",
            "ABCDEFGHIJKLMNOPQ",
            "ABCDEFGHXJKLMNOPQ",
            "ABCDEFGHIJKLMNOPX",
        ];
        for a in names {
            for b in names {
                let (sa, sb) = (Symbol(a.into()), Symbol(b.into()));
                assert_eq!(sa == sb, a == b, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn a_symbol_is_found_by_its_text_whether_or_not_it_shares_the_entrys() {
        let btc = Symbol::new("BTCUSDT");
        let entries = [btc.clone(), Symbol::new("ETHUSDT"), Symbol::new("SOLUSDT")];
        fn name(s: &Symbol) -> &Symbol {
            s
        }
        // The first entry's own text: the pointer decides.
        assert_eq!(btc.index_in(&entries, name), Some(0));
        // The same texts, held apart: found by the scan.
        assert_eq!(Symbol::new("btcusdt").index_in(&entries, name), Some(0));
        assert_eq!(Symbol::new("ETHUSDT").index_in(&entries, name), Some(1));
        assert_eq!(entries[2].index_in(&entries, name), Some(2));
        assert_eq!(Symbol::new("XRPUSDT").index_in(&entries, name), None);
        assert_eq!(btc.index_in(&[] as &[Symbol], name), None);
    }
}
