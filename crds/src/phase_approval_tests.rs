//! The approval rule without a cluster: each way an approval can fail to
//! let a bot in has its own reason.

use serde_json::json;

use super::*;

const HASH: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn approval(uid: &str, bot_uid: &str, phase: &str, hash: &str, expires: &str) -> PhaseApproval {
    serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "PhaseApproval",
        "metadata": {"name": format!("b-{uid}"), "namespace": "ns", "uid": uid},
        "spec": {"bot": {"name": "b", "uid": bot_uid}, "phase": phase,
            "tradingHash": hash, "expiresAt": expires, "approvedBy": "alice"},
    }))
    .unwrap()
}

fn target(used: &[String]) -> ApprovalTarget<'_> {
    ApprovalTarget {
        bot_name: "b",
        bot_uid: "bot-uid",
        phase: Phase::LimitedReal,
        trading_hash: HASH,
        used,
        now: "2026-06-01T12:00:00Z".parse().unwrap(),
        approver_refusals: &[],
    }
}

const LATER: &str = "2026-06-02T12:00:00Z";

#[test]
fn an_approval_for_this_bot_phase_and_config_before_expiry_is_valid() {
    let a = approval("a1", "bot-uid", "LimitedReal", HASH, LATER);
    assert_eq!(check(&a, &target(&[])), Ok(()));
}

#[test]
fn each_mismatch_is_rejected_with_its_own_reason() {
    let t = target(&[]);
    let cases = [
        (
            approval("a", "other-uid", "LimitedReal", HASH, LATER),
            "ApprovalForOtherBot",
        ),
        (
            approval("a", "bot-uid", "Scaling", HASH, LATER),
            "ApprovalForOtherPhase",
        ),
        (
            approval("a", "bot-uid", "LimitedReal", "bbbbbbbbbbbbbbbb", LATER),
            "ApprovalForOtherConfig",
        ),
        (
            approval("a", "bot-uid", "LimitedReal", HASH, "2026-06-01T11:59:59Z"),
            "ApprovalExpired",
        ),
    ];
    for (a, reason) in cases {
        let err = check(&a, &t).unwrap_err();
        assert_eq!(err.reason(), reason, "{a:?}");
        assert!(
            err.message(&t)
                .contains("kubectl botfleet approve b --phase LimitedReal")
        );
    }
}

#[test]
fn an_approval_expiring_exactly_now_is_expired() {
    let a = approval("a", "bot-uid", "LimitedReal", HASH, "2026-06-01T12:00:00Z");
    assert_eq!(
        check(&a, &target(&[])).unwrap_err().reason(),
        "ApprovalExpired"
    );
}

#[test]
fn an_approval_for_another_config_names_both_hashes() {
    let t = target(&[]);
    let a = approval("a", "bot-uid", "LimitedReal", "bbbbbbbbbbbbbbbbbb", LATER);
    let msg = check(&a, &t).unwrap_err().message(&t);
    assert!(
        msg.contains("bbbbbbbbbbbb") && msg.contains("aaaaaaaaaaaa"),
        "{msg}"
    );
}

#[test]
fn an_approval_is_used_once() {
    let used = ["a1".to_string()];
    let a = approval("a1", "bot-uid", "LimitedReal", HASH, LATER);
    assert_eq!(
        check(&a, &target(&used)).unwrap_err().reason(),
        "ApprovalAlreadyUsed"
    );
}

#[test]
fn an_approval_whose_approver_lost_the_right_is_not_used_and_says_who() {
    let refusals = [ApproverRefusal {
        approval_uid: "a1".into(),
        why: "no RBAC policy matched".into(),
    }];
    let t = ApprovalTarget {
        approver_refusals: &refusals,
        ..target(&[])
    };
    let a = approval("a1", "bot-uid", "LimitedReal", HASH, LATER);
    let err = find_valid([&a], &t).unwrap_err();
    assert_eq!(err.reason(), "ApproverNotAllowed");
    let msg = err.message(&t);
    assert!(
        msg.contains("given by alice") && msg.contains("no RBAC policy matched"),
        "{msg}"
    );
    // Another approval, by someone who still may, is used.
    let b = approval("b1", "bot-uid", "LimitedReal", HASH, LATER);
    assert_eq!(
        find_valid([&a, &b], &t).unwrap().uid().as_deref(),
        Some("b1")
    );
}

#[test]
fn no_approval_for_the_bot_is_approval_required() {
    let mut other = approval("a", "bot-uid", "LimitedReal", HASH, LATER);
    other.spec.bot.name = "c".into();
    let err = find_valid([&other], &target(&[])).unwrap_err();
    assert_eq!(err.reason(), "ApprovalRequired");
    assert_eq!(
        find_valid([], &target(&[])).unwrap_err().reason(),
        "ApprovalRequired"
    );
}

#[test]
fn find_valid_picks_a_valid_one_and_otherwise_reports_the_closest_miss() {
    let t = target(&[]);
    let phase = approval("p", "bot-uid", "Scaling", HASH, LATER);
    let config = approval("c", "bot-uid", "LimitedReal", "bbbbbbbbbbbb", LATER);
    let good = approval("g", "bot-uid", "LimitedReal", HASH, LATER);
    let longer = approval("l", "bot-uid", "LimitedReal", HASH, "2026-06-03T00:00:00Z");
    let found = find_valid([&phase, &good, &longer, &config], &t).unwrap();
    assert_eq!(found.uid().as_deref(), Some("l"));
    let err = find_valid([&phase, &config], &t).unwrap_err();
    assert_eq!(err.reason(), "ApprovalForOtherConfig");
}

#[test]
fn validate_names_each_bad_field() {
    let mut a = approval("a", "", "Sandbox", "", LATER);
    a.spec.bot.name = "Not A Name".into();
    let errs = a.spec.validate().unwrap_err();
    for path in [
        "spec.bot.name",
        "spec.bot.uid",
        "spec.phase",
        "spec.tradingHash",
    ] {
        assert!(errs.has_path(path), "{path} missing in {errs}");
    }
    let ok = approval("a", "bot-uid", "Scaling", HASH, LATER);
    assert!(ok.spec.validate().is_ok());
}

fn bot_in(phase: &str, gate_target: &str, hash: Option<&str>) -> TradingBot {
    serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "TradingBot",
        "metadata": {"name": "b", "namespace": "ns", "uid": "bot-uid"},
        "spec": {"strategyRef": {"name": "s"}, "riskPolicyRef": {"name": "p"},
            "exchange": {"symbols": ["BTCUSDT"], "sandboxCredentialsSecretRef": {"name": "k"}, "liveCredentialsSecretRef": {"name": "k-live"}},
            "capital": 1000, "phase": "LimitedReal"},
        "status": {"phase": phase, "gate": {"targetPhase": gate_target, "met": true,
            "tradingHash": hash,
            "criteria": [{"name": "minTrades", "comparison": ">=", "required": 100.0,
                "measured": 120.0, "met": true}]}},
    }))
    .unwrap()
}

#[test]
fn for_bot_approves_what_the_status_shows() {
    let expires = "2026-06-02T12:00:00Z".parse().unwrap();
    let a = PhaseApproval::for_bot(
        &bot_in("Sandbox", "LimitedReal", Some(HASH)),
        Phase::LimitedReal,
        expires,
    )
    .unwrap();
    assert_eq!(
        a.spec.bot,
        ApprovedBot {
            name: "b".into(),
            uid: "bot-uid".into()
        }
    );
    assert_eq!(a.spec.trading_hash, HASH);
    assert_eq!(a.spec.gate.len(), 1);
    assert_eq!(a.spec.approved_by, None);
    assert_eq!(a.metadata.generate_name.as_deref(), Some("b-limitedreal-"));
    assert_eq!(a.metadata.namespace.as_deref(), Some("ns"));
}

#[test]
fn for_bot_refuses_a_phase_that_is_not_next_or_a_config_not_measured() {
    let expires = "2026-06-02T12:00:00Z".parse().unwrap();
    let skip = PhaseApproval::for_bot(
        &bot_in("Sandbox", "LimitedReal", Some(HASH)),
        Phase::Scaling,
        expires,
    )
    .unwrap_err();
    assert!(skip.contains("next phase is LimitedReal"), "{skip}");
    let unmeasured = PhaseApproval::for_bot(
        &bot_in("Sandbox", "LimitedReal", None),
        Phase::LimitedReal,
        expires,
    )
    .unwrap_err();
    assert!(unmeasured.contains("tradingHash"), "{unmeasured}");
}
