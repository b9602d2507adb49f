//! Pre-trade checks: may this entry happen, and how big.
//!
//! Order of the checks (the first that fails is the refusal): a price ≤ 0
//! (bad data), halt latch, an entry hold (the dead-man switch), pause
//! (daily loss, flash crash), trades per day, open positions, the
//! symbol's cooldown, the sizing method, then the caps, which reduce the
//! size: room left under the position cap (the smaller of the tier-adjusted
//! `maxPositionPct` of capital and `maxPosition`), `maxOrderNotional`, and
//! free cash minus the reserve. A capped size under `minNotional` is
//! refused, naming the cap that bound it (`minNotional` if none did).

use super::config::{SymbolRule, pct_of};
use super::engine::RiskEngine;
use super::records::{Approval, Refusal, SizingNote, Verdict};
use super::sizing::{floor_to_step, target};
use super::{DAY_MS, Limit, fmt_time};
use crate::domain::{Money, Price, Quantity, Symbol};
use crate::ledger::Ledger;

impl RiskEngine {
    /// Decides an entry (a buy) of `symbol` at about `price` at time `now`.
    /// `atr` is the symbol's current ATR (needed by `atr` sizing, see
    /// [`RiskEngine::atr_period`]). An approval counts as one of the day's
    /// trades, even if the venue later rejects the order (the safe side).
    pub fn check_entry(
        &mut self,
        now: i64,
        symbol: &Symbol,
        price: Price,
        ledger: &Ledger,
        atr: Option<f64>,
    ) -> Verdict {
        match self.entry(now, symbol, price, ledger, atr) {
            Ok(approval) => {
                self.state.trades_today += 1;
                Verdict::Approve(approval)
            }
            Err((limit, message)) => Verdict::Refuse(Refusal {
                limit,
                symbol: symbol.clone(),
                at: now,
                message,
            }),
        }
    }

    fn entry(
        &mut self,
        now: i64,
        symbol: &Symbol,
        price: Price,
        ledger: &Ledger,
        atr: Option<f64>,
    ) -> Result<Approval, (Limit, String)> {
        if price <= Price::ZERO {
            // Bad market data (every input refuses it; defence in depth):
            // nothing can be sized at a price of 0 without dividing by it.
            return Err((
                Limit::Sizing,
                format!(
                    "price {price} of {symbol} at {} is not positive: no entry on bad market data",
                    fmt_time(now)
                ),
            ));
        }
        let today = now.div_euclid(DAY_MS) * DAY_MS;
        if self.state.trades_day != today {
            self.state.trades_day = today;
            self.state.trades_today = 0;
        }
        if let Some(h) = &self.state.halt {
            return Err((
                Limit::Halted,
                format!(
                    "halted since {} by {} ({}): {}; resume with the halt id",
                    fmt_time(h.at),
                    h.limit,
                    h.id,
                    h.reason
                ),
            ));
        }
        if let Some(h) = &self.hold {
            return Err((
                h.limit,
                format!("entries held since {}: {}", fmt_time(h.since), h.reason),
            ));
        }
        if let Some(p) = self.pause(now) {
            return Err((
                p.limit,
                format!("entries paused until {}: {}", fmt_time(p.until), p.reason),
            ));
        }
        let l = &self.resolved.limits;
        if self.state.trades_today >= l.max_trades_per_day {
            return Err((
                Limit::MaxTradesPerDay,
                format!(
                    "{} entries today, limit {}; next entry after {}",
                    self.state.trades_today,
                    l.max_trades_per_day,
                    fmt_time(today + DAY_MS)
                ),
            ));
        }
        let held = ledger
            .position(symbol)
            .map_or(Quantity::ZERO, |p| p.quantity());
        let open = ledger.open_positions();
        if held.is_zero() && open >= l.max_open_positions as usize {
            return Err((
                Limit::MaxOpenPositions,
                format!("{open} positions open, limit {}", l.max_open_positions),
            ));
        }
        let cooldown_minutes = l.symbol_cooldown_minutes;
        let state = self.symbol(symbol);
        if let Some(until) = state.cooldown_until.filter(|u| now < *u) {
            let left = (until - now + super::MINUTE_MS - 1) / super::MINUTE_MS;
            return Err((
                Limit::SymbolCooldownMinutes,
                format!(
                    "{symbol} is in its {cooldown_minutes} min cooldown after a close; next entry at {} ({left} min left)",
                    fmt_time(until)
                ),
            ));
        }
        let rule = state.rule.clone().expect("symbol() sets the rule");
        let equity = ledger.equity();
        let explain = self.explain;
        let proposal = target(
            &self.config.sizing,
            equity,
            price,
            atr,
            &self.state.kelly,
            explain,
        )
        .map_err(|m| (Limit::Sizing, m))?;

        let (cap, cap_limit) = rule.position_cap;
        let held_value = held * price;
        let room = cap - held_value;
        if room <= Money::ZERO {
            return Err((
                cap_limit,
                format!(
                    "{symbol} position {held_value} is at the cap {cap} ({}); no more may be added",
                    self.cap_words(&rule)
                ),
            ));
        }
        let free = ledger.cash() - pct_of(ledger.cash(), self.config.cash_reserve_pct);
        let mut notional = proposal.notional;
        let mut capped_by = None;
        let mut cap_note = String::new();
        let caps = [
            (Some(room), cap_limit),
            (self.resolved.max_order, Limit::MaxOrderNotional),
            (Some(free.max(Money::ZERO)), Limit::Cash),
        ];
        for (value, limit) in caps {
            if let Some(v) = value.filter(|v| *v < notional) {
                notional = v;
                capped_by = Some(limit);
            }
        }
        if let Some(limit) = capped_by.filter(|_| explain) {
            cap_note = match limit {
                Limit::Cash => format!(
                    "; capped by free cash {} less {} % reserve = {free}",
                    ledger.cash(),
                    self.config.cash_reserve_pct.normalize()
                ),
                Limit::MaxOrderNotional => format!("; capped by maxOrderNotional {notional}"),
                _ => format!(
                    "; capped by {limit}: cap {cap} ({}) − held {held_value} = {room}",
                    self.cap_words(&rule)
                ),
            };
        }
        let quantity = Quantity::new(floor_to_step(
            notional.value() / price.value(),
            self.config.quantity_step,
        ));
        let notional = quantity * price;
        let min = self.config.min_notional;
        if quantity.is_zero() || notional < min {
            return Err((
                capped_by.unwrap_or(Limit::MinNotional),
                format!(
                    "size {notional} ({quantity} at {price}) is below the minimum order {min}: {}{cap_note}",
                    proposal.explanation
                ),
            ));
        }
        Ok(Approval {
            quantity,
            notional,
            price,
            sizing: SizingNote {
                method: proposal.method,
                target: proposal.notional,
                capped_by,
                explanation: if explain {
                    format!(
                        "{}{cap_note} → {quantity} at {price} = {notional}",
                        proposal.explanation
                    )
                } else {
                    String::new()
                },
            },
        })
    }

    /// `tier 1: 25 % of capital 10000 = 2500, maxPosition 250`.
    fn cap_words(&self, rule: &SymbolRule) -> String {
        let by_pct = pct_of(self.resolved.capital, rule.max_position_pct);
        let tier = rule.tier.map(|t| format!("tier {t}: ")).unwrap_or_default();
        let abs = self
            .resolved
            .max_position
            .map(|a| format!(", maxPosition {a}"))
            .unwrap_or_default();
        format!(
            "{tier}{} % of capital {} = {by_pct}{abs}",
            rule.max_position_pct.normalize(),
            self.resolved.capital
        )
    }
}
