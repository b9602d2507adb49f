//! The Rust types of `botfleet-crds` and the schema the apiserver enforces agree:
//! what the apiserver stores (with its defaults) reads back into the types, and a
//! status the operator writes from the types is accepted and reads back unchanged.

use botfleet_crds::{
    ApprovalRecord, BotMetrics, BotState, CapitalStatus, GateCriterionStatus, GateStatus,
    HaltStatus, Phase, PhaseTransition, RiskPolicy, Strategy, TradingBot, TradingBotStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

use crate::{cp, create, example, examples, renamed};

fn time(text: &str) -> Time {
    serde_json::from_value(json!(text)).unwrap()
}

#[tokio::test]
async fn stored_examples_read_back_as_the_rust_types_and_validate() {
    let cp = cp().await;
    let ns = cp.namespace("typed").await.unwrap();
    let docs = examples();
    for doc in &docs {
        create(&ns, doc, false).await.unwrap();
    }
    let count = |kind: &str| docs.iter().filter(|d| d["kind"] == kind).count();
    let client = cp.client().await.unwrap();

    let bots = Api::<TradingBot>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(bots.items.len(), count("TradingBot"));
    for bot in &bots.items {
        if let Err(e) = bot.spec.validate() {
            panic!("{:?}: {e}", bot.metadata.name);
        }
    }
    let policies = Api::<RiskPolicy>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(policies.items.len(), count("RiskPolicy"));
    for policy in &policies.items {
        if let Err(e) = policy.spec.validate() {
            panic!("{:?}: {e}", policy.metadata.name);
        }
    }
    let strategies = Api::<Strategy>::namespaced(client, &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(strategies.items.len(), count("Strategy"));
    for strategy in &strategies.items {
        if let Err(e) = strategy.spec.validate() {
            panic!("{:?}: {e}", strategy.metadata.name);
        }
    }
}

/// A status with every part filled in, as the operator would write it.
fn full_status() -> TradingBotStatus {
    TradingBotStatus {
        observed_generation: Some(1),
        phase: Some(Phase::Sandbox),
        state: Some(BotState::Trading),
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "EngineRunning".into(),
            message: "the engine reports Trading".into(),
            observed_generation: Some(1),
            last_transition_time: time("2026-01-02T03:04:05Z"),
        }],
        metrics: Some(BotMetrics {
            equity: "10234.56".parse().unwrap(),
            return_pct: 2.35,
            drawdown_pct: 1.25,
            max_drawdown_pct: 4.5,
            win_rate_pct: Some(57.5),
            sharpe: Some(1.62),
            trades: 123,
            open_positions: 2,
            daily_pnl: "-12.5".parse().unwrap(),
        }),
        gate: Some(GateStatus {
            trading_hash: None,
            target_phase: Phase::LimitedReal,
            met: false,
            criteria: vec![GateCriterionStatus {
                name: "minTrades".into(),
                comparison: botfleet_crds::Comparison::AtLeast,
                required: 100.0,
                measured: Some(123.0),
                met: true,
                detail: None,
            }],
        }),
        capital: Some(CapitalStatus {
            allocated: "10000".parse().unwrap(),
            step: Some(1),
            period: None,
        }),
        halt: Some(HaltStatus {
            id: "halt-1".into(),
            reason: "daily loss limit".into(),
            at: time("2026-01-03T00:00:00Z"),
        }),
        phase_history: vec![PhaseTransition {
            from: Some(Phase::Paper),
            to: Phase::Sandbox,
            at: time("2026-01-02T00:00:00Z"),
            reason: "gate met".into(),
        }],
        engine_image_id: Some("docker-pullable://botfleet-bot@sha256:0123".into()),
        approvals: vec![ApprovalRecord {
            name: "typed-limitedreal".into(),
            uid: "approval-uid".into(),
            phase: Phase::LimitedReal,
            approved_by: Some("alice".into()),
            trading_hash: "0123456789abcdef".into(),
            used_at: time("2026-01-04T00:00:00Z"),
        }],
    }
}

#[tokio::test]
async fn a_status_written_from_the_rust_type_reads_back_unchanged() {
    let cp = cp().await;
    let ns = cp.namespace("typed-status").await.unwrap();
    let bot = renamed(example("TradingBot", |_| true), "typed");
    create(&ns, &bot, false).await.unwrap();
    let api = Api::<TradingBot>::namespaced(cp.client().await.unwrap(), &ns);
    let status = full_status();
    let patch = Patch::Merge(json!({ "status": status }));
    api.patch_status("typed", &PatchParams::default(), &patch)
        .await
        .unwrap();
    let stored = api.get("typed").await.unwrap();
    assert_eq!(stored.status, Some(status));
}
