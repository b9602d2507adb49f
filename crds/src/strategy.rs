//! `Strategy` (short name `strat`): what a bot trades on — one built-in kind
//! with typed parameters, plus the candle timeframe.
//!
//! The kind is a set of optional fields (`smaCrossover`, `rsiReversion`, ...)
//! rather than a Rust enum with data: an enum becomes `oneOf` in the schema,
//! which a Kubernetes 1.20 structural schema cannot carry. "Exactly one"
//! is checked by [`StrategySpec::validate`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{ObjectRef, Timeframe};
use crate::llm::LlmStrategy;

pub use crate::strategy_check::StrategyKind;

/// Spec of a Strategy: set exactly one kind.
// Repeated `printcolumn(type_ = ...)` entries look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "botfleet.dev",
    version = "v1alpha1",
    kind = "Strategy",
    plural = "strategies",
    namespaced,
    shortname = "strat",
    category = "botfleet",
    status = "StrategyStatus",
    derive = "PartialEq",
    doc = "What a TradingBot trades on: one built-in strategy kind with typed parameters.",
    printcolumn(
        name = "Timeframe",
        type_ = "string",
        json_path = ".spec.timeframe",
        description = "Candle interval"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the operator accepted the strategy"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StrategySpec {
    /// Candle interval the strategy evaluates: 1m, 5m, 15m, 1h, 4h or 1d.
    #[serde(default)]
    pub timeframe: Timeframe,
    /// Trend following: long when the fast simple moving average crosses above the slow one, flat when it crosses below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sma_crossover: Option<SmaCrossover>,
    /// Mean reversion on the Relative Strength Index: buy when RSI falls below `oversold`, sell when it rises above `overbought`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsi_reversion: Option<RsiReversion>,
    /// Mean reversion on Bollinger Bands: buy below the lower band, sell above the upper band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bollinger_reversion: Option<BollingerReversion>,
    /// Trend following on MACD: long when the MACD line crosses above its signal line, flat when it crosses below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macd_trend: Option<MacdTrend>,
    /// Weighted vote of several strategies, with an optional veto member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committee: Option<Committee>,
    /// A model behind an OpenAI-compatible Chat Completions endpoint votes buy, sell or hold (see docs/llm.md); the risk engine still decides size and limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmStrategy>,
}

/// Simple-moving-average crossover parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SmaCrossover {
    /// Length of the fast moving average, in candles (≥ 1, less than `slow`).
    #[schemars(range(min = 1))]
    pub fast: u32,
    /// Length of the slow moving average, in candles (greater than `fast`).
    #[schemars(range(min = 1))]
    pub slow: u32,
}

impl Default for SmaCrossover {
    fn default() -> Self {
        Self { fast: 10, slow: 30 }
    }
}

/// RSI mean-reversion parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RsiReversion {
    /// RSI lookback in candles (≥ 1).
    #[schemars(range(min = 1))]
    pub period: u32,
    /// Buy when RSI falls below this level (0–100, less than `overbought`).
    #[schemars(range(min = 0, max = 100))]
    pub oversold: f64,
    /// Sell when RSI rises above this level (0–100, greater than `oversold`).
    #[schemars(range(min = 0, max = 100))]
    pub overbought: f64,
}

impl Default for RsiReversion {
    fn default() -> Self {
        Self {
            period: 14,
            oversold: 30.0,
            overbought: 70.0,
        }
    }
}

/// Bollinger-band mean-reversion parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct BollingerReversion {
    /// Moving-average and standard-deviation lookback in candles (≥ 1).
    #[schemars(range(min = 1))]
    pub period: u32,
    /// Band width in standard deviations from the moving average (> 0, at most 10).
    #[schemars(range(min = 0, max = 10))]
    pub std_devs: f64,
}

impl Default for BollingerReversion {
    fn default() -> Self {
        Self {
            period: 20,
            std_devs: 2.0,
        }
    }
}

/// MACD trend parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MacdTrend {
    /// Fast EMA length in candles (≥ 1, less than `slow`).
    #[schemars(range(min = 1))]
    pub fast: u32,
    /// Slow EMA length in candles (greater than `fast`).
    #[schemars(range(min = 1))]
    pub slow: u32,
    /// Signal-line EMA length in candles (≥ 1).
    #[schemars(range(min = 1))]
    pub signal: u32,
}

impl Default for MacdTrend {
    fn default() -> Self {
        Self {
            fast: 12,
            slow: 26,
            signal: 9,
        }
    }
}

/// Weighted voting between member strategies. A signal is acted on when the
/// members voting for it carry at least `minAgreement` of the total weight and
/// the `vetoBy` member (if any) does not vote against it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Committee {
    /// The voting members (at least one). Each is a reference to another Strategy or an inline strategy.
    #[schemars(length(min = 1))]
    pub members: Vec<CommitteeMember>,
    /// Share of the total weight that must agree before acting, in (0, 1]; 0.5 means a weighted majority.
    #[serde(default = "default_min_agreement")]
    #[schemars(range(min = 0, max = 1))]
    pub min_agreement: f64,
    /// Name of the member whose opposing vote blocks any signal (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veto_by: Option<String>,
}

fn default_min_agreement() -> f64 {
    0.5
}

/// One committee member: set exactly one of `strategyRef` or `inline`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommitteeMember {
    /// Name of the member, unique in the committee (used by `vetoBy` and in the audit log).
    pub name: String,
    /// Another Strategy in the same namespace (it must not itself be a committee; its timeframe must match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_ref: Option<ObjectRef>,
    /// A strategy defined in place; it uses the committee's timeframe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<InlineStrategy>,
    /// Voting weight (> 0).
    #[serde(default = "default_weight")]
    #[schemars(range(min = 0))]
    pub weight: f64,
}

fn default_weight() -> f64 {
    1.0
}

/// An inline committee member: exactly one of the non-committee kinds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InlineStrategy {
    /// Simple-moving-average crossover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sma_crossover: Option<SmaCrossover>,
    /// RSI mean reversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsi_reversion: Option<RsiReversion>,
    /// Bollinger-band mean reversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bollinger_reversion: Option<BollingerReversion>,
    /// MACD trend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macd_trend: Option<MacdTrend>,
    /// A model voting through an OpenAI-compatible endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmStrategy>,
}

/// Status of a Strategy, written by the operator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrategyStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`: the spec passed validation (reason and message say why not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
