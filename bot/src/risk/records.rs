//! What the risk engine decides, as structured records: the engine writes
//! them to the audit log and shows the binding ones in `/status`.

use super::Limit;
use crate::domain::{Money, Price, Quantity, Symbol};
use botfleet_crds::HaltAction;
use serde::{Deserialize, Serialize};

/// The answer to an entry request.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "verdict")]
pub enum Verdict {
    Approve(Approval),
    Refuse(Refusal),
}

impl Verdict {
    pub fn is_approved(&self) -> bool {
        matches!(self, Verdict::Approve(_))
    }

    pub fn approval(&self) -> Option<&Approval> {
        match self {
            Verdict::Approve(a) => Some(a),
            Verdict::Refuse(_) => None,
        }
    }

    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Verdict::Approve(_) => None,
            Verdict::Refuse(r) => Some(r),
        }
    }
}

/// An approved entry: buy `quantity` (rounded down to the step) for about
/// `notional` at `price`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub quantity: Quantity,
    pub notional: Money,
    pub price: Price,
    pub sizing: SizingNote,
}

/// How the size came about: the method's proposal and the cap that cut it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SizingNote {
    /// `fixedFraction`, `atr`, `kelly` or `kellyFallback`.
    pub method: &'static str,
    /// Notional the method proposed, before caps.
    pub target: Money,
    /// The cap that reduced the size, if any.
    pub capped_by: Option<Limit>,
    /// The arithmetic in words, e.g. `fixedFraction 10 % of equity 10000 = 1000; capped by maxPosition 250`.
    pub explanation: String,
}

/// A refused entry: which limit and the numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    pub limit: Limit,
    pub symbol: Symbol,
    pub at: i64,
    /// E.g. `3 positions open, limit 3`.
    pub message: String,
}

/// Why the risk engine closes a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExitReason {
    StopLoss,
    TakeProfit,
    TrailingStop,
    /// The bot halted with `onHalt.action: flatten`.
    Flatten,
}

impl ExitReason {
    pub fn limit(self) -> Limit {
        match self {
            ExitReason::StopLoss => Limit::StopLossPct,
            ExitReason::TakeProfit => Limit::TakeProfitPct,
            ExitReason::TrailingStop => Limit::TrailingStopPct,
            ExitReason::Flatten => Limit::Halted,
        }
    }
}

/// Sell `quantity` of `symbol` at market, now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExitOrder {
    pub symbol: Symbol,
    pub quantity: Quantity,
    pub reason: ExitReason,
    pub at: i64,
    /// The price level that was crossed (the stop, the target), or the mark for a flatten.
    pub trigger_price: Price,
    /// Average entry price of the position.
    pub entry_price: Price,
    /// E.g. `stop-loss: low 96.5 ≤ stop 97 (entry 100 − 3 %)`.
    pub message: String,
}

/// New entries are paused until `until` (open positions keep their stops).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pause {
    pub limit: Limit,
    pub since: i64,
    pub until: i64,
    pub reason: String,
}

impl Pause {
    pub fn is_active(&self, now: i64) -> bool {
        now < self.until
    }
}

/// New entries held for a reason from outside the policy's own limits (the
/// run loop's dead-man switch), until the caller lifts it. Exits, stops and
/// take-profits are not affected. Not persisted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryHold {
    pub limit: Limit,
    pub since: i64,
    /// E.g. `dead-man switch: no operator poll for 5 min (since …)`.
    pub reason: String,
}

/// The halt latch: no entries until [`super::RiskEngine::resume`] with this id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Halt {
    /// `halt-<time ms>-<n>`, unique per bot, deterministic in a backtest.
    pub id: String,
    pub limit: Limit,
    pub at: i64,
    pub reason: String,
    /// The policy's `onHalt.action`: with `flatten` the engine closes every
    /// position ([`super::RiskEngine::flatten`]).
    pub action: HaltAction,
}

/// One thing the risk engine did on a tick.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "action")]
pub enum RiskAction {
    Exit(ExitOrder),
    Pause(Pause),
    Halt(Halt),
}

/// The actions of one tick; empty (and allocation-free) when nothing happened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RiskActions(pub Vec<RiskAction>);

impl RiskActions {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, RiskAction> {
        self.0.iter()
    }

    /// The exit orders to send.
    pub fn exits(&self) -> impl Iterator<Item = &ExitOrder> {
        self.0.iter().filter_map(|a| match a {
            RiskAction::Exit(e) => Some(e),
            _ => None,
        })
    }

    /// The halt raised on this tick, if any.
    pub fn halt(&self) -> Option<&Halt> {
        self.0.iter().find_map(|a| match a {
            RiskAction::Halt(h) => Some(h),
            _ => None,
        })
    }

    /// The pauses started on this tick.
    pub fn pauses(&self) -> impl Iterator<Item = &Pause> {
        self.0.iter().filter_map(|a| match a {
            RiskAction::Pause(p) => Some(p),
            _ => None,
        })
    }

    pub(super) fn push(&mut self, action: RiskAction) {
        self.0.push(action);
    }
}

impl IntoIterator for RiskActions {
    type Item = RiskAction;
    type IntoIter = std::vec::IntoIter<RiskAction>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Why a resume was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    #[error("the bot is not halted; nothing to resume (given halt id `{given}`)")]
    NotHalted { given: String },
    #[error(
        "halt id `{given}` does not match the current halt `{current}`; resume with the current id (see /status halt.id)"
    )]
    StaleHaltId { given: String, current: String },
}

/// A limit that currently stops or shapes trading, for `/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    pub limit: Limit,
    pub message: String,
}

/// The risk part of `/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskStatus {
    pub halt: Option<Halt>,
    /// The active pause that lasts longest.
    pub pause: Option<Pause>,
    pub binding: Vec<Binding>,
}
