use botfleet_crds::{RiskPolicy, TradingBot};
use serde_json::json;

use super::*;

fn bot(phase: &str, status: serde_json::Value) -> TradingBot {
    serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "TradingBot",
        "metadata": {"name": "b", "namespace": "ns"},
        "spec": {"strategyRef": {"name": "s"}, "riskPolicyRef": {"name": "p"},
            "exchange": {"symbols": ["BTCUSDT"], "sandboxCredentialsSecretRef": {"name": "k"}, "liveCredentialsSecretRef": {"name": "k-live"}},
            "capital": 1000, "phase": phase},
        "status": status,
    }))
    .unwrap()
}

fn policy() -> RiskPolicy {
    serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "RiskPolicy",
        "metadata": {"name": "p"}, "spec": {}}))
    .unwrap()
}

fn metrics(equity: f64, return_pct: f64, daily_pnl: f64) -> serde_json::Value {
    json!({"equity": equity, "returnPct": return_pct, "drawdownPct": 8.0,
        "maxDrawdownPct": 9.0, "trades": 10, "openPositions": 1, "dailyPnl": daily_pnl})
}

fn row<'a>(v: &'a StatusView, limit: &str) -> &'a LimitRow {
    v.limits.iter().find(|r| r.limit == limit).unwrap()
}

#[test]
fn limited_real_limits_use_the_smaller_cap_and_the_phase_start_equity() {
    // Lost 10 % since the phase started: 1000 → 900; today -20 from 920.
    let b = bot(
        "LimitedReal",
        json!({"phase": "LimitedReal", "metrics": metrics(900.0, -10.0, -20.0)}),
    );
    let v = build(&b, Ok(policy()), Ok(vec![]), now());
    assert_eq!(row(&v, "maxDrawdownPct").allowed, 10.0);
    assert_eq!(row(&v, "maxTotalLossPct").used, 10.0);
    assert_eq!(row(&v, "maxTotalLoss").used, 100.0);
    assert_eq!(row(&v, "maxTotalLoss").allowed, 500.0);
    // 1 % of 920 (9.2) is below the $50 cap.
    assert_eq!(row(&v, "dailyLossLimit").used, 20.0);
    assert_eq!(row(&v, "dailyLossLimit").allowed, 9.2);
}

#[test]
fn limited_real_shows_the_hard_caps_over_a_looser_policy() {
    // The policy lifts LimitedReal's absolute caps; the engine and the
    // operator still hold the bot to the seed's hard caps, and so does this view.
    let loose: RiskPolicy = serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "RiskPolicy",
        "metadata": {"name": "p"},
        "spec": {"limits": {"limitedReal": {"maxTotalLoss": 5000, "dailyLossLimit": 900,
            "dailyLossLimitPct": 50}}}}))
    .unwrap();
    let b = bot(
        "LimitedReal",
        json!({"phase": "LimitedReal", "metrics": metrics(900.0, -10.0, -20.0)}),
    );
    let v = build(&b, Ok(loose), Ok(vec![]), now());
    assert_eq!(row(&v, "maxTotalLoss").allowed, 500.0);
    // 50 % of 920 is 460, above the $50 hard cap.
    assert_eq!(row(&v, "dailyLossLimit").allowed, 50.0);
}

#[test]
fn a_gain_uses_none_of_the_loss_limits() {
    let b = bot(
        "Paper",
        json!({"phase": "Paper", "metrics": metrics(1100.0, 10.0, 5.0)}),
    );
    let v = build(&b, Ok(policy()), Ok(vec![]), now());
    assert_eq!(row(&v, "maxTotalLossPct").used, 0.0);
    assert_eq!(row(&v, "dailyLossLimit").used, 0.0);
    assert!(
        v.limits.iter().all(|r| r.limit != "maxTotalLoss"),
        "Paper has no absolute cap"
    );
}

#[test]
fn a_missing_policy_or_metrics_is_a_note_not_a_failure() {
    let b = bot("Paper", json!({}));
    let v = build(
        &b,
        Err("RiskPolicy \"p\" not found in namespace \"ns\"".into()),
        Ok(vec![]),
        now(),
    );
    assert!(render_table(&v).contains("RiskPolicy \"p\" not found"));
    let v = build(&b, Ok(policy()), Ok(vec![]), now());
    assert_eq!(v.phase, Phase::Paper, "a new bot is in Paper");
    let text = render_table(&v);
    assert!(text.contains("no metrics reported yet"), "{text}");
    assert!(text.contains("Gate: not evaluated yet"), "{text}");
}

#[test]
fn a_halted_scaling_bot_shows_the_halt_and_no_gate() {
    let b = bot(
        "Scaling",
        json!({"phase": "Scaling", "state": "Halted",
            "capital": {"allocated": 0, "step": 2},
            "halt": {"id": "h-1-x", "reason": "drawdown 16 % reached limits.scaling.maxDrawdownPct = 15 %",
                "at": "2026-01-02T03:04:05Z"}}),
    );
    let text = render_table(&build(&b, Ok(policy()), Ok(vec![]), now()));
    assert!(
        text.contains("Gate: none (Scaling is the last phase)"),
        "{text}"
    );
    assert!(
        text.contains("allocated 0 (spec.capital 1000, schedule step 2)"),
        "{text}"
    );
    assert!(
        text.contains("(id h-1-x, at 2026-01-02T03:04:05Z)"),
        "{text}"
    );
    assert!(text.contains("kubectl botfleet resume b -n ns"), "{text}");
}

fn now() -> k8s_openapi::jiff::Timestamp {
    "2026-01-02T00:00:00Z".parse().unwrap()
}

fn approval(uid: &str, phase: &str, hash: &str, expires: &str) -> botfleet_crds::PhaseApproval {
    serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "PhaseApproval",
        "metadata": {"name": format!("b-{uid}"), "namespace": "ns", "uid": uid},
        "spec": {"bot": {"name": "b", "uid": "bot-uid"}, "phase": phase,
            "tradingHash": hash, "expiresAt": expires, "approvedBy": "alice"},
    }))
    .unwrap()
}

#[test]
fn pending_approvals_are_listed_with_the_operators_verdict_and_used_ones_are_not() {
    let mut b = bot(
        "Sandbox",
        json!({"phase": "Sandbox", "gate": {"targetPhase": "LimitedReal", "met": true,
            "tradingHash": "h1", "criteria": []},
            "approvals": [{"name": "b-old", "uid": "old", "phase": "LimitedReal",
                "tradingHash": "h0", "usedAt": "2026-01-01T00:00:00Z"}]}),
    );
    b.metadata.uid = Some("bot-uid".into());
    let later = "2026-01-03T00:00:00Z";
    let approvals = vec![
        approval("ok", "LimitedReal", "h1", later),
        approval("stale", "LimitedReal", "h0", later),
        approval("expired", "LimitedReal", "h1", "2026-01-01T00:00:00Z"),
        approval("old", "LimitedReal", "h1", later),
    ];
    let v = build(&b, Ok(policy()), Ok(approvals), now());
    let states: Vec<(&str, &str)> = v
        .pending_approvals
        .iter()
        .map(|a| (a.name.as_str(), a.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            ("b-ok", "Usable"),
            ("b-stale", "ApprovalForOtherConfig"),
            ("b-expired", "ApprovalExpired")
        ]
    );
    let text = render_table(&v);
    assert!(text.contains("Pending approvals:"), "{text}");
    assert!(text.contains("alice"), "{text}");
}
