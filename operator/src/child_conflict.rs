//! No takeover: a bot's child (ConfigMap `<bot>-config`, Secret, Service,
//! ServiceAccount, StatefulSet) that already exists without this bot's
//! ownerReference belongs to someone else. The operator never applies over
//! it (a forced server-side apply would silently take its fields); the bot
//! is `Ready=False` with reason `ChildConflict` until it is gone.

use std::collections::HashMap;
use std::sync::Mutex;

use botfleet_crds::condition_reasons::CHILD_CONFLICT;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Api, Client};
use serde::de::DeserializeOwned;

use crate::resolve::Problem;

/// A child name taken by a foreign object.
#[derive(Clone, Debug)]
pub struct Conflict {
    /// Its kind and API, to look again.
    pub resource: ApiResource,
    /// Its name (in the bot's namespace).
    pub name: String,
}

impl Conflict {
    /// The bot's `Ready=False` reason and a message naming the object and
    /// the fix (never its contents).
    pub fn problem(&self, bot: &str) -> Problem {
        Problem {
            reason: CHILD_CONFLICT,
            message: format!(
                "{} `{}` already exists and is not owned by TradingBot `{bot}` (no ownerReference to it): the operator does not take over objects it did not create; delete or rename that {}, or give the bot another name",
                self.resource.kind, self.name, self.resource.kind
            ),
        }
    }
}

/// Whether `meta` carries an ownerReference to the bot with `uid`.
pub fn owned_by(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|owner| owner.uid == uid)
}

/// Whether object `name` is owned by the bot with `uid`: `None` when it
/// does not exist. Asked with a JSON patch that only tests the first
/// ownerReference (what the operator writes), so it needs no `get` (the
/// operator may not read Secrets) and changes nothing.
pub async fn owned<K>(api: &Api<K>, name: &str, uid: &str) -> kube::Result<Option<bool>>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let test = serde_json::json!([
        {"op": "test", "path": "/metadata/ownerReferences/0/uid", "value": uid}
    ]);
    let patch: json_patch::Patch = serde_json::from_value(test).expect("a valid JSON patch");
    match api
        .patch(name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
    {
        Ok(_) => Ok(Some(true)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        // The test failed or the path is missing: someone else's object.
        Err(kube::Error::Api(status)) if status.code == 422 => Ok(Some(false)),
        Err(e) => Err(e),
    }
}

/// Whether the conflicting object still exists and is still foreign.
pub async fn still_foreign(
    client: &Client,
    ns: &str,
    conflict: &Conflict,
    uid: &str,
) -> kube::Result<bool> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &conflict.resource);
    Ok(owned(&api, &conflict.name, uid).await? == Some(false))
}

/// The conflicts found per bot UID, so later reconciles look only at the
/// conflicting object instead of rendering and applying again.
#[derive(Default)]
pub struct Conflicts {
    by_bot: Mutex<HashMap<String, Conflict>>,
}

impl Conflicts {
    pub fn record(&self, uid: &str, conflict: Conflict) {
        self.lock().insert(uid.into(), conflict);
    }

    pub fn get(&self, uid: &str) -> Option<Conflict> {
        self.lock().get(uid).cloned()
    }

    pub fn clear(&self, uid: &str) {
        self.lock().remove(uid);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Conflict>> {
        self.by_bot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;

    fn meta(owners: &[&str]) -> ObjectMeta {
        ObjectMeta {
            owner_references: Some(
                owners
                    .iter()
                    .map(|uid| OwnerReference {
                        uid: uid.to_string(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn only_an_owner_reference_to_this_bot_makes_a_child_ours() {
        assert!(owned_by(&meta(&["other", "bot-uid"]), "bot-uid"));
        assert!(!owned_by(&meta(&["other"]), "bot-uid"));
        assert!(!owned_by(&ObjectMeta::default(), "bot-uid"));
    }
}
