//! Rust types of the Botfleet custom resources (group `botfleet.dev`,
//! version `v1alpha1`), shared by the operator and the engine:
//!
//! - [`Strategy`] (`strat`): what to trade on,
//! - [`RiskPolicy`] (`risk`): limits per phase, tiers, gates, capital, halt action,
//! - [`TradingBot`] (`tbot`): one bot, its desired phase, and its status,
//! - [`PhaseApproval`] (`papp`): a person's GO for a bot to enter a real-money phase.
//!
//! Each spec has a `validate()` for the rules the schema cannot express, and
//! [`Manifests`] reads a multi-document YAML file the way `kubectl apply`
//! would, so the engine can run the very manifests a user applies.

pub mod amount;
mod bot_status;
pub mod breach;
mod common;
pub mod conditions;
pub mod control_signature;
pub mod crd;
pub mod engine_api;
mod exchange_credentials;
pub mod gates;
pub mod hard_caps;
pub mod image_trust;
pub mod labels;
pub mod ledger_check;
pub mod limits;
pub mod llm;
pub mod manifests;
pub mod phase_approval;
pub mod risk_policy;
pub mod sizing;
pub mod strategy;
mod strategy_check;
pub mod tiers;
pub mod trading_bot;
pub mod trading_hash;
pub mod validation;
mod yaml_docs;

pub use amount::{Amount, Minutes, Percent, SignedAmount};
pub use breach::{Breach, HaltingLimit, breach};
pub use common::{ObjectRef, Phase, SecretKeyRef, SecretRef, Timeframe};
pub use conditions::{ConditionStatus, condition_reasons, condition_types};
pub use crd::{crd_files, crds, crds_yaml};
pub use gates::{Comparison, GateCriteria, GateMeasurement, Gates, LedgerEvidence};
pub use hard_caps::HardCaps;
pub use limits::{FlashCrashBreaker, Limits, PhaseLimits};
pub use llm::{LlmBudget, LlmStrategy};
pub use manifests::{BotBundle, DocumentError, ManifestError, Manifests, SkippedDocument};
pub use phase_approval::{
    ApprovalRejection, ApprovalTarget, ApprovedBot, PhaseApproval, PhaseApprovalSpec,
    approval_reasons,
};
pub use risk_policy::{
    CapitalPolicy, HaltAction, OnHalt, RiskPolicy, RiskPolicySpec, RiskPolicyStatus, StepUp,
    SymbolLimits,
};
pub use sizing::{AtrSizing, FixedFraction, KellySizing, Sizing};
pub use strategy::{
    BollingerReversion, Committee, CommitteeMember, InlineStrategy, MacdTrend, RsiReversion,
    SmaCrossover, Strategy, StrategyKind, StrategySpec, StrategyStatus,
};
pub use tiers::{RiskTier, base_asset, default_tiers};
pub use trading_bot::{
    ApprovalRecord, BotMetrics, BotState, CapitalPeriod, CapitalStatus, EngineSpec, ExchangeSpec,
    GateCriterionStatus, GateStatus, HaltStatus, PHASE_HISTORY_LIMIT, Persistence,
    PersistenceBackend, PhaseTransition, PostgresPersistence, Promotion, SqlitePersistence,
    TradingBot, TradingBotSpec, TradingBotStatus, Venue,
};
pub use trading_hash::{WhatTrades, trading_hash};
pub use validation::{ValidationError, ValidationErrors};

/// API group of every Botfleet resource.
pub const GROUP: &str = "botfleet.dev";
/// API version of every Botfleet resource.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "botfleet.dev/v1alpha1";
