//! The engine's record checked against the venue's: the `ledgerCheck` of
//! `/status` and how the operator reads it for the `ledgerMatchesVenue`
//! gate criterion.
//!
//! In Sandbox and up the engine compares, on a schedule, the fills of its
//! current phase with the venue's own trade history of the bot's orders
//! (per symbol), and the positions of its ledger with the venue's
//! balances. Money is exact (decimal strings); a difference of one unit in
//! the last decimal is a difference.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::gates::LedgerEvidence;

/// Longest a ledger check may be old and still count for the gate: an
/// engine that stopped checking (or whose venue stopped answering) cannot
/// hold on to an old "matches".
pub const LEDGER_CHECK_MAX_AGE_SECS: i64 = 30 * 60;

/// One comparison of the ledger with the venue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerCheck {
    /// RFC 3339 (wall clock): when the venue was read.
    pub at: String,
    /// Trades of this bot the venue reports in the current phase.
    pub venue_trades: u64,
    /// Fills the ledger holds in the current phase.
    pub ledger_trades: u64,
    /// Trades on both sides with equal side, price, quantity and fee.
    pub matched_trades: u64,
    /// Trades the venue reports that the ledger lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_in_ledger: Vec<TradeRecord>,
    /// Fills of the ledger the venue does not report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_at_venue: Vec<TradeRecord>,
    /// Trades on both sides that differ in a field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatched: Vec<TradeMismatch>,
    /// Σ venue fees − Σ ledger fees, quote currency.
    #[serde(with = "rust_decimal::serde::str")]
    pub fee_difference: Decimal,
    /// Per symbol where the two disagree: venue − ledger of the net
    /// quantity bought and of the cash it moved (notional and fees: the P&L).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<AssetDifference>,
    /// Positions the venue's balances cannot cover (the account holds less
    /// of the base asset than the ledger's position).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub balance_shortfalls: Vec<BalanceShortfall>,
}

/// One trade, as one side reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TradeRecord {
    pub symbol: String,
    /// The venue's trade id.
    pub trade_id: String,
    /// `Buy` or `Sell`.
    pub side: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub price: Decimal,
    /// Quote currency.
    #[serde(with = "rust_decimal::serde::str")]
    pub fee: Decimal,
}

/// A trade both sides have, with a field that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TradeMismatch {
    pub venue: TradeRecord,
    pub ledger: TradeRecord,
}

/// Venue − ledger for one symbol (only written when non-zero).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetDifference {
    pub symbol: String,
    /// Net base quantity bought (buys − sells).
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    /// Net quote cash moved (sells − buys − fees).
    #[serde(with = "rust_decimal::serde::str")]
    pub cash: Decimal,
}

/// The venue holds less of a base asset than the ledger's position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceShortfall {
    pub symbol: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub ledger_position: Decimal,
    /// Free + locked at the venue.
    #[serde(with = "rust_decimal::serde::str")]
    pub venue_balance: Decimal,
}

impl TradeRecord {
    fn describe(&self) -> String {
        format!(
            "{} trade {} {} {} @ {} fee {}",
            self.symbol,
            self.trade_id,
            self.side.to_lowercase(),
            self.quantity.normalize(),
            self.price.normalize(),
            self.fee.normalize()
        )
    }
}

impl LedgerCheck {
    /// How many things differ (each missing or mismatched trade, a fee
    /// difference, each asset difference, each shortfall). Zero: the books agree.
    pub fn differences(&self) -> u64 {
        let n = self.missing_in_ledger.len()
            + self.missing_at_venue.len()
            + self.mismatched.len()
            + usize::from(!self.fee_difference.is_zero())
            + self.assets.len()
            + self.balance_shortfalls.len();
        n as u64
    }

    pub fn matches(&self) -> bool {
        self.differences() == 0
    }

    /// The differences named, with their numbers, most telling first;
    /// "ledger matches the venue: N trades" when there are none.
    pub fn summary(&self) -> String {
        if self.matches() {
            return format!(
                "ledger matches the venue: {} trade(s), fees and cash equal",
                self.matched_trades
            );
        }
        let mut parts = Vec::new();
        for t in &self.missing_in_ledger {
            parts.push(format!(
                "the venue reports {} the ledger lacks",
                t.describe()
            ));
        }
        for t in &self.missing_at_venue {
            parts.push(format!(
                "the ledger has {} the venue does not report",
                t.describe()
            ));
        }
        for m in &self.mismatched {
            parts.push(format!(
                "the venue reports {} but the ledger {}",
                m.venue.describe(),
                m.ledger.describe()
            ));
        }
        if !self.fee_difference.is_zero() {
            parts.push(format!(
                "fees differ by {} (venue − ledger)",
                self.fee_difference.normalize()
            ));
        }
        for a in &self.assets {
            parts.push(format!(
                "{} differs by quantity {} and cash {} (venue − ledger)",
                a.symbol,
                a.quantity.normalize(),
                a.cash.normalize()
            ));
        }
        for s in &self.balance_shortfalls {
            parts.push(format!(
                "the venue holds {} of {}'s base asset, the ledger's position is {}",
                s.venue_balance.normalize(),
                s.symbol,
                s.ledger_position.normalize()
            ));
        }
        format!(
            "{} of {} venue / {} ledger trade(s) matched; {}",
            self.matched_trades,
            self.venue_trades,
            self.ledger_trades,
            parts.join("; ")
        )
    }
}

/// What the gate makes of the engine's last check: none yet, or one older
/// than `max_age_secs`, is not measurable; else its differences, named.
/// `age_secs` reads the check's age from its `at` (`None`: unreadable).
pub fn evidence(
    check: Option<&LedgerCheck>,
    age_secs: impl FnOnce(&str) -> Option<i64>,
    max_age_secs: i64,
) -> LedgerEvidence {
    let Some(check) = check else {
        return LedgerEvidence {
            differences: None,
            detail: "the engine has not checked its ledger against the venue yet".into(),
        };
    };
    let Some(age) = age_secs(&check.at) else {
        return LedgerEvidence {
            differences: None,
            detail: format!(
                "the engine reports an unreadable ledgerCheck.at `{}`",
                check.at
            ),
        };
    };
    if age > max_age_secs {
        return LedgerEvidence {
            differences: None,
            detail: format!(
                "the last ledger check ({}) is {} min old; a check counts for {} min",
                check.at,
                age / 60,
                max_age_secs / 60
            ),
        };
    }
    LedgerEvidence {
        differences: Some(check.differences()),
        detail: check.summary(),
    }
}

#[cfg(test)]
#[path = "ledger_check_tests.rs"]
mod tests;
