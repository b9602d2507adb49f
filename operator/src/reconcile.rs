//! One reconcile of one TradingBot: resolve its references, poll its
//! engine, decide halts, phase and capital (the pure modules), write the
//! status, apply the children, tell the engine, and emit Events for the
//! transitions — in that order, so the status write commits a transition
//! before anything announces it and a restart never repeats one.

use std::sync::Arc;

use botfleet_crds::engine_api::HaltRequest;
use botfleet_crds::{
    HaltAction, HaltStatus, Phase, PhaseTransition, Strategy, TradingBot, condition_types as ct,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Api, Resource, ResourceExt};
use tracing::warn;

use crate::capital::{self, CapitalInput, CapitalPeriod};
use crate::children;
use crate::context::{Context, EngineView, observe};
use crate::error::{Error, Result};
use crate::gate::{self, GateInput};
use crate::halt::{self, HaltDecision, HaltInput, HaltSource};
use crate::render::{self, EngineInputs, WorkloadSettings};
use crate::resolve::{self, Problem};
use crate::status::{self, Cond, set_condition};
use crate::{CAPITAL_PERIOD_ANNOTATION, FINALIZER, RESUME_ANNOTATION};
use crate::{announce, conditions};

/// Entry point of the controller: the finalizer wraps apply and cleanup.
pub async fn reconcile(bot: Arc<TradingBot>, ctx: Arc<Context>) -> Result<Action> {
    let span =
        tracing::info_span!("reconcile", bot = %bot.name_any(), namespace = ?bot.namespace());
    let _timer = ctx
        .metrics
        .reconcile_duration
        .with_label_values(&[] as &[&str])
        .start_timer();
    ctx.metrics.reconciles.inc();
    let ns = bot
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let api: Api<TradingBot> = Api::namespaced(ctx.client.clone(), &ns);
    let result = tracing::Instrument::instrument(
        finalizer(&api, FINALIZER, bot, |event| async {
            match event {
                FinalizerEvent::Apply(bot) => apply(bot, &ctx).await,
                FinalizerEvent::Cleanup(bot) => crate::finalizer::cleanup(bot, &ctx).await,
            }
        }),
        span,
    )
    .await;
    result.map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        kube::runtime::finalizer::Error::AddFinalizer(e)
        | kube::runtime::finalizer::Error::RemoveFinalizer(e) => Error::Kube(e),
        other => Error::Finalizer(other.to_string()),
    })
}

/// Requeue policy after an error: log, count, retry soon.
pub fn error_policy(bot: Arc<TradingBot>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(bot = %bot.name_any(), error = %error, "reconcile failed");
    ctx.metrics
        .reconcile_errors
        .with_label_values(&[error.kind()])
        .inc();
    Action::requeue(ctx.config.error_requeue)
}

/// Everything one reconcile decided, for the status and the Events.
pub struct Decisions {
    /// What the engine reported.
    pub engine: EngineView,
    /// The halt latch after this reconcile.
    pub halt_status: Option<HaltStatus>,
    /// A halt latched by this reconcile.
    pub new_halt: Option<(HaltSource, HaltStatus)>,
    /// The halt id lifted by this reconcile.
    pub resumed: Option<String>,
    /// Why a resume annotation did nothing.
    pub stay_note: Option<String>,
    /// The phase decision.
    pub outcome: gate::GateOutcome,
    /// The capital decision.
    pub cap: capital::CapitalOutcome,
    /// Phase changes made.
    pub history: Vec<PhaseTransition>,
    /// The policy flattens on halt.
    pub flatten: bool,
}

async fn not_ready(
    bot: &TradingBot,
    api: &Api<TradingBot>,
    ctx: &Context,
    p: Problem,
) -> Result<Action> {
    let old = bot.status.clone().unwrap_or_default();
    let mut new = old.clone();
    new.observed_generation = bot.metadata.generation;
    set_condition(
        &mut new.conditions,
        Cond {
            type_: ct::READY,
            status: "False",
            reason: p.reason,
            message: p.message.clone(),
        },
        bot.metadata.generation,
        Timestamp::now(),
    );
    // The kill switch works even when the references do not resolve.
    let kill = bot.spec.halted && old.halt.is_none();
    if kill {
        let uid = bot.uid().unwrap_or_default();
        let now = Timestamp::now();
        let h = HaltStatus {
            id: halt::new_halt_id(now.as_millisecond(), &uid),
            reason: "manual kill switch: spec.halted is true".into(),
            at: Time(now),
        };
        if let Some(a) = ctx.engine_address(bot) {
            let request = HaltRequest {
                reason: h.reason.clone(),
                flatten: false,
                halt_id: Some(h.id.clone()),
            };
            let token = ctx.config.token_key.derive(&uid);
            if let Err(e) = ctx.engine.halt(a, &token, &request).await {
                warn!(bot = %bot.name_any(), error = %e, "could not tell the engine to halt");
            }
        }
        set_condition(
            &mut new.conditions,
            Cond {
                type_: ct::HALTED,
                status: "True",
                reason: "ManualKillSwitch",
                message: format!(
                    "{}; halt id {}; to resume, annotate the bot with {}={}",
                    h.reason,
                    h.id,
                    crate::RESUME_ANNOTATION,
                    h.id
                ),
            },
            bot.metadata.generation,
            now,
        );
        new.halt = Some(h);
        new.state = Some(botfleet_crds::BotState::Halted);
    }
    let was = old
        .condition(ct::READY)
        .map(|c| (c.status.clone(), c.reason.clone()));
    if status::write(api, &bot.name_any(), &old, &new).await?
        && was != Some(("False".into(), p.reason.into()))
    {
        ctx.event(bot, EventType::Warning, p.reason, p.message)
            .await;
    }
    // A Strategy or RiskPolicy created just before the bot may not be in the
    // operator's cache yet, and its watch event, seen before the bot existed,
    // triggered nothing: look again soon rather than a poll interval later.
    Ok(Action::requeue(
        ctx.config.error_requeue.min(ctx.config.poll_interval),
    ))
}

async fn apply(bot: Arc<TradingBot>, ctx: &Context) -> Result<Action> {
    let ns = bot
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let api: Api<TradingBot> = Api::namespaced(ctx.client.clone(), &ns);
    // Read the bot fresh: the cache may not hold this operator's last status
    // write yet, and deciding on a stale status would repeat a transition.
    let bot = api.get(&bot.name_any()).await?;
    if bot.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let resolved = match resolve::resolve(&bot, &ctx.strategies, &ctx.policies) {
        Ok(r) => r,
        Err(p) => return not_ready(&bot, &api, ctx, p).await,
    };
    let policy = &resolved.policy.spec;
    let name = bot.name_any();
    let uid = bot.uid().ok_or(Error::MissingField("metadata.uid"))?;
    let token = ctx.config.token_key.derive(&uid);
    let now = Timestamp::now();
    let old = bot.status.clone().unwrap_or_default();
    let engine = observe(&bot, ctx).await;
    let annotation = bot.annotations().get(RESUME_ANNOTATION).map(String::as_str);

    // Halts.
    let matched = engine
        .status
        .as_ref()
        .filter(|e| Some(e.phase) == old.phase);
    let decision = halt::decide(&HaltInput {
        manual: bot.spec.halted,
        latched: old.halt.as_ref(),
        resume_annotation: annotation,
        engine: engine.status.as_ref(),
        engine_limits: matched.map(|e| policy.limits_for(e.phase)),
    });
    let flatten = policy.on_halt.action == HaltAction::Flatten;
    let mut halt_status = old.halt.clone();
    let mut new_halt: Option<(HaltSource, HaltStatus)> = None;
    let mut resumed: Option<String> = None;
    let mut stay_note = None;
    match &decision {
        HaltDecision::Running => {
            // The engine still reports the halt that was resumed: tell it again.
            if let (Some(e), Some(a)) = (&engine.status, engine.address)
                && let Some(h) = &e.halt
                && Some(h.id.as_str()) == annotation
            {
                let _ = ctx.engine.resume(a, &token, &h.id).await;
            }
        }
        HaltDecision::Stay { note } => stay_note = note.clone(),
        HaltDecision::Halt {
            source,
            reason,
            engine_id,
        } => {
            let id = engine_id
                .clone()
                .unwrap_or_else(|| halt::new_halt_id(now.as_millisecond(), &uid));
            let h = HaltStatus {
                id,
                reason: reason.clone(),
                at: Time(now),
            };
            halt_status = Some(h.clone());
            new_halt = Some((*source, h));
        }
        HaltDecision::Resume { halt_id } => {
            if let (Some(e), Some(a)) = (&engine.status, engine.address)
                && let Some(h) = &e.halt
            {
                ctx.engine.resume(a, &token, &h.id).await?;
            }
            halt_status = None;
            resumed = Some(halt_id.clone());
        }
    }
    // Tell the engine about a latched halt it does not report yet (a new
    // halt, or one it missed), before anything else: money first.
    if let (Some(h), Some(a)) = (&halt_status, engine.address)
        && engine.status.as_ref().is_none_or(|e| e.halt.is_none())
        && new_halt
            .as_ref()
            .is_none_or(|(s, _)| *s != HaltSource::Engine)
    {
        let request = HaltRequest {
            reason: h.reason.clone(),
            flatten,
            halt_id: Some(h.id.clone()),
        };
        if let Err(e) = ctx.engine.halt(a, &token, &request).await {
            warn!(bot = %name, error = %e, "could not tell the engine to halt; retrying next poll");
        }
    }

    // Phase.
    let mut history: Vec<PhaseTransition> = Vec::new();
    let mut base = old.phase;
    if let Some(id) = &resumed {
        let to = policy
            .on_halt
            .resume_phase
            .min(old.phase.unwrap_or(Phase::Paper));
        history.push(PhaseTransition {
            from: old.phase,
            to,
            at: Time(now),
            reason: format!("resumed after halt {id}"),
        });
        base = Some(to);
    }
    let measurement = match &engine.status {
        _ if resumed.is_some() => Err("the bot was just resumed".to_string()),
        Some(e) if Some(e.phase) == base => match e.phase_started_at.parse::<Timestamp>() {
            Ok(start) => {
                let elapsed = now.duration_since(start).unsigned_abs();
                gate::measurement(&e.window, ctx.config.days(elapsed))
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
        None => Err(engine.error.clone().unwrap_or_default()),
    };
    let holding = engine.status.as_ref().and_then(|e| {
        let (positions, orders) = (e.open_positions.len(), e.open_orders);
        (positions > 0 || orders > 0)
            .then(|| format!("{positions} open position(s) and {orders} open order(s)"))
    });
    let outcome = gate::decide(&GateInput {
        desired: bot.spec.phase,
        effective: base,
        promotion: bot.spec.promotion,
        gates: &policy.gates,
        measurement,
        halted: halt_status.is_some(),
        holding,
    });
    if let Some(c) = &outcome.change {
        history.push(PhaseTransition {
            from: c.from,
            to: c.to,
            at: Time(now),
            reason: c.reason.clone(),
        });
    }
    let effective = outcome.effective;

    // Capital.
    let period_text = bot.annotations().get(CAPITAL_PERIOD_ANNOTATION).cloned();
    let continuing_scaling =
        old.phase == Some(Phase::Scaling) && effective == Phase::Scaling && resumed.is_none();
    let cap = capital::decide(&CapitalInput {
        effective,
        halted: halt_status.is_some(),
        spec_capital: bot.spec.capital,
        policy: &policy.capital,
        step: if continuing_scaling {
            old.capital.as_ref().and_then(|c| c.step)
        } else {
            None
        },
        period: CapitalPeriod::parse(period_text.as_deref()),
        window: engine
            .status
            .as_ref()
            .filter(|e| continuing_scaling && e.phase == Phase::Scaling)
            .map(|e| &e.window),
        now,
        interval: ctx.config.day * policy.capital.step_interval_days,
    });

    // Status.
    let decisions = Decisions {
        engine,
        halt_status,
        new_halt,
        resumed,
        stay_note,
        outcome,
        cap,
        history,
        flatten,
    };
    let new = conditions::build(
        &bot,
        &old,
        &decisions,
        policy,
        ctx.config.engine_failure_threshold,
        now,
    );
    status::write(&api, &name, &old, &new).await?;

    // Capital interval bookkeeping (rarely changes).
    let cap = &decisions.cap;
    let period_value = cap.period.to_annotation();
    if period_text.as_deref() != Some(period_value.as_str())
        && (period_text.is_some() || cap.period != CapitalPeriod::default())
    {
        let patch = serde_json::json!({"metadata": {"annotations": {CAPITAL_PERIOD_ANNOTATION: period_value}}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }

    // Children.
    let members: Vec<&Strategy> = resolved.members.iter().map(|m| m.as_ref()).collect();
    let inputs = EngineInputs {
        bot: &bot,
        strategy: &resolved.strategy,
        members,
        policy: &resolved.policy,
        phase: effective,
        capital: cap.allocated,
        halted: decisions.halt_status.is_some(),
    };
    let rendered = render::engine_config(&inputs)?;
    let settings = WorkloadSettings {
        default_image: &ctx.config.engine_image,
        engine_port: ctx.config.engine_port,
    };
    children::ensure(
        &ctx.client,
        &ctx.applied,
        &inputs,
        &rendered,
        &settings,
        &token,
        ctx.pod_exists(&bot),
        ctx.config.resync_interval,
    )
    .await?;

    // Events and counters, now that the transitions are committed.
    announce::announce(ctx, &bot, &old, &decisions).await;
    crate::controller::export_bot_metrics(ctx, &bot, &new, policy);
    Ok(Action::requeue(ctx.config.poll_interval))
}
