//! `llm`: a model votes buy/sell/hold on each closed candle through an
//! OpenAI-compatible Chat Completions endpoint. It only votes: size, stops
//! and every limit stay the risk engine's, and anything but a well-formed
//! reply in time and within budget is an abstention (`Hold`), counted and
//! audited. See `docs/llm.md` for the prompt contract.
//!
//! - [`prompt`]: numbers only, fixed order, hashed (the replay key);
//! - [`client`]: HTTP with a deadline, retries and backoff;
//! - [`reply`]: the JSON contract;
//! - [`budget`]: requests/tokens/cost per UTC day;
//! - [`cache`]: recorded replies for deterministic backtests;
//! - [`backend`]: replay, record or live, shared by a bot's instances.

pub mod backend;
pub mod budget;
pub mod cache;
pub mod client;
pub mod prompt;
pub mod reply;
pub mod stats;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use botfleet_crds::{LlmStrategy, Timeframe};
use serde::{Deserialize, Serialize};

pub use backend::{Decision, LlmBackend, LlmMode};
pub use stats::{Exchange, MemberStats};

use super::trend::WarmupCounter;
use super::{Candle, DecisionContext, IndicatorReason, Signal, StrategyError};
use crate::indicators::{Indicator, Rsi, Sma, price_to_f64};
use client::ClientConfig;
use prompt::PromptIndicators;

/// Why a model member did not vote on a candle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AbstainCause {
    /// No reply within `timeoutSeconds` (retries included).
    Timeout,
    /// 429 until retries or the deadline ran out.
    RateLimited,
    /// 5xx until retries or the deadline ran out.
    ServerError,
    /// Another 4xx (bad key, unknown model): not retried.
    Refused,
    /// The connection failed.
    Transport,
    /// The body or the message content is not the JSON the contract asks for.
    Malformed,
    /// JSON, but outside the schema (unknown signal, confidence outside 0–1, reason too long).
    OutOfSchema,
    /// The daily budget is spent.
    BudgetExhausted,
    /// Replay found no recorded reply for this prompt.
    NotRecorded,
    /// The Secret's key is not in the engine's environment.
    NoApiKey,
}

impl AbstainCause {
    pub const ALL: [AbstainCause; 10] = [
        AbstainCause::Timeout,
        AbstainCause::RateLimited,
        AbstainCause::ServerError,
        AbstainCause::Refused,
        AbstainCause::Transport,
        AbstainCause::Malformed,
        AbstainCause::OutOfSchema,
        AbstainCause::BudgetExhausted,
        AbstainCause::NotRecorded,
        AbstainCause::NoApiKey,
    ];

    /// The name used in metrics, the audit log and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            AbstainCause::Timeout => "timeout",
            AbstainCause::RateLimited => "rateLimited",
            AbstainCause::ServerError => "serverError",
            AbstainCause::Refused => "refused",
            AbstainCause::Transport => "transport",
            AbstainCause::Malformed => "malformed",
            AbstainCause::OutOfSchema => "outOfSchema",
            AbstainCause::BudgetExhausted => "budgetExhausted",
            AbstainCause::NotRecorded => "notRecorded",
            AbstainCause::NoApiKey => "noApiKey",
        }
    }
}

impl std::fmt::Display for AbstainCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A member's settings: its name in the committee (or the Strategy's
/// name), the spec, and where its API key is found.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmMemberConfig {
    pub name: String,
    pub spec: LlmStrategy,
    pub timeframe: Timeframe,
    /// Environment variable holding the key (see [`LlmStrategy::api_key_env`]).
    pub key_env: Option<String>,
}

impl LlmMemberConfig {
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            endpoint: self.spec.endpoint.trim().to_string(),
            model: self.spec.model.clone(),
            temperature: self.spec.temperature,
            deadline: Duration::from_secs(u64::from(self.spec.timeout_seconds)),
            max_retries: self.spec.max_retries,
        }
    }
}

/// The `llm` strategy for one symbol.
#[derive(Clone, Debug)]
pub struct LlmMember {
    config: Arc<LlmMemberConfig>,
    backend: LlmBackend,
    window: VecDeque<Candle>,
    rsi: Rsi,
    sma: Sma,
    warmup: WarmupCounter,
    context: DecisionContext,
    /// The last buy/sell vote and the close it was made at, to score it.
    last: Option<(Signal, f64)>,
}

impl LlmMember {
    /// Checks the spec (the CRD rules, for `timeframe`) and builds an
    /// offline member; [`Self::set_backend`] connects it.
    pub fn new(spec: &LlmStrategy, timeframe: Timeframe) -> Result<Self, StrategyError> {
        let mut errs = botfleet_crds::ValidationErrors::new();
        spec.check("spec.llm", timeframe, &mut errs);
        errs.into_result().map_err(StrategyError::Invalid)?;
        let rsi = Rsi::new(14).expect("14 is a valid period");
        let sma = Sma::new(20).expect("20 is a valid period");
        Ok(Self {
            config: Arc::new(LlmMemberConfig {
                name: "llm".into(),
                spec: spec.clone(),
                timeframe,
                key_env: spec.api_key_env(),
            }),
            backend: LlmBackend::offline(),
            window: VecDeque::with_capacity(spec.lookback_candles as usize + 1),
            rsi,
            sma,
            warmup: WarmupCounter::new(spec.warmup_candles() as usize),
            context: DecisionContext::default(),
            last: None,
        })
    }

    /// The name budgets, statistics and the audit log use.
    pub fn set_name(&mut self, name: &str) {
        Arc::make_mut(&mut self.config).name = name.to_string();
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn set_backend(&mut self, backend: LlmBackend) {
        self.backend = backend;
    }

    pub fn observe(&mut self, context: &DecisionContext) {
        self.context.clone_from(context);
    }

    pub(crate) fn warmup_needed(&self) -> usize {
        self.warmup.needed()
    }

    fn feed(&mut self, candle: &Candle) -> PromptIndicators {
        let close = price_to_f64(candle.close);
        self.window.push_back(*candle);
        while self.window.len() > self.config.spec.lookback_candles as usize {
            self.window.pop_front();
        }
        self.warmup.tick();
        PromptIndicators {
            rsi14: self.rsi.update(close),
            sma20: self.sma.update(close),
        }
    }

    /// History only: no prompt is sent.
    pub fn warm(&mut self, candle: &Candle) {
        self.feed(candle);
    }

    /// Asks the model about `candle` once warmed up; `Hold` when it abstains.
    pub fn step(&mut self, candle: &Candle) -> (Signal, IndicatorReason) {
        let close = price_to_f64(candle.close);
        if let Some((signal, at)) = self.last.take() {
            let hit = match signal {
                Signal::Buy => close > at,
                _ => close < at,
            };
            self.backend.score(&self.config.name, hit);
        }
        let indicators = self.feed(candle);
        if self.warmup.seen() <= self.warmup.needed() {
            return self.warmup.hold();
        }
        let spec = &self.config.spec;
        let prompt = prompt::render(
            spec.template.as_deref(),
            &spec.model,
            spec.temperature,
            self.config.timeframe.as_str(),
            &self.window,
            indicators,
            &self.context,
        );
        let decision = self.backend.decide(&self.config, &prompt, candle.open_time);
        let (signal, confidence, abstained) = match &decision.vote {
            Ok(v) => (v.signal, v.confidence, None),
            Err(cause) => (Signal::Hold, 0.0, Some(*cause)),
        };
        if signal != Signal::Hold {
            self.last = Some((signal, close));
        }
        self.backend.note(Exchange {
            member: self.config.name.clone(),
            model: spec.model.clone(),
            at: candle.open_time,
            prompt_hash: prompt.hash,
            prompt: prompt.user,
            reply: decision.content.as_deref().map(Exchange::cut_reply),
            latency_ms: u64::try_from(decision.latency.as_millis()).unwrap_or(u64::MAX),
            attempts: decision.attempts,
            usage: decision.usage,
            vote: decision.vote.ok(),
            abstained: abstained.map(|c| c.as_str().to_string()),
        });
        (
            signal,
            IndicatorReason::Llm {
                signal,
                confidence,
                abstained,
            },
        )
    }
}

#[cfg(test)]
mod tests;
