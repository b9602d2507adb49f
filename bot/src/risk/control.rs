//! What the run loop sets on the risk engine from outside the policy's own
//! limits: an entry hold (the dead-man switch) and a halt's flatten.

use super::engine::RiskEngine;
use super::records::{EntryHold, Halt};
use botfleet_crds::HaltAction;

impl RiskEngine {
    /// Holds new entries (`Some`) or lifts the hold (`None`). While held,
    /// [`RiskEngine::check_entry`] refuses every entry naming the hold's
    /// limit; exits, stops, take-profits and halts work as before. Not
    /// persisted: a restarted engine starts without a hold.
    pub fn set_entry_hold(&mut self, hold: Option<EntryHold>) {
        self.hold = hold;
    }

    /// The entry hold in force.
    pub fn entry_hold(&self) -> Option<&EntryHold> {
        self.hold.as_ref()
    }

    /// Makes the halt in force a flatten (a `POST /v1/halt {flatten: true}`,
    /// also onto an existing halt): it is part of the latch, so it is
    /// persisted with the risk state and a restarted engine still knows the
    /// book must be closed. `None` when not halted.
    pub fn flatten_on_halt(&mut self) -> Option<&Halt> {
        let halt = self.state.halt.as_mut()?;
        halt.action = HaltAction::Flatten;
        Some(halt)
    }
}
