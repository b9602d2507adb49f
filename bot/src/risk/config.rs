//! What a risk engine is built from, and the figures it derives once.

use super::level::Factor;
use super::{Limit, MINUTE_MS};
use crate::domain::{Money, Symbol, Timeframe};
pub use botfleet_crds::HardCaps;
use botfleet_crds::tiers::tier_for;
use botfleet_crds::{Amount, HaltAction, Phase, PhaseLimits, RiskPolicySpec, RiskTier, Sizing};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// The inputs of one bot's risk engine: the phase's limits, the policy's
/// tiers and sizing, and the bot's capital.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskConfig {
    pub phase: Phase,
    /// The phase's limits as configured (hard caps are applied on top).
    pub limits: PhaseLimits,
    pub tiers: Vec<RiskTier>,
    pub sizing: Sizing,
    pub on_halt: HaltAction,
    /// Capital the phase started with: the base of `maxPositionPct` and of
    /// the total-loss limit.
    pub capital: Money,
    /// Candle length: a pause starting on a candle runs from its close.
    pub timeframe: Timeframe,
    /// Absolute caps the engine enforces whatever the config says; `Some`
    /// (the seed figures) in LimitedReal.
    pub hard_caps: Option<HardCaps>,
    /// Quantities are rounded down to a multiple of this (default 1e-8).
    pub quantity_step: Decimal,
    /// An entry smaller than this notional is refused (default 5, Binance's
    /// minimum notional on USDT pairs).
    pub min_notional: Money,
    /// Share of free cash kept back for fees and slippage, in % (default
    /// 0.5: taker fee 0.1 % + slippage + the gap to the next open).
    pub cash_reserve_pct: Decimal,
}

impl RiskConfig {
    /// The config of `phase` under `policy` for a bot with `capital`; in
    /// LimitedReal the seed hard caps apply.
    pub fn from_policy(
        policy: &RiskPolicySpec,
        phase: Phase,
        capital: Money,
        timeframe: Timeframe,
    ) -> Self {
        Self {
            phase,
            limits: policy.limits_for(phase).clone(),
            tiers: policy.tiers.clone(),
            sizing: policy.sizing.clone(),
            on_halt: policy.on_halt.action,
            capital,
            timeframe,
            hard_caps: HardCaps::for_phase(phase),
            quantity_step: dec!(0.00000001),
            min_notional: Money::from(5),
            cash_reserve_pct: dec!(0.5),
        }
    }

    /// The limits in force: the configured ones with [`Self::hard_caps`]
    /// applied (a missing or looser cap becomes the hard cap).
    pub fn effective_limits(&self) -> PhaseLimits {
        let mut limits = self.limits.clone();
        if let Some(caps) = &self.hard_caps {
            caps.apply(&mut limits);
        }
        limits
    }

    /// The ATR period ATR sizing needs fed (`None` unless sizing is `atr`).
    pub fn atr_period(&self) -> Option<usize> {
        self.sizing.atr.as_ref().map(|a| a.atr_period as usize)
    }

    /// Checks the engine-side settings (the policy itself is validated by
    /// `RiskPolicySpec::validate`).
    pub fn validate(&self) -> Result<(), RiskConfigError> {
        let err = |field: &'static str, message: String| Err(RiskConfigError { field, message });
        if self.capital <= Money::ZERO {
            return err(
                "capital",
                format!("is {}; a bot needs capital above 0", self.capital),
            );
        }
        if self.quantity_step <= Decimal::ZERO {
            return err(
                "quantityStep",
                format!("is {}; use e.g. 0.00000001", self.quantity_step),
            );
        }
        if self.min_notional.is_sign_negative() {
            return err(
                "minNotional",
                format!("is {}; use 0 or more", self.min_notional),
            );
        }
        if self.cash_reserve_pct < Decimal::ZERO || self.cash_reserve_pct >= Decimal::ONE_HUNDRED {
            return err(
                "cashReservePct",
                format!("is {}; use 0 ≤ % < 100", self.cash_reserve_pct),
            );
        }
        Ok(())
    }
}

/// A risk config the engine cannot run with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("risk config `{field}` {message}")]
pub struct RiskConfigError {
    pub field: &'static str,
    pub message: String,
}

/// Figures derived once from the effective limits.
#[derive(Clone, Debug)]
pub(super) struct Resolved {
    pub limits: PhaseLimits,
    pub capital: Money,
    pub max_position: Option<Money>,
    pub max_order: Option<Money>,
    pub daily_loss_pct: Decimal,
    pub daily_loss_abs: Option<Money>,
    pub drawdown_pct: Decimal,
    /// `1 − maxDrawdownPct/100`: the drawdown floor is `peak ×` this.
    pub drawdown_factor: Factor,
    /// `maxTotalLossPct` and `maxTotalLoss` (see `Floors::total`).
    pub total_loss_pct: Decimal,
    pub total_loss_abs: Option<Money>,
    pub take_profit_pct: Option<Decimal>,
    pub take_profit_factor: Option<Factor>,
    pub trailing_pct: Option<Decimal>,
    pub trailing_factor: Option<Factor>,
    pub flash_move_pct: Decimal,
    /// `1 − movePct/100` and `1 + movePct/100`.
    pub flash_factors: (Factor, Factor),
    pub flash_window_ms: i64,
    pub flash_pause_ms: i64,
    pub cooldown_ms: i64,
    pub candle_ms: i64,
}

fn money(a: Amount) -> Money {
    Money::new(a.value())
}

/// `pct` % of `m`.
pub(super) fn pct_of(m: Money, pct: Decimal) -> Money {
    m * pct / Decimal::ONE_HUNDRED
}

/// The smaller of a percentage cap and an optional absolute one, and which
/// limit it is (the absolute one on a tie).
pub(super) fn smaller(
    by_pct: Money,
    pct: Limit,
    abs: Option<Money>,
    abs_limit: Limit,
) -> (Money, Limit) {
    match abs {
        Some(a) if a <= by_pct => (a, abs_limit),
        _ => (by_pct, pct),
    }
}

impl Resolved {
    pub fn new(config: &RiskConfig) -> Self {
        let l = config.effective_limits();
        Self {
            capital: config.capital,
            max_position: l.max_position.map(money),
            max_order: l.max_order_notional.map(money),
            daily_loss_pct: l.daily_loss_limit_pct.value(),
            daily_loss_abs: l.daily_loss_limit.map(money),
            drawdown_pct: l.max_drawdown_pct.value(),
            drawdown_factor: Factor::pct(l.max_drawdown_pct.value(), false),
            total_loss_pct: l.max_total_loss_pct.value(),
            total_loss_abs: l.max_total_loss.map(money),
            take_profit_pct: l.take_profit_pct.map(|p| p.value()),
            take_profit_factor: l.take_profit_pct.map(|p| Factor::pct(p.value(), true)),
            trailing_pct: l.trailing_stop_pct.map(|p| p.value()),
            trailing_factor: l.trailing_stop_pct.map(|p| Factor::pct(p.value(), false)),
            flash_move_pct: l.flash_crash.move_pct.value(),
            flash_factors: (
                Factor::pct(l.flash_crash.move_pct.value(), false),
                Factor::pct(l.flash_crash.move_pct.value(), true),
            ),
            flash_window_ms: i64::from(l.flash_crash.window_minutes) * MINUTE_MS,
            flash_pause_ms: i64::from(l.flash_crash.pause_minutes) * MINUTE_MS,
            cooldown_ms: i64::from(l.symbol_cooldown_minutes) * MINUTE_MS,
            candle_ms: config.timeframe.millis(),
            limits: l,
        }
    }
}

/// The limits of one symbol: its tier's position % and stop-loss.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SymbolRule {
    pub tier: Option<u32>,
    pub max_position_pct: Decimal,
    /// Largest position value, and whether `maxPosition` or `maxPositionPct` sets it.
    pub position_cap: (Money, Limit),
    pub stop_loss_pct: Decimal,
    /// `1 − stopLossPct/100`.
    pub stop_factor: Factor,
}

impl SymbolRule {
    /// A tier can only lower the phase's position %; its stop-loss replaces
    /// the phase's (as `RiskPolicySpec::symbol_limits`).
    pub fn new(config: &RiskConfig, resolved: &Resolved, symbol: &Symbol) -> Self {
        let l = &resolved.limits;
        let (tier, pct, stop) = match tier_for(&config.tiers, symbol.as_str()) {
            Some(t) => (
                Some(t.tier),
                l.max_position_pct.min(t.max_position_pct),
                t.stop_loss_pct,
            ),
            None => (None, l.max_position_pct, l.stop_loss_pct),
        };
        let pct = pct.value();
        Self {
            tier,
            max_position_pct: pct,
            position_cap: smaller(
                pct_of(resolved.capital, pct),
                Limit::MaxPositionPct,
                resolved.max_position,
                Limit::MaxPosition,
            ),
            stop_loss_pct: stop.value(),
            stop_factor: Factor::pct(stop.value(), false),
        }
    }
}
