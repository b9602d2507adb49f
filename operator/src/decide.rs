//! Decide, pure: from what one reconcile observed, the halt, the phase, the
//! capital and the new status — in that order, since each step reads the
//! one before (a halt blocks promotion, the phase picks the capital). No
//! I/O here; `reconcile` acts on the result.

use botfleet_crds::PhaseApproval;
use botfleet_crds::engine_api::HaltRequest;
use botfleet_crds::labels::RESUME_ANNOTATION;
use botfleet_crds::phase_approval::{self, ApprovalTarget, ApproverRefusal};
use botfleet_crds::{
    ApprovalRecord, HaltAction, HaltStatus, Phase, PhaseTransition, TradingBot, TradingBotStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::capital::{self, CapitalInput};
use crate::conditions;
use crate::decisions::{Decisions, EngineCommand, Observed};
use crate::gate::{self, ApprovalGate, Blocked, GateInput};
use crate::halt::{self, HaltDecision, HaltInput, HaltSource};
use crate::resolve::Problem;

/// The halt part of a reconcile.
struct HaltPart {
    status: Option<HaltStatus>,
    new: Option<(HaltSource, HaltStatus)>,
    resumed: Option<String>,
    stay_note: Option<String>,
    commands: Vec<EngineCommand>,
    /// The book must be flattened before the bot moves (see [`flatten_before_move`]).
    flatten_needed: bool,
}

/// Decides one reconcile of a bot whose references resolved.
pub fn decide(o: &Observed<'_>) -> Decisions {
    let flatten = o.policy.on_halt.action == HaltAction::Flatten;
    let mut halt = decide_halt(o, flatten);
    if halt.flatten_needed {
        request_flatten(o, &mut halt);
    }
    let (outcome, history) = decide_phase(o, &halt);
    if let Some(to) = outcome.move_pending {
        flatten_before_move(o, &mut halt, &format!("demotion to {to}"));
    }
    let cap = decide_capital(o, &halt, outcome.effective);
    let mut d = Decisions {
        halt_status: halt.status,
        new_halt: halt.new,
        resumed: halt.resumed,
        stay_note: halt.stay_note,
        outcome,
        cap,
        history,
        flatten,
        engine_commands: halt.commands,
        status: TradingBotStatus::default(),
    };
    d.status = conditions::build(o, &d);
    d
}

fn decide_halt(o: &Observed<'_>, flatten: bool) -> HaltPart {
    let engine = o.engine.status.as_ref();
    let annotation = o
        .bot
        .annotations()
        .get(RESUME_ANNOTATION)
        .map(String::as_str);
    // Breaches are measured against the limits of the phase the engine
    // trades in, and only when that is the effective phase.
    let limits = engine
        .filter(|e| Some(e.phase) == o.old.phase)
        .map(|e| o.policy.effective_limits(e.phase));
    let decision = halt::decide(&HaltInput {
        manual: o.bot.spec.halted,
        latched: o.old.halt.as_ref(),
        resume_annotation: annotation,
        engine,
        engine_limits: limits.as_ref(),
    });
    let mut part = HaltPart {
        status: o.old.halt.clone(),
        new: None,
        resumed: None,
        stay_note: None,
        commands: Vec::new(),
        flatten_needed: false,
    };
    match decision {
        HaltDecision::Running => {
            // The engine still reports the halt that was resumed: tell it again.
            if let Some(h) = engine.and_then(|e| e.halt.as_ref())
                && Some(h.id.as_str()) == annotation
            {
                part.commands.push(EngineCommand::Resume {
                    halt_id: h.id.clone(),
                    required: false,
                });
            }
        }
        HaltDecision::Stay { note } => part.stay_note = note,
        HaltDecision::Halt {
            source,
            reason,
            engine_id,
        } => {
            let h = latch(o.bot, reason, engine_id, o.now);
            part.status = Some(h.clone());
            part.new = Some((source, h));
        }
        HaltDecision::Resume { halt_id } if resume_moves_unflat_book(o) => {
            part.stay_note = Some(format!(
                "the resume of {halt_id} waits for a flat book: it returns the bot to {}, which does not trade on {}; the book is flattened first",
                resume_phase(o),
                o.old.phase.unwrap_or_default().book()
            ));
            part.flatten_needed = true;
        }
        HaltDecision::Resume { halt_id } => {
            if let Some(h) = engine.and_then(|e| e.halt.as_ref()) {
                part.commands.push(EngineCommand::Resume {
                    halt_id: h.id.clone(),
                    required: true,
                });
            }
            part.status = None;
            part.resumed = Some(halt_id);
        }
    }
    // Tell the engine about a latched halt it does not report yet (a new
    // halt, or one it missed), before anything else: money first.
    let engine_halted_itself = matches!(part.new, Some((HaltSource::Engine, _)));
    if let Some(h) = &part.status
        && o.engine.address.is_some()
        && engine.is_none_or(|e| e.halt.is_none())
        && !engine_halted_itself
    {
        part.commands
            .insert(0, EngineCommand::Halt(halt_request(h, flatten)));
    }
    part
}

fn decide_phase(o: &Observed<'_>, halt: &HaltPart) -> (gate::GateOutcome, Vec<PhaseTransition>) {
    let mut history = Vec::new();
    let mut base = o.old.phase;
    if let Some(id) = &halt.resumed {
        let to = resume_phase(o);
        history.push(PhaseTransition {
            from: o.old.phase,
            to,
            at: Time(o.now),
            reason: format!("resumed after halt {id}"),
        });
        base = Some(to);
    }
    let measurement = match &o.engine.status {
        _ if halt.resumed.is_some() => Err("the bot was just resumed".to_string()),
        Some(e) if e.trading_hash.as_deref() != Some(o.trading_hash) => Err(format!(
            "the engine's window was measured under trading hash {} but the bot now trades {} \
             (strategy, limits, symbols or image changed): the window restarts when the engine runs the new config",
            short(e.trading_hash.as_deref()),
            short(Some(o.trading_hash))
        )),
        Some(e) if Some(e.phase) == base => match e.phase_started_at.parse::<Timestamp>() {
            Ok(engine_start) => {
                // Days count from the later of the operator's own record of
                // entering the phase and the engine's window start: an
                // engine cannot age its window, and a restarted window counts
                // from its restart.
                let start = entered(o.old, base).map_or(engine_start, |t| t.max(engine_start));
                let elapsed = o.now.duration_since(start);
                let elapsed = if elapsed.is_negative() {
                    std::time::Duration::ZERO
                } else {
                    elapsed.unsigned_abs()
                };
                let ledger = botfleet_crds::ledger_check::evidence(
                    e.ledger_check.as_ref(),
                    |at| {
                        let at = at.parse::<Timestamp>().ok()?;
                        Some(o.now.duration_since(at).as_secs())
                    },
                    botfleet_crds::ledger_check::LEDGER_CHECK_MAX_AGE_SECS,
                );
                gate::measurement(&e.window, o.config.days(elapsed), ledger)
            }
            Err(_) => Err(format!(
                "the engine reports an unreadable phaseStartedAt `{}`",
                e.phase_started_at
            )),
        },
        Some(e) => Err(format!(
            "the engine still trades in {} (it restarts with the new config)",
            e.phase
        )),
        None => Err(o.engine.error.clone().unwrap_or_default()),
    };
    let flat_confirmed = flat_confirmed(o);
    let holding = o.engine.status.as_ref().and_then(|e| {
        let (positions, orders) = (e.open_positions.len(), e.open_orders);
        (positions > 0 || orders > 0)
            .then(|| format!("{positions} open position(s) and {orders} open order(s)"))
    });
    let outcome = gate::decide(&GateInput {
        desired: o.bot.spec.phase,
        effective: base,
        promotion: o.bot.spec.promotion,
        gates: &o.policy.gates,
        measurement,
        halted: halt.status.is_some(),
        holding,
        flat_confirmed,
        approval: approval_gate(o, base),
    });
    let mut outcome = outcome;
    if let Some(g) = outcome.gate.as_mut()
        && o.engine
            .status
            .as_ref()
            .and_then(|e| e.trading_hash.as_deref())
            == Some(o.trading_hash)
    {
        g.trading_hash = Some(o.trading_hash.to_string());
    }
    if let Some(c) = &outcome.change {
        history.push(PhaseTransition {
            from: c.from,
            to: c.to,
            at: Time(o.now),
            reason: c.reason.clone(),
        });
    }
    (outcome, history)
}

fn decide_capital(o: &Observed<'_>, halt: &HaltPart, effective: Phase) -> capital::CapitalOutcome {
    let continuing_scaling = o.old.phase == Some(Phase::Scaling)
        && effective == Phase::Scaling
        && halt.resumed.is_none();
    capital::decide(&CapitalInput {
        effective,
        halted: halt.status.is_some(),
        spec_capital: o.bot.spec.capital,
        policy: &o.policy.capital,
        step: if continuing_scaling {
            o.old.capital.as_ref().and_then(|c| c.step)
        } else {
            None
        },
        period: o
            .old
            .capital
            .as_ref()
            .and_then(|c| c.period.clone())
            .filter(|_| continuing_scaling)
            .unwrap_or_default(),
        window: o
            .engine
            .status
            .as_ref()
            .filter(|e| continuing_scaling && e.phase == Phase::Scaling)
            .map(|e| &e.window),
        now: o.now,
        interval: o.config.day * o.policy.capital.step_interval_days,
    })
}

/// Whether the phase above `base` needs an approval, and the valid one
/// among the bot's PhaseApprovals (the rule itself lives in `crds`).
fn approval_gate(o: &Observed<'_>, base: Option<Phase>) -> ApprovalGate {
    let Some(phase) = base.and_then(Phase::next).filter(|p| p.is_real_money()) else {
        return ApprovalGate::NotNeeded;
    };
    with_approval_target(
        o,
        phase,
        o.approver_refusals,
        |target| match phase_approval::find_valid(o.approvals.iter().map(|a| a.as_ref()), target) {
            Ok(a) => ApprovalGate::Granted(ApprovalRecord {
                name: a.name_any(),
                uid: a.uid().unwrap_or_default(),
                phase,
                approved_by: a.spec.approved_by.clone(),
                trading_hash: a.spec.trading_hash.clone(),
                used_at: Time(o.now),
            }),
            Err(e) => ApprovalGate::Refused(Blocked {
                reason: e.reason(),
                message: e.message(target),
            }),
        },
    )
}

/// What an approval into `phase` must match for this bot now.
fn with_approval_target<T>(
    o: &Observed<'_>,
    phase: Phase,
    approver_refusals: &[ApproverRefusal],
    f: impl FnOnce(&ApprovalTarget<'_>) -> T,
) -> T {
    let (name, uid) = (o.bot.name_any(), o.bot.uid().unwrap_or_default());
    let used = o.old.used_approval_uids();
    f(&ApprovalTarget {
        bot_name: &name,
        bot_uid: &uid,
        phase,
        trading_hash: o.trading_hash,
        used: &used,
        now: o.now,
        approver_refusals,
    })
}

/// The approvals that would let the bot into its next, real-money phase,
/// when `spec.phase` asks for that promotion: the operator asks again
/// whether each one's approver may still approve the bot before it decides
/// (an RBAC right revoked after approving must not let the approval be
/// used). Empty otherwise, so a settled bot costs no access review.
pub fn approvals_to_recheck<'a>(o: &Observed<'a>) -> Vec<&'a PhaseApproval> {
    let current = o.old.phase;
    let Some(phase) = current
        .and_then(Phase::next)
        .filter(|p| p.is_real_money() && *p <= o.bot.spec.phase)
    else {
        return Vec::new();
    };
    let approvals = o.approvals;
    with_approval_target(o, phase, &[], |target| {
        approvals
            .iter()
            .map(|a| a.as_ref())
            .filter(|a| phase_approval::check(a, target).is_ok())
            .collect()
    })
}

/// The phase a resume returns to: the policy's resume phase, never higher
/// than where the bot was.
fn resume_phase(o: &Observed<'_>) -> Phase {
    o.policy
        .on_halt
        .resume_phase
        .min(o.old.phase.unwrap_or(Phase::Paper))
}

/// The engine answered in the current phase with no position and no order:
/// the only state in which a book may move to another venue.
fn flat_confirmed(o: &Observed<'_>) -> bool {
    o.engine.status.as_ref().is_some_and(|e| {
        Some(e.phase) == o.old.phase && e.open_positions.is_empty() && e.open_orders == 0
    })
}

/// A resume would move the book to another venue while the engine has not
/// confirmed it flat.
fn resume_moves_unflat_book(o: &Observed<'_>) -> bool {
    let from = o.old.phase.unwrap_or(Phase::Paper);
    resume_phase(o).book() != from.book() && !flat_confirmed(o)
}

/// Before a phase change that moves the book: halt (unless halted) and
/// have the engine flatten where the book is. Flatten is asked only while
/// the engine reports positions and no order in flight, so exits are never
/// sent twice; the engine keeps retrying a flatten it accepted.
fn flatten_before_move(o: &Observed<'_>, halt: &mut HaltPart, what: &str) {
    let from = o.old.phase.unwrap_or(Phase::Paper);
    if halt.status.is_none() {
        let reason = format!(
            "{what}: the book on {} is flattened before the bot moves",
            from.book()
        );
        let h = latch(o.bot, reason, None, o.now);
        halt.status = Some(h.clone());
        halt.new = Some((HaltSource::BookMove, h));
    }
    halt.flatten_needed = true;
    request_flatten(o, halt);
}

/// Queues a flatten of the latched halt when the engine holds positions
/// and has no order in flight (a queued halt request is turned into one).
fn request_flatten(o: &Observed<'_>, halt: &mut HaltPart) {
    let (Some(h), Some(e)) = (&halt.status, &o.engine.status) else {
        return;
    };
    if o.engine.address.is_none() {
        return;
    }
    if let Some(EngineCommand::Halt(req)) = halt
        .commands
        .iter_mut()
        .find(|c| matches!(c, EngineCommand::Halt(_)))
    {
        req.flatten = true;
        return;
    }
    if !e.open_positions.is_empty() && e.open_orders == 0 {
        halt.commands
            .push(EngineCommand::Halt(halt_request(h, true)));
    }
}

/// The first 12 characters of a hash, for messages.
fn short(hash: Option<&str>) -> &str {
    hash.map_or("(none)", |h| &h[..h.len().min(12)])
}

/// When the operator moved the bot into `phase`, from its phase history.
fn entered(old: &TradingBotStatus, phase: Option<Phase>) -> Option<Timestamp> {
    let last = old.phase_history.last()?;
    (Some(last.to) == phase).then_some(last.at.0)
}

/// Decides for a bot whose Strategy or RiskPolicy does not resolve: it is
/// not Ready, and the kill switch still works (the halt request then cannot
/// know the policy's flatten and only cancels orders).
pub fn decide_unresolved(
    bot: &TradingBot,
    old: &TradingBotStatus,
    problem: &Problem,
    now: Timestamp,
) -> (TradingBotStatus, Option<EngineCommand>) {
    let kill = bot.spec.halted && old.halt.is_none();
    let halt = kill.then(|| latch(bot, halt::KILL_SWITCH_REASON.into(), None, now));
    let status = conditions::not_ready(bot, old, problem, halt.as_ref(), now);
    let command = halt.map(|h| EngineCommand::Halt(halt_request(&h, false)));
    (status, command)
}

/// The halt a reconcile latches: the engine's own id when it halted
/// itself, else a new one.
fn latch(
    bot: &TradingBot,
    reason: String,
    engine_id: Option<String>,
    now: Timestamp,
) -> HaltStatus {
    let uid = bot.uid().unwrap_or_default();
    HaltStatus {
        id: engine_id.unwrap_or_else(|| halt::new_halt_id(now.as_millisecond(), &uid)),
        reason,
        at: Time(now),
    }
}

fn halt_request(h: &HaltStatus, flatten: bool) -> HaltRequest {
    HaltRequest {
        reason: h.reason.clone(),
        flatten,
        halt_id: Some(h.id.clone()),
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
