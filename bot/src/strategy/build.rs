//! From a Strategy resource to running strategies: validate, resolve
//! committee references, then clone a fresh prototype per symbol.

use botfleet_crds::{
    Committee, InlineStrategy, StrategyKind, StrategySpec, Timeframe, ValidationErrors,
};

use super::{AnyStrategy, CommitteeStrategy, SingleStrategy, Strategy};
use crate::indicators::IndicatorError;

/// Finds another Strategy's spec by name (same namespace), e.g.
/// `&|name| manifests.strategy(name).map(|s| s.spec.clone())`.
pub type StrategyLookup<'a> = dyn Fn(&str) -> Option<StrategySpec> + 'a;

/// A strategy that cannot be built, with the field path to fix
/// (`Strategy/NAME: spec.committee.members[1].strategyRef.name`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StrategyError {
    /// The spec breaks a rule (every problem, each with its path).
    #[error("invalid Strategy: {0}")]
    Invalid(ValidationErrors),
    /// A committee member refers to a Strategy the lookup does not know.
    #[error(
        "{path}: Strategy `{name}` was not found; define a Strategy named `{name}` or correct the reference"
    )]
    NotFound { path: String, name: String },
    /// A committee refers back to itself, directly or through another committee.
    #[error("{path}: reference cycle {chain}; a committee cannot contain itself")]
    Cycle { path: String, chain: String },
    /// A committee member refers to another committee (the CRD forbids nesting).
    #[error(
        "{path}: `{name}` is a committee; committee members must be single strategies \
         (smaCrossover, rsiReversion, bollingerReversion, macdTrend, llm); list its members here instead"
    )]
    NestedCommittee { path: String, name: String },
    /// A referenced member evaluates candles of another interval.
    #[error(
        "{path}: `{name}` trades {member} candles but the committee trades {committee}; use the same timeframe"
    )]
    TimeframeMismatch {
        path: String,
        name: String,
        member: Timeframe,
        committee: Timeframe,
    },
}

impl StrategyError {
    /// One problem at `path`.
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errs = ValidationErrors::new();
        errs.add(path, message);
        StrategyError::Invalid(errs)
    }

    /// Where to look: the first problem's field path.
    pub fn path(&self) -> &str {
        match self {
            StrategyError::Invalid(errs) => errs.errors().first().map_or("spec", |e| &e.path),
            StrategyError::NotFound { path, .. }
            | StrategyError::Cycle { path, .. }
            | StrategyError::NestedCommittee { path, .. }
            | StrategyError::TimeframeMismatch { path, .. } => path,
        }
    }

    /// Rewrites `spec.…` paths as `{prefix}.…` (an inline member's
    /// parameters checked on their own), then puts `{context}: ` in front.
    fn relocate(self, prefix: Option<&str>, context: &str) -> Self {
        let StrategyError::Invalid(errs) = self else {
            return self;
        };
        let mut moved = ValidationErrors::new();
        for e in errs {
            let path = match (prefix, e.path.strip_prefix("spec.")) {
                (Some(prefix), Some(rest)) => format!("{prefix}.{rest}"),
                _ => e.path,
            };
            moved.add(format!("{context}: {path}"), e.message);
        }
        StrategyError::Invalid(moved)
    }
}

/// Validates a spec holding one single kind, as the CRD rules say.
pub(crate) fn check_single(spec: StrategySpec) -> Result<(), StrategyError> {
    spec.validate().map_err(StrategyError::Invalid)
}

/// An indicator constructor's refusal, at `spec.{kind}.{field}`.
pub(crate) fn indicator_error(kind: &str, e: IndicatorError) -> StrategyError {
    StrategyError::invalid(format!("spec.{kind}.{}", e.field), e.problem)
}

/// A resolved, validated Strategy: make one running instance per symbol
/// with [`build`](Self::build). Resolving once means references are looked
/// up and checked once, not per symbol.
#[derive(Clone, Debug)]
pub struct StrategyBlueprint {
    name: String,
    timeframe: Timeframe,
    prototype: AnyStrategy,
}

impl StrategyBlueprint {
    /// Validates `spec` (the Strategy named `name`) and resolves committee
    /// members' `strategyRef`s through `lookup`. Referenced strategies must
    /// exist, be valid, be single strategies (not committees — the CRD does
    /// not allow nesting, so a cycle is named as one) and share the
    /// committee's timeframe; inline members use the committee's timeframe.
    pub fn resolve(
        name: &str,
        spec: &StrategySpec,
        lookup: &StrategyLookup<'_>,
    ) -> Result<Self, StrategyError> {
        let here = format!("Strategy/{name}");
        spec.validate()
            .map_err(|e| StrategyError::Invalid(e).relocate(None, &here))?;
        let prototype = match spec.kind() {
            Some(StrategyKind::Committee(c)) => {
                AnyStrategy::Committee(resolve_committee(name, spec.timeframe, c, lookup)?)
            }
            Some(kind) => {
                let mut s = single(kind, spec.timeframe, None, &here)?;
                s.set_name(name);
                AnyStrategy::Single(s)
            }
            None => {
                return Err(StrategyError::invalid(
                    format!("{here}: spec"),
                    "set exactly one strategy kind",
                ));
            }
        };
        Ok(Self {
            name: name.to_string(),
            timeframe: spec.timeframe,
            prototype,
        })
    }

    /// The Strategy resource's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The candle interval the strategy evaluates.
    pub fn timeframe(&self) -> Timeframe {
        self.timeframe
    }

    /// Candles to preload before the first candle that can signal.
    pub fn warmup_candles(&self) -> usize {
        self.prototype.warmup_candles()
    }

    /// Connects every model member to `backend` (offline replay until then).
    pub fn with_llm(mut self, backend: &super::llm::LlmBackend) -> Self {
        self.prototype.set_llm_backend(backend);
        self
    }

    /// Whether any member is a model (the engine then passes context and audits exchanges).
    pub fn has_llm(&self) -> bool {
        self.prototype.has_llm()
    }

    /// A fresh instance (no history), for one symbol.
    pub fn build(&self) -> Box<dyn Strategy> {
        Box::new(self.prototype.clone())
    }

    /// A fresh instance with static dispatch.
    pub fn instantiate(&self) -> AnyStrategy {
        self.prototype.clone()
    }
}

/// Resolves and builds in one call (see [`StrategyBlueprint::resolve`]).
pub fn build_strategy(
    name: &str,
    spec: &StrategySpec,
    lookup: &StrategyLookup<'_>,
) -> Result<Box<dyn Strategy>, StrategyError> {
    Ok(StrategyBlueprint::resolve(name, spec, lookup)?.build())
}

/// Builds a single kind; its own checks' paths (`spec.…`) are moved under
/// `inline_at` for an inline member, and prefixed with `context`.
fn single(
    kind: StrategyKind<'_>,
    timeframe: Timeframe,
    inline_at: Option<&str>,
    context: &str,
) -> Result<SingleStrategy, StrategyError> {
    match SingleStrategy::from_kind(kind, timeframe) {
        Some(built) => built.map_err(|e| e.relocate(inline_at, context)),
        None => Err(StrategyError::invalid(
            format!("{context}: spec.committee"),
            "a committee cannot be a member",
        )),
    }
}

fn resolve_committee(
    root: &str,
    timeframe: Timeframe,
    committee: &Committee,
    lookup: &StrategyLookup<'_>,
) -> Result<CommitteeStrategy, StrategyError> {
    let here = format!("Strategy/{root}");
    let mut members = Vec::with_capacity(committee.members.len());
    for (i, m) in committee.members.iter().enumerate() {
        let at = format!("spec.committee.members[{i}]");
        let strategy = match (&m.strategy_ref, &m.inline) {
            (Some(r), None) => {
                let target = &r.name;
                let path = format!("{here}: {at}.strategyRef.name");
                if target == root {
                    let chain = format!("{root} → {root}");
                    return Err(StrategyError::Cycle { path, chain });
                }
                let Some(spec) = lookup(target) else {
                    let name = target.clone();
                    return Err(StrategyError::NotFound { path, name });
                };
                if let Some(inner) = &spec.committee {
                    // Nesting is refused either way; name a loop as a loop.
                    let back = inner
                        .members
                        .iter()
                        .filter_map(|m| m.strategy_ref.as_ref())
                        .find(|r| r.name == root || &r.name == target);
                    return Err(match back {
                        Some(back) => StrategyError::Cycle {
                            path,
                            chain: format!("{root} → {target} → {}", back.name),
                        },
                        None => StrategyError::NestedCommittee {
                            path,
                            name: target.clone(),
                        },
                    });
                }
                if spec.timeframe != timeframe {
                    return Err(StrategyError::TimeframeMismatch {
                        path,
                        name: target.clone(),
                        member: spec.timeframe,
                        committee: timeframe,
                    });
                }
                let context = format!("{here}: {at}.strategyRef → Strategy/{target}");
                spec.validate()
                    .map_err(|e| StrategyError::Invalid(e).relocate(None, &context))?;
                let Some(kind) = spec.kind() else {
                    return Err(StrategyError::invalid(
                        context,
                        "set exactly one strategy kind",
                    ));
                };
                single(kind, timeframe, None, &context)?
            }
            (None, Some(inline)) => {
                let inline_at = format!("{at}.inline");
                match InlineStrategy::kind(inline) {
                    Some(kind) => single(kind, timeframe, Some(&inline_at), &here)?,
                    None => {
                        return Err(StrategyError::invalid(
                            format!("{here}: {inline_at}"),
                            "set exactly one strategy kind",
                        ));
                    }
                }
            }
            _ => {
                return Err(StrategyError::invalid(
                    format!("{here}: {at}"),
                    "set either strategyRef or inline",
                ));
            }
        };
        let mut strategy = strategy;
        strategy.set_name(&m.name);
        members.push((m.name.clone(), m.weight, strategy));
    }
    let veto = match &committee.veto_by {
        None => None,
        Some(v) => Some(
            committee
                .members
                .iter()
                .position(|m| &m.name == v)
                .ok_or_else(|| {
                    StrategyError::invalid(
                        format!("{here}: spec.committee.vetoBy"),
                        format!("`{v}` is not a member"),
                    )
                })?,
        ),
    };
    Ok(CommitteeStrategy::new(
        members,
        committee.min_agreement,
        veto,
    ))
}
