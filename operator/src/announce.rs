//! Events and counters for the transitions one reconcile committed. Called
//! after the status write, so a transition is announced once: a restart
//! reads the committed status and finds nothing new.

use botfleet_crds::{ConditionStatus, TradingBot, TradingBotStatus, condition_types as ct};
use kube::ResourceExt;
use kube::runtime::events::EventType;
use tracing::info;

use crate::context::Context;
use crate::decisions::Decisions;
use crate::gate::ChangeKind;

/// Publishes the Events of `d` and bumps the per-bot counters.
pub async fn announce(ctx: &Context, bot: &TradingBot, old: &TradingBotStatus, d: &Decisions) {
    let Decisions {
        new_halt,
        resumed,
        outcome,
        cap,
        flatten,
        ..
    } = d;
    let flatten = *flatten;
    let effective = outcome.effective;
    let ns = bot.namespace().unwrap_or_default();
    let name = bot.name_any();
    let labels = [ns.as_str(), name.as_str()];
    if let Some((source, h)) = &new_halt {
        ctx.metrics.bot_halts.with_label_values(&labels).inc();
        info!(bot = %name, halt = %h.id, ?source, "halted");
        ctx.event(
            bot,
            EventType::Warning,
            "Halted",
            format!(
                "{} (halt id {}); engine told to {}; capital cut to 0",
                h.reason,
                h.id,
                if flatten {
                    "cancel orders and flatten"
                } else {
                    "cancel orders"
                }
            ),
        )
        .await;
    }
    if let Some(id) = &resumed {
        ctx.event(
            bot,
            EventType::Normal,
            "Resumed",
            format!("halt {id} lifted; back in {effective}"),
        )
        .await;
    }
    if let Some(c) = &outcome.change {
        let (reason, type_) = match c.kind {
            ChangeKind::Initial => ("Created", EventType::Normal),
            ChangeKind::Promoted => ("Promoted", EventType::Normal),
            ChangeKind::Demoted => ("Demoted", EventType::Normal),
        };
        if c.kind == ChangeKind::Promoted {
            ctx.metrics.bot_promotions.with_label_values(&labels).inc();
        }
        let from = c.from.map_or("-".to_string(), |p| p.to_string());
        ctx.event(
            bot,
            type_,
            reason,
            format!("{from} → {}: {}", c.to, c.reason),
        )
        .await;
    }
    if let Some(s) = &cap.change {
        let direction = if s.to > s.from { "up" } else { "down" };
        ctx.metrics
            .bot_capital_steps
            .with_label_values(&[&ns, &name, direction])
            .inc();
        let reason = if s.to > s.from {
            "CapitalSteppedUp"
        } else {
            "CapitalSteppedDown"
        };
        ctx.event(
            bot,
            EventType::Normal,
            reason,
            format!("step {} → {}: {}", s.from, s.to, s.reason),
        )
        .await;
    }
    if let Some(b) = &outcome.blocked
        && !old.condition_is(ct::PROMOTION_BLOCKED, ConditionStatus::True, b.reason)
    {
        ctx.event(
            bot,
            EventType::Warning,
            "PromotionBlocked",
            b.message.clone(),
        )
        .await;
    }
}
