//! The controller's shared state (clients, caches, settings) and the poll of
//! one engine's `/status`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use botfleet_crds::engine_api::EngineStatus;
use botfleet_crds::{PhaseApproval, RiskPolicy, Strategy, TradingBot};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use tracing::warn;

use crate::children::AppliedCache;
use crate::config::OperatorConfig;
use crate::decisions::EngineView;
use crate::engine_client::{EngineAddress, EngineClient};
use crate::fresh::KnownVersions;
use crate::metrics::Metrics;
use crate::render::ENGINE_CONTAINER;
use botfleet_crds::labels::BOT_LABEL;

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
    /// PhaseApprovals.
    pub approvals: Store<PhaseApproval>,
    /// Consecutive failed polls per bot UID.
    pub failures: Mutex<HashMap<String, u32>>,
    /// What was applied per bot.
    pub applied: AppliedCache,
    /// Children found taken by foreign objects, per bot UID.
    pub conflicts: crate::child_conflict::Conflicts,
    /// Engine StatefulSets, metadata only (to know the children exist).
    pub statefulsets: Store<PartialObjectMeta<StatefulSet>>,
    /// The bot versions this operator last wrote or read.
    pub known: KnownVersions,
}

impl Context {
    /// The engine pod of `bot` (`<bot>-0`, labelled for it), from the cache.
    fn engine_pod(&self, bot: &TradingBot) -> Option<Arc<Pod>> {
        let ns = bot.namespace()?;
        let pod = self
            .pods
            .get(&ObjectRef::new(&format!("{}-0", bot.name_any())).within(&ns))?;
        (pod.labels().get(BOT_LABEL) == Some(&bot.name_any())).then_some(pod)
    }

    /// The image the engine container runs, by digest, as the kubelet
    /// reports it (`containerStatuses[].imageID`).
    pub fn engine_image_id(&self, bot: &TradingBot) -> Option<String> {
        let pod = self.engine_pod(bot)?;
        pod.status
            .as_ref()?
            .container_statuses
            .as_ref()?
            .iter()
            .find(|c| c.name == ENGINE_CONTAINER)
            .map(|c| c.image_id.clone())
            .filter(|id| !id.is_empty())
    }

    /// The engine address of `bot`: its pod's IP and the engine port.
    pub fn engine_address(&self, bot: &TradingBot) -> Option<EngineAddress> {
        let pod = self.engine_pod(bot)?;
        let ip: IpAddr = pod.status.as_ref()?.pod_ip.as_ref()?.parse().ok()?;
        Some(EngineAddress {
            ip,
            port: self.config.engine_port,
        })
    }

    /// The PhaseApprovals in `bot`'s namespace that name it.
    pub fn approvals_for(&self, bot: &TradingBot) -> Vec<Arc<PhaseApproval>> {
        let (ns, name) = (bot.namespace(), bot.name_any());
        self.approvals
            .state()
            .into_iter()
            .filter(|a| a.namespace() == ns && a.spec.bot.name == name)
            .collect()
    }

    /// True when the engine pod (`<bot>-0`) exists.
    pub fn pod_exists(&self, bot: &TradingBot) -> bool {
        let ns = bot.namespace().unwrap_or_default();
        self.pods
            .get(&ObjectRef::new(&format!("{}-0", bot.name_any())).within(&ns))
            .is_some()
    }

    /// True when `bot`'s StatefulSet exists and is owned by it: its children
    /// were applied (a deleted StatefulSet makes the next reconcile apply
    /// them again; its pods are the StatefulSet controller's to recreate).
    pub fn workload_exists(&self, bot: &TradingBot) -> bool {
        let (Some(ns), Some(uid)) = (bot.namespace(), bot.uid()) else {
            return false;
        };
        self.statefulsets
            .get(&ObjectRef::new(&bot.name_any()).within(&ns))
            .is_some_and(|sts| crate::child_conflict::owned_by(&sts.metadata, &uid))
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

/// Polls `bot`'s engine once and counts failures in a row.
pub async fn observe(bot: &TradingBot, ctx: &Context) -> EngineView {
    let uid = bot.uid().unwrap_or_default();
    let address = ctx.engine_address(bot);
    let result = match address {
        Some(a) => ctx
            .engine
            .status(a)
            .await
            .map_err(|e| e.to_string())
            .and_then(|s| answers_for(&s, bot).map(|()| s)),
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
                image_id: ctx.engine_image_id(bot),
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
                image_id: ctx.engine_image_id(bot),
            }
        }
    }
}

/// An answer counts only when it comes from this bot's engine: the same
/// name and UID as the bot (a pod that took over the address, or another
/// bot's engine, is a failed poll, never data).
pub fn answers_for(status: &EngineStatus, bot: &TradingBot) -> Result<(), String> {
    let (name, uid) = (bot.name_any(), bot.uid());
    if status.bot == name && status.uid.is_some() && status.uid == uid {
        return Ok(());
    }
    Err(format!(
        "the engine at this address answers for bot `{}` (uid {}), not `{name}` (uid {}); its numbers are ignored",
        status.bot,
        status.uid.as_deref().unwrap_or("none"),
        uid.as_deref().unwrap_or("none"),
    ))
}
