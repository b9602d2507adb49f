//! Writing a TradingBot's status: conditions that keep their transition
//! time while unchanged, metrics rounded for display, and a server-side
//! apply of the status subresource only when something really changed — so
//! a status write never makes the controller spin.

use botfleet_crds::engine_api::EngineStatus;
use botfleet_crds::{BotMetrics, ConditionStatus, SignedAmount, TradingBot, TradingBotStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::error::Result;
use crate::fresh::KnownVersions;
use botfleet_crds::labels::MANAGED_BY as FIELD_MANAGER;

/// One condition to set.
#[derive(Clone, Debug)]
pub struct Cond<'a> {
    /// Condition type.
    pub type_: &'a str,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// CamelCase reason.
    pub reason: &'a str,
    /// Human-readable message.
    pub message: String,
}

/// Sets `cond` in `conditions`, keeping `lastTransitionTime` when the status
/// did not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    cond: Cond<'_>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let existing = conditions.iter().position(|c| c.type_ == cond.type_);
    let transition = match existing.map(|i| &conditions[i]) {
        Some(old) if old.status == cond.status.as_str() => old.last_transition_time.clone(),
        _ => Time(now),
    };
    let new = Condition {
        type_: cond.type_.into(),
        status: cond.status.as_str().into(),
        reason: cond.reason.into(),
        message: cond.message,
        observed_generation: generation,
        last_transition_time: transition,
    };
    match existing {
        Some(i) => conditions[i] = new,
        None => conditions.push(new),
    }
}

/// The status metrics of an engine report, rounded; undefined statistics
/// are left out instead of written as NaN.
pub fn bot_metrics(engine: &EngineStatus) -> BotMetrics {
    let w = &engine.window;
    let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
    BotMetrics {
        equity: SignedAmount::new(w.equity),
        return_pct: finite(w.return_pct),
        drawdown_pct: finite(w.drawdown_pct),
        max_drawdown_pct: finite(w.max_drawdown_pct),
        win_rate_pct: (w.trades > 0 && w.win_rate_pct.is_finite()).then_some(w.win_rate_pct),
        sharpe: w.sharpe.is_finite().then_some(w.sharpe),
        trades: w.trades,
        open_positions: u32::try_from(engine.open_positions.len()).unwrap_or(u32::MAX),
        daily_pnl: SignedAmount::new(w.daily_pnl),
    }
    .rounded()
}

/// Server-side applies `new` as the status of `bot` (the operator owns every
/// status field, so a field left out is removed). Returns false when
/// nothing changed and no request was made.
///
/// Fenced: the apply carries the `resourceVersion` of the read `bot` was
/// decided from, so if anything wrote the bot since (a newer leader's halt,
/// a user's edit) the apiserver refuses it with 409 and the reconcile runs
/// again on fresh data. A deposed leader can never overwrite a newer latch.
/// The version written is remembered in `known` (a refused write forgets
/// the bot, so the retry reads it again).
pub async fn write(
    api: &Api<TradingBot>,
    bot: &TradingBot,
    new: &TradingBotStatus,
    known: &KnownVersions,
) -> Result<bool> {
    let old = bot.status.clone().unwrap_or_default();
    if old == *new {
        return Ok(false);
    }
    let name = bot.name_any();
    let body = json!({
        "apiVersion": botfleet_crds::API_VERSION,
        "kind": "TradingBot",
        "metadata": {"name": name, "resourceVersion": bot.metadata.resource_version},
        "status": new,
    });
    let written = api
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await;
    match written {
        Ok(written) => {
            known.record(&written);
            Ok(true)
        }
        Err(e) => {
            known.forget(&bot.uid().unwrap_or_default());
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let t0 = Timestamp::from_second(1000).unwrap();
        let t1 = Timestamp::from_second(2000).unwrap();
        let mut conditions = Vec::new();
        let c = |status, message: &str| Cond {
            type_: "Halted",
            status,
            reason: "R",
            message: message.into(),
        };
        set_condition(&mut conditions, c(ConditionStatus::False, "a"), Some(1), t0);
        set_condition(&mut conditions, c(ConditionStatus::False, "b"), Some(2), t1);
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, Time(t0));
        assert_eq!(
            (
                conditions[0].message.as_str(),
                conditions[0].observed_generation
            ),
            ("b", Some(2))
        );
        set_condition(&mut conditions, c(ConditionStatus::True, "c"), Some(2), t1);
        assert_eq!(conditions[0].last_transition_time, Time(t1));
    }
}
