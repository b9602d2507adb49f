//! Builds a bot's new status from one reconcile's decisions, pure:
//! effective phase, state, metrics, gate, capital, halt, history and the
//! five conditions, each with a reason and a message a user can act on.

use botfleet_crds::labels::RESUME_ANNOTATION;
use botfleet_crds::{
    BotState, CapitalStatus, ConditionStatus, HaltStatus, Phase, TradingBot, TradingBotStatus,
    condition_reasons as r, condition_types as ct,
};
use k8s_openapi::jiff::Timestamp;

use crate::decisions::{Decisions, EngineView, Observed};
use crate::gate::{self, GateOutcome};
use crate::resolve::Problem;
use crate::status::{self, Cond, set_condition};

/// The status after `d`, starting from `o.old`.
pub fn build(o: &Observed<'_>, d: &Decisions) -> TradingBotStatus {
    let effective = d.outcome.effective;
    let engine = o.engine;
    let mut new = TradingBotStatus {
        observed_generation: o.bot.metadata.generation,
        phase: Some(effective),
        state: None,
        conditions: o.old.conditions.clone(),
        metrics: match &engine.status {
            Some(e) if e.phase == effective && d.resumed.is_none() => Some(status::bot_metrics(e)),
            Some(_) => None,
            None => o.old.metrics.clone(),
        },
        gate: d.outcome.gate.clone(),
        capital: Some(CapitalStatus {
            allocated: d.cap.allocated,
            step: d.cap.step,
            period: (d.cap.period != Default::default()).then(|| d.cap.period.clone()),
        }),
        halt: d.halt_status.clone(),
        phase_history: o.old.phase_history.clone(),
        engine_image_id: engine
            .image_id
            .clone()
            .or_else(|| o.old.engine_image_id.clone()),
        approvals: o.old.approvals.clone(),
    };
    for t in d.history.iter().cloned() {
        new.push_phase_transition(t);
    }
    if let Some(a) = d.outcome.change.as_ref().and_then(|c| c.approval.clone()) {
        new.push_approval(a);
    }
    let threshold = o.config.engine_failure_threshold;
    let unhealthy =
        engine.status.is_none() && engine.address.is_some() && engine.failures >= threshold;
    new.state = Some(match (&d.halt_status, &engine.status) {
        (Some(_), _) => BotState::Halted,
        (None, Some(e)) => e.state.into(),
        (None, None) if unhealthy => BotState::Degraded,
        (None, None) => BotState::Starting,
    });
    let engine_healthy = engine_healthy(engine, unhealthy, threshold);
    let ready = ready(d.halt_status.as_ref(), engine_healthy.status, effective);
    let halted = match &d.halt_status {
        Some(h) => {
            // A halt latched before keeps the reason it was latched with.
            let reason = d.new_halt.as_ref().map_or_else(
                || {
                    o.old
                        .condition(ct::HALTED)
                        .map_or(r::HALTED, |c| c.reason.as_str())
                },
                |(source, _)| source.condition_reason(),
            );
            let resume_phase = Some(o.policy.on_halt.resume_phase);
            halted(h, reason, resume_phase, d.stay_note.as_deref())
        }
        None => not_halted(),
    };
    let generation = o.bot.metadata.generation;
    for c in [
        engine_healthy,
        ready,
        gate_satisfied(&d.outcome),
        promotion_blocked(&d.outcome),
        halted,
        halt_confirmed(d.halt_status.as_ref(), engine),
    ] {
        set_condition(&mut new.conditions, c, generation, o.now);
    }
    new
}

/// The status of a bot whose references do not resolve: `Ready=False` with
/// the problem, and the kill switch's halt when one was just latched.
pub fn not_ready(
    bot: &TradingBot,
    old: &TradingBotStatus,
    problem: &Problem,
    halt: Option<&HaltStatus>,
    now: Timestamp,
) -> TradingBotStatus {
    let mut new = old.clone();
    new.observed_generation = bot.metadata.generation;
    let generation = bot.metadata.generation;
    let ready = Cond {
        type_: ct::READY,
        status: ConditionStatus::False,
        reason: problem.reason,
        message: problem.message.clone(),
    };
    set_condition(&mut new.conditions, ready, generation, now);
    if let Some(h) = halt {
        // The policy may not resolve: the resume phase is not known here.
        let c = halted(h, r::MANUAL_KILL_SWITCH, None, None);
        set_condition(&mut new.conditions, c, generation, now);
        new.halt = Some(h.clone());
        new.state = Some(BotState::Halted);
    }
    new
}

fn engine_healthy(engine: &EngineView, unhealthy: bool, threshold: u32) -> Cond<'static> {
    use ConditionStatus::{False, True, Unknown};
    let last = || engine.error.clone().unwrap_or_default();
    let (status, reason, message) = match (&engine.status, engine.address) {
        (Some(_), _) => (True, r::STATUS_OK, "the engine answers /status".to_string()),
        (None, None) => (
            Unknown,
            r::NO_POD_IP,
            "waiting for the engine pod to get an IP".to_string(),
        ),
        (None, Some(_)) if unhealthy => (
            False,
            r::POLL_FAILED,
            format!(
                "{} polls in a row failed, last: {}",
                engine.failures,
                last()
            ),
        ),
        (None, Some(_)) => (
            Unknown,
            r::POLL_FAILING,
            format!(
                "{} of {threshold} polls failed, last: {}",
                engine.failures,
                last()
            ),
        ),
    };
    Cond {
        type_: ct::ENGINE_HEALTHY,
        status,
        reason,
        message,
    }
}

fn ready(halt: Option<&HaltStatus>, engine: ConditionStatus, effective: Phase) -> Cond<'static> {
    let (ok, reason, message) = match halt {
        Some(h) => (false, r::HALTED, format!("halted: {}", h.reason)),
        None if engine == ConditionStatus::True => {
            (true, r::TRADING, format!("the engine runs in {effective}"))
        }
        None => (
            false,
            r::ENGINE_NOT_HEALTHY,
            "the workload is applied; the engine is not answering yet".to_string(),
        ),
    };
    Cond {
        type_: ct::READY,
        status: ConditionStatus::from_bool(ok),
        reason,
        message,
    }
}

fn gate_satisfied(outcome: &GateOutcome) -> Cond<'static> {
    let (met, reason, message) = match &outcome.gate {
        Some(g) if g.met => (
            true,
            r::GATE_MET,
            format!("every criterion of the gate to {} is met", g.target_phase),
        ),
        Some(g) => (
            false,
            r::GATE_NOT_MET,
            format!(
                "gate to {}: {}",
                g.target_phase,
                gate::unmet_summary(&g.criteria)
            ),
        ),
        None => (
            false,
            r::NO_FURTHER_PHASE,
            format!("{} is the last phase", outcome.effective),
        ),
    };
    Cond {
        type_: ct::GATE_SATISFIED,
        status: ConditionStatus::from_bool(met),
        reason,
        message,
    }
}

fn promotion_blocked(outcome: &GateOutcome) -> Cond<'static> {
    match &outcome.blocked {
        Some(b) => Cond {
            type_: ct::PROMOTION_BLOCKED,
            status: ConditionStatus::True,
            reason: b.reason,
            message: b.message.clone(),
        },
        None => Cond {
            type_: ct::PROMOTION_BLOCKED,
            status: ConditionStatus::False,
            reason: r::NOT_BLOCKED,
            message: "no promotion is pending".into(),
        },
    }
}

/// `Halted=True`, telling how to resume.
fn halted<'a>(
    h: &HaltStatus,
    reason: &'a str,
    resume_phase: Option<Phase>,
    stay_note: Option<&str>,
) -> Cond<'a> {
    let mut message = format!(
        "{}; halt id {}; to resume, annotate the bot with {RESUME_ANNOTATION}={}",
        h.reason, h.id, h.id
    );
    if let Some(p) = resume_phase {
        message.push_str(&format!(" (it returns in {p})"));
    }
    if let Some(n) = stay_note {
        message.push_str("; ");
        message.push_str(n);
    }
    Cond {
        type_: ct::HALTED,
        status: ConditionStatus::True,
        reason,
        message,
    }
}

/// Whether the engine itself reports the latched halt: `Halted=True` is the
/// operator's latch; only this says the engine stopped.
fn halt_confirmed(halt: Option<&HaltStatus>, engine: &EngineView) -> Cond<'static> {
    let reported = engine
        .status
        .as_ref()
        .and_then(|e| e.halt.as_ref())
        .map(|h| h.id.as_str());
    let (status, reason, message) = match halt {
        None => (
            ConditionStatus::False,
            r::NOT_HALTED,
            "the bot is not halted".to_string(),
        ),
        Some(h) if reported == Some(h.id.as_str()) => (
            ConditionStatus::True,
            r::ENGINE_CONFIRMED,
            format!("the engine reports halt {}", h.id),
        ),
        Some(h) => (
            ConditionStatus::False,
            r::NOT_CONFIRMED,
            format!(
                "the engine has not confirmed halt {} yet (it reports {}); the operator tells it again on every poll",
                h.id,
                reported.map_or("no halt".to_string(), |id| format!("halt {id}"))
            ),
        ),
    };
    Cond {
        type_: ct::HALT_CONFIRMED,
        status,
        reason,
        message,
    }
}

fn not_halted() -> Cond<'static> {
    Cond {
        type_: ct::HALTED,
        status: ConditionStatus::False,
        reason: r::NOT_HALTED,
        message: "the bot is not halted".into(),
    }
}
