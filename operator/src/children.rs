//! Server-side apply of a bot's children with the operator's one field
//! manager. Applies are skipped while nothing changed (a fingerprint per
//! bot), except after a restart, when the bot's StatefulSet is gone (from
//! the operator's metadata cache), or once per resync interval — so 1000
//! idle bots cost no writes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use botfleet_crds::TradingBot;
use kube::api::{ApiResource, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::FIELD_MANAGER;
use crate::child_conflict::{Conflict, owned};
use crate::error::{Error, Result};
use crate::network_policy;
use crate::render::{self, EngineInputs, RenderedConfig, WorkloadSettings};

/// Remembers what was applied for each bot (by UID).
#[derive(Default)]
pub struct AppliedCache {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl AppliedCache {
    fn needs(&self, uid: &str, fingerprint: &str, resync: Duration) -> bool {
        let entries = self.entries.lock().expect("cache lock");
        entries
            .get(uid)
            .is_none_or(|(f, at)| f != fingerprint || at.elapsed() >= resync)
    }

    fn record(&self, uid: &str, fingerprint: String) {
        self.entries
            .lock()
            .expect("cache lock")
            .insert(uid.into(), (fingerprint, Instant::now()));
    }

    /// Forgets a bot (deleted, or its children must be re-applied).
    pub fn forget(&self, uid: &str) {
        self.entries.lock().expect("cache lock").remove(uid);
    }
}

/// Applies `object` unless its name is taken by an object not owned by the
/// bot with `uid` (then `Error::ChildConflict`, nothing written).
async fn apply<K>(client: &Client, ns: &str, uid: &str, object: &K) -> Result<()>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Serialize
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let name = object.name_any();
    let dt = K::DynamicType::default();
    if owned(&api, &name, uid).await? == Some(false) {
        return Err(Error::ChildConflict(Box::new(Conflict {
            resource: ApiResource::erase::<K>(&dt),
            name,
        })));
    }
    let mut value = serde_json::to_value(object)?;
    // Server-side apply needs apiVersion and kind in the body.
    value["apiVersion"] = K::api_version(&dt).into();
    value["kind"] = K::kind(&dt).into();
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&value),
    )
    .await?;
    Ok(())
}

/// Applies the ConfigMap (with the operator's public keys), ServiceAccount,
/// Service, NetworkPolicy and
/// StatefulSet of `inputs.bot` when needed. Returns true when it wrote.
#[allow(clippy::too_many_arguments)]
pub async fn ensure(
    client: &Client,
    cache: &AppliedCache,
    inputs: &EngineInputs<'_>,
    config: &RenderedConfig,
    settings: &WorkloadSettings<'_>,
    public_keys: &str,
    workload_exists: bool,
    resync: Duration,
) -> Result<bool> {
    let bot: &TradingBot = inputs.bot;
    let ns = bot.namespace().unwrap_or_default();
    let uid = bot.uid().unwrap_or_default();
    let cm = render::config_map(bot, config, public_keys)?;
    let sa = render::service_account(bot)?;
    let svc = render::service(bot, settings)?;
    let sts = render::stateful_set(bot, config, settings)?;
    let np = settings
        .network_peers
        .map(|peers| network_policy::engine_network_policy(bot, settings.engine_port, peers))
        .transpose()?;
    let mut hasher = Sha256::new();
    for part in [
        serde_json::to_vec(&cm)?,
        serde_json::to_vec(&sa)?,
        serde_json::to_vec(&svc)?,
        serde_json::to_vec(&sts)?,
        serde_json::to_vec(&np)?,
    ] {
        hasher.update(&part);
    }
    let fingerprint = hex::encode(hasher.finalize());
    if workload_exists && !cache.needs(&uid, &fingerprint, resync) {
        return Ok(false);
    }
    // The config first, so a new pod finds it.
    apply(client, &ns, &uid, &cm).await?;
    apply(client, &ns, &uid, &sa).await?;
    apply(client, &ns, &uid, &svc).await?;
    // The pod's network rules before the pod.
    if let Some(np) = &np {
        apply(client, &ns, &uid, np).await?;
    }
    apply(client, &ns, &uid, &sts).await?;
    cache.record(&uid, fingerprint);
    Ok(true)
}
