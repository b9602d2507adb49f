//! The workload of a bot on a real apiserver: children with owner
//! references, references that do not resolve, policy changes reaching
//! their bots, and the finalizer. The operator runs as a token identity
//! bound only to `rbac/clusterrole.yaml`.

mod common;

use std::time::Duration;

use botfleet_crds::condition_types as ct;
use common::*;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, ResourceExt};
use serde_json::json;

#[tokio::test]
async fn children_are_created_owned_and_status_settles_without_spinning() {
    let w = World::new("children").await.unwrap();
    // Real-length days: with the tests' one-second days, "days in phase"
    // would legitimately change every second.
    let mut config = w.config();
    config.day = Duration::from_secs(86_400);
    let op = w.start_operator(config);
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({})).await.unwrap();
    let engine = w.bot("alpha", "seed", json!({})).await.unwrap();
    let bot = w
        .wait_bot("alpha", "bot is Trading with metrics", |b| {
            condition_is(b, ct::READY, "True") && b.status.as_ref().unwrap().metrics.is_some()
        })
        .await
        .unwrap();
    let uid = bot.uid().unwrap();
    let status = bot.status.clone().unwrap();
    assert_eq!(status.phase, Some(botfleet_crds::Phase::Paper));
    assert_eq!(status.phase_history.len(), 1, "{:?}", status.phase_history);
    assert_eq!(status.metrics.as_ref().unwrap().trades, 150);
    assert_eq!(status.metrics.as_ref().unwrap().equity.to_string(), "1100");
    assert!(
        bot.finalizers()
            .contains(&botfleet_crds::labels::FINALIZER.to_string())
    );

    let owned_by_bot = |meta: &kube::api::ObjectMeta| {
        let o = &meta.owner_references.as_ref().expect("owner references")[0];
        o.uid == uid && o.kind == "TradingBot" && o.controller == Some(true)
    };
    let c = w.admin.clone();
    let ns = w.ns.as_str();
    let cm = Api::<ConfigMap>::namespaced(c.clone(), ns)
        .get("alpha-config")
        .await
        .unwrap();
    let sts = Api::<StatefulSet>::namespaced(c.clone(), ns)
        .get("alpha")
        .await
        .unwrap();
    let svc = Api::<Service>::namespaced(c.clone(), ns)
        .get("alpha")
        .await
        .unwrap();
    let sa = Api::<ServiceAccount>::namespaced(c.clone(), ns)
        .get("alpha")
        .await
        .unwrap();
    let np = Api::<NetworkPolicy>::namespaced(c.clone(), ns)
        .get("alpha-engine")
        .await
        .unwrap();
    let np_spec = np.spec.as_ref().unwrap();
    assert_eq!(
        np_spec.policy_types.as_deref(),
        Some(&["Ingress".to_string(), "Egress".to_string()][..])
    );
    for meta in [
        &cm.metadata,
        &sts.metadata,
        &svc.metadata,
        &sa.metadata,
        &np.metadata,
    ] {
        assert!(
            owned_by_bot(meta),
            "{:?} is not owned by the bot",
            meta.name
        );
    }
    // The engine config is the manifests format, with the effective phase.
    let yaml = &cm.data.as_ref().unwrap()["bot.yaml"];
    let parsed = botfleet_crds::Manifests::from_yaml(yaml).unwrap();
    assert_eq!(
        parsed.bundle(Some("alpha")).unwrap().bot.spec.phase,
        botfleet_crds::Phase::Paper
    );
    let hash = &cm.annotations()[botfleet_crds::labels::CONFIG_HASH_ANNOTATION];
    let template = sts
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap();
    assert_eq!(
        &template.annotations.as_ref().unwrap()[botfleet_crds::labels::CONFIG_HASH_ANNOTATION],
        hash
    );
    assert_eq!(sts.spec.as_ref().unwrap().replicas, Some(1));
    // No Secret at all: the ConfigMap carries the operator's public key,
    // which verified every control call the engine got.
    let secrets = Api::<Secret>::namespaced(c.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(
        secrets
            .items
            .iter()
            .flat_map(|s| s.metadata.owner_references.iter().flatten())
            .all(|o| o.uid != uid),
        "the operator wrote a Secret"
    );
    let keys = botfleet_crds::control_signature::parse_public_keys(
        &cm.data.as_ref().unwrap()["control-keys.pub"],
    )
    .unwrap();
    assert_eq!(keys, operator_public_keys());

    // Settled: more reconciles (polls) change nothing — no status write, no re-apply.
    let settled = w.get("alpha").await.unwrap();
    let version = settled.resource_version();
    let sts_generation = sts.metadata.generation;
    w.let_reconcile(&op, 10).await.unwrap();
    let now = w.get("alpha").await.unwrap();
    if now.resource_version() != version {
        eprintln!(
            "BEFORE {}\nAFTER {}",
            serde_json::to_string(&settled).unwrap(),
            serde_json::to_string(&now).unwrap()
        );
    }
    assert_eq!(now.resource_version(), version);
    let sts_now = Api::<StatefulSet>::namespaced(c.clone(), ns)
        .get("alpha")
        .await
        .unwrap();
    assert_eq!(
        sts_now.metadata.generation, sts_generation,
        "the StatefulSet spec is left alone"
    );
    assert_eq!(w.wait_events("alpha", "Created").await.unwrap().len(), 1);

    // A real change of the engine's numbers is written (rounded).
    engine.update(|s| s.window.equity = "1234.5678".parse().unwrap());
    w.wait_bot("alpha", "equity updated", |b| {
        b.status
            .as_ref()
            .unwrap()
            .metrics
            .as_ref()
            .unwrap()
            .equity
            .to_string()
            == "1234.57"
    })
    .await
    .unwrap();

    // The operator's identity cannot read Secrets at all.
    let denied = Api::<Secret>::namespaced(w.operator_client.clone(), ns)
        .get("keys")
        .await;
    assert!(matches!(denied, Err(kube::Error::Api(s)) if s.code == 403));
    let denied = Api::<Secret>::namespaced(w.operator_client.clone(), ns)
        .list(&ListParams::default())
        .await;
    assert!(matches!(denied, Err(kube::Error::Api(s)) if s.code == 403));
    op.stop().await;
}

#[tokio::test]
async fn missing_references_change_no_workload_until_they_exist() {
    let w = World::new("refs").await.unwrap();
    let op = w.start_operator(w.config());
    w.policy("seed", json!({"capital": {"schedule": [5000, 1000]}}))
        .await
        .unwrap();
    w.bot("lost", "seed", json!({})).await.unwrap();
    let bot = w
        .wait_bot("lost", "Ready=False StrategyNotFound", |b| {
            condition(b, ct::READY).is_some_and(|c| c.reason == "StrategyNotFound")
        })
        .await
        .unwrap();
    let message = &condition(&bot, ct::READY).unwrap().message;
    assert!(
        message.contains("spec.strategyRef.name") && message.contains("`sma`"),
        "{message}"
    );
    let sts: Api<StatefulSet> = Api::namespaced(w.admin.clone(), &w.ns);
    w.let_reconcile(&op, 3).await.unwrap();
    assert!(
        sts.get_opt("lost").await.unwrap().is_none(),
        "no workload without a strategy"
    );
    assert_eq!(
        w.wait_events("lost", "StrategyNotFound")
            .await
            .unwrap()
            .len(),
        1
    );

    // An invalid policy is reported with its field.
    w.strategy("sma").await.unwrap();
    let bot = w
        .wait_bot("lost", "Ready=False RiskPolicyInvalid", |b| {
            condition(b, ct::READY).is_some_and(|c| c.reason == "RiskPolicyInvalid")
        })
        .await
        .unwrap();
    assert!(
        condition(&bot, ct::READY)
            .unwrap()
            .message
            .contains("spec.capital.schedule[1]")
    );
    assert!(sts.get_opt("lost").await.unwrap().is_none());

    w.policy("seed", json!({})).await.unwrap();
    w.wait_bot("lost", "reconciled once the references resolve", |b| {
        b.status.as_ref().unwrap().phase.is_some()
    })
    .await
    .unwrap();
    eventually("the StatefulSet exists", WAIT, || async {
        Ok(sts.get_opt("lost").await?.is_some())
    })
    .await
    .unwrap();
    op.stop().await;
}

#[tokio::test]
async fn a_risk_policy_change_reaches_every_bot_using_it_and_no_other() {
    let w = World::new("policy-change").await.unwrap();
    // Polls are rare here: only the watch on RiskPolicies can bring the change.
    let mut config = w.config();
    config.poll_interval = Duration::from_secs(3600);
    let op = w.start_operator(config);
    w.strategy("sma").await.unwrap();
    w.policy("shared", json!({})).await.unwrap();
    w.policy("other", json!({})).await.unwrap();
    for (bot, policy) in [("one", "shared"), ("two", "shared"), ("three", "other")] {
        w.bot(bot, policy, json!({})).await.unwrap();
    }
    let cms: Api<ConfigMap> = Api::namespaced(w.admin.clone(), &w.ns);
    let config_of = |bot: &str| {
        let cms = cms.clone();
        let name = format!("{bot}-config");
        async move {
            Ok::<_, anyhow::Error>(
                cms.get_opt(&name)
                    .await?
                    .map(|c| c.data.unwrap()["bot.yaml"].clone()),
            )
        }
    };
    for bot in ["one", "two", "three"] {
        eventually("config rendered", WAIT, || async {
            Ok(config_of(bot).await?.is_some())
        })
        .await
        .unwrap();
    }
    let before = config_of("three").await.unwrap().unwrap();
    assert!(!before.contains("maxOpenPositions: 7"));
    w.policy(
        "shared",
        json!({"limits": {"paper": {"maxOpenPositions": 7}}}),
    )
    .await
    .unwrap();
    for bot in ["one", "two"] {
        eventually("the new limit reaches the engine config", WAIT, || async {
            Ok(config_of(bot)
                .await?
                .unwrap()
                .contains("maxOpenPositions: 7"))
        })
        .await
        .unwrap();
    }
    assert_eq!(config_of("three").await.unwrap().unwrap(), before);
    op.stop().await;
}

#[tokio::test]
async fn deleting_a_bot_halts_its_engine_and_cancels_orders_first() {
    let w = World::new("finalizer").await.unwrap();
    let op = w.start_operator(w.config());
    w.strategy("sma").await.unwrap();
    w.policy("flat", json!({"onHalt": {"action": "flatten"}}))
        .await
        .unwrap();
    let engine = w.bot("doomed", "flat", json!({})).await.unwrap();
    w.wait_bot("doomed", "trading", |b| condition_is(b, ct::READY, "True"))
        .await
        .unwrap();
    w.bots()
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let bots = w.bots();
    eventually("the bot is gone", WAIT, || async {
        Ok(bots.get_opt("doomed").await?.is_none())
    })
    .await
    .unwrap();
    let halts = engine.calls("/v1/halt");
    assert_eq!(halts.len(), 1, "{halts:?}");
    assert_eq!(halts[0].body["flatten"], true);
    assert_eq!(halts[0].body["reason"], "TradingBot deleted");
    assert_eq!(engine.calls("/v1/cancel-all").len(), 1);
    let events = w.wait_events("doomed", "EngineStopped").await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        events[0]
            .note
            .as_ref()
            .unwrap()
            .contains("open orders cancelled")
    );

    // An engine that never answers holds the bot only until the timeout.
    let dark = w.bot("dark", "flat", json!({})).await.unwrap();
    w.wait_bot("dark", "trading", |b| condition_is(b, ct::READY, "True"))
        .await
        .unwrap();
    dark.stop();
    w.bots()
        .delete("dark", &DeleteParams::default())
        .await
        .unwrap();
    w.let_reconcile(&op, 3).await.unwrap();
    assert!(
        bots.get_opt("dark").await.unwrap().is_some(),
        "held while waiting for the engine"
    );
    eventually(
        "released after the timeout",
        Duration::from_secs(60),
        || async { Ok(bots.get_opt("dark").await?.is_none()) },
    )
    .await
    .unwrap();
    let events = w.wait_events("dark", "EngineNotStopped").await.unwrap();
    assert!(
        events[0]
            .note
            .as_ref()
            .unwrap()
            .contains("check the exchange account")
    );
    op.stop().await;
}

#[tokio::test]
async fn the_kill_switch_works_even_when_the_policy_is_gone() {
    let w = World::new("kill-orphan").await.unwrap();
    let op = w.start_operator(w.config());
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({})).await.unwrap();
    let engine = w.bot("orphan", "seed", json!({})).await.unwrap();
    w.wait_bot("orphan", "trading", |b| condition_is(b, ct::READY, "True"))
        .await
        .unwrap();
    Api::<botfleet_crds::RiskPolicy>::namespaced(w.admin.clone(), &w.ns)
        .delete("seed", &DeleteParams::default())
        .await
        .unwrap();
    w.wait_bot("orphan", "policy missing", |b| {
        condition(b, ct::READY).is_some_and(|c| c.reason == "RiskPolicyNotFound")
    })
    .await
    .unwrap();
    w.patch_spec("orphan", json!({"halted": true}))
        .await
        .unwrap();
    let bot = w
        .wait_bot("orphan", "halted", |b| condition_is(b, ct::HALTED, "True"))
        .await
        .unwrap();
    let id = bot.status.unwrap().halt.unwrap().id;
    eventually("the engine is told", WAIT, || async {
        Ok(!engine.calls("/v1/halt").is_empty())
    })
    .await
    .unwrap();
    assert_eq!(engine.calls("/v1/halt")[0].body["haltId"], id.as_str());
    op.stop().await;
}

#[tokio::test]
async fn an_operator_watching_two_namespaces_runs_bots_in_both_and_leaves_a_third_alone() {
    let desk_a = World::new("watch-a").await.unwrap();
    let mut desk_b = World::new("watch-b").await.unwrap();
    let mut unwatched = World::new("watch-c").await.unwrap();
    // One engine port for the operator; every stand-in has its own address.
    desk_b.engine_port = desk_a.engine_port;
    unwatched.engine_port = desk_a.engine_port;
    let mut config = desk_a.config();
    config.namespaces = vec![desk_a.ns.clone(), desk_b.ns.clone()];
    let _op = desk_a.start_operator(config);
    for (w, bot) in [(&desk_a, "alpha"), (&desk_b, "beta"), (&unwatched, "gamma")] {
        w.strategy("sma").await.unwrap();
        w.policy("seed", json!({})).await.unwrap();
        w.bot(bot, "seed", json!({})).await.unwrap();
    }
    for (w, bot) in [(&desk_a, "alpha"), (&desk_b, "beta")] {
        w.wait_bot(bot, "bot is Ready", |b| condition_is(b, ct::READY, "True"))
            .await
            .unwrap();
    }
    // By now the third namespace's bot would have been reconciled too, were
    // it watched: no finalizer, no status, no workload.
    let gamma = unwatched.get("gamma").await.unwrap();
    assert!(gamma.finalizers().is_empty(), "{:?}", gamma.finalizers());
    assert!(gamma.status.is_none(), "{:?}", gamma.status);
    let sts = Api::<StatefulSet>::namespaced(unwatched.admin.clone(), &unwatched.ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(sts.items.is_empty());
}
