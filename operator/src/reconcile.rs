//! One reconcile of one TradingBot, I/O only: read the bot fresh, resolve
//! its references, poll its engine, [`decide`](crate::decide::decide), then
//! act — tell the engine, write the status, announce, apply the children —
//! in that order, so the status write commits a transition before anything
//! announces it and a restart never repeats one.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use botfleet_crds::labels::FINALIZER;
use botfleet_crds::{ConditionStatus, Strategy, TradingBot, condition_types as ct};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use tracing::warn;

use crate::approver::{self, ApproverCheck};
use crate::context::{Context, observe};
use crate::decide::{approvals_to_recheck, decide, decide_unresolved};
use crate::decisions::{EngineCommand, EngineView, Observed};
use crate::engine_client::Signer;
use crate::error::{Error, Result};
use crate::render::{self, EngineInputs, WorkloadSettings};
use crate::resolve::{self, Problem, Resolved};
use crate::{announce, children, fresh, status};

/// Entry point of the controller: the finalizer first (added, then the
/// same reconcile goes on with the bot as written), apply or cleanup.
pub async fn reconcile(bot: Arc<TradingBot>, ctx: Arc<Context>) -> Result<Action> {
    let span =
        tracing::info_span!("reconcile", bot = %bot.name_any(), namespace = ?bot.namespace());
    let _measure = ctx.metrics.count_and_measure();
    let ns = bot
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let api: Api<TradingBot> = Api::namespaced(ctx.client.clone(), &ns);
    let work = async {
        let has_finalizer = bot.finalizers().iter().any(|f| f == FINALIZER);
        match (has_finalizer, bot.meta().deletion_timestamp.is_some()) {
            (true, true) => {
                let action = crate::finalizer::cleanup(bot.clone(), &ctx).await?;
                crate::finalizer::release(&api, &bot).await?;
                Ok(action)
            }
            (false, true) => Ok(Action::await_change()),
            (true, false) => {
                let fresh = fresh::read(&api, &bot, &ctx.known).await?;
                apply(fresh, &ns, &api, &ctx).await
            }
            (false, false) => {
                let written = crate::finalizer::add(&api, &bot).await?;
                ctx.known.record(&written);
                apply(written, &ns, &api, &ctx).await
            }
        }
    };
    // A panic while handling one bot (a bug, or numbers no one foresaw) fails
    // that reconcile only: it is counted and retried, and every other bot
    // stays supervised.
    tracing::Instrument::instrument(AssertUnwindSafe(work).catch_unwind(), span)
        .await
        .map_err(|panic| Error::Panic(panic_message(&panic)))?
}

/// Requeue policy after an error: log, count, retry soon.
pub fn error_policy(bot: Arc<TradingBot>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(bot = %bot.name_any(), error = %error, "reconcile failed");
    ctx.metrics.count_failure(error);
    Action::requeue(ctx.config.error_requeue)
}

/// Decides and acts on `bot`, read fresh (see [`fresh`]): deciding on a
/// status without this operator's last write would repeat a transition.
async fn apply(bot: TradingBot, ns: &str, api: &Api<TradingBot>, ctx: &Context) -> Result<Action> {
    if bot.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let trusted = resolve::trusted_image(
        &bot,
        &ctx.config.engine_image,
        &ctx.config.trusted_engine_images,
    );
    let resolved = trusted.and_then(|_| resolve::resolve(&bot, &ctx.strategies, &ctx.policies));
    match (resolved, child_conflict(&bot, ns, ctx).await?) {
        (Err(problem), _) | (Ok(_), Some(problem)) => {
            apply_unresolved(&bot, &problem, api, ctx).await
        }
        (Ok(resolved), None) => apply_resolved(&bot, &resolved, api, ctx).await,
    }
}

/// The problem of a child name found taken by a foreign object, while it
/// still is; once it is gone, the children are applied again.
async fn child_conflict(bot: &TradingBot, ns: &str, ctx: &Context) -> Result<Option<Problem>> {
    let uid = uid(bot)?;
    let Some(conflict) = ctx.conflicts.get(&uid) else {
        return Ok(None);
    };
    if crate::child_conflict::still_foreign(&ctx.client, ns, &conflict, &uid).await? {
        return Ok(Some(conflict.problem(&bot.name_any())));
    }
    ctx.conflicts.clear(&uid);
    ctx.applied.forget(&uid);
    Ok(None)
}

async fn apply_resolved(
    bot: &TradingBot,
    resolved: &Resolved,
    api: &Api<TradingBot>,
    ctx: &Context,
) -> Result<Action> {
    let old = bot.status.clone().unwrap_or_default();
    let engine = observe(bot, ctx).await;
    let members: Vec<&Strategy> = resolved.members.iter().map(|m| m.as_ref()).collect();
    let image = bot
        .spec
        .engine
        .image
        .as_deref()
        .unwrap_or(&ctx.config.engine_image);
    let mut inputs = EngineInputs {
        bot,
        strategy: &resolved.strategy,
        members,
        policy: &resolved.policy,
        phase: old.phase.unwrap_or_default(),
        capital: bot.spec.capital,
        halt_id: None,
        image,
    };
    let trading_hash = inputs.trading_hash();
    let approvals = ctx.approvals_for(bot);
    let mut observed = Observed {
        bot,
        old: &old,
        policy: &resolved.policy.spec,
        engine: &engine,
        now: Timestamp::now(),
        config: &ctx.config,
        trading_hash: &trading_hash,
        approvals: &approvals,
        approver_refusals: &[],
    };
    let recheck = if ctx.config.recheck_approvers {
        approvals_to_recheck(&observed)
    } else {
        Vec::new()
    };
    let refusals = if recheck.is_empty() {
        Vec::new()
    } else {
        approver::refusals(&ApproverCheck::new(ctx.client.clone()), &recheck).await
    };
    observed.approver_refusals = &refusals;
    let d = decide(&observed);
    tell_engine(bot, ctx, &engine, &d.engine_commands).await?;
    status::write(api, bot, &d.status, &ctx.known).await?;
    // Events and counters, now that the transitions are committed — before
    // the children: the next reconcile reads the transition as done, so a
    // failed config write (or a kill there) must not lose its announcement.
    announce::announce(ctx, bot, &old, &d).await;
    inputs.phase = d.outcome.effective;
    inputs.capital = d.cap.allocated;
    inputs.halt_id = d.halt_status.as_ref().map(|h| h.id.as_str());
    let conflict = match apply_children(bot, ctx, &inputs).await {
        Err(Error::ChildConflict(conflict)) => Some(conflict),
        other => other.map(|()| None)?,
    };
    ctx.metrics
        .export_bot(bot, &d.status, &resolved.policy.spec);
    if let Some(conflict) = conflict {
        // Nothing was taken over; the next reconcile reports it (Ready=False).
        ctx.conflicts.record(&uid(bot)?, *conflict);
        return Ok(Action::requeue(
            ctx.config.error_requeue.min(ctx.config.poll_interval),
        ));
    }
    Ok(Action::requeue(ctx.config.poll_interval))
}

async fn apply_unresolved(
    bot: &TradingBot,
    problem: &Problem,
    api: &Api<TradingBot>,
    ctx: &Context,
) -> Result<Action> {
    let old = bot.status.clone().unwrap_or_default();
    let (new, command) = decide_unresolved(bot, &old, problem, Timestamp::now());
    if let Some(command) = command {
        let engine = EngineView {
            address: ctx.engine_address(bot),
            ..Default::default()
        };
        tell_engine(bot, ctx, &engine, &[command]).await?;
    }
    let was_reported = old.condition_is(ct::READY, ConditionStatus::False, problem.reason);
    if status::write(api, bot, &new, &ctx.known).await? && !was_reported {
        ctx.event(
            bot,
            EventType::Warning,
            problem.reason,
            problem.message.clone(),
        )
        .await;
    }
    // A Strategy or RiskPolicy created just before the bot may not be in the
    // operator's cache yet, and its watch event, seen before the bot existed,
    // triggered nothing: look again soon rather than a poll interval later.
    Ok(Action::requeue(
        ctx.config.error_requeue.min(ctx.config.poll_interval),
    ))
}

/// Sends the engine what `decide` asked, in order. A failed halt is logged
/// (the next poll sends it again); a failed required resume fails the
/// reconcile before the status says resumed.
async fn tell_engine(
    bot: &TradingBot,
    ctx: &Context,
    engine: &EngineView,
    commands: &[EngineCommand],
) -> Result<()> {
    let Some(address) = engine.address else {
        return Ok(());
    };
    let uid = uid(bot)?;
    let signer = Signer {
        keys: &ctx.config.signing,
        uid: &uid,
    };
    for command in commands {
        match command {
            EngineCommand::Halt(request) => {
                if let Err(e) = ctx.engine.halt(address, signer, request).await {
                    warn!(bot = %bot.name_any(), error = %e, "could not tell the engine to halt; retrying next poll");
                }
            }
            EngineCommand::Resume { halt_id, required } => {
                let result = ctx.engine.resume(address, signer, halt_id).await;
                if *required {
                    result?;
                }
            }
        }
    }
    Ok(())
}

async fn apply_children(bot: &TradingBot, ctx: &Context, inputs: &EngineInputs<'_>) -> Result<()> {
    let rendered = render::engine_config(inputs)?;
    let settings = WorkloadSettings {
        default_image: &ctx.config.engine_image,
        engine_port: ctx.config.engine_port,
        endpoints: &ctx.config.engine_endpoints,
        network_peers: ctx.config.network_peers.as_ref(),
    };
    // A rotated key reaches the engines through their ConfigMaps.
    if let Err(e) = ctx.config.signing.refresh() {
        warn!(error = %e, "the signing key file is unusable; keeping the loaded key");
    }
    let public_keys = ctx.config.signing.public_keys_file();
    children::ensure(
        &ctx.client,
        &ctx.applied,
        inputs,
        &rendered,
        &settings,
        &public_keys,
        ctx.workload_exists(bot),
        ctx.config.resync_interval,
    )
    .await?;
    Ok(())
}

fn uid(bot: &TradingBot) -> Result<String> {
    bot.uid().ok_or(Error::MissingField("metadata.uid"))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
