//! Restart: read what the store holds, and build the engine from it — fresh
//! on an empty store, restored otherwise (see `engine::snapshot` for how the
//! state comes back exactly). Then, in this order:
//! - the capital: a config capital other than the one the store recorded is
//!   a ledger transfer (`engine::allocation`), stored with the first step;
//! - the phase window: a config whose phase, or whose trading hash (what
//!   trades: strategy, limits, symbols, image), differs from the stored one
//!   starts a new window, recorded as a phase event with the reason (a new
//!   phase also restarts the risk engine's phase; a new hash only the
//!   measurement). Nothing else (capital, `halted`, gates) restarts it.

use std::collections::BTreeSet;

use anyhow::{Context, bail};
use serde_json::json;

use super::feed::ResumeFrom;
use super::persist::{CONFIG_HASH_KEY, SNAPSHOT_KEY, StepBuilder, TRADING_HASH_KEY};
use crate::binance::spot::ClientOrderIds;
use crate::config::EngineConfig;
use crate::domain::{Fill, Symbol};
use crate::engine::{Engine, EngineSnapshot, EventMode};
use crate::execution::PaperConfig;
use crate::performance::EquityCurve;
use crate::store::{EngineState, OrderRecord, PhaseEvent, Store};

/// What the store holds for the bot, read before the feed starts.
pub struct Persisted {
    pub snapshot: Option<EngineSnapshot>,
    pub fills: Vec<Fill>,
    /// Open time of the newest stored candle per symbol.
    pub last_times: Vec<(Symbol, i64)>,
    pub state: EngineState,
    pub open_orders: Vec<OrderRecord>,
    pub config_hash: Option<String>,
    /// The trading hash the stored phase window runs under (`None`: a store
    /// from before it was kept).
    pub trading_hash: Option<String>,
}

impl Persisted {
    pub async fn load(store: &Store) -> anyhow::Result<Persisted> {
        let restored = store.restore().await?;
        let snapshot = store
            .get_value::<EngineSnapshot>(SNAPSHOT_KEY)
            .await
            .context("reading the engine snapshot")?;
        let last_times = store.last_candle_times().await?;
        let config_hash = store.get_value::<String>(CONFIG_HASH_KEY).await?;
        let trading_hash = store.get_value::<String>(TRADING_HASH_KEY).await?;
        Ok(Persisted {
            snapshot,
            fills: restored.fills,
            last_times,
            state: restored.state,
            open_orders: restored.open_orders,
            config_hash,
            trading_hash,
        })
    }

    /// Where the feed starts: after the last stored candle of each symbol.
    pub fn resume_from(&self, cfg: &EngineConfig, warmup: usize) -> ResumeFrom {
        let last = cfg
            .symbols
            .iter()
            .map(|s| {
                self.last_times
                    .iter()
                    .find(|(symbol, _)| symbol == s)
                    .map(|(_, t)| *t)
            })
            .collect();
        ResumeFrom { last, warmup }
    }

    pub fn is_fresh(&self) -> bool {
        self.snapshot.is_none()
    }
}

/// The engine to trade with, and what its start adds to the store.
pub struct Started {
    pub engine: Engine,
    pub setup: StepBuilder,
    pub restored: bool,
}

/// Builds the engine: fresh at `start_time`, or restored from `persisted`
/// (its strategies re-warmed on the store's candles, streamed) with its
/// clock at `restart_now` for a phase change.
pub async fn start(
    store: &Store,
    cfg: EngineConfig,
    paper: PaperConfig,
    persisted: Persisted,
    start_time: i64,
    client_ids: Option<ClientOrderIds>,
    restart_now: impl FnOnce(&Engine) -> i64,
) -> anyhow::Result<Started> {
    let mut setup = StepBuilder::with_client_ids(client_ids);
    setup.positions_changed();
    let phase = cfg.phase.as_str().to_string();
    let Some(snapshot) = persisted.snapshot else {
        if !persisted.fills.is_empty() || !persisted.open_orders.is_empty() {
            bail!(
                "the store holds {} fills and {} open orders but no engine snapshot: it was not \
                 written by `botfleet-bot run`; give this bot a store of its own",
                persisted.fills.len(),
                persisted.open_orders.len()
            );
        }
        let engine = Engine::new(
            cfg,
            paper,
            EquityCurve::bounded(0),
            start_time,
            EventMode::Record,
        )?;
        setup.phase_event(PhaseEvent {
            from: persisted.state.phase.clone(),
            to: phase,
            at: start_time,
            reason: "first start of the engine on this store".into(),
        });
        return Ok(Started {
            engine,
            setup,
            restored: false,
        });
    };
    if snapshot.broker.config() != &paper {
        tracing::info!(
            "the store's paper broker keeps its fees and slippage; --taker-fee-bps, --maker-fee-bps \
             and --slippage-bps apply to a new store only"
        );
    }
    let new_hash = cfg.config_hash.clone();
    let mut engine = Engine::restore(cfg, snapshot, &persisted.fills, std::iter::empty())?;
    store
        .for_each_candle(|c| {
            if let Some(index) = engine.symbol_index(&c.symbol) {
                engine.warm(index, &c.candle);
            }
        })
        .await?;
    check_open_orders(&engine, &persisted.open_orders)?;
    let now = restart_now(&engine);
    if let Some(old) = persisted.config_hash.filter(|h| *h != new_hash) {
        tracing::info!(old = %old, new = %new_hash, "the config changed since the last run");
        setup.control(now, "config-changed", json!({"from": old, "to": new_hash}));
    }
    // The capital first: a window that restarts below starts after the transfer.
    if let Some(t) = engine.apply_allocation(now)? {
        tracing::info!(amount = %t.amount, capital = %t.capital_after, shortfall = %t.shortfall,
            "the config's capital differs from the store's: recorded a capital transfer");
        setup.events(engine.drain_events(), now);
    }
    let stored_hash = persisted.trading_hash.as_deref();
    let stored_phase = persisted.state.phase.as_deref();
    if let Some(reason) = window_restart(
        stored_phase,
        stored_hash,
        &engine.config().trading_hash,
        &phase,
    ) {
        if stored_phase == Some(phase.as_str()) {
            engine.start_window(now);
        } else {
            engine.start_phase(now)?;
        }
        let from = persisted.state.phase.clone();
        tracing::info!(from = ?from, to = %phase, reason = %reason, "a new phase window starts");
        setup.phase_event(PhaseEvent {
            from,
            to: phase,
            at: now,
            reason,
        });
    } else if stored_hash.is_none() {
        tracing::info!(
            "the store keeps no trading hash yet: the window goes on under this config's"
        );
    }
    super::crash_point::reached("restored");
    Ok(Started {
        engine,
        setup,
        restored: true,
    })
}

/// Why the phase window restarts, if it does: the phase changed, or what
/// trades did (the trading hash).
fn window_restart(
    stored: Option<&str>,
    stored_hash: Option<&str>,
    new: &str,
    phase: &str,
) -> Option<String> {
    let phase_changed = stored != Some(phase);
    let trading = stored_hash.filter(|old| *old != new).map(|old| {
        format!(
            "what trades changed (strategy, risk limits, symbols or image: trading hash {} → {})",
            short(old),
            short(new)
        )
    });
    match (phase_changed, trading) {
        (false, None) => None,
        (false, Some(t)) => Some(format!("{t}: a new phase window starts")),
        (true, t) => Some(format!(
            "the config's phase is {phase}, the store's was {}{}: a new phase window starts",
            stored.unwrap_or("none"),
            t.map(|t| format!("; {t}")).unwrap_or_default()
        )),
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The engine's open orders (from the snapshot) must be the store's open
/// orders: both are written by the same transaction.
fn check_open_orders(engine: &Engine, stored: &[OrderRecord]) -> anyhow::Result<()> {
    let engine_open: BTreeSet<u64> = match engine.broker() {
        Some(broker) => broker.open_orders().map(|o| o.id.0).collect(),
        None => engine.venue_open_orders().iter().map(|o| o.id.0).collect(),
    };
    let store: BTreeSet<u64> = stored.iter().map(|o| o.id.0).collect();
    if engine_open != store {
        bail!(
            "the store's open orders {store:?} are not the engine's {engine_open:?}: the store is \
             inconsistent; not trading on it"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::window_restart;

    #[test]
    fn the_window_restarts_on_a_new_phase_or_a_new_trading_hash_only() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        assert_eq!(window_restart(Some("Paper"), Some(&a), &a, "Paper"), None);
        // A store from before the hash was kept goes on.
        assert_eq!(window_restart(Some("Paper"), None, &a, "Paper"), None);
        let traded = window_restart(Some("Paper"), Some(&a), &b, "Paper").unwrap();
        assert_eq!(
            traded,
            "what trades changed (strategy, risk limits, symbols or image: trading hash \
             aaaaaaaaaaaa → bbbbbbbbbbbb): a new phase window starts"
        );
        let both = window_restart(Some("Sandbox"), Some(&a), &b, "Paper").unwrap();
        assert!(
            both.starts_with("the config's phase is Paper, the store's was Sandbox; what trades"),
            "{both}"
        );
        let phase = window_restart(None, None, &a, "Paper").unwrap();
        assert!(phase.contains("the store's was none"), "{phase}");
    }
}
