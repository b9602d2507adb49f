//! Per-tick checks: stops of the open position, the flash-crash breaker,
//! and the account limits on the new equity.
//!
//! Stops are checked against the candle's range, with the only order the
//! candle proves: the levels known before the candle against its low (a
//! stop-loss and the trailing stop, whichever is higher, fires first), then
//! the take-profit against its high — when both are touched the stop wins,
//! the conservative reading — then the new high raises the trailing stop,
//! which the close is checked against.

use super::candle_read::{CandleRead, prices_positive};
use super::config::{Resolved, SymbolRule};
use super::engine::RiskEngine;
use super::flash_window::FlashMove;
use super::level::{CandleF, Factor, Level, approx, cmp_approx};
use super::records::{ExitOrder, ExitReason, Pause, RiskAction, RiskActions};
use super::state::{Levels, SymbolState, Trip};
use super::{Limit, fmt_dec, fmt_time, next_day_start};
use crate::domain::{Candle, Money, Price, Symbol};
use crate::ledger::{Ledger, Position};
use rust_decimal::Decimal;

impl RiskEngine {
    /// One closed candle of `symbol`, after `ledger` was marked at its close.
    /// Returns the exits to send and the pauses/halts raised, empty when
    /// nothing happened (then it does not allocate).
    ///
    /// A candle with a price ≤ 0 is bad data (every input refuses one; this
    /// is defence in depth): it is ignored, so no stop, breaker or
    /// percentage is computed from it.
    pub fn on_candle(&mut self, symbol: &Symbol, candle: &Candle, ledger: &Ledger) -> RiskActions {
        self.tick(symbol, candle, None, ledger, None)
    }

    /// [`Self::on_candle`] as the engine calls it: `equity_f` is the float
    /// view of `ledger`'s equity when the engine worked it out for every
    /// part that reads it (else it is worked out here, only if needed);
    /// `read` is the candle already read by
    /// [`Self::read_candles`] for an engine with these flash settings
    /// ([`Self::can_follow`]), if it was: the same actions, without this
    /// engine's own flash window (which stays as it was).
    #[inline]
    pub fn tick(
        &mut self,
        symbol: &Symbol,
        candle: &Candle,
        read: Option<&CandleRead>,
        ledger: &Ledger,
        equity_f: Option<f64>,
    ) -> RiskActions {
        debug_assert!(equity_f.is_none_or(|f| f == approx(ledger.equity().value())));
        let mut actions = RiskActions::default();
        if !prices_positive(candle) {
            return actions;
        }
        let now = candle.open_time;
        let r = &self.resolved;
        let state = self.state.symbols.entry(symbol);
        if state.rule.is_none() {
            state.rule = Some(SymbolRule::new(&self.config, r, symbol));
        }
        let (cf, flash) = match read {
            Some(read) => (read.cf, read.flash.as_deref().cloned()),
            None => {
                let cf = CandleF::new(candle);
                let flash = state
                    .flash
                    .update(candle, &cf, r.flash_window_ms, &r.flash_factors);
                (cf, flash)
            }
        };
        let exit = match ledger.position(symbol).filter(|p| !p.is_flat()) {
            Some(pos) => track(state, pos, candle, cf, r),
            None => {
                state.trip = None;
                state.levels = None;
                None
            }
        };
        if let Some(mv) = flash {
            self.flash_pause(now, symbol, mv, &mut actions);
        }
        if let Some(e) = exit {
            actions.push(RiskAction::Exit(e));
        }
        self.evaluate_equity(now, ledger.equity(), equity_f, &mut actions);
        actions
    }

    /// The account's equity at `now` (also done by [`Self::on_candle`]):
    /// day roll and losing-day streak, peak, total loss and drawdown halts,
    /// daily loss pause.
    pub fn on_equity(&mut self, now: i64, equity: Money) -> RiskActions {
        let mut actions = RiskActions::default();
        self.evaluate_equity(now, equity, None, &mut actions);
        actions
    }

    /// The account limits on `equity`, whose float view is `ef` if the
    /// caller has it.
    fn evaluate_equity(
        &mut self,
        now: i64,
        equity: Money,
        ef: Option<f64>,
        actions: &mut RiskActions,
    ) {
        if now >= self.state.next_day_start {
            self.roll_day(now, actions);
        }
        let e = equity.value();
        let bits = u128::from_ne_bytes(e.serialize());
        if self.floors.clear_at == Some(bits) {
            // Same day, same floors, same equity: clear, as it was.
            self.state.last_equity = equity;
            self.state.last_update = now;
            return;
        }
        let ef = ef.unwrap_or_else(|| approx(e));
        let s = &mut self.state;
        s.last_equity = equity;
        s.last_update = now;
        if self.floors.peak.cmp(e, ef).is_gt() {
            s.peak_equity = equity;
            self.floors.peak = Level::new(e, ef, Factor::ONE);
            self.floors.drawdown = Level::new(e, ef, self.resolved.drawdown_factor);
        }
        if self.state.halt.is_some() {
            return;
        }
        let s = &self.state;
        let r = &self.resolved;
        let halt = if self.floors.total.cmp(e, ef).is_le() {
            let l = self.floors.total_limit;
            let rebased = if l.base != r.capital {
                ", re-based for capital transfers"
            } else {
                ""
            };
            Some((
                l.limit,
                format!(
                    "loss {} since the phase started with {}{rebased} (equity {equity}), limit {} ({})",
                    l.base - equity,
                    l.base,
                    l.amount,
                    l.limit
                ),
            ))
        } else if self.floors.drawdown.cmp(e, ef).is_le() {
            let dd = (s.peak_equity - equity) / s.peak_equity * Decimal::ONE_HUNDRED;
            Some((
                Limit::MaxDrawdownPct,
                format!(
                    "drawdown {} % from the peak {} (equity {equity}), limit {} %",
                    fmt_dec(dd),
                    s.peak_equity,
                    r.drawdown_pct.normalize()
                ),
            ))
        } else {
            None
        };
        if let Some((limit, reason)) = halt {
            let h = self.latch(now, limit, reason).clone();
            actions.push(RiskAction::Halt(h));
            return;
        }
        let active = self
            .state
            .daily_pause
            .as_ref()
            .is_some_and(|p| p.is_active(now));
        if !active && self.floors.day.cmp(e, ef).is_le() {
            let l = self.floors.day_limit;
            let pause = Pause {
                limit: l.limit,
                since: now,
                until: self.state.next_day_start,
                reason: format!(
                    "loss {} today (day started at {}, equity {equity}), limit {} ({}); no entries until the next UTC day",
                    l.base - equity,
                    l.base,
                    l.amount,
                    l.limit
                ),
            };
            self.state.daily_pause = Some(pause.clone());
            actions.push(RiskAction::Pause(pause));
        } else if !active {
            self.floors.clear_at = Some(bits);
        }
    }

    /// Closes the day(s) before `now`: the day that ended made its last
    /// equity minus its start (days without an update do not count).
    fn roll_day(&mut self, now: i64, actions: &mut RiskActions) {
        let s = &mut self.state;
        let ended = s.next_day_start - super::DAY_MS;
        let pnl = s.last_equity - s.day_start_equity;
        if pnl < Money::ZERO {
            s.losing_days_in_row += 1;
        } else {
            s.losing_days_in_row = 0;
        }
        s.day_start_equity = s.last_equity;
        if let Some(b) = s.rebased.as_mut() {
            b.day_pct = None;
        }
        s.next_day_start = next_day_start(now);
        let streak = s.losing_days_in_row;
        self.refresh_floors();
        let max = self.resolved.limits.max_losing_days_in_row;
        if streak >= max && self.state.halt.is_none() {
            let reason = format!(
                "{streak} losing UTC days in a row (the last, {}, made {}), limit {max}",
                &fmt_time(ended)[..10],
                pnl.round_dp(2)
            );
            let h = self.latch(now, Limit::MaxLosingDaysInRow, reason).clone();
            actions.push(RiskAction::Halt(h));
        }
    }

    fn flash_pause(&mut self, now: i64, symbol: &Symbol, mv: FlashMove, actions: &mut RiskActions) {
        let r = &self.resolved;
        let until = now + r.candle_ms + r.flash_pause_ms;
        if let Some(p) = self.state.flash_pause.as_mut().filter(|p| p.is_active(now)) {
            p.until = p.until.max(until);
            return;
        }
        let pct = (mv.to.value() - mv.from.value())
            .checked_div(mv.from.value())
            .unwrap_or_default()
            * Decimal::ONE_HUNDRED;
        let pause = Pause {
            limit: Limit::FlashCrash,
            since: now,
            until,
            reason: format!(
                "{symbol} moved {} % within {} min ({} at {} → {}), limit {} %; entries paused {} min",
                fmt_dec(pct),
                r.limits.flash_crash.window_minutes,
                mv.from,
                fmt_time(mv.from_time),
                mv.to,
                r.flash_move_pct.normalize(),
                r.limits.flash_crash.pause_minutes
            ),
        };
        self.state.flash_pause = Some(pause.clone());
        actions.push(RiskAction::Pause(pause));
    }
}

/// Follows the open position of a symbol through one candle; an exit when a
/// stop or the target is crossed (once per round trip until it fails).
fn track(
    state: &mut SymbolState,
    pos: &Position,
    candle: &Candle,
    cf: CandleF,
    r: &Resolved,
) -> Option<ExitOrder> {
    let (tp_pct, trail_pct) = (r.take_profit_pct, r.trailing_pct);
    let (tp_factor, trail_factor) = (&r.take_profit_factor, &r.trailing_factor);
    let SymbolState {
        trip, rule, levels, ..
    } = state;
    let rule: &SymbolRule = rule.as_ref().expect("symbol() sets the rule");
    let opened_at = pos.opened_at().unwrap_or(candle.open_time);
    let quantity = pos.quantity();
    let entry_now = || pos.avg_entry_price().unwrap_or(candle.close);
    if trip.as_ref().is_none_or(|t| t.opened_at != opened_at) {
        let entry = entry_now();
        *trip = Some(Trip {
            opened_at,
            quantity,
            entry,
            high: entry,
            exit_pending: false,
        });
        *levels = None;
    }
    let t = trip.as_mut().expect("set above");
    // Representation, not value: an unchanged position keeps its exact
    // decimal, and a spurious change only recomputes the levels.
    if t.quantity.value().unpack() != quantity.value().unpack() {
        t.quantity = quantity;
        t.entry = entry_now();
        t.high = t.high.max(t.entry);
        *levels = None;
    }
    let lv = levels.get_or_insert_with(|| {
        let (entry, high) = (t.entry.value(), t.high.value());
        let ef = approx(entry);
        let hf = approx(high);
        Levels {
            high: hf,
            stop: Level::new(entry, ef, rule.stop_factor),
            take: tp_factor.map(|f| Level::new(entry, ef, f)),
            trail: trail_factor.map(|f| Level::new(high, hf, f)),
        }
    });
    let (low, high, close) = (
        candle.low.value(),
        candle.high.value(),
        candle.close.value(),
    );
    let exit = |t: &mut Trip, reason: ExitReason, level: Price, message: String| {
        t.exit_pending = true;
        Some(ExitOrder {
            symbol: pos.symbol().clone(),
            quantity,
            reason,
            at: candle.open_time,
            trigger_price: level,
            entry_price: t.entry,
            message,
        })
    };
    let pct_words = |p: Option<Decimal>| p.unwrap_or_default().normalize();
    if !t.exit_pending {
        let stop_hit = lv.stop.cmp(low, cf.low).is_le();
        // The higher of the two stops is the one the falling price met first.
        let trail_hit = lv.trail.filter(|tr| tr.cmp(low, cf.low).is_le());
        if let Some(tr) = trail_hit.filter(|tr| !stop_hit || tr.exact() > lv.stop.exact()) {
            let level = Price::new(tr.exact());
            let msg = format!(
                "trailing stop: low {} ≤ {level} ({} % below the high {} since entry)",
                candle.low,
                pct_words(trail_pct),
                t.high
            );
            return exit(t, ExitReason::TrailingStop, level, msg);
        }
        if stop_hit {
            let level = Price::new(lv.stop.exact());
            let msg = format!(
                "stop-loss: low {} ≤ stop {level} (entry {} − {} %)",
                candle.low,
                t.entry,
                rule.stop_loss_pct.normalize()
            );
            return exit(t, ExitReason::StopLoss, level, msg);
        }
        if let Some(tp) = lv.take.filter(|tp| tp.cmp(high, cf.high).is_ge()) {
            let level = Price::new(tp.exact());
            let msg = format!(
                "take-profit: high {} ≥ target {level} (entry {} + {} %)",
                candle.high,
                t.entry,
                pct_words(tp_pct)
            );
            return exit(t, ExitReason::TakeProfit, level, msg);
        }
    }
    if cmp_approx(high, cf.high, t.high.value(), lv.high).is_gt() {
        t.high = candle.high;
        lv.high = cf.high;
        if let Some(f) = trail_factor {
            lv.trail = Some(Level::new(high, cf.high, *f));
        }
        let hit = lv
            .trail
            .filter(|tr| !t.exit_pending && tr.cmp(close, cf.close).is_le());
        if let Some(tr) = hit {
            let level = Price::new(tr.exact());
            let msg = format!(
                "trailing stop: close {} ≤ {level} ({} % below the new high {})",
                candle.close,
                pct_words(trail_pct),
                t.high
            );
            return exit(t, ExitReason::TrailingStop, level, msg);
        }
    }
    None
}
