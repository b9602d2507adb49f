//! Capital transfers: the allocated capital moving into or out of the
//! account (a Scaling step, an edit of `spec.capital`). A transfer changes
//! cash and equity by exactly its amount; it is neither profit nor loss, so
//! `net_pnl` leaves it out.
//!
//! A transfer out never makes cash negative: the caller moves at most what is
//! free and the ledger records what is still owed as the `shortfall` (moved
//! out later, as cash frees up). Each transfer records how many fills were
//! applied before it, so replaying the stored fills puts it back at the same
//! point and every intermediate cash figure is the one the engine saw.

use serde::{Deserialize, Serialize};

use super::{Ledger, LedgerError};
use crate::domain::Money;

/// One transfer, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transfer {
    /// Unix ms.
    pub at: i64,
    /// Moved in (> 0) or out (< 0); 0 records an allocation cut nothing of
    /// which was free yet.
    pub amount: Money,
    /// The allocated capital from now on.
    pub capital_after: Money,
    /// Capital still to move out after this transfer (the book holds more
    /// than is allocated); zero once settled.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shortfall: Money,
    /// Fills applied before it (its place in the fill sequence).
    pub after_fills: u64,
}

fn is_zero(m: &Money) -> bool {
    m.is_zero()
}

impl Ledger {
    /// Moves `amount` of cash in (> 0) or out (< 0) at `at` and records it
    /// with the allocated capital `capital_after`. Refused, with nothing
    /// changed, when it would leave cash negative.
    pub fn transfer(
        &mut self,
        at: i64,
        amount: Money,
        capital_after: Money,
    ) -> Result<&Transfer, LedgerError> {
        if (self.cash + amount).is_sign_negative() {
            return Err(LedgerError::TransferExceedsCash {
                amount,
                cash: self.cash,
            });
        }
        if capital_after.is_sign_negative() {
            return Err(LedgerError::CorruptState {
                field: "transfer.capitalAfter".into(),
                reason: format!("{capital_after} is negative"),
            });
        }
        let after_fills = self.fills_applied();
        self.cash += amount;
        self.equity += amount;
        self.net_transfers += amount;
        let shortfall = (self.contributed() - capital_after).max(Money::ZERO);
        self.transfers.push(Transfer {
            at,
            amount,
            capital_after,
            shortfall,
            after_fills,
        });
        Ok(self.transfers.last().expect("pushed above"))
    }

    /// Applies a stored transfer again while replaying fills (restore): it
    /// must land where it was recorded and give the same figures.
    pub fn replay_transfer(&mut self, t: &Transfer) -> Result<(), LedgerError> {
        if t.after_fills != self.fills_applied() {
            return Err(LedgerError::CorruptState {
                field: "transfer.afterFills".into(),
                reason: format!(
                    "the transfer at {} follows {} fills but {} are applied",
                    t.at,
                    t.after_fills,
                    self.fills_applied()
                ),
            });
        }
        let replayed = self.transfer(t.at, t.amount, t.capital_after)?.clone();
        if replayed != *t {
            return Err(LedgerError::CorruptState {
                field: "transfer".into(),
                reason: format!("stored {t:?} but the replay gives {replayed:?}"),
            });
        }
        Ok(())
    }

    /// Every transfer, oldest first.
    pub fn transfers(&self) -> &[Transfer] {
        &self.transfers
    }

    /// Σ transfer amounts.
    pub fn net_transfers(&self) -> Money {
        self.net_transfers
    }

    /// The capital put into the account: starting cash plus the transfers.
    pub fn contributed(&self) -> Money {
        self.starting_cash + self.net_transfers
    }

    /// The allocated capital: the last transfer's, else the starting cash.
    pub fn allocated(&self) -> Money {
        self.transfers
            .last()
            .map_or(self.starting_cash, |t| t.capital_after)
    }

    /// Capital still to move out (the book holds more than is allocated).
    pub fn owed_out(&self) -> Money {
        (self.contributed() - self.allocated()).max(Money::ZERO)
    }

    /// Fills applied so far (every trade id is remembered per symbol).
    pub fn fills_applied(&self) -> u64 {
        self.positions.iter().map(|p| p.applied.len() as u64).sum()
    }
}

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod tests;
