//! Why a strategy decided what it did, for the audit log: which indicator,
//! its values on that candle, and the threshold or line it was compared
//! with. Plain numbers (`Copy`, no heap) so building one per candle costs
//! nothing; text is produced only by `Display`, JSON only by `Serialize`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the watched line did against its reference on this candle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Trigger {
    /// Nothing crossed.
    None,
    /// Went from below to above the reference.
    CrossedAbove,
    /// Went from above to below the reference.
    CrossedBelow,
}

/// The reason of a single-indicator strategy (serialized with a `kind` tag).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum IndicatorReason {
    /// The indicators have not seen enough candles yet.
    Warmup { seen: u32, needed: u32 },
    /// `smaFast` against `smaSlow`; `trigger` is what the fast line did.
    SmaCrossover {
        fast: u32,
        slow: u32,
        sma_fast: f64,
        sma_slow: f64,
        trigger: Trigger,
    },
    /// `rsi` against `oversold` (CrossedBelow → buy) and `overbought` (CrossedAbove → sell).
    RsiReversion {
        period: u32,
        rsi: f64,
        oversold: f64,
        overbought: f64,
        trigger: Trigger,
    },
    /// `close` against `lower` (CrossedBelow → buy) and `upper` (CrossedAbove → sell).
    BollingerReversion {
        period: u32,
        std_devs: f64,
        close: f64,
        lower: f64,
        middle: f64,
        upper: f64,
        trigger: Trigger,
    },
    /// The MACD line against its signal line; `trigger` is what the MACD line did.
    MacdTrend {
        fast: u32,
        slow: u32,
        signal: u32,
        macd: f64,
        signal_line: f64,
        histogram: f64,
        trigger: Trigger,
    },
    /// A model's vote on this candle (`hold` when it abstained, with the cause).
    Llm {
        signal: super::Signal,
        confidence: f64,
        abstained: Option<super::llm::AbstainCause>,
    },
}

/// A committee member's standing opinion: its latest non-`Hold` signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vote {
    /// Has not signalled yet.
    Abstain,
    Buy,
    Sell,
}

impl Vote {
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Abstain => "abstain",
            Vote::Buy => "buy",
            Vote::Sell => "sell",
        }
    }
}

/// One member's part in a committee's advice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberVote {
    pub name: String,
    pub weight: f64,
    pub vote: Vote,
    /// This member is the committee's `vetoBy`.
    pub veto: bool,
    /// Why it votes so: the reason of the signal that set its vote (its
    /// latest reason while it abstains).
    pub reason: IndicatorReason,
}

/// The reason of a committee's advice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename = "committee", rename_all = "camelCase")]
pub struct CommitteeReason {
    /// Share of the total weight whose standing vote is buy.
    pub buy_share: f64,
    /// Share of the total weight whose standing vote is sell.
    pub sell_share: f64,
    pub min_agreement: f64,
    /// The committee's own last signal (`abstain` before the first).
    pub standing: Vote,
    /// The signal the veto member blocked on this candle, if any.
    pub vetoed: Option<Vote>,
    /// Every member's vote; filled only when the committee signals or a veto
    /// blocks (empty on an ordinary hold, so holding allocates nothing).
    pub votes: Vec<MemberVote>,
}

/// Why [`Advice`](super::Advice) was given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Reason {
    Indicator(IndicatorReason),
    Committee(CommitteeReason),
}

/// A number for humans: about six significant digits, no float noise
/// (`101.20000000000002` → `101.2`, `0.000012345678` → `0.0000123457`).
pub(crate) struct Num(pub f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if !x.is_finite() || x == 0.0 {
            return write!(f, "{x}");
        }
        let magnitude = x.abs().log10().floor() as i32;
        let decimals = (5 - magnitude).clamp(0, 15) as usize;
        let text = format!("{x:.decimals$}");
        let text = if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.')
        } else {
            &text
        };
        f.write_str(if text == "-0" { "0" } else { text })
    }
}

fn cross<'a>(trigger: Trigger, above: &'a str, below: &'a str, otherwise: &'a str) -> &'a str {
    match trigger {
        Trigger::CrossedAbove => above,
        Trigger::CrossedBelow => below,
        Trigger::None => otherwise,
    }
}

impl fmt::Display for IndicatorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IndicatorReason::Warmup { seen, needed } => {
                write!(f, "warming up: {seen} of {needed} candles seen")
            }
            IndicatorReason::Llm {
                abstained: Some(cause),
                ..
            } => write!(f, "model abstained ({cause})"),
            IndicatorReason::Llm {
                signal, confidence, ..
            } => write!(f, "model voted {signal} (confidence {})", Num(confidence)),
            IndicatorReason::SmaCrossover {
                fast,
                slow,
                sma_fast,
                sma_slow,
                trigger,
            } => {
                let side = if sma_fast > sma_slow {
                    "above (no cross)"
                } else if sma_fast < sma_slow {
                    "below (no cross)"
                } else {
                    "equal to"
                };
                let what = cross(trigger, "crossed above", "crossed below", side);
                write!(
                    f,
                    "sma({fast})={} {what} sma({slow})={}",
                    Num(sma_fast),
                    Num(sma_slow)
                )
            }
            IndicatorReason::RsiReversion {
                period,
                rsi,
                oversold,
                overbought,
                trigger,
            } => {
                let (o, b) = (Num(oversold), Num(overbought));
                let what = match trigger {
                    Trigger::CrossedBelow => format!("fell below oversold {o}"),
                    Trigger::CrossedAbove => format!("rose above overbought {b}"),
                    Trigger::None => format!("no cross of oversold {o} / overbought {b}"),
                };
                write!(f, "rsi({period})={} {what}", Num(rsi))
            }
            IndicatorReason::BollingerReversion {
                period,
                std_devs,
                close,
                lower,
                middle,
                upper,
                trigger,
            } => {
                let what = cross(
                    trigger,
                    "rose above the upper band",
                    "fell below the lower band",
                    "crossed no band",
                );
                write!(
                    f,
                    "close {} {what} (bollinger({period}, {}): lower {}, middle {}, upper {})",
                    Num(close),
                    Num(std_devs),
                    Num(lower),
                    Num(middle),
                    Num(upper)
                )
            }
            IndicatorReason::MacdTrend {
                fast,
                slow,
                signal,
                macd,
                signal_line,
                histogram,
                trigger,
            } => {
                let what = cross(trigger, "crossed above", "crossed below", "did not cross");
                write!(
                    f,
                    "macd({fast},{slow},{signal})={} {what} signal line {} (histogram {})",
                    Num(macd),
                    Num(signal_line),
                    Num(histogram)
                )
            }
        }
    }
}

impl fmt::Display for CommitteeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "committee: buy {} / sell {} of the weight, minAgreement {}",
            Num(self.buy_share),
            Num(self.sell_share),
            Num(self.min_agreement)
        )?;
        if let Some(blocked) = self.vetoed {
            let by = self.votes.iter().find(|v| v.veto).map_or("?", |v| &v.name);
            write!(f, "; {} vetoed by `{by}`", blocked.as_str())?;
        } else if self.standing != Vote::Abstain {
            write!(f, "; standing {}", self.standing.as_str())?;
        }
        for (i, v) in self.votes.iter().enumerate() {
            let sep = if i == 0 { " — " } else { "; " };
            write!(
                f,
                "{sep}{} (weight {}{}): {} because {}",
                v.name,
                Num(v.weight),
                if v.veto { ", veto" } else { "" },
                v.vote.as_str(),
                v.reason
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Indicator(r) => r.fmt(f),
            Reason::Committee(r) => r.fmt(f),
        }
    }
}
