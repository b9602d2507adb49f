//! Validation of Strategy specs and the [`StrategyKind`] view: "exactly one
//! kind", periods, fast < slow, and the committee rules.

use std::collections::BTreeSet;

use crate::common::Timeframe;
use crate::llm::LlmStrategy;
use crate::strategy::{
    BollingerReversion, Committee, InlineStrategy, MacdTrend, RsiReversion, SmaCrossover,
    StrategySpec,
};
use crate::validation::ValidationErrors;

/// The kind a [`StrategySpec`] or [`InlineStrategy`] selects, borrowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StrategyKind<'a> {
    /// `smaCrossover`.
    SmaCrossover(&'a SmaCrossover),
    /// `rsiReversion`.
    RsiReversion(&'a RsiReversion),
    /// `bollingerReversion`.
    BollingerReversion(&'a BollingerReversion),
    /// `macdTrend`.
    MacdTrend(&'a MacdTrend),
    /// `committee` (only at the top level of a Strategy).
    Committee(&'a Committee),
    /// `llm`.
    Llm(&'a LlmStrategy),
}

impl StrategyKind<'_> {
    /// The field name of the kind (`smaCrossover`).
    pub fn name(&self) -> &'static str {
        match self {
            StrategyKind::SmaCrossover(_) => "smaCrossover",
            StrategyKind::RsiReversion(_) => "rsiReversion",
            StrategyKind::BollingerReversion(_) => "bollingerReversion",
            StrategyKind::MacdTrend(_) => "macdTrend",
            StrategyKind::Committee(_) => "committee",
            StrategyKind::Llm(_) => "llm",
        }
    }

    /// Candles needed before the first signal (the longest lookback).
    pub fn warmup_candles(&self) -> u32 {
        match self {
            StrategyKind::SmaCrossover(p) => p.slow,
            StrategyKind::RsiReversion(p) => p.period + 1,
            StrategyKind::BollingerReversion(p) => p.period,
            StrategyKind::MacdTrend(p) => p.slow + p.signal,
            StrategyKind::Llm(p) => p.warmup_candles(),
            StrategyKind::Committee(c) => c
                .members
                .iter()
                .filter_map(|m| m.inline.as_ref().and_then(InlineStrategy::kind))
                .map(|k| k.warmup_candles())
                .max()
                .unwrap_or(0),
        }
    }

    fn check(&self, path: &str, timeframe: Timeframe, errs: &mut ValidationErrors) {
        match self {
            StrategyKind::SmaCrossover(p) => {
                check_period(p.fast, &format!("{path}.fast"), errs);
                check_period(p.slow, &format!("{path}.slow"), errs);
                errs.check(p.fast < p.slow, format!("{path}.fast"), || {
                    format!(
                        "fast ({}) must be less than slow ({}); swap them or lower fast",
                        p.fast, p.slow
                    )
                });
            }
            StrategyKind::RsiReversion(p) => {
                check_period(p.period, &format!("{path}.period"), errs);
                for (name, v) in [("oversold", p.oversold), ("overbought", p.overbought)] {
                    errs.check((0.0..=100.0).contains(&v), format!("{path}.{name}"), || {
                        format!("RSI levels are between 0 and 100, got {v}")
                    });
                }
                errs.check(
                    p.oversold < p.overbought,
                    format!("{path}.oversold"),
                    || {
                        format!(
                            "oversold ({}) must be below overbought ({}), e.g. 30 and 70",
                            p.oversold, p.overbought
                        )
                    },
                );
            }
            StrategyKind::BollingerReversion(p) => {
                check_period(p.period, &format!("{path}.period"), errs);
                errs.check(p.period >= 2, format!("{path}.period"), || {
                    "a standard deviation needs at least 2 candles; use 20".into()
                });
                errs.check(p.std_devs > 0.0 && p.std_devs <= 10.0, format!("{path}.stdDevs"), || {
                    format!("band width must be above 0 and at most 10 standard deviations (usually 2), got {}", p.std_devs)
                });
            }
            StrategyKind::MacdTrend(p) => {
                check_period(p.fast, &format!("{path}.fast"), errs);
                check_period(p.slow, &format!("{path}.slow"), errs);
                check_period(p.signal, &format!("{path}.signal"), errs);
                errs.check(p.fast < p.slow, format!("{path}.fast"), || {
                    format!(
                        "fast ({}) must be less than slow ({}), e.g. 12 and 26",
                        p.fast, p.slow
                    )
                });
            }
            StrategyKind::Committee(c) => c.check(path, timeframe, errs),
            StrategyKind::Llm(p) => p.check(path, timeframe, errs),
        }
    }
}

fn check_period(value: u32, path: &str, errs: &mut ValidationErrors) {
    errs.check(value >= 1, path, || {
        "periods are counted in candles and must be at least 1".into()
    });
}

/// Collects the kinds that are set, as (field name, kind).
fn kinds_set<'a>(
    sma: &'a Option<SmaCrossover>,
    rsi: &'a Option<RsiReversion>,
    bollinger: &'a Option<BollingerReversion>,
    macd: &'a Option<MacdTrend>,
    llm: &'a Option<LlmStrategy>,
    committee: Option<&'a Option<Committee>>,
) -> Vec<StrategyKind<'a>> {
    let mut kinds = Vec::new();
    kinds.extend(sma.as_ref().map(StrategyKind::SmaCrossover));
    kinds.extend(rsi.as_ref().map(StrategyKind::RsiReversion));
    kinds.extend(bollinger.as_ref().map(StrategyKind::BollingerReversion));
    kinds.extend(macd.as_ref().map(StrategyKind::MacdTrend));
    kinds.extend(llm.as_ref().map(StrategyKind::Llm));
    if let Some(c) = committee {
        kinds.extend(c.as_ref().map(StrategyKind::Committee));
    }
    kinds
}

/// Reports "exactly one kind" problems at `path`, then checks the kind.
fn check_exactly_one(
    kinds: &[StrategyKind<'_>],
    path: &str,
    allowed: &str,
    timeframe: Timeframe,
    errs: &mut ValidationErrors,
) {
    let at = |field: &str| format!("{path}.{field}");
    match kinds {
        [] => errs.add(
            path,
            format!("no strategy kind is set; set exactly one of {allowed}"),
        ),
        [kind] => kind.check(&at(kind.name()), timeframe, errs),
        several => {
            let names: Vec<_> = several.iter().map(|k| k.name()).collect();
            errs.add(
                at(names[1]),
                format!(
                    "only one strategy kind may be set, found {}; keep one and remove the others",
                    names.join(", ")
                ),
            );
        }
    }
}

impl StrategySpec {
    /// The selected kind, or `None` unless exactly one is set (see [`Self::validate`]).
    pub fn kind(&self) -> Option<StrategyKind<'_>> {
        match kinds_set(
            &self.sma_crossover,
            &self.rsi_reversion,
            &self.bollinger_reversion,
            &self.macd_trend,
            &self.llm,
            Some(&self.committee),
        )
        .as_slice()
        {
            [kind] => Some(*kind),
            _ => None,
        }
    }

    /// Every problem the schema cannot catch, with paths like `spec.smaCrossover.fast`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errs = ValidationErrors::new();
        let kinds = kinds_set(
            &self.sma_crossover,
            &self.rsi_reversion,
            &self.bollinger_reversion,
            &self.macd_trend,
            &self.llm,
            Some(&self.committee),
        );
        check_exactly_one(
            &kinds,
            "spec",
            "smaCrossover, rsiReversion, bollingerReversion, macdTrend, llm, committee",
            self.timeframe,
            &mut errs,
        );
        errs.into_result()
    }
}

impl InlineStrategy {
    /// The selected kind, or `None` unless exactly one is set.
    pub fn kind(&self) -> Option<StrategyKind<'_>> {
        match kinds_set(
            &self.sma_crossover,
            &self.rsi_reversion,
            &self.bollinger_reversion,
            &self.macd_trend,
            &self.llm,
            None,
        )
        .as_slice()
        {
            [kind] => Some(*kind),
            _ => None,
        }
    }
}

impl Committee {
    fn check(&self, path: &str, timeframe: Timeframe, errs: &mut ValidationErrors) {
        errs.check(!self.members.is_empty(), format!("{path}.members"), || {
            "a committee needs at least one member".into()
        });
        let mut names = BTreeSet::new();
        for (i, m) in self.members.iter().enumerate() {
            let at = format!("{path}.members[{i}]");
            errs.check(!m.name.trim().is_empty(), format!("{at}.name"), || {
                "give the member a name".into()
            });
            errs.check(
                names.insert(m.name.as_str()) || m.name.trim().is_empty(),
                format!("{at}.name"),
                || {
                    format!(
                        "member name `{}` is used twice; names must be unique",
                        m.name
                    )
                },
            );
            errs.check(
                m.weight.is_finite() && m.weight > 0.0,
                format!("{at}.weight"),
                || format!("weight must be greater than 0, got {}", m.weight),
            );
            match (&m.strategy_ref, &m.inline) {
                (Some(r), None) => {
                    errs.check(crate::common::is_k8s_name(&r.name), format!("{at}.strategyRef.name"), || {
                        format!("`{}` is not a valid Strategy name (lower-case letters, digits, `-`, `.`)", r.name)
                    })
                }
                (None, Some(inline)) => {
                    let kinds = kinds_set(
                        &inline.sma_crossover,
                        &inline.rsi_reversion,
                        &inline.bollinger_reversion,
                        &inline.macd_trend,
                        &inline.llm,
                        None,
                    );
                    check_exactly_one(
                        &kinds,
                        &format!("{at}.inline"),
                        "smaCrossover, rsiReversion, bollingerReversion, macdTrend, llm",
                        timeframe,
                        errs,
                    );
                }
                (None, None) => errs.add(at, "set either strategyRef or inline"),
                (Some(_), Some(_)) => errs.add(
                    format!("{at}.inline"),
                    "set either strategyRef or inline, not both; remove one",
                ),
            }
        }
        errs.check(
            self.min_agreement.is_finite() && self.min_agreement > 0.0 && self.min_agreement <= 1.0,
            format!("{path}.minAgreement"),
            || {
                format!(
                    "minAgreement is a share of the total weight in (0, 1], e.g. 0.5; got {}",
                    self.min_agreement
                )
            },
        );
        if let Some(veto) = &self.veto_by {
            errs.check(
                self.members.iter().any(|m| &m.name == veto),
                format!("{path}.vetoBy"),
                || {
                    let names: Vec<_> = self.members.iter().map(|m| m.name.as_str()).collect();
                    format!("`{veto}` is not a member; use one of: {}", names.join(", "))
                },
            );
        }
    }
}
