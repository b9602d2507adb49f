//! The trade ids a position has applied, so a fill delivered twice (a
//! venue's redelivery, a replay after a restart) is applied once.
//!
//! A year of backtest fills is tens of thousands of ids per position, and a
//! sweep builds and drops a ledger per parameter set: the ids live back to
//! back in one text buffer with a hash index over it, not in an allocation
//! each. Serialised as the list of ids in the order they were applied.

use std::fmt;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Default)]
pub(super) struct TradeIds {
    /// Every id, back to back, in the order applied.
    text: String,
    /// Where id `k` ends in `text`; it starts where id `k - 1` ends.
    ends: Vec<usize>,
    /// Each id's `k`, found by the id's hash.
    index: HashTable<usize>,
    hasher: DefaultHashBuilder,
}

/// Id `k` of `text` cut at `ends`.
fn id<'a>(text: &'a str, ends: &[usize], k: usize) -> &'a str {
    let start = if k == 0 { 0 } else { ends[k - 1] };
    &text[start..ends[k]]
}

impl TradeIds {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn contains(&self, trade_id: &str) -> bool {
        let hash = self.hasher.hash_one(trade_id);
        self.index
            .find(hash, |&k| id(&self.text, &self.ends, k) == trade_id)
            .is_some()
    }

    /// Adds `trade_id`; false (and nothing changes) when it was there.
    pub fn insert(&mut self, trade_id: &str) -> bool {
        if self.contains(trade_id) {
            return false;
        }
        self.insert_new(trade_id);
        true
    }

    /// Adds `trade_id`, which the caller has just found absent (the ledger
    /// looks a fill's id up before it applies the fill): no second lookup.
    pub fn insert_new(&mut self, trade_id: &str) {
        debug_assert!(!self.contains(trade_id), "{trade_id} was applied");
        let Self {
            text,
            ends,
            index,
            hasher,
        } = self;
        let hash = hasher.hash_one(trade_id);
        index.insert_unique(hash, ends.len(), |&k| hasher.hash_one(id(text, ends, k)));
        text.push_str(trade_id);
        ends.push(text.len());
    }

    /// The ids in the order they were applied.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len()).map(|k| id(&self.text, &self.ends, k))
    }
}

/// Equal when they hold the same ids, whatever the order they came in.
impl PartialEq for TradeIds {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|t| other.contains(t))
    }
}

impl Eq for TradeIds {}

impl fmt::Debug for TradeIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for TradeIds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for TradeIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut ids = TradeIds::default();
        for t in Vec::<String>::deserialize(deserializer)? {
            ids.insert(&t);
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::TradeIds;
    use std::collections::BTreeSet;

    #[test]
    fn holds_each_id_once_like_a_set_of_strings() {
        // Ids that share prefixes and lengths, repeated and interleaved,
        // past the index's first few growths.
        let mut ids = TradeIds::default();
        let mut model = BTreeSet::new();
        for n in 0..5_000u32 {
            let t = format!("paper-{}-{}", n % 1_700, n % 3);
            assert_eq!(ids.insert(&t), model.insert(t.clone()), "insert {t}");
            assert_eq!(ids.len(), model.len());
        }
        for n in 0..2_000u32 {
            let t = format!("paper-{n}-1");
            assert_eq!(ids.contains(&t), model.contains(&t), "contains {t}");
        }
        assert!(!ids.contains(""));
        assert!(ids.insert(""), "the empty id is an id like any other");
        assert!(ids.contains("") && !ids.insert(""));
    }

    #[test]
    fn round_trips_through_json_in_the_order_applied() {
        let mut ids = TradeIds::default();
        for t in ["b-2", "a-1", "c-10", "a-1"] {
            ids.insert(t);
        }
        let json = serde_json::to_string(&ids).unwrap();
        assert_eq!(json, r#"["b-2","a-1","c-10"]"#);
        let back: TradeIds = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ids);
        assert_eq!(back.iter().collect::<Vec<_>>(), ["b-2", "a-1", "c-10"]);
        // A list with a repeat (hand-edited, or an older writer) loads as a set.
        let repeated: TradeIds = serde_json::from_str(r#"["x","y","x"]"#).unwrap();
        assert_eq!(repeated.len(), 2);
    }

    #[test]
    fn equal_when_the_same_ids_came_in_another_order() {
        let (mut a, mut b) = (TradeIds::default(), TradeIds::default());
        for t in ["1", "2", "3"] {
            a.insert(t);
        }
        for t in ["3", "1", "2"] {
            b.insert(t);
        }
        assert_eq!(a, b);
        b.insert("4");
        assert_ne!(a, b);
        a.insert("5");
        assert_ne!(a, b, "same length, different ids");
    }
}
