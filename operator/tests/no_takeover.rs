//! No takeover, on the real apiserver: a bot's child name taken by an
//! object the bot does not own is never applied over; the bot says why
//! (`Ready=False`, `ChildConflict`) and carries on once it is gone.

mod common;

use botfleet_crds::condition_types as ct;
use common::*;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn a_foreign_config_map_with_the_bots_name_is_not_taken_over_and_the_bot_says_why() {
    let w = World::new("no-takeover").await.unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(w.admin.clone(), &w.ns);
    let foreign: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "taken-config", "labels": {"team": "someone-else"}},
        "data": {"settings": "not the bot's"}}))
    .unwrap();
    maps.create(&PostParams::default(), &foreign).await.unwrap();
    let op = w.start_operator(w.config());
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({})).await.unwrap();
    let _engine = w.bot("taken", "seed", json!({})).await.unwrap();
    let _free = w.bot("free", "seed", json!({})).await.unwrap();

    let bot = w
        .wait_bot("taken", "the conflict reported", |b| {
            condition(b, ct::READY).is_some_and(|c| c.reason == "ChildConflict")
        })
        .await
        .unwrap();
    let ready = condition(&bot, ct::READY).unwrap();
    assert_eq!(ready.status, "False");
    assert!(
        ready.message.contains("ConfigMap `taken-config`")
            && ready.message.contains("not owned by TradingBot `taken`"),
        "the message names the object and the bot: {}",
        ready.message
    );
    w.wait_events("taken", "ChildConflict").await.unwrap();
    // Other bots are unaffected.
    w.wait_bot("free", "trading", |b| condition_is(b, ct::READY, "True"))
        .await
        .unwrap();

    // Reconciles go on and still take nothing over.
    w.let_reconcile(&op, 5).await.unwrap();
    let kept = maps.get("taken-config").await.unwrap();
    assert_eq!(kept.data, foreign.data, "the foreign data is unchanged");
    assert_eq!(kept.metadata.labels, foreign.metadata.labels);
    assert!(kept.metadata.owner_references.is_none());
    let sets: Api<StatefulSet> = Api::namespaced(w.admin.clone(), &w.ns);
    assert!(
        sets.get_opt("taken").await.unwrap().is_none(),
        "no engine started without its config"
    );
    let bot = w.get("taken").await.unwrap();
    assert!(condition(&bot, ct::READY).is_some_and(|c| c.reason == "ChildConflict"));

    // Once the foreign object is gone, the bot gets its own.
    maps.delete("taken-config", &DeleteParams::default())
        .await
        .unwrap();
    w.wait_bot("taken", "trading once the name is free", |b| {
        condition_is(b, ct::READY, "True")
    })
    .await
    .unwrap();
    let own = maps.get("taken-config").await.unwrap();
    let uid = bot.metadata.uid.clone().unwrap();
    assert!(
        own.metadata
            .owner_references
            .unwrap_or_default()
            .iter()
            .any(|o| o.uid == uid)
    );
    op.stop().await;
}
