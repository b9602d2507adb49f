//! One reconcile of one TradingBot: resolve its references, poll its
//! engine, decide halts, phase and capital (the pure modules), write the
//! status, apply the children, tell the engine, and emit Events for the
//! transitions — in that order, so the status write commits a transition
//! before anything announces it and a restart never repeats one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use botfleet_crds::engine_api::{EngineStatus, HaltRequest};
use botfleet_crds::{
    HaltAction, HaltStatus, Phase, PhaseTransition, RiskPolicy, Strategy, TradingBot,
    TradingBotStatus, condition_types as ct,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{info, warn};

use crate::capital::{self, CapitalInput, CapitalPeriod};
use crate::children::{self, AppliedCache};
use crate::config::OperatorConfig;
use crate::engine_client::{EngineAddress, EngineClient};
use crate::error::{Error, Result};
use crate::gate::{self, ChangeKind, GateInput};
use crate::halt::{self, HaltDecision, HaltInput, HaltSource};
use crate::metrics::Metrics;
use crate::render::{self, EngineInputs, WorkloadSettings};
use crate::resolve::{self, Problem};
use crate::status::{self, Cond, bool_status, set_condition};
use crate::{BOT_LABEL, CAPITAL_PERIOD_ANNOTATION, FINALIZER, RESUME_ANNOTATION};

/// Shared state of the controller.
pub struct Context {
    /// API client (the operator's identity).
    pub client: Client,
    /// Settings.
    pub config: OperatorConfig,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Event publisher.
    pub recorder: Recorder,
    /// Engine HTTP client.
    pub engine: EngineClient,
    /// Engine pods (for their IPs).
    pub pods: Store<Pod>,
    /// Strategies.
    pub strategies: Store<Strategy>,
    /// RiskPolicies.
    pub policies: Store<RiskPolicy>,
    /// Consecutive failed polls per bot UID.
    pub failures: Mutex<HashMap<String, u32>>,
    /// What was applied per bot.
    pub applied: AppliedCache,
}

impl Context {
    /// The engine address of `bot`: its pod's IP and the engine port.
    pub fn engine_address(&self, bot: &TradingBot) -> Option<EngineAddress> {
        let ns = bot.namespace()?;
        let pod = self
            .pods
            .get(&ObjectRef::new(&format!("{}-0", bot.name_any())).within(&ns))?;
        if pod.labels().get(BOT_LABEL) != Some(&bot.name_any()) {
            return None;
        }
        let ip: IpAddr = pod.status.as_ref()?.pod_ip.as_ref()?.parse().ok()?;
        Some(EngineAddress {
            ip,
            port: self.config.engine_port,
        })
    }

    fn pod_exists(&self, bot: &TradingBot) -> bool {
        let ns = bot.namespace().unwrap_or_default();
        self.pods
            .get(&ObjectRef::new(&format!("{}-0", bot.name_any())).within(&ns))
            .is_some()
    }

    /// Publishes an Event about `bot` (failures are logged, not fatal).
    pub async fn event(&self, bot: &TradingBot, type_: EventType, reason: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note.chars().take(1000).collect()),
            action: reason.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &bot.object_ref(&())).await {
            warn!(bot = %bot.name_any(), error = %e, "could not publish an Event");
        }
    }
}

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

/// What happened to the engine this reconcile.
struct EngineView {
    status: Option<EngineStatus>,
    error: Option<String>,
    failures: u32,
    address: Option<EngineAddress>,
}

async fn observe(bot: &TradingBot, ctx: &Context) -> EngineView {
    let uid = bot.uid().unwrap_or_default();
    let address = ctx.engine_address(bot);
    let result = match address {
        Some(a) => ctx.engine.status(a).await.map_err(|e| e.to_string()),
        None => Err("the engine pod has no IP yet".into()),
    };
    let mut failures = ctx.failures.lock().expect("failures lock");
    let count = failures.entry(uid).or_default();
    match result {
        Ok(s) => {
            *count = 0;
            EngineView {
                status: Some(s),
                error: None,
                failures: 0,
                address,
            }
        }
        Err(e) => {
            if address.is_some() {
                *count += 1;
                ctx.metrics
                    .engine_poll_failures
                    .with_label_values(&[&bot.namespace().unwrap_or_default(), &bot.name_any()])
                    .inc();
            }
            EngineView {
                status: None,
                error: Some(e),
                failures: *count,
                address,
            }
        }
    }
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
    let was = old
        .condition(ct::READY)
        .map(|c| (c.status.clone(), c.reason.clone()));
    if status::write(api, &bot.name_any(), &old, &new).await?
        && was != Some(("False".into(), p.reason.into()))
    {
        ctx.event(bot, EventType::Warning, p.reason, p.message)
            .await;
    }
    Ok(Action::requeue(ctx.config.poll_interval))
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
    let outcome = gate::decide(&GateInput {
        desired: bot.spec.phase,
        effective: base,
        promotion: bot.spec.promotion,
        gates: &policy.gates,
        measurement,
        halted: halt_status.is_some(),
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
    let threshold = ctx.config.engine_failure_threshold;
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
    status::write(&api, &name, &old, &new).await?;

    // Capital interval bookkeeping (rarely changes).
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
        halted: halt_status.is_some(),
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
    let labels = [ns.as_str(), name.as_str()];
    if let Some((source, h)) = &new_halt {
        ctx.metrics.bot_halts.with_label_values(&labels).inc();
        info!(bot = %name, halt = %h.id, ?source, "halted");
        ctx.event(
            &bot,
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
            &bot,
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
            &bot,
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
            &bot,
            EventType::Normal,
            reason,
            format!("step {} → {}: {}", s.from, s.to, s.reason),
        )
        .await;
    }
    let blocked_before = old
        .condition(ct::PROMOTION_BLOCKED)
        .map(|c| (c.status.clone(), c.reason.clone()));
    if let Some(b) = &outcome.blocked
        && blocked_before != Some(("True".into(), b.reason.into()))
    {
        ctx.event(
            &bot,
            EventType::Warning,
            "PromotionBlocked",
            b.message.clone(),
        )
        .await;
    }
    crate::controller::export_bot_metrics(ctx, &bot, &new, policy);
    Ok(Action::requeue(ctx.config.poll_interval))
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
