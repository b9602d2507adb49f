//! The orders that left a paper broker's book, until they are forgotten.
//!
//! A backtest closes an order and forgets it at the next step, tens of
//! thousands of times a run: the orders are kept in a `Vec` sorted by id,
//! whose room stays when it is emptied, instead of a map that allocates a
//! node for its first order every time. Persisted as the map from id to
//! order it was, so a saved broker reads back either way.

use super::PaperOrder;
use crate::domain::OrderId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub(super) struct ClosedOrders(Vec<PaperOrder>);

impl ClosedOrders {
    /// Adds `order`, replacing one with the same id.
    pub fn insert(&mut self, order: PaperOrder) {
        match self.0.binary_search_by_key(&order.state.id, |o| o.state.id) {
            Ok(i) => self.0[i] = order,
            Err(i) => self.0.insert(i, order),
        }
    }

    pub fn get(&self, id: OrderId) -> Option<&PaperOrder> {
        self.0
            .binary_search_by_key(&id, |o| o.state.id)
            .ok()
            .map(|i| &self.0[i])
    }

    /// The orders by id.
    pub fn iter(&self) -> impl Iterator<Item = &PaperOrder> {
        self.0.iter()
    }

    /// Forgets every order (keeping the room); returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.0.len();
        self.0.clear();
        n
    }
}

impl Serialize for ClosedOrders {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|o| (o.state.id, o)))
    }
}

impl<'de> Deserialize<'de> for ClosedOrders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Keyed by id: the map's order is the `Vec`'s.
        let map = BTreeMap::<OrderId, PaperOrder>::deserialize(d)?;
        Ok(Self(map.into_values().collect()))
    }
}
