//! Finds a bot's Strategy (with committee members) and RiskPolicy in the
//! operator's caches and checks them. A problem names the field to fix.

use botfleet_crds::{RiskPolicy, Strategy, StrategyKind, TradingBot};
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

/// A bot's resolved references.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The Strategy.
    pub strategy: std::sync::Arc<Strategy>,
    /// Strategies referenced by committee members.
    pub members: Vec<std::sync::Arc<Strategy>>,
    /// The RiskPolicy.
    pub policy: std::sync::Arc<RiskPolicy>,
}

/// Why the references do not resolve: a `Ready=False` reason and message.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Condition reason.
    pub reason: &'static str,
    /// Message naming the field.
    pub message: String,
}

fn problem(reason: &'static str, message: String) -> Problem {
    Problem { reason, message }
}

/// The image `bot` would run, when the operator's allowlist trusts it
/// (the rule is `crds::image_trust`); otherwise nothing is rendered for it.
pub fn trusted_image<'a>(
    bot: &'a TradingBot,
    default_image: &'a str,
    trusted: &[String],
) -> Result<&'a str, Problem> {
    let image = bot.spec.engine.image.as_deref().unwrap_or(default_image);
    botfleet_crds::image_trust::check_image(image, trusted)
        .map(|()| image)
        .map_err(|m| problem(botfleet_crds::condition_reasons::UNTRUSTED_IMAGE, m))
}

/// Resolves and validates `bot`'s references.
pub fn resolve(
    bot: &TradingBot,
    strategies: &Store<Strategy>,
    policies: &Store<RiskPolicy>,
) -> Result<Resolved, Problem> {
    let ns = bot.namespace().unwrap_or_default();
    if let Err(e) = bot.spec.validate() {
        return Err(problem(
            "InvalidSpec",
            format!("the TradingBot is invalid: {e}"),
        ));
    }
    let find_strategy = |name: &str| strategies.get(&ObjectRef::new(name).within(&ns));
    let name = &bot.spec.strategy_ref.name;
    let strategy = find_strategy(name).ok_or_else(|| {
        problem(
            "StrategyNotFound",
            format!("spec.strategyRef.name: Strategy `{name}` does not exist in namespace `{ns}`; create it or fix the name"),
        )
    })?;
    if let Err(e) = strategy.spec.validate() {
        return Err(problem(
            "StrategyInvalid",
            format!("Strategy `{name}` is invalid: {e}"),
        ));
    }
    let mut members = Vec::new();
    if let Some(StrategyKind::Committee(c)) = strategy.spec.kind() {
        for (i, m) in c.members.iter().enumerate() {
            let Some(r) = &m.strategy_ref else { continue };
            let path = format!("Strategy `{name}`: spec.committee.members[{i}].strategyRef.name");
            let member = find_strategy(&r.name).ok_or_else(|| {
                problem(
                    "StrategyNotFound",
                    format!(
                        "{path}: Strategy `{}` does not exist in namespace `{ns}`",
                        r.name
                    ),
                )
            })?;
            if member.spec.committee.is_some() {
                return Err(problem(
                    "StrategyInvalid",
                    format!(
                        "{path}: `{}` is a committee; members must be single strategies",
                        r.name
                    ),
                ));
            }
            if member.spec.timeframe != strategy.spec.timeframe {
                return Err(problem(
                    "StrategyInvalid",
                    format!(
                        "{path}: `{}` trades {} but the committee trades {}; use the same timeframe",
                        r.name, member.spec.timeframe, strategy.spec.timeframe
                    ),
                ));
            }
            if let Err(e) = member.spec.validate() {
                return Err(problem(
                    "StrategyInvalid",
                    format!("Strategy `{}` is invalid: {e}", r.name),
                ));
            }
            members.push(member);
        }
    }
    let name = &bot.spec.risk_policy_ref.name;
    let policy = policies
        .get(&ObjectRef::new(name).within(&ns))
        .ok_or_else(|| {
            problem(
                "RiskPolicyNotFound",
                format!("spec.riskPolicyRef.name: RiskPolicy `{name}` does not exist in namespace `{ns}`; create it or fix the name"),
            )
        })?;
    if let Err(e) = policy.spec.validate() {
        return Err(problem(
            "RiskPolicyInvalid",
            format!("RiskPolicy `{name}` is invalid: {e}"),
        ));
    }
    Ok(Resolved {
        strategy,
        members,
        policy,
    })
}

/// True when `bot` uses `strategy` directly or through a committee.
pub fn uses_strategy(bot: &TradingBot, strategy: &str, strategies: &Store<Strategy>) -> bool {
    if bot.spec.strategy_ref.name == strategy {
        return true;
    }
    let ns = bot.namespace().unwrap_or_default();
    strategies
        .get(&ObjectRef::new(&bot.spec.strategy_ref.name).within(&ns))
        .and_then(|s| s.spec.committee.clone())
        .is_some_and(|c| {
            c.members
                .iter()
                .any(|m| m.strategy_ref.as_ref().is_some_and(|r| r.name == strategy))
        })
}
