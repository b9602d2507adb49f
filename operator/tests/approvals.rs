//! Real money only through a person's approval, and engines only from
//! trusted images: on a real apiserver, with a stand-in engine that reports
//! whatever makes a gate pass (an engine that lies).

mod common;

use botfleet_crds::condition_types as ct;
use botfleet_crds::{Phase, TradingBot};
use common::*;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

fn phase(b: &TradingBot) -> Option<Phase> {
    b.status.as_ref().and_then(|s| s.phase)
}

fn blocked(b: &TradingBot) -> Option<(String, String)> {
    condition(b, ct::PROMOTION_BLOCKED)
        .filter(|c| c.status == "True")
        .map(|c| (c.reason.clone(), c.message.clone()))
}

fn blocked_with(b: &TradingBot, reason: &str) -> bool {
    blocked(b).is_some_and(|(r, _)| r == reason)
}

#[tokio::test]
async fn a_lying_engine_reaches_limited_real_only_with_an_approval_for_the_config_it_runs() {
    let w = World::new("approve").await.unwrap();
    let op = w.start_operator(w.config());
    w.strategy("sma").await.unwrap();
    let no_wait = json!({"gates": {"paperToSandbox": {"minDays": 0},
        "sandboxToLimitedReal": {"minDays": 0}, "limitedRealToScaling": {"minDays": 0}}});
    w.policy("seed", no_wait).await.unwrap();
    // The stand-in reports a perfect window in whatever phase it is told.
    let engine = w
        .bot(
            "liar",
            "seed",
            json!({"promotion": "Automatic", "phase": "Scaling"}),
        )
        .await
        .unwrap();
    w.wait_bot("liar", "Sandbox", |b| phase(b) == Some(Phase::Sandbox))
        .await
        .unwrap();
    engine.update(|s| s.phase = Phase::Sandbox);

    // Automatic climbs to Sandbox alone, then waits for a person.
    let bot = w
        .wait_bot("liar", "waiting for an approval", |b| {
            blocked_with(b, "ApprovalRequired")
        })
        .await
        .unwrap();
    let (_, message) = blocked(&bot).unwrap();
    assert!(
        message.contains("kubectl botfleet approve liar --phase LimitedReal"),
        "{message}"
    );
    assert!(bot.status.as_ref().unwrap().gate.as_ref().unwrap().met);

    // An approval for the config as it was, then the strategy changes.
    let stale = w.approval_for("liar", Phase::LimitedReal).await.unwrap();
    w.apply_yaml(
        "apiVersion: botfleet.dev/v1alpha1\nkind: Strategy\nmetadata: {name: sma}\nspec: {timeframe: 1h, smaCrossover: {fast: 12, slow: 30}}",
    )
    .await
    .unwrap();
    w.wait_bot("liar", "the engine runs the new config", |b| {
        b.status
            .as_ref()
            .and_then(|s| s.gate.as_ref())
            .and_then(|g| g.trading_hash.as_ref())
            .is_some_and(|h| *h != stale.spec.trading_hash)
    })
    .await
    .unwrap();
    let stale = w.create_approval(stale).await.unwrap();
    let bot = w
        .wait_bot("liar", "the old approval is named", |b| {
            blocked_with(b, "ApprovalForOtherConfig")
        })
        .await
        .unwrap();
    let (_, message) = blocked(&bot).unwrap();
    assert!(
        message.contains(&stale.spec.trading_hash[..12]),
        "{message}"
    );
    w.let_reconcile(&op, 5).await.unwrap();
    assert_eq!(phase(&w.get("liar").await.unwrap()), Some(Phase::Sandbox));

    // An approval for the config it runs lets it in, once, and is recorded.
    let approval = w.approve("liar", Phase::LimitedReal).await.unwrap();
    let bot = w
        .wait_bot("liar", "LimitedReal", |b| {
            phase(b) == Some(Phase::LimitedReal)
        })
        .await
        .unwrap();
    let status = bot.status.unwrap();
    let used = &status.approvals;
    assert_eq!(used.len(), 1, "{used:?}");
    assert_eq!(used[0].name, approval.metadata.name.clone().unwrap());
    assert_eq!(used[0].approved_by.as_deref(), Some("risk-manager@test"));
    assert_eq!(used[0].phase, Phase::LimitedReal);
    let last = status.phase_history.last().unwrap();
    assert!(
        last.reason.contains("approved by risk-manager@test"),
        "{last:?}"
    );

    // Scaling needs its own approval: the LimitedReal one does not carry over.
    engine.update(|s| s.phase = Phase::LimitedReal);
    w.wait_bot("liar", "waiting for a Scaling approval", |b| {
        blocked_with(b, "ApprovalForOtherPhase")
    })
    .await
    .unwrap();
    assert_eq!(
        phase(&w.get("liar").await.unwrap()),
        Some(Phase::LimitedReal)
    );
    op.stop().await;
}

const TRUSTED: &str = "registry.test/botfleet-bot@sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// Grants (or, with `false`, revokes) the approver of [`World::approve`]
/// the verb `approve` on tradingbots in the test's namespace.
async fn approver_may_approve(w: &World, may: bool) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let name = "approvers";
    let roles: Api<Role> = Api::namespaced(w.admin.clone(), &w.ns);
    let bindings: Api<RoleBinding> = Api::namespaced(w.admin.clone(), &w.ns);
    if !may {
        bindings.delete(name, &Default::default()).await.unwrap();
        return;
    }
    let pp = PatchParams::apply("botfleet-tests");
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": name},
        "rules": [{"apiGroups": ["botfleet.dev"], "resources": ["tradingbots"], "verbs": ["approve"]}]});
    roles.patch(name, &pp, &Patch::Apply(&role)).await.unwrap();
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "User", "name": "risk-manager@test",
            "apiGroup": "rbac.authorization.k8s.io"}]});
    bindings
        .patch(name, &pp, &Patch::Apply(&binding))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_approval_whose_approver_lost_the_right_does_not_let_the_bot_in_until_granted_again() {
    let w = World::new("revoked").await.unwrap();
    let mut config = w.config();
    config.recheck_approvers = true;
    let op = w.start_operator(config);
    w.strategy("sma").await.unwrap();
    let no_wait = json!({"gates": {"paperToSandbox": {"minDays": 0},
        "sandboxToLimitedReal": {"minDays": 0}}});
    w.policy("seed", no_wait).await.unwrap();
    let engine = w
        .bot(
            "held",
            "seed",
            json!({"promotion": "Automatic", "phase": "LimitedReal"}),
        )
        .await
        .unwrap();
    w.wait_bot("held", "Sandbox", |b| phase(b) == Some(Phase::Sandbox))
        .await
        .unwrap();
    // Approved while the approver may, before the gate is met...
    engine.update(|s| {
        s.phase = Phase::Sandbox;
        s.window.trades = 3;
    });
    approver_may_approve(&w, true).await;
    w.approve("held", Phase::LimitedReal).await.unwrap();
    // ...then the right is revoked, and the gate is met.
    approver_may_approve(&w, false).await;
    engine.update(|s| s.window.trades = 500);
    let bot = w
        .wait_bot("held", "the approver is refused", |b| {
            blocked_with(b, "ApproverNotAllowed")
        })
        .await
        .unwrap();
    let (_, message) = blocked(&bot).unwrap();
    assert!(
        message.contains("given by risk-manager@test")
            && message.contains("kubectl botfleet approve held --phase LimitedReal"),
        "{message}"
    );
    w.let_reconcile(&op, 5).await.unwrap();
    let bot = w.get("held").await.unwrap();
    assert_eq!(phase(&bot), Some(Phase::Sandbox));
    assert!(bot.status.unwrap().approvals.is_empty(), "not used");

    // Granted again, the same approval lets the bot in.
    approver_may_approve(&w, true).await;
    let bot = w
        .wait_bot("held", "LimitedReal", |b| {
            phase(b) == Some(Phase::LimitedReal)
        })
        .await
        .unwrap();
    let used = bot.status.unwrap().approvals;
    assert_eq!(used.len(), 1, "{used:?}");
    assert_eq!(used[0].approved_by.as_deref(), Some("risk-manager@test"));
}

#[tokio::test]
async fn an_untrusted_engine_image_is_refused_and_the_running_digest_is_shown() {
    let w = World::new("images").await.unwrap();
    let mut config = w.config();
    config.engine_image = TRUSTED.into();
    config.trusted_engine_images = vec![TRUSTED.into()];
    let op = w.start_operator(config);
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({})).await.unwrap();
    let _rogue = w
        .bot(
            "rogue",
            "seed",
            json!({"engine": {"image": "evil.test/engine:latest"}}),
        )
        .await
        .unwrap();
    let _good = w.bot("good", "seed", json!({})).await.unwrap();

    let bot = w
        .wait_bot("rogue", "refused", |b| {
            condition(b, ct::READY).is_some_and(|c| c.reason == "UntrustedImage")
        })
        .await
        .unwrap();
    let ready = condition(&bot, ct::READY).unwrap();
    assert_eq!(ready.status, "False");
    assert!(
        ready.message.contains("evil.test/engine:latest"),
        "{}",
        ready.message
    );
    w.wait_bot("good", "trading", |b| condition_is(b, ct::READY, "True"))
        .await
        .unwrap();
    w.let_reconcile(&op, 5).await.unwrap();
    let sets: Api<StatefulSet> = Api::namespaced(w.admin.clone(), &w.ns);
    let maps: Api<ConfigMap> = Api::namespaced(w.admin.clone(), &w.ns);
    assert!(sets.get_opt("rogue").await.unwrap().is_none());
    assert!(maps.get_opt("rogue-config").await.unwrap().is_none());
    assert!(sets.get_opt("good").await.unwrap().is_some());

    // The digest the kubelet reports for the engine container, in status.
    let pods: Api<Pod> = Api::namespaced(w.admin.clone(), &w.ns);
    let image_id = format!("docker-pullable://{TRUSTED}");
    let patch = json!({"status": {"containerStatuses": [{"name": "engine", "image": TRUSTED,
        "imageID": image_id, "ready": true, "restartCount": 0}]}});
    eventually(
        "the engine pod exists",
        std::time::Duration::from_secs(60),
        || async {
            Ok(pods
                .patch_status("good-0", &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok())
        },
    )
    .await
    .unwrap();
    w.wait_bot("good", "the running digest", |b| {
        b.status.as_ref().and_then(|s| s.engine_image_id.as_deref()) == Some(&image_id)
    })
    .await
    .unwrap();
    op.stop().await;
}
