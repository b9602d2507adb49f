//! Capital allocations (a Scaling step, an edit of `spec.capital`) as ledger
//! transfers.
//!
//! The config's capital is the allocation. When it differs from the one the
//! book last recorded (a restart with a new capital), the difference moves
//! into or out of the ledger's cash (and the paper broker's) as a
//! [`Transfer`], and equity, drawdown, loss floors and returns re-base on it
//! (`ledger::transfer`, `performance`, `risk::transfer`). The transfer is in
//! the engine snapshot stored with the next step, so a restart with the same
//! capital records nothing and a crash before that step records it once.
//!
//! A transfer out never takes more than the free cash: cash reserved by open
//! buys (and, at a venue, all of it while a buy is open, since a market
//! order has no price to reserve) stays. What could not move is the
//! transfer's `shortfall`; it moves out as cash frees up, at the end of a
//! later candle, each move a transfer of its own.

use super::{AuditRecord, Engine, EngineError, EngineEvent, Execution};
use crate::domain::{Money, Side, Symbol};
use crate::ledger::Transfer;

impl Engine {
    /// Brings the book to the config's capital at `now` (see the module
    /// docs); the transfer recorded, if any.
    pub fn apply_allocation(&mut self, now: i64) -> Result<Option<Transfer>, EngineError> {
        let target = self.config.capital;
        let changed = target != self.ledger.allocated();
        let wanted = target - self.ledger.contributed();
        let amount = if wanted.is_sign_negative() {
            -(-wanted).min(self.free_cash())
        } else {
            wanted
        };
        if !changed && amount.is_zero() {
            return Ok(None);
        }
        if let Execution::Paper(broker) = &mut self.execution {
            broker.transfer(amount).map_err(|free| {
                EngineError::Transfer(format!(
                    "the paper broker has {free} free, cannot move {amount}"
                ))
            })?;
        }
        let transfer = self.ledger.transfer(now, amount, target)?.clone();
        if !amount.is_zero() {
            self.perf.transfer(amount);
            self.risk.transfer(amount);
        }
        self.owes_capital = !transfer.shortfall.is_zero();
        let equity = self.ledger.equity();
        self.log.record(|| {
            EngineEvent::Audit(AuditRecord {
                at: now,
                symbol: Symbol::new("*"),
                signal: "capital".into(),
                verdict: if amount.is_sign_negative() {
                    "transfer-out".into()
                } else {
                    "transfer-in".into()
                },
                reason: serde_json::json!({
                    "amount": transfer.amount,
                    "capitalAfter": transfer.capital_after,
                    "shortfall": transfer.shortfall,
                    "equityAfter": equity,
                }),
            })
        });
        Ok(Some(transfer))
    }

    /// The allocated capital the book runs with.
    pub fn allocated_capital(&self) -> Money {
        self.ledger.allocated()
    }

    /// Cash a transfer out may take now.
    fn free_cash(&self) -> Money {
        match &self.execution {
            Execution::Paper(broker) => broker.free_cash(),
            Execution::Venue { orders, .. } => {
                if orders.open.iter().any(|o| o.side == Side::Buy) {
                    Money::ZERO
                } else {
                    self.ledger.cash().max(Money::ZERO)
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "allocation_tests.rs"]
mod tests;
