//! What happens when a TradingBot is deleted: before Kubernetes may remove
//! the bot (and garbage-collect its engine), the operator halts the engine
//! and cancels its open orders. It waits at most the finalizer timeout
//! (counted from the deletion request) for the engine to confirm, then
//! releases the bot either way, with an Event saying what happened.
//! Adding the finalizer returns the bot as written, so the first reconcile
//! goes on with it at once instead of waiting for its own watch event.

use std::sync::Arc;

use botfleet_crds::engine_api::HaltRequest;
use botfleet_crds::{HaltAction, TradingBot};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use tracing::info;

use crate::context::Context;
use crate::engine_client::Signer;
use crate::error::{Error, Result};
use crate::halt::new_halt_id;
use botfleet_crds::labels::FINALIZER;

/// Adds the operator's finalizer to `bot` and returns the bot as written.
/// The JSON patch tests the finalizers it read, so a concurrent change fails
/// (409/422) and is retried rather than duplicated or lost.
pub async fn add(api: &Api<TradingBot>, bot: &TradingBot) -> Result<TradingBot> {
    let ops = match bot.meta().finalizers.as_deref() {
        None | Some([]) => serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ]),
        Some(existing) => serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": existing},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
        ]),
    };
    let patch: json_patch::Patch = serde_json::from_value(ops)?;
    Ok(api
        .patch(
            &bot.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await?)
}

/// Removes the operator's finalizer from `bot` (tested by position, so
/// another controller's finalizer is never removed instead).
pub async fn release(api: &Api<TradingBot>, bot: &TradingBot) -> Result<()> {
    let Some(i) = bot.finalizers().iter().position(|f| f == FINALIZER) else {
        return Ok(());
    };
    let path = format!("/metadata/finalizers/{i}");
    let ops = serde_json::json!([
        {"op": "test", "path": path, "value": FINALIZER},
        {"op": "remove", "path": path},
    ]);
    let patch: json_patch::Patch = serde_json::from_value(ops)?;
    api.patch(
        &bot.name_any(),
        &PatchParams::default(),
        &Patch::<()>::Json(patch),
    )
    .await?;
    Ok(())
}

/// Stops the engine of a deleted bot, then lets the bot go.
pub async fn cleanup(bot: Arc<TradingBot>, ctx: &Context) -> Result<Action> {
    let ns = bot.namespace().unwrap_or_default();
    let name = bot.name_any();
    let uid = bot.uid().unwrap_or_default();
    let now = Timestamp::now();
    let deleted_at = bot.meta().deletion_timestamp.as_ref().map_or(now, |t| t.0);
    let waited = now.duration_since(deleted_at).unsigned_abs();
    let flatten = ctx
        .policies
        .get(&ObjectRef::new(&bot.spec.risk_policy_ref.name).within(&ns))
        .is_some_and(|p| p.spec.on_halt.action == HaltAction::Flatten);
    let result: std::result::Result<String, String> = match ctx.engine_address(&bot) {
        None if !ctx.pod_exists(&bot) => Ok("no engine pod was running; nothing to stop".into()),
        None => Err("the engine pod has no IP".into()),
        Some(at) => {
            let signer = Signer {
                keys: &ctx.config.signing,
                uid: &uid,
            };
            let halt_id = bot
                .status
                .as_ref()
                .and_then(|s| s.halt.as_ref())
                .map_or_else(|| new_halt_id(now.as_millisecond(), &uid), |h| h.id.clone());
            let request = HaltRequest {
                reason: "TradingBot deleted".into(),
                flatten,
                halt_id: Some(halt_id.clone()),
            };
            match ctx.engine.halt(at, signer, &request).await {
                Err(e) => Err(e.to_string()),
                Ok(()) => match ctx.engine.cancel_all(at, signer).await {
                    Err(e) => Err(e.to_string()),
                    Ok(()) => Ok(format!(
                        "engine halted (halt id {halt_id}{}) and open orders cancelled",
                        if flatten { ", positions flattened" } else { "" }
                    )),
                },
            }
        }
    };
    match result {
        Ok(what) => {
            ctx.event(
                &bot,
                EventType::Normal,
                "EngineStopped",
                format!("{what}; releasing the bot"),
            )
            .await;
            info!(bot = %name, "{what}; finalizer released");
        }
        Err(e) if waited < ctx.config.finalizer_timeout => {
            return Err(Error::Finalizer(format!(
                "waiting for the engine to confirm its shutdown ({}s of {}s): {e}",
                waited.as_secs(),
                ctx.config.finalizer_timeout.as_secs()
            )));
        }
        Err(e) => {
            ctx.event(
                &bot,
                EventType::Warning,
                "EngineNotStopped",
                format!(
                    "the engine did not confirm a halt within {}s (last error: {e}); releasing the bot anyway: check the exchange account for open orders and positions",
                    ctx.config.finalizer_timeout.as_secs()
                ),
            )
            .await;
        }
    }
    ctx.metrics.remove_bot(&ns, &name);
    ctx.applied.forget(&uid);
    ctx.known.forget(&uid);
    ctx.conflicts.clear(&uid);
    ctx.failures.lock().expect("failures lock").remove(&uid);
    Ok(Action::await_change())
}
