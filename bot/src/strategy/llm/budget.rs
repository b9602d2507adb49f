//! A member's daily budget: requests, tokens and cost per bot and UTC day.
//! Pure: the day is the candle's (so a backtest spends like the live bot).

use botfleet_crds::LlmBudget;
use rust_decimal::Decimal;
use serde::Serialize;

use super::reply::Usage;

const DAY_MS: i64 = 86_400_000;

/// What one member has spent today, against its limits.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    #[serde(skip)]
    limits: LlmBudget,
    /// UTC day index (ms since epoch / one day) the counts belong to.
    pub day: i64,
    pub requests: u64,
    pub tokens: u64,
    pub cost: Decimal,
}

/// Which limit was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    Requests,
    Tokens,
    Cost,
}

impl Budget {
    pub fn new(limits: LlmBudget) -> Self {
        Self {
            limits,
            day: i64::MIN,
            requests: 0,
            tokens: 0,
            cost: Decimal::ZERO,
        }
    }

    fn roll(&mut self, now_ms: i64) {
        let day = now_ms.div_euclid(DAY_MS);
        if day != self.day {
            (self.day, self.requests, self.tokens, self.cost) = (day, 0, 0, Decimal::ZERO);
        }
    }

    /// May one more request go out at `now_ms`? Counts it when it may.
    pub fn admit(&mut self, now_ms: i64) -> Result<(), Exhausted> {
        self.roll(now_ms);
        self.exhausted().map_or(Ok(()), Err)?;
        self.requests += 1;
        Ok(())
    }

    /// Adds what a reply reports it used.
    pub fn charge(&mut self, usage: &Usage) {
        self.tokens += usage.total_tokens;
        if let Some(c) = usage.cost {
            self.cost += c;
        }
    }

    /// The first limit reached today, if any.
    pub fn exhausted(&self) -> Option<Exhausted> {
        let l = &self.limits;
        if l.requests.is_some_and(|r| self.requests >= u64::from(r)) {
            Some(Exhausted::Requests)
        } else if l.tokens.is_some_and(|t| self.tokens >= t) {
            Some(Exhausted::Tokens)
        } else if l.cost.is_some_and(|c| self.cost >= c.value()) {
            Some(Exhausted::Cost)
        } else {
            None
        }
    }

    /// Share of the tightest limit used today, 0..=1 (0 without limits).
    pub fn used_share(&self) -> f64 {
        use rust_decimal::prelude::ToPrimitive;
        let l = &self.limits;
        let mut share: f64 = 0.0;
        if let Some(r) = l.requests {
            share = share.max(self.requests as f64 / f64::from(r));
        }
        if let Some(t) = l.tokens {
            share = share.max(self.tokens as f64 / t as f64);
        }
        if let Some(c) = l.cost
            && !c.value().is_zero()
        {
            share = share.max((self.cost / c.value()).to_f64().unwrap_or(1.0));
        }
        share.min(1.0)
    }
}
