//! The prompt: numbers only (recent candles, indicators, the position and
//! limits), in a fixed order, so the same inputs give the same bytes and
//! the same hash — the key of the replay cache. Pure: no I/O.

use std::collections::VecDeque;
use std::fmt::Write;

use botfleet_crds::llm::MAX_REASON_CHARS;
use sha2::{Digest, Sha256};

use crate::domain::Candle;
use crate::strategy::DecisionContext;

/// The system message: the contract the model is held to.
pub fn system_message() -> String {
    format!(
        "You are one voting member of a trading committee for a spot, long-only crypto bot. \
         You only vote; position size, stops and limits are decided elsewhere and cannot be changed by you. \
         buy = be long, sell = be flat, hold = no new opinion. \
         Answer with JSON only: {{\"signal\": \"buy\"|\"sell\"|\"hold\", \"confidence\": number 0..1, \
         \"reason\": string of at most {MAX_REASON_CHARS} characters}}."
    )
}

/// The default user template (see `docs/llm.md`).
pub const DEFAULT_TEMPLATE: &str = "symbol: {symbol}\ntimeframe: {timeframe}\n\
candles (oldest first; openTimeMs,open,high,low,close,volume):\n{candles}\n\
indicators: {indicators}\nposition: {position}\nlimits: {limits}\n\
Vote on the next candle.";

/// Indicator values shown to the model (`None` while warming up).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PromptIndicators {
    pub rsi14: Option<f64>,
    pub sma20: Option<f64>,
}

/// A rendered prompt and its hash (hex SHA-256 of model, temperature and both messages).
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    pub system: String,
    pub user: String,
    pub hash: String,
}

impl Prompt {
    /// Bytes sent as message text (system + user).
    pub fn len(&self) -> usize {
        self.system.len() + self.user.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Fills `template` (the user's, or [`DEFAULT_TEMPLATE`]).
pub fn render(
    template: Option<&str>,
    model: &str,
    temperature: f64,
    timeframe: &str,
    candles: &VecDeque<Candle>,
    indicators: PromptIndicators,
    context: &DecisionContext,
) -> Prompt {
    let template = template.unwrap_or(DEFAULT_TEMPLATE);
    let mut user = String::with_capacity(template.len() + candles.len() * 64);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        user.push_str(&rest[..i]);
        let (c, after) = (rest.as_bytes()[i], &rest[i + 1..]);
        if after.as_bytes().first() == Some(&c) {
            user.push(c as char);
            rest = &after[1..];
            continue;
        }
        match (c, after.find('}')) {
            (b'{', Some(j)) => {
                field(
                    &mut user,
                    &after[..j],
                    timeframe,
                    candles,
                    indicators,
                    context,
                );
                rest = &after[j + 1..];
            }
            _ => {
                // The CRD refuses this; keep the character rather than guess.
                user.push(c as char);
                rest = after;
            }
        }
    }
    user.push_str(rest);
    let system = system_message();
    let hash = prompt_hash(model, temperature, &system, &user);
    Prompt { system, user, hash }
}

fn field(
    out: &mut String,
    name: &str,
    timeframe: &str,
    candles: &VecDeque<Candle>,
    ind: PromptIndicators,
    ctx: &DecisionContext,
) {
    let opt = |v: Option<f64>| v.map_or("null".to_string(), |x| format!("{x:.6}"));
    match name {
        "symbol" => out.push_str(&ctx.symbol),
        "timeframe" => out.push_str(timeframe),
        "candles" => {
            for (i, c) in candles.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                let _ = write!(
                    out,
                    "{},{},{},{},{},{}",
                    c.open_time,
                    c.open.value().normalize(),
                    c.high.value().normalize(),
                    c.low.value().normalize(),
                    c.close.value().normalize(),
                    c.volume.value().normalize()
                );
            }
        }
        "indicators" => {
            let _ = write!(out, "rsi14={} sma20={}", opt(ind.rsi14), opt(ind.sma20));
        }
        "position" => {
            let _ = write!(
                out,
                "quantity={} avgEntryPrice={} cash={} equity={}",
                ctx.position_quantity.normalize(),
                ctx.avg_entry_price
                    .map_or("null".to_string(), |p| p.normalize().to_string()),
                ctx.cash.normalize(),
                ctx.equity.normalize()
            );
        }
        "limits" => {
            let _ = write!(
                out,
                "maxPositionPct={} maxPosition={} stopLossPct={} halted={}",
                ctx.max_position_pct.normalize(),
                ctx.max_position
                    .map_or("null".to_string(), |p| p.normalize().to_string()),
                ctx.stop_loss_pct.normalize(),
                ctx.halted
            );
        }
        // Unknown names are refused by the CRD; render nothing.
        _ => {}
    }
}

/// Hex SHA-256 over the parts that change the reply, each length-prefixed
/// so no two different prompts share bytes.
pub fn prompt_hash(model: &str, temperature: f64, system: &str, user: &str) -> String {
    let mut h = Sha256::new();
    for part in [model, &format!("{temperature}"), system, user] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}
