//! The bases of the loss limits and the floor a loss limit sets: shared by
//! the risk engine (its floors) and the capital transfers that re-base them
//! (`transfer.rs`), so neither depends on the other.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Limit;
use super::config::pct_of;
use crate::domain::Money;

/// Bases of the loss limits once capital moved in the phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Rebased {
    /// Base of `maxTotalLossPct`: scaled by each transfer.
    pub total_pct: Money,
    /// Base of `maxTotalLoss`: moved by each transfer.
    pub total_abs: Money,
    /// Base of `dailyLossLimitPct` for the day in progress (scaled); `None`:
    /// the day's start equity (the day began after the last transfer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_pct: Option<Money>,
}

/// A loss limit in force: the equity at or below which it trips, the loss
/// it allows, which field sets it and the base the loss counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LossLimit {
    pub floor: Money,
    pub amount: Money,
    pub limit: Limit,
    pub base: Money,
}

/// The tighter of `pct` % of `pct_base` and the absolute `abs` below
/// `abs_base` (the absolute one on a tie).
pub(super) fn loss_limit(
    (pct_base, pct, pct_limit): (Money, Decimal, Limit),
    (abs_base, abs, abs_limit): (Money, Option<Money>, Limit),
) -> LossLimit {
    let by_pct = pct_of(pct_base.max(Money::ZERO), pct);
    let pct_floor = pct_base - by_pct;
    match abs {
        Some(a) if abs_base - a >= pct_floor => LossLimit {
            floor: abs_base - a,
            amount: a,
            limit: abs_limit,
            base: abs_base,
        },
        _ => LossLimit {
            floor: pct_floor,
            amount: by_pct,
            limit: pct_limit,
            base: pct_base,
        },
    }
}
