//! The `llm` strategy kind: a model behind an OpenAI-compatible Chat
//! Completions endpoint votes buy/sell/hold on each closed candle. The model
//! only votes; sizing, stops and every limit stay the risk engine's. The
//! rules that keep a slow or costly model from hurting a bot (timeout under
//! the candle period, a daily budget) live here, once.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::common::{SecretKeyRef, Timeframe, is_k8s_name};
use crate::validation::ValidationErrors;

/// Named fields a user template may use, each replaced by a block of numbers.
pub const TEMPLATE_FIELDS: [&str; 6] = [
    "symbol",
    "timeframe",
    "candles",
    "indicators",
    "position",
    "limits",
];

/// Longest reason a reply may carry, in characters; a longer one is an abstention.
pub const MAX_REASON_CHARS: usize = 200;

/// A model as a strategy or committee member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LlmStrategy {
    /// Base URL of an OpenAI-compatible API, up to and including the version (`https://api.openai.com/v1`, `http://ollama:11434/v1`); `/chat/completions` is appended.
    pub endpoint: String,
    /// Model name as the endpoint knows it (`gpt-4o-mini`, `llama3.1:8b`).
    pub model: String,
    /// Secret key holding the API key (sent as a Bearer token). Omit for a local server without authentication. The key itself never goes in the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeyRef>,
    /// Sampling temperature, 0 (default, most repeatable) to 2.
    #[serde(default)]
    #[schemars(range(min = 0, max = 2))]
    pub temperature: f64,
    /// Deadline of one decision in seconds, retries included (default 10); at most a quarter of the candle period. A model that misses it abstains.
    #[serde(default = "default_timeout_seconds")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: u32,
    /// Retries after a 429 or 5xx reply, with backoff, inside the deadline (default 2, at most 5).
    #[serde(default = "default_max_retries")]
    #[schemars(range(min = 0, max = 5))]
    pub max_retries: u32,
    /// Closed candles shown to the model, newest last (default 20, 1 to 200).
    #[serde(default = "default_lookback")]
    #[schemars(range(min = 1, max = 200))]
    pub lookback_candles: u32,
    /// Optional user prompt with named fields `{symbol}`, `{timeframe}`, `{candles}`, `{indicators}`, `{position}`, `{limits}`; the default template is used when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Per bot and UTC day: after any limit is reached the member abstains until midnight UTC.
    #[serde(default)]
    pub daily_budget: LlmBudget,
}

/// Daily limits of one model member (per bot, reset at 00:00 UTC). Unset = unlimited.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LlmBudget {
    /// Requests per day (each retry counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub requests: Option<u32>,
    /// Tokens per day (prompt + completion, as the endpoint's `usage` reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub tokens: Option<u64>,
    /// Cost per day in the endpoint's currency, when it reports `usage.cost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Amount>,
}

fn default_timeout_seconds() -> u32 {
    10
}
fn default_max_retries() -> u32 {
    2
}
fn default_lookback() -> u32 {
    20
}

impl Default for LlmStrategy {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            model: String::new(),
            api_key_secret_ref: None,
            temperature: 0.0,
            timeout_seconds: default_timeout_seconds(),
            max_retries: default_max_retries(),
            lookback_candles: default_lookback(),
            template: None,
            daily_budget: LlmBudget::default(),
        }
    }
}

impl LlmStrategy {
    /// Candles needed before the first prompt: the lookback, and RSI(14) / SMA(20) of the default indicators.
    pub fn warmup_candles(&self) -> u32 {
        self.lookback_candles.max(21)
    }

    /// The environment variable the engine reads the API key from: the
    /// operator sets it from `apiKeySecretRef`, so both derive it here.
    pub fn api_key_env(&self) -> Option<String> {
        self.api_key_secret_ref.as_ref().map(|r| {
            let raw = format!("{}_{}", r.name, r.key);
            let name: String = raw
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("BOTFLEET_LLM_KEY_{name}")
        })
    }

    /// The longest `timeoutSeconds` a timeframe allows: a quarter of its period.
    pub fn max_timeout_seconds(timeframe: Timeframe) -> u32 {
        timeframe.minutes() * 60 / 4
    }

    /// Every rule at `path` (`spec.llm`); `timeframe` bounds the timeout.
    pub fn check(&self, path: &str, timeframe: Timeframe, errs: &mut ValidationErrors) {
        let e = self.endpoint.trim();
        errs.check(
            (e.starts_with("http://") || e.starts_with("https://")) && e.len() > 8,
            format!("{path}.endpoint"),
            || {
                format!(
                    "`{}` is not an http(s) URL; use the API base, e.g. https://api.openai.com/v1",
                    self.endpoint
                )
            },
        );
        errs.check(
            !e.contains('@') && !e.contains('?'),
            format!("{path}.endpoint"),
            || "the endpoint must not carry credentials or a query; put the API key in a Secret and name it in apiKeySecretRef".into(),
        );
        errs.check(
            !self.model.trim().is_empty(),
            format!("{path}.model"),
            || "name the model, e.g. gpt-4o-mini".into(),
        );
        if let Some(r) = &self.api_key_secret_ref {
            errs.check(
                is_k8s_name(&r.name),
                format!("{path}.apiKeySecretRef.name"),
                || format!("`{}` is not a valid Secret name", r.name),
            );
            errs.check(
                !r.key.trim().is_empty(),
                format!("{path}.apiKeySecretRef.key"),
                || "name the key inside the Secret that holds the API key, e.g. api-key".into(),
            );
        }
        errs.check(
            self.temperature.is_finite() && (0.0..=2.0).contains(&self.temperature),
            format!("{path}.temperature"),
            || {
                format!(
                    "temperature is between 0 and 2 (0 is the most repeatable), got {}",
                    self.temperature
                )
            },
        );
        let max = Self::max_timeout_seconds(timeframe);
        errs.check(
            (1..=max).contains(&self.timeout_seconds),
            format!("{path}.timeoutSeconds"),
            || {
                format!(
                    "timeoutSeconds must be 1 to {max} (a quarter of the {timeframe} candle period), got {}; lower it or use a longer timeframe",
                    self.timeout_seconds
                )
            },
        );
        errs.check(self.max_retries <= 5, format!("{path}.maxRetries"), || {
            format!("maxRetries is at most 5, got {}", self.max_retries)
        });
        errs.check(
            (1..=200).contains(&self.lookback_candles),
            format!("{path}.lookbackCandles"),
            || format!("lookbackCandles is 1 to 200, got {}", self.lookback_candles),
        );
        if let Some(t) = &self.template {
            check_template(t, &format!("{path}.template"), errs);
        }
        let b = &self.daily_budget;
        errs.check(
            b.requests != Some(0),
            format!("{path}.dailyBudget.requests"),
            || "a budget of 0 requests would never ask the model; remove the limit or set at least 1".into(),
        );
        errs.check(
            b.tokens != Some(0),
            format!("{path}.dailyBudget.tokens"),
            || {
                "a budget of 0 tokens would never ask the model; remove the limit or set at least 1"
                    .into()
            },
        );
        errs.check(
            b.cost.is_none_or(|c| !c.value().is_zero()),
            format!("{path}.dailyBudget.cost"),
            || "a cost budget of 0 would never ask the model; remove the limit or set an amount above 0".into(),
        );
    }
}

/// Fields in `{braces}` must be known ones; `{{` and `}}` are literal braces.
fn check_template(template: &str, path: &str, errs: &mut ValidationErrors) {
    errs.check(!template.trim().is_empty(), path, || {
        "the template is empty; remove it to use the default template".into()
    });
    for field in template_fields(template) {
        match field {
            Ok(name) => errs.check(TEMPLATE_FIELDS.contains(&name), path, || {
                format!(
                    "unknown field `{{{name}}}`; use {}",
                    TEMPLATE_FIELDS.map(|f| format!("{{{f}}}")).join(", ")
                )
            }),
            Err(problem) => errs.add(path, problem),
        }
    }
}

/// The `{name}` fields of a template in order; an error for an unclosed brace.
pub fn template_fields(template: &str) -> Vec<Result<&str, String>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        let (c, after) = (rest.as_bytes()[i], &rest[i + 1..]);
        if after.as_bytes().first() == Some(&c) {
            rest = &after[1..];
            continue;
        }
        if c == b'}' {
            out.push(Err(
                "a `}` without `{`; write `}}` for a literal brace".into()
            ));
            rest = after;
            continue;
        }
        match after.find('}') {
            Some(j) => {
                out.push(Ok(&after[..j]));
                rest = &after[j + 1..];
            }
            None => {
                out.push(Err(
                    "a `{` is not closed; write `{{` for a literal brace".into()
                ));
                break;
            }
        }
    }
    out
}

impl crate::strategy::StrategySpec {
    /// The model members of this Strategy: itself when it is `llm`, and
    /// the inline `llm` members of its committee (referenced members are
    /// Strategies of their own).
    pub fn llm_members(&self) -> Vec<&LlmStrategy> {
        let mut out: Vec<&LlmStrategy> = self.llm.iter().collect();
        if let Some(c) = &self.committee {
            out.extend(
                c.members
                    .iter()
                    .filter_map(|m| m.inline.as_ref().and_then(|i| i.llm.as_ref())),
            );
        }
        out
    }
}
