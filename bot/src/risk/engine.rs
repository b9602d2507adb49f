//! The risk engine: construction, persistence, halt and resume, status.
//! Entries are in `entry.rs`, ticks in `tick.rs`.

use super::config::{Resolved, RiskConfig, RiskConfigError, SymbolRule};
use super::level::{Level, approx};
use super::loss_base::{LossLimit, loss_limit};
use super::records::{Binding, ExitOrder, ExitReason, Halt, Pause, ResumeError, RiskStatus};
use super::state::{RiskState, SymbolState};
use super::{Limit, fmt_time, next_day_start};
use crate::domain::{Money, Quantity, Symbol};
use crate::ledger::{ClosedTrade, Ledger};
use rust_decimal::Decimal;

/// One bot's risk engine (see the module docs for the call order).
#[derive(Clone, Debug)]
pub struct RiskEngine {
    pub(super) config: RiskConfig,
    pub(super) resolved: Resolved,
    pub(super) state: RiskState,
    pub(super) floors: Floors,
    /// Entries held from outside (see `control.rs`); not persisted.
    pub(super) hold: Option<super::records::EntryHold>,
    /// Whether approvals carry their sizing explanation (see
    /// [`RiskEngine::set_explain`]).
    pub(super) explain: bool,
}

/// Equity levels that trip a limit, rebuilt when their base changes so a
/// tick costs float comparisons only (see `level.rs`).
#[derive(Clone, Debug)]
pub(super) struct Floors {
    /// The equity peak as a level (a new peak moves the drawdown floor).
    pub peak: Level,
    /// Equity at or below which the drawdown from the peak halts.
    pub drawdown: Level,
    /// Equity at or below which the total loss halts, and the limit.
    pub total: Level,
    pub total_limit: LossLimit,
    /// Equity at or below which today's loss pauses entries, and the limit.
    pub day: Level,
    pub day_limit: LossLimit,
    /// The equity (its decimal's bits) an evaluation last found clear of
    /// every floor, no pause in force. Until the day ends or the floors
    /// move (`refresh_floors` clears it), the same equity is clear again: a
    /// flat account skips the comparisons.
    pub clear_at: Option<u128>,
}

impl RiskEngine {
    /// A fresh engine for a phase that starts at `now` with `equity`.
    pub fn new(config: RiskConfig, now: i64, equity: Money) -> Result<Self, RiskConfigError> {
        let state = RiskState {
            started_at: now,
            peak_equity: equity,
            last_equity: equity,
            last_update: now,
            day_start_equity: equity,
            next_day_start: next_day_start(now),
            losing_days_in_row: 0,
            trades_today: 0,
            trades_day: now.div_euclid(super::DAY_MS) * super::DAY_MS,
            daily_pause: None,
            flash_pause: None,
            halt: None,
            halt_seq: 0,
            kelly: Default::default(),
            symbols: Default::default(),
            rebased: None,
        };
        Self::restore(config, state)
    }

    /// An engine continuing from a persisted [`RiskState`].
    pub fn restore(config: RiskConfig, state: RiskState) -> Result<Self, RiskConfigError> {
        config.validate()?;
        let resolved = Resolved::new(&config);
        let unset = LossLimit {
            floor: Money::ZERO,
            amount: Money::ZERO,
            limit: Limit::MaxTotalLossPct,
            base: Money::ZERO,
        };
        let mut engine = Self {
            config,
            resolved,
            state,
            floors: Floors {
                peak: Level::fixed(Decimal::ZERO),
                drawdown: Level::fixed(Decimal::ZERO),
                total: Level::fixed(Decimal::ZERO),
                total_limit: unset,
                day: Level::fixed(Decimal::ZERO),
                day_limit: unset,
                clear_at: None,
            },
            hold: None,
            explain: true,
        };
        engine.refresh_floors();
        Ok(engine)
    }

    /// With `false`, an approval's [`super::SizingNote::explanation`] (and
    /// the sizing words of a refusal) stay empty: for a backtest that keeps
    /// no log, where formatting them costs more than deciding. Decisions
    /// and numbers are the same either way.
    pub fn set_explain(&mut self, explain: bool) {
        self.explain = explain;
    }

    /// A snapshot of the state to persist.
    pub fn state(&self) -> &RiskState {
        &self.state
    }

    pub fn config(&self) -> &RiskConfig {
        &self.config
    }

    /// The limits in force (hard caps applied).
    pub fn limits(&self) -> &botfleet_crds::PhaseLimits {
        &self.resolved.limits
    }

    /// The ATR period the engine loop should feed [`Self::check_entry`] with
    /// (`None` unless sizing is `atr`).
    pub fn atr_period(&self) -> Option<usize> {
        self.config.atr_period()
    }

    /// New limits for the same phase (the RiskPolicy was edited); the state
    /// carries over.
    pub fn reconfigure(&mut self, config: RiskConfig) -> Result<(), RiskConfigError> {
        config.validate()?;
        self.resolved = Resolved::new(&config);
        self.config = config;
        for s in self.state.symbols.values_mut() {
            s.rule = None;
            s.levels = None;
        }
        self.refresh_floors();
        Ok(())
    }

    /// A new phase starts at `now` with `equity`: new limits and capital, the
    /// equity peak, the losing-day streak and the loss bases (the config's
    /// capital again, see [`Self::set_capital_base`]) start over. The halt latch,
    /// pauses, cooldowns, trades today and stop tracking carry over.
    pub fn start_phase(
        &mut self,
        config: RiskConfig,
        now: i64,
        equity: Money,
    ) -> Result<(), RiskConfigError> {
        self.reconfigure(config)?;
        self.state.started_at = now;
        self.state.peak_equity = equity;
        self.state.last_equity = equity;
        self.state.losing_days_in_row = 0;
        self.state.rebased = None;
        self.refresh_floors();
        Ok(())
    }

    pub(super) fn refresh_floors(&mut self) {
        let r = &self.resolved;
        let s = &self.state;
        let peak = s.peak_equity.value();
        self.floors.peak = Level::fixed(peak);
        self.floors.drawdown = Level::new(peak, approx(peak), r.drawdown_factor);
        // Without transfers both bases are the capital (see `transfer.rs`).
        let (pct_base, abs_base) = s
            .rebased
            .map_or((r.capital, r.capital), |b| (b.total_pct, b.total_abs));
        self.floors.total_limit = loss_limit(
            (pct_base, r.total_loss_pct, Limit::MaxTotalLossPct),
            (abs_base, r.total_loss_abs, Limit::MaxTotalLoss),
        );
        self.floors.total = Level::fixed(self.floors.total_limit.floor.value());
        let day_pct = s.rebased.and_then(|b| b.day_pct);
        self.floors.day_limit = loss_limit(
            (
                day_pct.unwrap_or(s.day_start_equity),
                r.daily_loss_pct,
                Limit::DailyLossLimitPct,
            ),
            (s.day_start_equity, r.daily_loss_abs, Limit::DailyLossLimit),
        );
        self.floors.day = Level::fixed(self.floors.day_limit.floor.value());
        self.floors.clear_at = None;
    }

    /// The per-symbol state, created on first sight (the only allocation).
    pub(super) fn symbol(&mut self, symbol: &Symbol) -> &mut SymbolState {
        let s = self.state.symbols.entry(symbol);
        if s.rule.is_none() {
            s.rule = Some(SymbolRule::new(&self.config, &self.resolved, symbol));
        }
        s
    }

    /// A round trip closed (from `FillOutcome::closed_trade`): feeds Kelly
    /// sizing, starts the symbol's cooldown, ends its stop tracking.
    pub fn on_trade_closed(&mut self, trade: &ClosedTrade) {
        self.state.kelly.record(trade.pnl);
        let cooldown = self.resolved.cooldown_ms;
        let s = self.symbol(&trade.symbol);
        s.trip = None;
        s.levels = None;
        if cooldown > 0 {
            s.cooldown_until = Some(trade.closed_at + cooldown);
        }
    }

    /// The exit of `symbol` ended without closing the position (rejected,
    /// canceled, expired): its stops may fire again.
    pub fn exit_failed(&mut self, symbol: &Symbol) {
        if let Some(t) = self
            .state
            .symbols
            .get_mut(symbol)
            .and_then(|s| s.trip.as_mut())
        {
            t.exit_pending = false;
        }
    }

    /// Exits are never refused: the quantity a sell of `requested` may have,
    /// which is what is held at most (zero when flat).
    pub fn exit_quantity(&self, symbol: &Symbol, requested: Quantity, ledger: &Ledger) -> Quantity {
        let held = ledger
            .position(symbol)
            .map_or(Quantity::ZERO, |p| p.quantity());
        requested.min(held).max(Quantity::ZERO)
    }

    /// Sets the latch for a manual halt (the kill switch, `POST /v1/halt`).
    /// Already halted: the existing halt stays and is returned.
    pub fn halt(&mut self, now: i64, reason: impl Into<String>) -> Halt {
        self.latch_named(now, Limit::Halted, reason.into(), None)
            .clone()
    }

    /// A manual halt named `id` by the caller (the operator's halt id, so
    /// both sides name it alike); an empty id gets the engine's own name.
    /// Already halted: the existing halt and its id stay.
    pub fn halt_with_id(&mut self, now: i64, reason: impl Into<String>, id: &str) -> Halt {
        let id = (!id.is_empty()).then(|| id.to_string());
        self.latch_named(now, Limit::Halted, reason.into(), id)
            .clone()
    }

    /// Sets the halt latch unless already set; returns the halt in force.
    pub(super) fn latch(&mut self, now: i64, limit: Limit, reason: String) -> &Halt {
        self.latch_named(now, limit, reason, None)
    }

    fn latch_named(&mut self, now: i64, limit: Limit, reason: String, id: Option<String>) -> &Halt {
        if self.state.halt.is_none() {
            self.state.halt_seq += 1;
            let id = id.unwrap_or_else(|| format!("halt-{now}-{}", self.state.halt_seq));
            self.state.halt = Some(Halt {
                id,
                limit,
                at: now,
                reason,
                action: self.config.on_halt,
            });
        }
        self.state.halt.as_ref().expect("set above")
    }

    /// Clears the halt latch if `halt_id` is the current halt's id. The
    /// drawdown peak restarts at the last equity and the losing-day streak
    /// at 0, so those limits measure from the resume; the total loss still
    /// counts from the phase's capital, re-based by transfers (past it, the
    /// next tick halts again until the phase changes).
    pub fn resume(&mut self, halt_id: &str) -> Result<Halt, ResumeError> {
        match &self.state.halt {
            None => Err(ResumeError::NotHalted {
                given: halt_id.to_string(),
            }),
            Some(h) if h.id != halt_id => Err(ResumeError::StaleHaltId {
                given: halt_id.to_string(),
                current: h.id.clone(),
            }),
            Some(_) => {
                self.state.peak_equity = self.state.last_equity;
                self.state.losing_days_in_row = 0;
                self.refresh_floors();
                Ok(self.state.halt.take().expect("matched above"))
            }
        }
    }

    /// The halt in force.
    pub fn halted(&self) -> Option<&Halt> {
        self.state.halt.as_ref()
    }

    /// The active pause that lasts longest.
    pub fn pause(&self, now: i64) -> Option<&Pause> {
        [&self.state.daily_pause, &self.state.flash_pause]
            .into_iter()
            .flatten()
            .filter(|p| p.is_active(now))
            .max_by_key(|p| p.until)
    }

    /// Exit orders closing every open position (a halt with `flatten`).
    pub fn flatten(&mut self, now: i64, ledger: &Ledger) -> Vec<ExitOrder> {
        let mut exits = Vec::new();
        for p in ledger.positions() {
            let entry = p.avg_entry_price().unwrap_or_default();
            exits.push(ExitOrder {
                symbol: p.symbol().clone(),
                quantity: p.quantity(),
                reason: ExitReason::Flatten,
                at: now,
                trigger_price: p.mark_price(),
                entry_price: entry,
                message: format!(
                    "flatten on halt: close {} {} at market (mark {}, entry {entry})",
                    p.quantity(),
                    p.symbol(),
                    p.mark_price()
                ),
            });
        }
        for e in &exits {
            if let Some(t) = self
                .state
                .symbols
                .get_mut(&e.symbol)
                .and_then(|s| s.trip.as_mut())
            {
                t.exit_pending = true;
            }
        }
        exits
    }

    /// Halt, pause and the limits currently binding, for `/status`.
    pub fn status(&self, now: i64, ledger: &Ledger) -> RiskStatus {
        let mut binding = Vec::new();
        let l = &self.resolved.limits;
        if let Some(h) = &self.state.halt {
            binding.push(Binding {
                limit: h.limit,
                message: format!("halted since {} ({}): {}", fmt_time(h.at), h.id, h.reason),
            });
        }
        for p in [&self.state.daily_pause, &self.state.flash_pause]
            .into_iter()
            .flatten()
        {
            if p.is_active(now) {
                binding.push(Binding {
                    limit: p.limit,
                    message: format!("entries paused until {}: {}", fmt_time(p.until), p.reason),
                });
            }
        }
        let today = now.div_euclid(super::DAY_MS) * super::DAY_MS;
        let trades = if self.state.trades_day == today {
            self.state.trades_today
        } else {
            0
        };
        if trades >= l.max_trades_per_day {
            binding.push(Binding {
                limit: Limit::MaxTradesPerDay,
                message: format!("{trades} entries today, limit {}", l.max_trades_per_day),
            });
        }
        let open = ledger.open_positions();
        if open >= l.max_open_positions as usize {
            binding.push(Binding {
                limit: Limit::MaxOpenPositions,
                message: format!("{open} positions open, limit {}", l.max_open_positions),
            });
        }
        for (symbol, s) in self.state.symbols.iter() {
            if let Some(until) = s.cooldown_until.filter(|u| now < *u) {
                binding.push(Binding {
                    limit: Limit::SymbolCooldownMinutes,
                    message: format!("{symbol} in cooldown until {}", fmt_time(until)),
                });
            }
        }
        RiskStatus {
            halt: self.state.halt.clone(),
            pause: self.pause(now).cloned(),
            binding,
        }
    }
}
