//! The reply contract: a Chat Completions response whose first choice's
//! message content is JSON `{"signal": "buy"|"sell"|"hold", "confidence":
//! 0..1, "reason": "≤ 200 chars"}` and nothing else. Anything else is an
//! abstention with a named cause. Pure: no I/O.

use std::str::FromStr;

use botfleet_crds::llm::MAX_REASON_CHARS;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::AbstainCause;
use crate::strategy::Signal;

/// The model's vote, as the contract allows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelVote {
    pub signal: Signal,
    pub confidence: f64,
    pub reason: String,
}

/// What the endpoint says the call used (`usage`); cost only if reported.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Decimal>,
}

/// The JSON schema sent as `response_format` (strict), the same rules
/// [`parse_vote`] enforces on whatever comes back.
pub fn response_format() -> serde_json::Value {
    serde_json::json!({
        "type": "json_schema",
        "json_schema": {
            "name": "botfleet_vote",
            "strict": true,
            "schema": {
                "type": "object",
                "properties": {
                    "signal": {"type": "string", "enum": ["buy", "sell", "hold"]},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "reason": {"type": "string", "maxLength": MAX_REASON_CHARS}
                },
                "required": ["signal", "confidence", "reason"],
                "additionalProperties": false
            }
        }
    })
}

/// The message content and usage of a Chat Completions response body.
/// `Err` when the body is not a Chat Completions response at all.
pub fn parse_completion(body: &str) -> Result<(String, Usage), AbstainCause> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|_| AbstainCause::Malformed)?;
    let content = v
        .pointer("/choices/0/message/content")
        .and_then(|c| c.as_str())
        .ok_or(AbstainCause::Malformed)?
        .to_string();
    Ok((content, usage(&v)))
}

fn usage(v: &serde_json::Value) -> Usage {
    let n = |key: &str| {
        v.pointer(&format!("/usage/{key}"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    let (prompt, completion) = (n("prompt_tokens"), n("completion_tokens"));
    let total = match n("total_tokens") {
        0 => prompt + completion,
        t => t,
    };
    // Cost is money: read from the number's text, never through f64 arithmetic.
    let cost = v.pointer("/usage/cost").and_then(|c| match c {
        serde_json::Value::Number(n) => {
            let t = n.to_string();
            Decimal::from_str(&t)
                .or_else(|_| Decimal::from_scientific(&t))
                .ok()
        }
        serde_json::Value::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    });
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
        cost: cost.filter(|c| !c.is_sign_negative()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    signal: String,
    confidence: f64,
    reason: String,
}

/// The vote in a message content, or why it is not one.
pub fn parse_vote(content: &str) -> Result<ModelVote, AbstainCause> {
    // Some servers wrap JSON in a Markdown fence even with a schema.
    let text = content.trim();
    let text = text
        .strip_prefix("```json")
        .or_else(|| text.strip_prefix("```"))
        .and_then(|t| t.strip_suffix("```"))
        .unwrap_or(text)
        .trim();
    let wire: Wire = serde_json::from_str(text).map_err(|_| AbstainCause::Malformed)?;
    let signal = match wire.signal.as_str() {
        "buy" => Signal::Buy,
        "sell" => Signal::Sell,
        "hold" => Signal::Hold,
        _ => return Err(AbstainCause::OutOfSchema),
    };
    if !(wire.confidence.is_finite() && (0.0..=1.0).contains(&wire.confidence)) {
        return Err(AbstainCause::OutOfSchema);
    }
    if wire.reason.chars().count() > MAX_REASON_CHARS {
        return Err(AbstainCause::OutOfSchema);
    }
    Ok(ModelVote {
        signal,
        confidence: wire.confidence,
        reason: wire.reason,
    })
}
