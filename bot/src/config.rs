//! The engine's configuration: the very manifests a user applies (Strategy,
//! RiskPolicy, TradingBot, as one multi-document YAML), resolved for one bot.
//! The operator renders the same format into a ConfigMap, with the effective
//! phase in `spec.phase` and the allocated capital in `spec.capital` — one
//! format, one parser (`botfleet_crds::Manifests`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use botfleet_crds::{Manifests, Phase, RiskPolicySpec, StrategySpec, TradingBotSpec};
use sha2::{Digest, Sha256};

use crate::domain::{Money, Symbol, Timeframe};

/// Why a configuration could not be loaded. Display names the file and field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The manifest error is part of the message, not a `source`, so `{:#}`
    // does not print it twice.
    #[error("{}: {error}", path.display())]
    Manifests {
        path: PathBuf,
        error: botfleet_crds::ManifestError,
    },
    #[error("{}: {message}", path.display())]
    Unusable { path: PathBuf, message: String },
}

/// One bot, resolved: everything the engine needs to trade it.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub bot: String,
    /// The TradingBot's UID, when the config names one (the operator's
    /// rendered config does); reported in `/status`.
    pub uid: Option<String>,
    pub strategy_name: String,
    pub strategy: StrategySpec,
    /// Every Strategy in the file by name, for committee members given by reference.
    pub strategies: BTreeMap<String, StrategySpec>,
    pub risk_policy_name: String,
    pub risk_policy: RiskPolicySpec,
    pub bot_spec: TradingBotSpec,
    /// The operator's halt id for `spec.halted` (the TradingBot's
    /// `botfleet.dev/halt-id` annotation in a rendered config): an engine
    /// that starts halted takes it, so the halt keeps its name.
    pub halt_id: Option<String>,
    /// The phase the engine trades in (the manifest's `spec.phase`).
    pub phase: Phase,
    pub capital: Money,
    pub symbols: Vec<Symbol>,
    pub timeframe: Timeframe,
    /// SHA-256 (hex) of the file's bytes: the operator compares it with what it rendered.
    pub config_hash: String,
    /// [`botfleet_crds::trading_hash()`] of what trades (strategy with its
    /// committee members, risk limits, symbols, image): the phase window is
    /// bound to it (see `run::state`).
    pub trading_hash: String,
    /// Where model members' votes come from: offline replay unless the
    /// caller (backtest `--llm`, the `run` command) connects them.
    pub llm: crate::strategy::llm::LlmBackend,
}

impl EngineConfig {
    /// Reads, parses and validates `path`, then picks the bot named `bot`
    /// (or the only bot in the file).
    pub fn load(path: &Path, bot: Option<&str>) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError::Unusable {
            path: path.to_path_buf(),
            message: format!("cannot read the manifests ({e}); check the path given with -f"),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| ConfigError::Unusable {
            path: path.to_path_buf(),
            message: format!("not UTF-8 text ({e}); save the manifests as UTF-8 YAML"),
        })?;
        let wrap = |error| ConfigError::Manifests {
            path: path.to_path_buf(),
            error,
        };
        let manifests = Manifests::from_yaml(&text).map_err(wrap)?;
        manifests
            .validate()
            .map_err(|e| wrap(botfleet_crds::ManifestError::Invalid(e)))?;
        Self::from_manifests(&manifests, bot, text.as_bytes()).map_err(|message| {
            ConfigError::Unusable {
                path: path.to_path_buf(),
                message,
            }
        })
    }

    /// Resolves a bot from already parsed and validated manifests.
    pub fn from_manifests(m: &Manifests, bot: Option<&str>, raw: &[u8]) -> Result<Self, String> {
        let bundle = m.bundle(bot).map_err(|e| e.to_string())?;
        let name = bundle.bot.metadata.name.clone().unwrap_or_default();
        let spec = bundle.bot.spec.clone();
        let timeframe = bundle.strategy.spec.timeframe;
        let strategies = m
            .strategies
            .iter()
            .map(|s| (s.metadata.name.clone().unwrap_or_default(), s.spec.clone()))
            .collect();
        let trading_hash = what_trades_hash(
            &bundle.strategy.spec,
            &strategies,
            &bundle.risk_policy.spec,
            &spec,
        );
        Ok(Self {
            bot: name,
            uid: bundle.bot.metadata.uid.clone(),
            strategy_name: bundle.strategy.metadata.name.clone().unwrap_or_default(),
            strategy: bundle.strategy.spec.clone(),
            strategies,
            risk_policy_name: bundle.risk_policy.metadata.name.clone().unwrap_or_default(),
            risk_policy: bundle.risk_policy.spec.clone(),
            phase: spec.phase,
            capital: Money::new(spec.capital.value()),
            symbols: spec.exchange.symbols.iter().map(Symbol::new).collect(),
            timeframe,
            config_hash: hex(&Sha256::digest(raw)),
            trading_hash,
            bot_spec: spec,
            halt_id: bundle
                .bot
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(botfleet_crds::labels::HALT_ID_ANNOTATION))
                .filter(|id| !id.is_empty())
                .cloned(),
            llm: crate::strategy::llm::LlmBackend::offline(),
        })
    }
}

/// The trading hash over a resolved bot, as the operator computes it over
/// the objects it renders: committee members given by reference, in
/// committee order (inline members are part of the strategy itself).
fn what_trades_hash(
    strategy: &StrategySpec,
    strategies: &BTreeMap<String, StrategySpec>,
    policy: &RiskPolicySpec,
    bot: &TradingBotSpec,
) -> String {
    let members = strategy
        .committee
        .iter()
        .flat_map(|c| &c.members)
        .filter_map(|m| m.strategy_ref.as_ref())
        .filter_map(|r| strategies.get(&r.name))
        .collect();
    botfleet_crds::trading_hash(&botfleet_crds::WhatTrades {
        strategy,
        members,
        policy,
        symbols: &bot.exchange.symbols,
        image: bot.engine.image.as_deref(),
    })
}

#[cfg(test)]
impl EngineConfig {
    /// Test only: the one bot of a manifests text, checked as `kubectl
    /// apply` would check it (a bad fixture panics, naming the step).
    pub(crate) fn from_test_yaml(text: &str) -> Self {
        let m = Manifests::from_yaml(text).expect("test manifests parse");
        m.validate().expect("test manifests are valid");
        Self::from_manifests(&m, None, text.as_bytes()).expect("test bot resolves")
    }
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
