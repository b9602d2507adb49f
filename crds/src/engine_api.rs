//! The engine ↔ operator contract: the JSON the engine serves on `GET /status`
//! and the bodies of its control endpoints. Shared by both sides so the two can
//! never drift; documented in `docs/engine-api.md`.
//!
//! Money and prices are decimal strings (exact); statistics are JSON numbers.
//! `apiVersion` is bumped on any incompatible change.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Phase;

/// Header carrying the per-bot bearer token of the control endpoints.
pub const AUTHORIZATION: &str = "authorization";
/// `GET` path of the status document.
pub const STATUS_PATH: &str = "/status";
/// `POST` path: halt.
pub const HALT_PATH: &str = "/v1/halt";
/// `POST` path: resume after a halt.
pub const RESUME_PATH: &str = "/v1/resume";
/// `POST` path: cancel every open order (no halt).
pub const CANCEL_ALL_PATH: &str = "/v1/cancel-all";

/// Current version of the `/status` document.
pub const ENGINE_STATUS_API_VERSION: &str = "botfleet.dev/engine-status/v1";

/// Statistics that can be undefined (a Sharpe ratio of one trade, a profit
/// factor without losses) are NaN or infinite in Rust; JSON has no such
/// numbers, so they travel as `null` and come back as NaN. A reader must
/// treat a non-finite statistic as "not measurable yet".
mod stat {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
    }
}

/// `GET /status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineStatus {
    pub api_version: String,
    /// The TradingBot's name.
    pub bot: String,
    /// The TradingBot's UID (from the rendered config): the operator refuses
    /// an answer for another bot, e.g. from a pod that took over the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The phase the engine trades in (the operator's effective phase).
    pub phase: Phase,
    pub state: EngineState,
    /// SHA-256 of the rendered config the engine runs (hex).
    pub config_hash: String,
    /// [`crate::trading_hash`] of what the engine trades: the phase window
    /// (and so the gate) was earned under it; a change restarts the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trading_hash: Option<String>,
    /// RFC 3339.
    pub engine_started_at: String,
    /// RFC 3339: when the current phase window began.
    pub phase_started_at: String,
    pub halt: Option<HaltInfo>,
    pub pause: Option<PauseInfo>,
    /// Metrics since the phase started.
    pub window: WindowMetrics,
    pub open_positions: Vec<PositionInfo>,
    pub open_orders: u32,
    /// Limits currently binding (e.g. `maxOpenPositions`, `dailyLoss`).
    pub limits_hit: Vec<LimitHit>,
    /// The halt in force says flatten and the book is not flat yet: the
    /// engine keeps sending exits (across restarts) until it is. Absent
    /// (false) otherwise; a flat, confirmed book is `halt` set, this absent,
    /// no open position and no open order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flatten_pending: bool,
    /// Capital allocation changes the engine recorded as ledger transfers,
    /// oldest first (none while the capital never changed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocations: Vec<Allocation>,
    /// The last comparison of the ledger with the venue's own trade
    /// history and balances (Sandbox and up; absent in Paper and until the
    /// first check). See [`LedgerCheck`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_check: Option<LedgerCheck>,
}

/// One capital transfer: the allocated capital changed (a Scaling step, an
/// edit of `spec.capital`) and cash moved in or out of the engine's ledger.
/// Equity, drawdown, loss limits and returns re-base on it: it is neither
/// profit nor loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    /// RFC 3339.
    pub at: String,
    /// Moved in (> 0) or out (< 0). A cut larger than the free cash moves
    /// what is free; the rest is `shortfall`, moved by later entries.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// The allocated capital from then on.
    #[serde(with = "rust_decimal::serde::str")]
    pub capital_after: Decimal,
    /// Still to move out after this entry; absent when settled.
    #[serde(
        default,
        with = "rust_decimal::serde::str",
        skip_serializing_if = "Decimal::is_zero"
    )]
    pub shortfall: Decimal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngineState {
    Starting,
    Trading,
    Paused,
    Halted,
    Degraded,
}

/// The bot state (`status.state`) an engine state maps to.
impl From<EngineState> for crate::BotState {
    fn from(state: EngineState) -> Self {
        match state {
            EngineState::Starting => Self::Starting,
            EngineState::Trading => Self::Trading,
            EngineState::Paused => Self::Paused,
            EngineState::Halted => Self::Halted,
            EngineState::Degraded => Self::Degraded,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HaltInfo {
    /// Unique per halt; a resume must quote it.
    pub id: String,
    pub reason: String,
    /// RFC 3339.
    pub at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseInfo {
    pub reason: String,
    /// RFC 3339; null while the pause lasts until an event (none today).
    pub until: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowMetrics {
    /// The base of the window's return: its start equity, scaled by each
    /// capital transfer (returns are time-weighted).
    #[serde(with = "rust_decimal::serde::str")]
    pub start_equity: Decimal,
    /// The money the window's P&L counts from: its start equity plus the
    /// capital transfers in it (the base of `maxTotalLoss`). Absent: the
    /// start equity (an engine that reports no transfers).
    #[serde(
        default,
        with = "rust_decimal::serde::str_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub money_base: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str")]
    pub equity: Decimal,
    #[serde(with = "stat")]
    pub return_pct: f64,
    #[serde(with = "stat")]
    pub drawdown_pct: f64,
    #[serde(with = "stat")]
    pub max_drawdown_pct: f64,
    pub trades: u64,
    pub wins: u64,
    #[serde(with = "stat")]
    pub win_rate_pct: f64,
    #[serde(with = "stat")]
    pub sharpe: f64,
    #[serde(with = "stat")]
    pub sortino: f64,
    #[serde(with = "stat")]
    pub profit_factor: f64,
    #[serde(with = "rust_decimal::serde::str")]
    pub daily_pnl: Decimal,
    pub losing_days_in_a_row: u32,
    pub orders: u64,
    pub order_errors: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionInfo {
    pub symbol: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub average_price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub unrealized_pnl: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitHit {
    /// The RiskPolicy field, e.g. `maxOpenPositions`.
    pub limit: String,
    /// What happened, with the numbers.
    pub message: String,
}

pub use crate::ledger_check::{
    AssetDifference, BalanceShortfall, LedgerCheck, TradeMismatch, TradeRecord,
};

/// `POST /v1/halt`: stop opening positions and cancel open orders (and close
/// positions when `flatten`). Halting an engine that is already halted keeps
/// the existing halt (and its id).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HaltRequest {
    pub reason: String,
    /// Flatten positions instead of only cancelling orders.
    #[serde(default)]
    pub flatten: bool,
    /// The id the engine gives this halt, so operator and engine name it
    /// alike (the operator's `status.halt.id`); the engine makes one up
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halt_id: Option<String>,
}

/// `POST /v1/resume`: lift the halt named `haltId`; a different id is
/// refused with 409 Conflict (a stale resume must never lift a newer halt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeRequest {
    pub halt_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn example() -> EngineStatus {
        EngineStatus {
            api_version: ENGINE_STATUS_API_VERSION.into(),
            bot: "sma-btc".into(),
            uid: Some("0b5e-uid".into()),
            phase: Phase::LimitedReal,
            state: EngineState::Halted,
            config_hash: "ab12".into(),
            trading_hash: Some("cd34".into()),
            engine_started_at: "2026-01-01T00:00:00Z".into(),
            phase_started_at: "2026-01-02T00:00:00Z".into(),
            halt: Some(HaltInfo {
                id: "h-1".into(),
                reason: "drawdown".into(),
                at: "2026-01-03T00:00:00Z".into(),
            }),
            pause: None,
            window: WindowMetrics {
                start_equity: Decimal::from(1000),
                money_base: None,
                equity: Decimal::from_str("1012.345").unwrap(),
                return_pct: 1.2345,
                drawdown_pct: 0.5,
                max_drawdown_pct: 3.25,
                trades: 12,
                wins: 7,
                win_rate_pct: 58.33,
                sharpe: 1.7,
                sortino: 2.1,
                profit_factor: 1.4,
                daily_pnl: Decimal::from_str("-3.10").unwrap(),
                losing_days_in_a_row: 1,
                orders: 30,
                order_errors: 0,
            },
            open_positions: vec![PositionInfo {
                symbol: "BTCUSDT".into(),
                quantity: Decimal::from_str("0.001").unwrap(),
                average_price: Decimal::from_str("64000.5").unwrap(),
                unrealized_pnl: Decimal::from_str("1.25").unwrap(),
            }],
            open_orders: 2,
            limits_hit: vec![LimitHit {
                limit: "maxOpenPositions".into(),
                message: "3 of 3 positions open".into(),
            }],
            flatten_pending: true,
            allocations: vec![Allocation {
                at: "2026-01-02T00:00:00Z".into(),
                amount: Decimal::from(-1500),
                capital_after: Decimal::from(2000),
                shortfall: Decimal::from_str("625.5").unwrap(),
            }],
            ledger_check: None,
        }
    }

    /// The wire format is the contract: camelCase keys, money as strings,
    /// phases and states as their names.
    #[test]
    fn status_wire_format() {
        let json = serde_json::to_value(example()).unwrap();
        assert_eq!(json["apiVersion"], ENGINE_STATUS_API_VERSION);
        assert_eq!(json["phase"], "LimitedReal");
        assert_eq!(json["state"], "Halted");
        assert_eq!(json["window"]["equity"], "1012.345");
        assert_eq!(json["window"]["dailyPnl"], "-3.10");
        assert_eq!(json["window"]["losingDaysInARow"], 1);
        assert_eq!(json["openPositions"][0]["averagePrice"], "64000.5");
        assert_eq!(json["limitsHit"][0]["limit"], "maxOpenPositions");
        assert_eq!(json["halt"]["id"], "h-1");
        assert_eq!(json["flattenPending"], true);
        assert_eq!(json["allocations"][0]["amount"], "-1500");
        assert_eq!(json["allocations"][0]["capitalAfter"], "2000");
        assert_eq!(json["allocations"][0]["shortfall"], "625.5");
        let back: EngineStatus = serde_json::from_value(json).unwrap();
        assert_eq!(back, example());
    }

    /// `allocations` is additive: absent when empty, and a document without
    /// it (an older engine) still reads.
    #[test]
    fn allocations_are_optional() {
        let mut status = example();
        status.allocations[0].shortfall = Decimal::ZERO;
        let json = serde_json::to_value(&status).unwrap();
        assert!(json["allocations"][0].get("shortfall").is_none());
        assert_eq!(
            serde_json::from_value::<EngineStatus>(json).unwrap(),
            status
        );
        status.allocations.clear();
        let mut json = serde_json::to_value(&status).unwrap();
        assert!(json.get("allocations").is_none());
        json.as_object_mut().unwrap().remove("tradingHash");
        let back: EngineStatus = serde_json::from_value(json).unwrap();
        assert!(back.allocations.is_empty() && back.trading_hash.is_none());
    }

    /// `flattenPending` is additive: absent when false, and a document
    /// without it (an older engine) reads as false.
    #[test]
    fn flatten_pending_is_absent_when_false() {
        let mut status = example();
        status.flatten_pending = false;
        let json = serde_json::to_value(&status).unwrap();
        assert!(json.get("flattenPending").is_none());
        let back: EngineStatus = serde_json::from_value(json).unwrap();
        assert!(!back.flatten_pending);
    }

    #[test]
    fn undefined_statistics_travel_as_null() {
        let mut status = example();
        status.window.sharpe = f64::NAN;
        status.window.profit_factor = f64::INFINITY;
        let json = serde_json::to_value(&status).unwrap();
        assert!(json["window"]["sharpe"].is_null());
        assert!(json["window"]["profitFactor"].is_null());
        let back: EngineStatus = serde_json::from_value(json).unwrap();
        assert!(back.window.sharpe.is_nan() && back.window.profit_factor.is_nan());
        assert_eq!(back.window.sortino, 2.1);
    }

    #[test]
    fn control_bodies() {
        let halt: HaltRequest = serde_json::from_str(r#"{"reason":"manual"}"#).unwrap();
        assert_eq!(
            halt,
            HaltRequest {
                reason: "manual".into(),
                flatten: false,
                halt_id: None
            }
        );
        let with_id = HaltRequest {
            reason: "x".into(),
            flatten: true,
            halt_id: Some("h-2".into()),
        };
        assert_eq!(
            serde_json::to_value(&with_id).unwrap(),
            serde_json::json!({"reason": "x", "flatten": true, "haltId": "h-2"})
        );
        let resume: ResumeRequest = serde_json::from_str(r#"{"haltId":"h-2"}"#).unwrap();
        assert_eq!(resume.halt_id, "h-2");
    }
}
