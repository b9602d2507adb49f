//! Status is a subresource: the operator owns it, a user editing the main resource
//! cannot change it, and the status endpoint cannot change the spec.

use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::{api, cp, create, example, names_field, renamed};

fn status() -> Value {
    json!({
        "phase": "Paper",
        "state": "Trading",
        "metrics": {
            "equity": 5123.45, "returnPct": 2.47, "drawdownPct": 1.5, "maxDrawdownPct": 3.25,
            "dailyPnl": 12.5, "trades": 42, "openPositions": 1,
        },
    })
}

/// Writes `status()` through the status subresource.
async fn set_status(api: &Api<DynamicObject>, name: &str) -> DynamicObject {
    let patch = Patch::Merge(json!({ "status": status() }));
    api.patch_status(name, &PatchParams::default(), &patch)
        .await
        .unwrap()
}

/// A TradingBot created from the example, with `status` set through the subresource.
pub async fn bot_with_status(ns: &str, name: &str) -> Value {
    let bot = renamed(example("TradingBot", |_| true), name);
    create(ns, &bot, false).await.unwrap();
    serde_json::to_value(set_status(&api("TradingBot", ns).await, name).await).unwrap()
}

#[tokio::test]
async fn status_written_through_the_main_resource_is_ignored() {
    let ns = cp().await.namespace("status-main").await.unwrap();
    let api = api("TradingBot", &ns).await;

    let mut bot = renamed(example("TradingBot", |_| true), "sneaky");
    bot["status"] = json!({ "phase": "Scaling", "state": "Trading" });
    let created = create(&ns, &bot, false).await.unwrap();
    assert!(
        created.data.get("status").is_none(),
        "status stored on create: {:?}",
        created.data
    );

    set_status(&api, "sneaky").await;
    let patch =
        json!({ "spec": { "halted": true }, "status": { "phase": "Scaling", "state": "Halted" } });
    let patched = api
        .patch("sneaky", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(
        patched.data["spec"]["halted"], true,
        "the spec part of the write applies"
    );
    assert_eq!(
        patched.data["status"]["phase"], "Paper",
        "the status part is ignored"
    );
    assert_eq!(patched.data["status"]["state"], "Trading");

    // A full replace through the main endpoint keeps the stored status too.
    let mut replaced = patched.clone();
    replaced.data["status"]["state"] = json!("Degraded");
    let replaced = api
        .replace("sneaky", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_eq!(replaced.data["status"]["state"], "Trading");
}

#[tokio::test]
async fn the_status_subresource_writes_status_only() {
    let ns = cp().await.namespace("status-sub").await.unwrap();
    let api = api("TradingBot", &ns).await;
    let before = bot_with_status(&ns, "honest").await;
    assert_eq!(before["status"]["state"], "Trading");
    assert_eq!(before["status"]["metrics"]["trades"], 42);
    let generation = before["metadata"]["generation"].as_i64().unwrap();

    // Spec sent to the status endpoint is ignored; status changes do not bump the generation.
    let patch = json!({ "spec": { "capital": 1 }, "status": { "state": "Paused" } });
    let after = api
        .patch_status("honest", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(after.data["status"]["state"], "Paused");
    assert_eq!(after.data["spec"]["capital"], before["spec"]["capital"]);
    assert_eq!(after.metadata.generation, Some(generation));

    // A spec change through the main endpoint does bump it (operators compare it with
    // status.observedGeneration).
    let spec_patch = json!({ "spec": { "halted": true } });
    let after = api
        .patch(
            "honest",
            &PatchParams::default(),
            &Patch::Merge(&spec_patch),
        )
        .await
        .unwrap();
    assert_eq!(after.metadata.generation, Some(generation + 1));
}

#[tokio::test]
async fn the_status_schema_is_enforced_on_the_subresource() {
    let ns = cp().await.namespace("status-schema").await.unwrap();
    let api = api("TradingBot", &ns).await;
    bot_with_status(&ns, "checked").await;
    let patch = json!({ "status": { "state": "Exploded" } });
    match api
        .patch_status("checked", &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422);
            assert!(
                names_field(&status, "status.state", "Unsupported value"),
                "{}",
                status.message
            );
        }
        other => panic!("an unknown state was accepted: {other:?}"),
    }
}
