//! The admission decision without an apiserver: AdmissionReview JSON in,
//! the response out.

use serde_json::{Value, json};

use super::*;

fn review(kind: &str, operation: &str, object: Value, old: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "req-1", "kind": {"group": "botfleet.dev", "version": "v1alpha1", "kind": kind},
        "operation": operation, "object": object, "oldObject": old,
        "userInfo": {"username": "alice@example.com", "groups": ["risk", "system:authenticated"]},
    }})
}

fn message(response: &Value) -> String {
    response["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_strategy_with_fast_not_below_slow_or_no_kind_is_refused_with_field_paths() {
    let crossed = json!({"metadata": {"name": "s"},
        "spec": {"timeframe": "1h", "smaCrossover": {"fast": 30, "slow": 10}}});
    let r = respond(&review("Strategy", "CREATE", crossed, Value::Null), None);
    assert_eq!(r["response"]["allowed"], false);
    assert_eq!(r["response"]["uid"], "req-1");
    assert!(message(&r).contains("spec.smaCrossover"), "{}", message(&r));
    let empty = json!({"metadata": {"name": "s"}, "spec": {"timeframe": "1h"}});
    let r = respond(&review("Strategy", "CREATE", empty, Value::Null), None);
    assert_eq!(r["response"]["allowed"], false, "{r}");
    assert!(
        message(&r).contains("Strategy `s` is invalid"),
        "{}",
        message(&r)
    );
}

fn bot(phase: &str, promotion: &str) -> Value {
    json!({"metadata": {"name": "b"}, "spec": {"strategyRef": {"name": "s"},
        "riskPolicyRef": {"name": "p"}, "capital": 1000, "phase": phase, "promotion": promotion,
        "exchange": {"symbols": ["BTCUSDT"], "sandboxCredentialsSecretRef": {"name": "k"}, "liveCredentialsSecretRef": {"name": "k-live"}}}})
}

#[test]
fn a_manual_phase_skip_is_refused_and_one_step_or_automatic_is_admitted() {
    let paper = json!({"status": {"phase": "Paper"}});
    let r = respond(
        &review(
            "TradingBot",
            "UPDATE",
            bot("LimitedReal", "Manual"),
            paper.clone(),
        ),
        None,
    );
    assert_eq!(r["response"]["allowed"], false);
    assert!(
        message(&r).contains("spec.phase: LimitedReal skips a phase"),
        "{}",
        message(&r)
    );
    let r = respond(
        &review(
            "TradingBot",
            "UPDATE",
            bot("Sandbox", "Manual"),
            paper.clone(),
        ),
        None,
    );
    assert_eq!(r["response"]["allowed"], true, "{r}");
    let r = respond(
        &review("TradingBot", "UPDATE", bot("Scaling", "Automatic"), paper),
        None,
    );
    assert_eq!(r["response"]["allowed"], true, "{r}");
    let r = respond(
        &review(
            "TradingBot",
            "CREATE",
            bot("LimitedReal", "Manual"),
            Value::Null,
        ),
        None,
    );
    assert_eq!(r["response"]["allowed"], false, "a new bot starts in Paper");
}

#[test]
fn a_phase_approval_records_the_requesting_user_over_what_was_typed() {
    let approval = json!({"metadata": {"generateName": "b-limitedreal-"}, "spec": {
        "bot": {"name": "b", "uid": "u"}, "phase": "LimitedReal", "tradingHash": "h",
        "expiresAt": "2030-01-01T00:00:00Z", "approvedBy": "somebody-else"}});
    let r = respond(
        &review("PhaseApproval", "CREATE", approval, Value::Null),
        Some(&ApproverAnswer::Allowed),
    );
    assert_eq!(r["response"]["allowed"], true, "{r}");
    assert_eq!(r["response"]["patchType"], "JSONPatch");
    let patch = decide(
        &review(
            "PhaseApproval",
            "CREATE",
            json!({"spec": {
        "bot": {"name": "b", "uid": "u"}, "phase": "LimitedReal", "tradingHash": "h",
        "expiresAt": "2030-01-01T00:00:00Z", "approvedBy": "somebody-else"}}),
            Value::Null,
        )["request"],
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        patch,
        json!([
            {"op": "replace", "path": "/spec/approvedBy", "value": "alice@example.com"},
            {"op": "add", "path": "/spec/approvedGroups", "value": ["risk", "system:authenticated"]},
        ])
    );
}

#[test]
fn a_phase_approval_for_a_phase_without_real_money_is_refused() {
    let approval = json!({"metadata": {"name": "a"}, "spec": {
        "bot": {"name": "b", "uid": "u"}, "phase": "Sandbox", "tradingHash": "h",
        "expiresAt": "2030-01-01T00:00:00Z"}});
    let r = respond(
        &review("PhaseApproval", "CREATE", approval, Value::Null),
        Some(&ApproverAnswer::Allowed),
    );
    assert_eq!(r["response"]["allowed"], false);
    assert!(message(&r).contains("spec.phase"), "{}", message(&r));
}

#[test]
fn base64_matches_the_standard_encoding() {
    assert_eq!(base64(""), "");
    assert_eq!(base64("f"), "Zg==");
    assert_eq!(base64("fo"), "Zm8=");
    assert_eq!(base64("foo"), "Zm9v");
    assert_eq!(base64("[{\"op\":1}]"), "W3sib3AiOjF9XQ==");
}

fn approval_review(user: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "req-2", "kind": {"group": "botfleet.dev", "version": "v1alpha1", "kind": "PhaseApproval"},
        "operation": "CREATE", "namespace": "desk",
        "object": {"metadata": {"generateName": "b-"}, "spec": {"bot": {"name": "b", "uid": "u-1"},
            "phase": "LimitedReal", "tradingHash": "sha256:abc", "expiresAt": "2099-01-01T00:00:00Z"}},
        "userInfo": user,
    }})
}

#[test]
fn the_approver_question_names_the_bot_and_the_authenticated_user() {
    let approval = approval_review(json!({"username": "alice", "uid": "1234",
        "groups": ["risk", "system:authenticated"], "extra": {"scopes": ["a", "b"]}}));
    let q = approver_question(&approval).expect("a PhaseApproval CREATE has a question");
    assert_eq!(
        (q.namespace.as_str(), q.bot.as_str(), q.user.as_str()),
        ("desk", "b", "alice")
    );
    assert_eq!(q.uid.as_deref(), Some("1234"));
    assert_eq!(q.groups, ["risk", "system:authenticated"]);
    assert_eq!(q.extra["scopes"], ["a", "b"]);
    // Nothing to ask for other kinds, or for an update of an approval.
    assert!(approver_question(&review("Strategy", "CREATE", json!({}), Value::Null)).is_none());
    let mut update = approval.clone();
    update["request"]["operation"] = json!("UPDATE");
    assert!(approver_question(&update).is_none());
}

#[test]
fn an_approval_is_refused_unless_the_apiserver_allowed_its_creator_to_approve() {
    let review = approval_review(json!({"username": "bob", "groups": ["traders"]}));
    let denied = respond(
        &review,
        Some(&ApproverAnswer::Denied {
            reason: "no RBAC rule".into(),
        }),
    );
    assert_eq!(denied["response"]["allowed"], false);
    let m = message(&denied);
    assert!(
        m.contains("`bob` may not approve TradingBot `desk/b`")
            && m.contains("verb `approve` on tradingbots")
            && m.contains("botfleet-risk-manager"),
        "{m}"
    );
    let unknown = respond(
        &review,
        Some(&ApproverAnswer::Unknown {
            error: "timeout".into(),
        }),
    );
    assert_eq!(unknown["response"]["allowed"], false);
    assert!(
        message(&unknown).contains("could not check"),
        "{}",
        message(&unknown)
    );
    // Fail closed: no answer is no approval.
    assert_eq!(respond(&review, None)["response"]["allowed"], false);
    let allowed = respond(&review, Some(&ApproverAnswer::Allowed));
    assert_eq!(allowed["response"]["allowed"], true, "{allowed}");
    assert!(allowed["response"]["patch"].is_string());
}

/// `kubectl apply` fails at once for a bot whose keys do not fit its
/// phase: one Secret for both networks, or the old single reference.
#[test]
fn a_bot_with_one_secret_for_test_network_and_live_keys_is_refused() {
    let mut same = bot("LimitedReal", "Manual");
    same["spec"]["exchange"]["liveCredentialsSecretRef"]["name"] = json!("k");
    let r = respond(&review("TradingBot", "CREATE", same, Value::Null), None);
    assert_eq!(r["response"]["allowed"], false, "{r}");
    assert!(
        message(&r).contains("spec.exchange.liveCredentialsSecretRef.name"),
        "{}",
        message(&r)
    );
    let mut old = bot("Sandbox", "Manual");
    old["spec"]["exchange"] =
        json!({"symbols": ["BTCUSDT"], "credentialsSecretRef": {"name": "k"}});
    let r = respond(&review("TradingBot", "CREATE", old, Value::Null), None);
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let m = message(&r);
    assert!(m.contains("spec.exchange.credentialsSecretRef"), "{m}");
    assert!(
        m.contains("spec.exchange.sandboxCredentialsSecretRef"),
        "{m}"
    );
}
