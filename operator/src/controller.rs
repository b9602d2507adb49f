//! Starts the controller: caches (engine pods, Strategies, RiskPolicies),
//! watches (bots, owned StatefulSets and ConfigMaps, and the Strategies and
//! RiskPolicies bots use), and — when configured — leader election, so only
//! the replica holding the Lease acts.

use std::future::Future;
use std::sync::Arc;

use botfleet_crds::engine_api::EngineState;
use botfleet_crds::{BotState, RiskPolicy, RiskPolicySpec, Strategy, TradingBot, TradingBotStatus};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tracing::{debug, info};

use crate::children::AppliedCache;
use crate::config::OperatorConfig;
use crate::engine_client::EngineClient;
use crate::error::{Error, Result};
use crate::metrics::{BotView, Metrics};
use crate::reconcile::{self, Context};
use crate::resolve::uses_strategy;
use crate::{FIELD_MANAGER, leader};

/// Label selector of every object the operator creates.
pub const MANAGED: &str = "app.kubernetes.io/managed-by=botfleet-operator";

/// Runs the operator until `shutdown` completes: with leader election when
/// `config.leader_election` is set, else right away.
pub async fn run(
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    crate::install_crypto_provider();
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    if config.leader_election.is_some() {
        leader::run(client, config, metrics, rx).await
    } else {
        metrics.leader.set(1);
        run_controller(client, config, metrics, rx).await
    }
}

fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn cache<K>(api: Api<K>, wc: watcher::Config) -> (Store<K>, tokio::task::JoinHandle<()>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, wc))
        .default_backoff()
        .touched_objects();
    let task = tokio::spawn(async move {
        stream.for_each(|_| futures::future::ready(())).await;
    });
    (store, task)
}

/// Runs the controller until `stop` turns true.
pub async fn run_controller(
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let ns = config.namespace.clone();
    let (pods, pods_task) = cache::<Pod>(
        api(&client, &ns),
        watcher::Config::default().labels(MANAGED),
    );
    let (strategies, strategies_task) =
        cache::<Strategy>(api(&client, &ns), watcher::Config::default());
    let (policies, policies_task) =
        cache::<RiskPolicy>(api(&client, &ns), watcher::Config::default());
    let tasks = [pods_task, strategies_task, policies_task];
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let ready = async {
        pods.wait_until_ready().await.ok();
        strategies.wait_until_ready().await.ok();
        policies.wait_until_ready().await.ok();
    };
    tokio::select! {
        _ = ready => {}
        _ = stopped(stop.clone()) => {
            tasks.iter().for_each(|t| t.abort());
            return Ok(());
        }
    }
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: FIELD_MANAGER.into(),
            instance: Some(config.instance.clone()),
        },
    );
    let engine = EngineClient::new(config.engine_timeout)?;
    let ctx = Arc::new(Context {
        client: client.clone(),
        config: config.clone(),
        metrics,
        recorder,
        engine,
        pods,
        strategies: strategies.clone(),
        policies,
        failures: Default::default(),
        applied: AppliedCache::default(),
    });
    let controller = Controller::new(api::<TradingBot>(&client, &ns), watcher::Config::default());
    let bots = controller.store();
    let bots2 = bots.clone();
    info!(namespace = ?ns, "controller starting");
    controller
        .owns(
            api::<StatefulSet>(&client, &ns),
            watcher::Config::default().labels(MANAGED),
        )
        .owns(
            api::<ConfigMap>(&client, &ns),
            watcher::Config::default().labels(MANAGED),
        )
        .watches(
            api::<Strategy>(&client, &ns),
            watcher::Config::default(),
            move |s| {
                let (ns, name) = (s.namespace(), s.name_any());
                bots.state()
                    .into_iter()
                    .filter(|b| b.namespace() == ns && uses_strategy(b, &name, &strategies))
                    .map(|b| ObjectRef::from_obj(&*b))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            api::<RiskPolicy>(&client, &ns),
            watcher::Config::default(),
            move |p| {
                let (ns, name) = (p.namespace(), p.name_any());
                bots2
                    .state()
                    .into_iter()
                    .filter(|b| b.namespace() == ns && b.spec.risk_policy_ref.name == name)
                    .map(|b| ObjectRef::from_obj(&*b))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(stopped(stop))
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| {
            if let Err(e) = result {
                debug!(error = %e, "controller event");
            }
            futures::future::ready(())
        })
        .await;
    tasks.iter().for_each(|t| t.abort());
    info!("controller stopped");
    Ok(())
}

/// The bot state for an engine state.
pub fn bot_state(state: EngineState) -> BotState {
    match state {
        EngineState::Starting => BotState::Starting,
        EngineState::Trading => BotState::Trading,
        EngineState::Paused => BotState::Paused,
        EngineState::Halted => BotState::Halted,
        EngineState::Degraded => BotState::Degraded,
    }
}

/// Sets the per-bot gauges from the status just written.
pub fn export_bot_metrics(
    ctx: &Context,
    bot: &TradingBot,
    status: &TradingBotStatus,
    policy: &RiskPolicySpec,
) {
    let phase = status.phase.unwrap_or_default();
    let gate = status.gate.as_ref();
    let view = BotView {
        phase,
        desired: bot.spec.phase,
        state: status.state,
        equity: status.metrics.as_ref().map(|m| m.equity.to_f64()),
        drawdown_pct: status.metrics.as_ref().map(|m| m.drawdown_pct),
        drawdown_limit_pct: policy.limits_for(phase).max_drawdown_pct.to_f64(),
        capital: status
            .capital
            .as_ref()
            .map_or(0.0, |c| c.allocated.to_f64()),
        halted: status.halt.is_some(),
        gate_met: gate.map_or(0, |g| g.criteria.iter().filter(|c| c.met).count()),
        gate_total: gate.map_or(0, |g| g.criteria.len()),
    };
    ctx.metrics
        .set_bot(&bot.namespace().unwrap_or_default(), &bot.name_any(), &view);
}

impl From<kube_lease_manager::LeaseManagerError> for Error {
    fn from(e: kube_lease_manager::LeaseManagerError) -> Self {
        Error::Config(format!("leader election: {e}"))
    }
}
