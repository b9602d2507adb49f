//! Operator restarts and replicas: a restart repeats no transition, and of
//! two operators only the Lease holder acts.

mod common;

use botfleet_crds::condition_types as ct;
use botfleet_crds::{Phase, TradingBot};
use common::*;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use serde_json::json;

fn phase(b: &TradingBot) -> Option<Phase> {
    b.status.as_ref().and_then(|s| s.phase)
}

async fn event_counts(w: &World, bot: &str) -> Vec<usize> {
    let mut counts = Vec::new();
    for reason in ["Created", "Promoted", "Halted", "PromotionBlocked"] {
        counts.push(w.events(bot, reason).await.unwrap().len());
    }
    counts
}

#[tokio::test]
async fn an_operator_restart_does_not_repeat_a_transition() {
    let w = World::new("restart").await.unwrap();
    // Hour-long "days": the days measured in the phase (counted by the
    // operator from its own phase history) stay 0 for the whole test, so
    // the status compared across the restart cannot change with time.
    let mut config = w.config();
    config.day = std::time::Duration::from_secs(3600);
    let first = w.start_operator(config.clone());
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({"gates": {"paperToSandbox": {"minDays": 0}}}))
        .await
        .unwrap();
    let engine = w
        .bot("steady", "seed", json!({"phase": "Sandbox"}))
        .await
        .unwrap();
    w.wait_bot("steady", "promoted", |b| phase(b) == Some(Phase::Sandbox))
        .await
        .unwrap();
    engine.update(|s| {
        s.phase = Phase::Sandbox;
        s.window.drawdown_pct = 16.0; // Sandbox halts at 15 %
    });
    w.wait_bot("steady", "halted", |b| condition_is(b, ct::HALTED, "True"))
        .await
        .unwrap();
    w.wait_events("steady", "Halted").await.unwrap();
    // Settled: the engine confirms the halt (HaltConfirmed) before the snapshot.
    w.wait_bot("steady", "halt confirmed", |b| {
        condition_is(b, ct::HALT_CONFIRMED, "True")
    })
    .await
    .unwrap();
    let before = w.get("steady").await.unwrap().status.unwrap();
    let events_before = event_counts(&w, "steady").await;
    assert_eq!(&events_before[..3], [1, 1, 1]);
    first.stop().await;

    let second = w.start_operator(config);
    w.let_reconcile(&second, 10).await.unwrap();
    let after = w.get("steady").await.unwrap().status.unwrap();
    assert_eq!(after.phase_history, before.phase_history);
    assert_eq!(after.halt, before.halt);
    assert_eq!(after.conditions, before.conditions);
    assert_eq!(event_counts(&w, "steady").await, events_before);
    assert_eq!(
        engine.calls("/v1/halt").len(),
        1,
        "the engine reports the halt: not told twice"
    );
    second.stop().await;
}

#[tokio::test]
async fn of_two_operators_only_the_lease_holder_acts() {
    let w = World::new("leader").await.unwrap();
    let a = w.start_operator(w.with_leader_election(w.config(), "operator-a"));
    eventually("a leads", WAIT, || async {
        Ok(a.metrics.leader.get() == 1)
    })
    .await
    .unwrap();
    let b = w.start_operator(w.with_leader_election(w.config(), "operator-b"));
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({})).await.unwrap();
    w.bot("shared", "seed", json!({})).await.unwrap();
    w.wait_bot("shared", "reconciled", |b| {
        condition_is(b, ct::READY, "True")
    })
    .await
    .unwrap();
    w.let_reconcile(&a, 10).await.unwrap();
    assert_eq!(b.metrics.leader.get(), 0);
    assert_eq!(b.reconciles(), 0, "the standby never reconciles");
    let lease = Api::<Lease>::namespaced(w.admin.clone(), &w.ns)
        .get("botfleet-operator")
        .await
        .unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("operator-a")
    );

    // The leader leaves (releasing the Lease); the standby takes over and acts.
    a.stop().await;
    eventually("b leads", WAIT, || async {
        Ok(b.metrics.leader.get() == 1)
    })
    .await
    .unwrap();
    w.patch_spec("shared", json!({"phase": "Sandbox"}))
        .await
        .unwrap();
    w.wait_bot("shared", "promoted by the new leader", |x| {
        phase(x) == Some(Phase::Sandbox)
    })
    .await
    .unwrap();
    assert!(b.reconciles() > 0);
    assert_eq!(w.events("shared", "Created").await.unwrap().len(), 1);
    b.stop().await;
}

/// Fencing: a status decided on a read that is no longer current (a deposed
/// leader's in-flight reconcile) is refused by the apiserver and cannot
/// overwrite the newer latch.
#[tokio::test]
async fn a_status_write_decided_on_a_stale_read_is_refused() {
    use botfleet_crds::{HaltStatus, TradingBotStatus};
    use botfleet_operator::fresh::KnownVersions;
    use botfleet_operator::status;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    let w = World::new("fence").await.unwrap();
    w.strategy("sma").await.unwrap();
    w.policy("seed", json!({})).await.unwrap();
    w.bot("fenced", "seed", json!({})).await.unwrap();
    let api: Api<TradingBot> = Api::namespaced(w.operator_client.clone(), &w.ns);
    let read = api.get("fenced").await.unwrap();
    let latch = |id: &str| TradingBotStatus {
        halt: Some(HaltStatus {
            id: id.into(),
            reason: "test".into(),
            at: Time(Timestamp::now()),
        }),
        ..Default::default()
    };
    // Each leader remembers only its own reads and writes.
    let (newer, deposed) = (KnownVersions::default(), KnownVersions::default());
    // The newer leader writes first, from the same read.
    assert!(
        status::write(&api, &read, &latch("newer"), &newer)
            .await
            .unwrap()
    );
    // The deposed one, still holding that read, is refused.
    let stale = status::write(&api, &read, &latch("stale"), &deposed).await;
    assert!(
        matches!(&stale, Err(botfleet_operator::Error::Kube(kube::Error::Api(e))) if e.code == 409),
        "{stale:?}"
    );
    let now = api.get("fenced").await.unwrap();
    assert_eq!(now.status.unwrap().halt.unwrap().id, "newer");
}
