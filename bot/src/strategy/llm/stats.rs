//! What each model member did: the exchanges for the audit log, and the
//! counts for the report and the metrics.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::reply::{ModelVote, Usage};

/// One prompt and its reply, as the audit log stores it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exchange {
    pub member: String,
    pub model: String,
    /// Candle open time the decision was for.
    pub at: i64,
    pub prompt_hash: String,
    /// The user message (the system message is fixed; see docs/llm.md).
    pub prompt: String,
    /// The reply's message content, when one came (cut at 4 KiB).
    pub reply: Option<String>,
    pub latency_ms: u64,
    pub attempts: u32,
    pub usage: Usage,
    pub vote: Option<ModelVote>,
    /// Why the member abstained, when it did.
    pub abstained: Option<String>,
}

/// Longest reply text kept in the audit log.
pub const MAX_AUDIT_REPLY: usize = 4096;

impl Exchange {
    pub fn cut_reply(content: &str) -> String {
        if content.len() <= MAX_AUDIT_REPLY {
            return content.to_string();
        }
        let mut end = MAX_AUDIT_REPLY;
        while !content.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &content[..end])
    }
}

/// Counts of one member over a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberStats {
    pub model: String,
    pub buy: u64,
    pub sell: u64,
    pub hold: u64,
    /// Abstentions by cause (`timeout`, `malformed`, `budgetExhausted`, ...).
    pub abstentions: BTreeMap<String, u64>,
    /// Buy/sell votes followed by a close that moved their way.
    pub hits: u64,
    /// Buy/sell votes scored (a next candle was seen).
    pub scored: u64,
    pub tokens: u64,
    pub cost: Decimal,
    /// Latencies of answered requests, in ms, in order.
    pub latencies_ms: Vec<u64>,
    /// Share of the tightest daily budget limit used at the last decision.
    pub budget_used: f64,
}

impl MemberStats {
    pub(crate) fn count(&mut self, x: &Exchange, budget_used: f64) {
        self.model.clone_from(&x.model);
        match &x.vote {
            Some(v) => match v.signal {
                crate::strategy::Signal::Buy => self.buy += 1,
                crate::strategy::Signal::Sell => self.sell += 1,
                crate::strategy::Signal::Hold => self.hold += 1,
            },
            None => {
                let cause = x.abstained.clone().unwrap_or_default();
                *self.abstentions.entry(cause).or_default() += 1;
            }
        }
        self.tokens += x.usage.total_tokens;
        if let Some(c) = x.usage.cost {
            self.cost += c;
        }
        if x.attempts > 0 && x.reply.is_some() {
            self.latencies_ms.push(x.latency_ms);
        }
        self.budget_used = budget_used;
    }

    pub(crate) fn score(&mut self, hit: bool) {
        self.scored += 1;
        self.hits += u64::from(hit);
    }

    /// Decisions asked for (votes + abstentions).
    pub fn decisions(&self) -> u64 {
        self.buy + self.sell + self.hold + self.abstentions.values().sum::<u64>()
    }

    /// Hit rate of scored buy/sell votes, if any were scored.
    pub fn hit_rate(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.hits as f64 / self.scored as f64)
    }

    /// Median latency of answered requests.
    pub fn median_latency_ms(&self) -> Option<u64> {
        let mut v = self.latencies_ms.clone();
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    }
}
