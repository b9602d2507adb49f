//! Key rotation end to end on a real apiserver: the operator re-reads its
//! key file, lists the new and the previous public key in the bot's
//! ConfigMap, reaches an engine that knows only the previous key (its
//! ConfigMap volume not updated yet) and one that knows only the new key.

mod common;

use botfleet_crds::condition_types as ct;
use botfleet_crds::control_signature::{PublicKey, parse_public_keys};
use botfleet_operator::signing::SigningKeys;
use common::*;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::DeleteParams;
use kube::{Api, ResourceExt};
use serde_json::json;

const OLD: &[u8] = b"old-operator-key-material-0123456789abcdef";
const NEW: &[u8] = b"new-operator-key-material-0123456789abcdef";

fn public(material: &[u8]) -> PublicKey {
    parse_public_keys(
        &SigningKeys::from_material(material)
            .unwrap()
            .public_keys_file(),
    )
    .unwrap()[0]
}

#[tokio::test]
async fn a_rotated_key_is_used_after_the_operator_reloads_it() {
    let w = World::new("rotate").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, OLD).unwrap();
    let mut config = w.config();
    config.signing = SigningKeys::from_file(&key_file).unwrap();
    let op = w.start_operator(config);
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({})).await.unwrap();
    let engine = w.bot("rot", "seed", json!({})).await.unwrap();
    let uid = w.get("rot").await.unwrap().uid().unwrap();
    engine.expect_signed(vec![public(OLD)], uid.clone());
    w.wait_bot("rot", "ready", |b| condition_is(b, ct::READY, "True"))
        .await
        .unwrap();
    let configs: Api<ConfigMap> = Api::namespaced(w.admin.clone(), &w.ns);
    let listed = || async {
        let cm = configs.get("rot-config").await?;
        Ok::<_, anyhow::Error>(parse_public_keys(&cm.data.unwrap()["control-keys.pub"]).unwrap())
    };
    assert_eq!(listed().await.unwrap(), [public(OLD)]);

    // Rotate: at its next reconcile the operator signs with the new key and
    // lists both, the new one first.
    std::fs::write(&key_file, NEW).unwrap();
    eventually(
        "the ConfigMap lists the new and the previous key",
        WAIT,
        || async { Ok(listed().await? == [public(NEW), public(OLD)]) },
    )
    .await
    .unwrap();

    // The engine still knows only the old key: the kill switch reaches it
    // (refused with the new key, retried with the previous one).
    w.patch_spec("rot", json!({"halted": true})).await.unwrap();
    eventually("the engine is told to halt", WAIT, || async {
        Ok(!engine.calls("/v1/halt").is_empty())
    })
    .await
    .unwrap();

    // Its volume updated, it knows only the new key: deleting the bot
    // halts and cancels through the new key.
    engine.expect_signed(vec![public(NEW)], uid);
    let before = engine.calls("/v1/halt").len();
    w.bots()
        .delete("rot", &DeleteParams::default())
        .await
        .unwrap();
    eventually(
        "the finalizer's signed calls reach the engine",
        WAIT,
        || async {
            Ok(engine.calls("/v1/halt").len() > before
                && !engine.calls("/v1/cancel-all").is_empty())
        },
    )
    .await
    .unwrap();
    op.stop().await;
}
