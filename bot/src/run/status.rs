//! The `/status` document (`botfleet_crds::engine_api::EngineStatus`, the
//! contract the operator reads) built from the engine after each step.

use botfleet_crds::engine_api::{
    Allocation, ENGINE_STATUS_API_VERSION, EngineState, EngineStatus, HaltInfo, LimitHit,
    PauseInfo, PositionInfo, WindowMetrics,
};
use chrono::SecondsFormat;

use crate::engine::Engine;

/// What the trading loop knows beyond the engine.
#[derive(Clone, Copy, Debug)]
pub struct Health {
    /// Restored and the feed has delivered (or has nothing left to deliver).
    pub ready: bool,
    /// The store refuses writes, or the live feed went silent or failed.
    pub degraded: bool,
}

/// RFC 3339 in UTC with milliseconds, as the contract wants.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// The state word: a halt first (it matters most to the operator), then
/// starting, degraded, paused, trading.
pub fn state(engine: &Engine, now: i64, health: Health) -> EngineState {
    if engine.risk().halted().is_some() {
        EngineState::Halted
    } else if !health.ready {
        EngineState::Starting
    } else if health.degraded {
        EngineState::Degraded
    } else if engine.risk().pause(now).is_some() || engine.risk().entry_hold().is_some() {
        EngineState::Paused
    } else {
        EngineState::Trading
    }
}

/// The capital transfers, as the contract lists them.
fn allocations(engine: &Engine) -> Vec<Allocation> {
    engine
        .ledger()
        .transfers()
        .iter()
        .map(|t| Allocation {
            at: rfc3339(t.at),
            amount: t.amount.value(),
            capital_after: t.capital_after.value(),
            shortfall: t.shortfall.value(),
        })
        .collect()
}

/// `/status` for `engine` at `now` (the engine's clock).
pub fn build(engine: &Engine, now: i64, engine_started_at: i64, health: Health) -> EngineStatus {
    let cfg = engine.config();
    let perf = engine.performance();
    let w = perf.window().summary(perf.periods_per_year());
    let risk = engine.risk().status(now, engine.ledger());
    let nan = f64::NAN;
    EngineStatus {
        api_version: ENGINE_STATUS_API_VERSION.to_string(),
        bot: cfg.bot.clone(),
        uid: cfg.uid.clone(),
        phase: cfg.phase,
        state: state(engine, now, health),
        config_hash: cfg.config_hash.clone(),
        trading_hash: Some(cfg.trading_hash.clone()),
        engine_started_at: rfc3339(engine_started_at),
        phase_started_at: rfc3339(w.start_time),
        halt: risk.halt.map(|h| HaltInfo {
            id: h.id,
            reason: h.reason,
            at: rfc3339(h.at),
        }),
        // An entry hold (the dead-man switch) lasts until an event, the next
        // poll: it has no `until`, and it is the pause that binds longest.
        pause: match engine.risk().entry_hold() {
            Some(h) => Some(PauseInfo {
                reason: h.reason.clone(),
                until: None,
            }),
            None => risk.pause.map(|p| PauseInfo {
                reason: p.reason,
                until: Some(rfc3339(p.until)),
            }),
        },
        window: WindowMetrics {
            start_equity: w.start_equity.value(),
            money_base: Some((w.equity - w.net_pnl).value()),
            equity: w.equity.value(),
            return_pct: w.return_pct,
            drawdown_pct: w.drawdown_pct,
            max_drawdown_pct: w.max_drawdown_pct,
            trades: w.trades,
            wins: w.wins,
            win_rate_pct: w.win_rate_pct.unwrap_or(nan),
            sharpe: w.sharpe.unwrap_or(nan),
            sortino: w.sortino.unwrap_or(nan),
            profit_factor: w.profit_factor.unwrap_or(nan),
            daily_pnl: w.daily_pnl.value(),
            losing_days_in_a_row: w.losing_days_in_a_row,
            orders: w.orders,
            order_errors: w.order_errors,
        },
        open_positions: engine
            .ledger()
            .positions()
            .filter(|p| !p.is_flat())
            .map(|p| PositionInfo {
                symbol: p.symbol().to_string(),
                quantity: p.quantity().value(),
                average_price: p.avg_entry_price().unwrap_or_default().value(),
                unrealized_pnl: p.unrealized_pnl().value(),
            })
            .collect(),
        open_orders: engine.open_order_count() as u32,
        limits_hit: risk
            .binding
            .into_iter()
            .map(|b| LimitHit {
                limit: b.limit.as_str().to_string(),
                message: b.message,
            })
            .chain(engine.risk().entry_hold().map(|h| LimitHit {
                limit: h.limit.as_str().to_string(),
                message: h.reason.clone(),
            }))
            .collect(),
        flatten_pending: super::flatten::pending(engine),
        allocations: allocations(engine),
        // The trading loop adds its last ledger check.
        ledger_check: None,
    }
}
