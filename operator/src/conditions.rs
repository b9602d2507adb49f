//! Builds a bot's new status from one reconcile's decisions: effective
//! phase, state, metrics, gate, capital, halt, history and the five
//! conditions, each with a reason and a message a user can act on.

use botfleet_crds::{RiskPolicySpec, TradingBot, TradingBotStatus, condition_types as ct};
use k8s_openapi::jiff::Timestamp;

use crate::RESUME_ANNOTATION;
use crate::gate;
use crate::halt::HaltSource;
use crate::reconcile::Decisions;
use crate::status::{self, Cond, bool_status, set_condition};

/// The status after `d`, starting from `old`.
pub fn build(
    bot: &TradingBot,
    old: &TradingBotStatus,
    d: &Decisions,
    policy: &RiskPolicySpec,
    threshold: u32,
    now: Timestamp,
) -> TradingBotStatus {
    let Decisions {
        engine,
        halt_status,
        new_halt,
        resumed,
        stay_note,
        outcome,
        cap,
        history,
        ..
    } = d;
    let effective = outcome.effective;
    let mut new = TradingBotStatus {
        observed_generation: bot.metadata.generation,
        phase: Some(effective),
        state: None,
        conditions: old.conditions.clone(),
        metrics: match &engine.status {
            Some(e) if e.phase == effective && resumed.is_none() => Some(status::bot_metrics(e)),
            Some(_) => None,
            None => old.metrics.clone(),
        },
        gate: outcome.gate.clone(),
        capital: Some(botfleet_crds::CapitalStatus {
            allocated: cap.allocated,
            step: cap.step,
        }),
        halt: halt_status.clone(),
        phase_history: old.phase_history.clone(),
    };
    for t in history.iter().cloned() {
        new.push_phase_transition(t);
    }
    let unhealthy =
        engine.status.is_none() && engine.address.is_some() && engine.failures >= threshold;
    new.state = Some(match (&halt_status, &engine.status) {
        (Some(_), _) => botfleet_crds::BotState::Halted,
        (None, Some(e)) => crate::controller::bot_state(e.state),
        (None, None) if unhealthy => botfleet_crds::BotState::Degraded,
        (None, None) => botfleet_crds::BotState::Starting,
    });
    let generation = bot.metadata.generation;
    let mut set = |c: Cond<'_>| set_condition(&mut new.conditions, c, generation, now);
    let (eh_status, eh_reason, eh_message) = match (&engine.status, engine.address) {
        (Some(_), _) => ("True", "StatusOK", "the engine answers /status".to_string()),
        (None, None) => (
            "Unknown",
            "NoPodIP",
            "waiting for the engine pod to get an IP".to_string(),
        ),
        (None, Some(_)) if unhealthy => (
            "False",
            "PollFailed",
            format!(
                "{} polls in a row failed, last: {}",
                engine.failures,
                engine.error.clone().unwrap_or_default()
            ),
        ),
        (None, Some(_)) => (
            "Unknown",
            "PollFailing",
            format!(
                "{} of {threshold} polls failed, last: {}",
                engine.failures,
                engine.error.clone().unwrap_or_default()
            ),
        ),
    };
    set(Cond {
        type_: ct::ENGINE_HEALTHY,
        status: eh_status,
        reason: eh_reason,
        message: eh_message,
    });
    let (ready, ready_reason, ready_message) = if let Some(h) = &halt_status {
        (false, "Halted", format!("halted: {}", h.reason))
    } else if eh_status == "True" {
        (true, "Trading", format!("the engine runs in {effective}"))
    } else {
        (
            false,
            "EngineNotHealthy",
            "the workload is applied; the engine is not answering yet".to_string(),
        )
    };
    set(Cond {
        type_: ct::READY,
        status: bool_status(ready),
        reason: ready_reason,
        message: ready_message,
    });
    match &outcome.gate {
        Some(g) if g.met => set(Cond {
            type_: ct::GATE_SATISFIED,
            status: "True",
            reason: "GateMet",
            message: format!("every criterion of the gate to {} is met", g.target_phase),
        }),
        Some(g) => set(Cond {
            type_: ct::GATE_SATISFIED,
            status: "False",
            reason: "GateNotMet",
            message: format!(
                "gate to {}: {}",
                g.target_phase,
                gate::unmet_summary(&g.criteria)
            ),
        }),
        None => set(Cond {
            type_: ct::GATE_SATISFIED,
            status: "False",
            reason: "NoFurtherPhase",
            message: format!("{effective} is the last phase"),
        }),
    }
    match &outcome.blocked {
        Some(b) => set(Cond {
            type_: ct::PROMOTION_BLOCKED,
            status: "True",
            reason: b.reason,
            message: b.message.clone(),
        }),
        None => set(Cond {
            type_: ct::PROMOTION_BLOCKED,
            status: "False",
            reason: "NotBlocked",
            message: "no promotion is pending".into(),
        }),
    }
    match (&halt_status, &new_halt) {
        (Some(h), _) => {
            let reason = match &new_halt {
                Some((HaltSource::Manual, _)) => "ManualKillSwitch",
                Some((HaltSource::Engine, _)) => "EngineHalted",
                Some((HaltSource::Breach, _)) => "LimitBreached",
                None => old
                    .condition(ct::HALTED)
                    .map_or("Halted", |c| leak_reason(&c.reason)),
            };
            let mut message = format!(
                "{}; halt id {}; to resume, annotate the bot with {RESUME_ANNOTATION}={} (it returns in {})",
                h.reason, h.id, h.id, policy.on_halt.resume_phase
            );
            if let Some(n) = &stay_note {
                message.push_str("; ");
                message.push_str(n);
            }
            set(Cond {
                type_: ct::HALTED,
                status: "True",
                reason,
                message,
            });
        }
        (None, _) => set(Cond {
            type_: ct::HALTED,
            status: "False",
            reason: "NotHalted",
            message: "the bot is not halted".into(),
        }),
    }
    new
}

/// Condition reasons are one of a few static strings; map a stored one back.
fn leak_reason(reason: &str) -> &'static str {
    match reason {
        "ManualKillSwitch" => "ManualKillSwitch",
        "EngineHalted" => "EngineHalted",
        "LimitBreached" => "LimitBreached",
        _ => "Halted",
    }
}
