//! The hash of what trades: the strategy (with its committee members), the
//! risk limits, tiers and sizing, the symbols and the engine image. A gate
//! is earned under one such hash; any change to these restarts the phase
//! window, so a gate earned by one config never promotes another. The
//! engine (over its config file) and the operator (over the resolved
//! objects) both compute it here, from the same data.
//!
//! What does not trade is left out on purpose: gates, the capital schedule,
//! the halt action, the phase and the capital itself (those move the bot
//! along; they do not change how it trades).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::risk_policy::RiskPolicySpec;
use crate::strategy::StrategySpec;

/// The inputs of [`trading_hash`].
#[derive(Clone, Debug, Serialize)]
pub struct WhatTrades<'a> {
    /// The bot's Strategy.
    pub strategy: &'a StrategySpec,
    /// The Strategies its committee references, in committee order.
    pub members: Vec<&'a StrategySpec>,
    /// The RiskPolicy (only its limits, tiers and sizing count).
    #[serde(skip)]
    pub policy: &'a RiskPolicySpec,
    /// `spec.exchange.symbols`.
    pub symbols: &'a [String],
    /// The engine image (`spec.engine.image`, as the operator renders it).
    pub image: Option<&'a str>,
}

/// SHA-256 (hex) of what trades.
pub fn trading_hash(w: &WhatTrades<'_>) -> String {
    let doc = serde_json::json!({
        "strategy": w.strategy,
        "members": w.members,
        "limits": w.policy.limits,
        "tiers": w.policy.tiers,
        "sizing": w.policy.sizing,
        "symbols": w.symbols,
        "image": w.image,
    });
    let bytes = serde_json::to_vec(&doc).expect("specs serialize");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl crate::Manifests {
    /// [`trading_hash`] of the bot in `bundle`, with the committee members
    /// its Strategy references (in committee order) looked up in this file.
    pub fn trading_hash(&self, bundle: &crate::BotBundle<'_>) -> String {
        let strategy = &bundle.strategy.spec;
        let members = strategy
            .committee
            .iter()
            .flat_map(|c| &c.members)
            .filter_map(|m| m.strategy_ref.as_ref())
            .filter_map(|r| self.strategy(&r.name))
            .map(|s| &s.spec)
            .collect();
        let spec = &bundle.bot.spec;
        trading_hash(&WhatTrades {
            strategy,
            members,
            policy: &bundle.risk_policy.spec,
            symbols: &spec.exchange.symbols,
            image: spec.engine.image.as_deref(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strategy(fast: u32) -> StrategySpec {
        serde_json::from_value(
            serde_json::json!({"timeframe": "1h", "smaCrossover": {"fast": fast, "slow": 30}}),
        )
        .unwrap()
    }

    #[test]
    fn what_trades_changes_the_hash_and_what_does_not_trade_does_not() {
        let s = strategy(10);
        let policy = RiskPolicySpec::default();
        let symbols = vec!["BTCUSDT".to_string()];
        let base = WhatTrades {
            strategy: &s,
            members: vec![],
            policy: &policy,
            symbols: &symbols,
            image: Some("engine:1"),
        };
        let h = trading_hash(&base);
        assert_eq!(h.len(), 64);
        assert_eq!(trading_hash(&base.clone()), h, "deterministic");

        let other = strategy(12);
        assert_ne!(
            trading_hash(&WhatTrades {
                strategy: &other,
                ..base.clone()
            }),
            h
        );
        let mut looser = policy.clone();
        looser.limits.paper.max_drawdown_pct = crate::Percent::whole(50);
        assert_ne!(
            trading_hash(&WhatTrades {
                policy: &looser,
                ..base.clone()
            }),
            h
        );
        let eth = vec!["ETHUSDT".to_string()];
        assert_ne!(
            trading_hash(&WhatTrades {
                symbols: &eth,
                ..base.clone()
            }),
            h
        );
        assert_ne!(
            trading_hash(&WhatTrades {
                image: Some("engine:2"),
                ..base.clone()
            }),
            h
        );

        // Gates, the capital schedule and the halt action do not trade.
        let mut gates = policy.clone();
        gates.gates.paper_to_sandbox.min_trades = 1;
        gates.capital.step_interval_days = 1;
        assert_eq!(
            trading_hash(&WhatTrades {
                policy: &gates,
                ..base
            }),
            h
        );
    }
}
