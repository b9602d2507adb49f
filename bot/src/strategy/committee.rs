//! `committee`: weighted voting between single strategies, with a veto.

use super::llm::LlmBackend;
use super::{
    Advice, Candle, CommitteeReason, DecisionContext, IndicatorReason, MemberVote, Reason, Signal,
    SingleStrategy, Strategy, Vote,
};

/// Rounding slack when comparing a weight share with `minAgreement`, so a
/// share that is exactly the threshold on paper (3 × 0.1 of 0.3) counts.
const SHARE_EPSILON: f64 = 1e-9;

#[derive(Clone, Debug)]
struct Member {
    name: String,
    weight: f64,
    strategy: SingleStrategy,
    vote: Vote,
    /// The reason behind `vote` (the latest reason while abstaining).
    reason: IndicatorReason,
}

/// Weighted vote of single strategies, fed the same candles.
///
/// Rules, in order, on every candle:
/// 1. Every member sees the candle. A member's **vote** is its standing
///    opinion: its latest non-`Hold` signal (`abstain` before its first), so
///    event-style members (crossovers) keep voting between their events.
/// 2. `buyShare` / `sellShare` = weight voting buy / sell ÷ the total weight
///    of all members (abstaining weight counts in the total).
/// 3. The outcome is Buy when `buyShare ≥ minAgreement` and
///    `buyShare > sellShare` (Sell likewise); otherwise none. `minAgreement`
///    is a share in (0, 1] as the CRD defines it (0.5 = weighted majority).
/// 4. **Veto**: when the `vetoBy` member votes the opposite of the outcome
///    (sell against a buy, buy against a sell), the outcome is blocked and
///    the committee holds; an abstaining veto member blocks nothing. Its
///    weight counts in the vote like any other.
/// 5. The committee signals only when the outcome differs from its own last
///    signal (like a crossover: one Buy when agreement forms, not one per
///    candle), with confidence = the agreeing share. A blocked outcome is
///    signalled as soon as the veto lifts, if it still holds.
///
/// Members are single strategies (inline or referenced), never committees,
/// as the CRD requires. Warm-up: the longest member warm-up.
#[derive(Clone, Debug)]
pub struct CommitteeStrategy {
    members: Vec<Member>,
    total_weight: f64,
    min_agreement: f64,
    veto: Option<usize>,
    standing: Vote,
}

impl CommitteeStrategy {
    /// `members` are (name, weight, strategy); `veto` indexes into them.
    /// The caller (the blueprint) has validated weights, the threshold and
    /// the veto name.
    pub(crate) fn new(
        members: Vec<(String, f64, SingleStrategy)>,
        min_agreement: f64,
        veto: Option<usize>,
    ) -> Self {
        let members: Vec<Member> = members
            .into_iter()
            .map(|(name, weight, strategy)| Member {
                reason: IndicatorReason::Warmup {
                    seen: 0,
                    needed: u32::try_from(strategy.warmup_candles()).unwrap_or(u32::MAX),
                },
                name,
                weight,
                strategy,
                vote: Vote::Abstain,
            })
            .collect();
        Self {
            total_weight: members.iter().map(|m| m.weight).sum(),
            members,
            min_agreement,
            veto,
            standing: Vote::Abstain,
        }
    }

    fn reason(&self, buy: f64, sell: f64, vetoed: Option<Vote>, with_votes: bool) -> Reason {
        let votes = if with_votes {
            self.members
                .iter()
                .enumerate()
                .map(|(i, m)| MemberVote {
                    name: m.name.clone(),
                    weight: m.weight,
                    vote: m.vote,
                    veto: self.veto == Some(i),
                    reason: m.reason,
                })
                .collect()
        } else {
            Vec::new()
        };
        Reason::Committee(CommitteeReason {
            buy_share: buy,
            sell_share: sell,
            min_agreement: self.min_agreement,
            standing: self.standing,
            vetoed,
            votes,
        })
    }
}

impl Strategy for CommitteeStrategy {
    fn on_candle(&mut self, candle: &Candle) -> Advice {
        let (mut buy, mut sell) = (0.0, 0.0);
        for m in &mut self.members {
            let (signal, reason) = m.strategy.evaluate(candle);
            match signal {
                Signal::Buy => (m.vote, m.reason) = (Vote::Buy, reason),
                Signal::Sell => (m.vote, m.reason) = (Vote::Sell, reason),
                // A model's hold or abstention withdraws its vote.
                Signal::Hold if m.strategy.votes_per_candle() => {
                    (m.vote, m.reason) = (Vote::Abstain, reason)
                }
                Signal::Hold if m.vote == Vote::Abstain => m.reason = reason,
                Signal::Hold => {}
            }
            match m.vote {
                Vote::Buy => buy += m.weight,
                Vote::Sell => sell += m.weight,
                Vote::Abstain => {}
            }
        }
        let (buy, sell) = (buy / self.total_weight, sell / self.total_weight);
        let agrees =
            |share: f64, other: f64| share + SHARE_EPSILON >= self.min_agreement && share > other;
        let (outcome, share) = if agrees(buy, sell) {
            (Vote::Buy, buy)
        } else if agrees(sell, buy) {
            (Vote::Sell, sell)
        } else {
            (Vote::Abstain, 0.0)
        };
        let hold = |reason| Advice {
            signal: Signal::Hold,
            confidence: 0.0,
            reason,
        };
        if outcome == Vote::Abstain || outcome == self.standing {
            return hold(self.reason(buy, sell, None, false));
        }
        let opposite = if outcome == Vote::Buy {
            Vote::Sell
        } else {
            Vote::Buy
        };
        if self.veto.is_some_and(|i| self.members[i].vote == opposite) {
            return hold(self.reason(buy, sell, Some(outcome), true));
        }
        self.standing = outcome;
        Advice {
            signal: if outcome == Vote::Buy {
                Signal::Buy
            } else {
                Signal::Sell
            },
            confidence: share.min(1.0),
            reason: self.reason(buy, sell, None, true),
        }
    }

    fn warmup_candles(&self) -> usize {
        self.members
            .iter()
            .map(|m| m.strategy.warmup_candles())
            .max()
            .unwrap_or(0)
    }

    fn name(&self) -> &str {
        "committee"
    }

    fn observe(&mut self, context: &DecisionContext) {
        for m in &mut self.members {
            m.strategy.observe_context(context);
        }
    }

    fn warm(&mut self, candle: &Candle) {
        for m in &mut self.members {
            m.strategy.warm_on(candle);
        }
    }
}

impl CommitteeStrategy {
    pub(crate) fn has_llm(&self) -> bool {
        self.members.iter().any(|m| m.strategy.votes_per_candle())
    }

    pub(crate) fn set_llm_backend(&mut self, backend: &LlmBackend) {
        for m in &mut self.members {
            m.strategy.set_llm_backend(backend);
        }
    }
}
