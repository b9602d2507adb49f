//! The controller loop: caches (engine pods, Strategies, RiskPolicies,
//! PhaseApprovals), triggers (bots, owned StatefulSets, and the Strategies,
//! RiskPolicies and PhaseApprovals bots use, each from its cache's own
//! stream), and the reconcile of each bot. Started by [`crate::start`].

use std::sync::Arc;

use botfleet_crds::{PhaseApproval, RiskPolicy, Strategy, TradingBot};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodStatus};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tracing::{debug, info};

use crate::FIELD_MANAGER;
use crate::children::AppliedCache;
use crate::config::OperatorConfig;
use crate::context::Context;
use crate::engine_client::EngineClient;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::reconcile;
use crate::render::ENGINE_CONTAINER;
use crate::resolve::uses_strategy;

/// Label selector of every object the operator creates.
pub use botfleet_crds::labels::MANAGED_SELECTOR as MANAGED;

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

/// What a cache holds: a kind the watcher lists, kept in a store.
trait Cached:
    kube::Resource<DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Cached for K where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

fn cache<K>(
    api: Api<K>,
    wc: watcher::Config,
    slim: fn(&mut K),
) -> (Store<K>, tokio::task::JoinHandle<()>)
where
    K: Cached,
{
    cache_with(api, wc, slim, None)
}

/// The changed objects of a [`cache_triggering`], each once its store holds it.
type Changes<K> = futures::stream::BoxStream<'static, std::result::Result<K, watcher::Error>>;

/// [`cache`], also handing on every object it takes in, once its store
/// holds it: the trigger of the bots that read `K` from that store. A
/// watch of its own could start a reconcile that still reads the old
/// object from the store, and the change would then wait for the next poll.
fn cache_triggering<K>(
    api: Api<K>,
    wc: watcher::Config,
    slim: fn(&mut K),
) -> (Store<K>, tokio::task::JoinHandle<()>, Changes<K>)
where
    K: Cached,
{
    // Unbounded: the cache must not wait for the controller, which starts
    // only once every cache has listed; policies and strategies are few.
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (store, task) = cache_with(api, wc, slim, Some(tx));
    let changes =
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|k| (Ok(k), rx)) },
        );
    (store, task, changes.boxed())
}

fn cache_with<K>(
    api: Api<K>,
    wc: watcher::Config,
    slim: fn(&mut K),
    changes: Option<tokio::sync::mpsc::UnboundedSender<K>>,
) -> (Store<K>, tokio::task::JoinHandle<()>)
where
    K: Cached,
{
    let (store, writer) = reflector::store();
    // The reflector writes each event to the store before it yields it.
    let stream = reflector::reflector(writer, watcher(api, wc).default_backoff().modify(slim))
        .touched_objects();
    let task = tokio::spawn(async move {
        stream
            .for_each(|touched| {
                if let (Some(tx), Ok(k)) = (&changes, touched) {
                    let _ = tx.send(k);
                }
                futures::future::ready(())
            })
            .await;
    });
    (store, task)
}

/// Drops what the caches never read (managed fields) to keep memory flat.
fn slim<K: kube::Resource>(obj: &mut K) {
    obj.meta_mut().managed_fields = None;
}

/// Engine pods: only labels, the IP and the engine's image id are read.
fn slim_pod(pod: &mut Pod) {
    pod.metadata.managed_fields = None;
    pod.metadata.annotations = None;
    pod.spec = None;
    if let Some(status) = pod.status.as_mut() {
        let engine = status
            .container_statuses
            .take()
            .into_iter()
            .flatten()
            .filter(|c| c.name == ENGINE_CONTAINER)
            .map(|c| ContainerStatus {
                name: c.name,
                image: c.image,
                image_id: c.image_id,
                ..Default::default()
            })
            .collect::<Vec<_>>();
        *status = PodStatus {
            pod_ip: status.pod_ip.take(),
            container_statuses: (!engine.is_empty()).then_some(engine),
            ..Default::default()
        };
    }
}

/// What re-triggers a bot: a spec change (generation), annotations (the
/// resume annotation) and deletion. Not its status nor its finalizers: the
/// operator's own writes must not re-trigger it (the reconcile that adds
/// the finalizer goes on with the bot as written; one removed by hand is
/// added back at the next poll).
fn bot_trigger(bot: &TradingBot) -> Option<u64> {
    let mut h = DefaultHasher::new();
    bot.metadata.generation.hash(&mut h);
    bot.metadata.annotations.hash(&mut h);
    bot.metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut h);
    Some(h.finish())
}

/// Whether a StatefulSet watch event re-triggers its bot, given the
/// generation last seen for it (`None`: first sight): a spec change by
/// someone else, or a deletion. Not the first sight: that is the operator's
/// own create, or the initial list after a restart (every bot is reconciled
/// then anyway).
fn workload_trigger(last_seen: Option<Option<i64>>, now: Option<Option<i64>>) -> bool {
    match (last_seen, now) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(before), Some(now)) => before != now,
    }
}

/// The engine StatefulSets (metadata only) into `writer`, and the changes
/// that re-trigger their bots (see [`workload_trigger`]).
fn workload_changes(
    api: Api<PartialObjectMeta<StatefulSet>>,
    writer: reflector::store::Writer<PartialObjectMeta<StatefulSet>>,
) -> impl futures::Stream<Item = std::result::Result<PartialObjectMeta<StatefulSet>, watcher::Error>>
{
    let mut seen: HashMap<String, Option<i64>> = HashMap::new();
    let events = watcher(api, watcher::Config::default().labels(MANAGED))
        .default_backoff()
        .modify(|s| s.metadata.managed_fields = None);
    reflector::reflector(writer, events).filter_map(move |event| {
        let mut check = |obj: PartialObjectMeta<StatefulSet>, deleted: bool| {
            let uid = obj.metadata.uid.clone().unwrap_or_default();
            let last = if deleted {
                seen.remove(&uid)
            } else {
                seen.insert(uid, obj.metadata.generation)
            };
            let now = (!deleted).then_some(obj.metadata.generation);
            workload_trigger(last, now).then_some(Ok(obj))
        };
        futures::future::ready(match event {
            Err(e) => Some(Err(e)),
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => check(o, false),
            Ok(watcher::Event::Delete(o)) => check(o, true),
            Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
        })
    })
}

/// Runs the controller until `stop` turns true: one for every namespace,
/// or one per watched namespace (`--namespace`), since a namespaced Role
/// allows no list across namespaces.
pub async fn run_controller(
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    if config.namespaces.is_empty() {
        return run_namespace(client, config, metrics, stop, None).await;
    }
    let runs = config.namespaces.iter().map(|ns| {
        run_namespace(
            client.clone(),
            config.clone(),
            metrics.clone(),
            stop.clone(),
            Some(ns.clone()),
        )
    });
    futures::future::try_join_all(runs).await.map(|_| ())
}

/// The controller of one namespace (`None`: all of them).
async fn run_namespace(
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
    ns: Option<String>,
) -> Result<()> {
    let (pods, pods_task) = cache::<Pod>(
        api(&client, &ns),
        watcher::Config::default().labels(MANAGED),
        slim_pod,
    );
    let (strategies, strategies_task, strategy_changes) =
        cache_triggering::<Strategy>(api(&client, &ns), watcher::Config::default(), slim);
    let (policies, policies_task, policy_changes) =
        cache_triggering::<RiskPolicy>(api(&client, &ns), watcher::Config::default(), slim);
    let (approvals, approvals_task, approval_changes) =
        cache_triggering::<PhaseApproval>(api(&client, &ns), watcher::Config::default(), slim);
    let (statefulsets, sts_writer) = reflector::store();
    let workloads = workload_changes(api(&client, &ns), sts_writer);
    let tasks = [pods_task, strategies_task, policies_task, approvals_task];
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let ready = async {
        pods.wait_until_ready().await.ok();
        strategies.wait_until_ready().await.ok();
        policies.wait_until_ready().await.ok();
        approvals.wait_until_ready().await.ok();
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
        approvals,
        failures: Default::default(),
        applied: AppliedCache::default(),
        conflicts: Default::default(),
        statefulsets,
        known: Default::default(),
    });
    let (bots, bot_writer) = reflector::store();
    let bot_stream = reflector::reflector(
        bot_writer,
        watcher(api::<TradingBot>(&client, &ns), watcher::Config::default())
            .default_backoff()
            .modify(slim::<TradingBot>),
    )
    .applied_objects()
    .predicate_filter(bot_trigger, Default::default());
    let controller = Controller::for_stream(bot_stream, bots.clone())
        .with_config(kube::runtime::controller::Config::default().concurrency(config.concurrency));
    let bots2 = bots.clone();
    info!(namespace = ?ns, "controller starting");
    controller
        .owns_stream(workloads)
        .watches_stream(strategy_changes, move |s| {
            let (ns, name) = (s.namespace(), s.name_any());
            bots.state()
                .into_iter()
                .filter(|b| b.namespace() == ns && uses_strategy(b, &name, &strategies))
                .map(|b| ObjectRef::from_obj(&*b))
                .collect::<Vec<_>>()
        })
        .watches_stream(policy_changes, move |p| {
            let (ns, name) = (p.namespace(), p.name_any());
            bots2
                .state()
                .into_iter()
                .filter(|b| b.namespace() == ns && b.spec.risk_policy_ref.name == name)
                .map(|b| ObjectRef::from_obj(&*b))
                .collect::<Vec<_>>()
        })
        .watches_stream(
            approval_changes,
            // An approval triggers the bot it names at once (a person waits for it).
            |a| {
                a.namespace()
                    .map(|ns| ObjectRef::<TradingBot>::new(&a.spec.bot.name).within(&ns))
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

#[cfg(test)]
mod tests {
    use super::workload_trigger;

    #[test]
    fn a_statefulset_triggers_its_bot_on_spec_change_or_deletion_only() {
        assert!(!workload_trigger(None, Some(Some(1))), "our own create");
        assert!(
            !workload_trigger(Some(Some(1)), Some(Some(1))),
            "status only"
        );
        assert!(
            workload_trigger(Some(Some(1)), Some(Some(2))),
            "spec edited"
        );
        assert!(workload_trigger(Some(Some(1)), None), "deleted");
        assert!(workload_trigger(None, None), "deleted, never seen");
    }
}
