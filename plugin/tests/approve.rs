//! `kubectl botfleet approve` and the pending approvals of `status`, with
//! the binary against the real local control plane (no operator runs: the
//! test writes the bot's status the operator would write).

use std::process::{Command, Output, Stdio};

use botfleet_crds::{PhaseApproval, TradingBot};
use botfleet_tests::control_plane::ControlPlane;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-botfleet");
const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn run(cp: &ControlPlane, ns: &str, args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .arg("--kubeconfig")
        .arg(cp.kubeconfig())
        .args(["-n", ns])
        .args(args)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("the plugin runs");
    eprintln!(
        "kubectl-botfleet {args:?}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test]
async fn approve_shows_what_it_approves_creates_the_approval_and_status_lists_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cp = ControlPlane::shared().await;
    let ns = cp.namespace("plugin-approve").await.unwrap();
    let admin = cp.client().await.unwrap();
    let pp = PatchParams::apply("plugin-tests").force();
    let policy = json!({"apiVersion": "botfleet.dev/v1alpha1", "kind": "RiskPolicy",
        "metadata": {"name": "seed"}, "spec": {}});
    Api::<botfleet_crds::RiskPolicy>::namespaced(admin.clone(), &ns)
        .patch("seed", &pp, &Patch::Apply(&policy))
        .await
        .unwrap();
    let bots: Api<TradingBot> = Api::namespaced(admin.clone(), &ns);
    let bot: TradingBot = serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "TradingBot", "metadata": {"name": "alpha"},
        "spec": {"strategyRef": {"name": "sma"}, "riskPolicyRef": {"name": "seed"},
            "exchange": {"symbols": ["BTCUSDT"], "sandboxCredentialsSecretRef": {"name": "keys"}, "liveCredentialsSecretRef": {"name": "keys-live"}},
            "capital": 1000, "phase": "LimitedReal"}}))
    .unwrap();
    let uid = bots
        .create(&PostParams::default(), &bot)
        .await
        .unwrap()
        .uid()
        .unwrap();
    let status = json!({"status": {"phase": "Sandbox", "gate": {"targetPhase": "LimitedReal",
        "met": true, "tradingHash": HASH, "criteria": [
            {"name": "minTrades", "comparison": ">=", "required": 100.0, "measured": 120.0, "met": true}]}}});
    bots.patch_status("alpha", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let approvals: Api<PhaseApproval> = Api::namespaced(admin, &ns);

    // Without a terminal and without --yes nothing is created.
    let out = run(cp, &ns, &["approve", "alpha"]);
    assert_eq!(out.status.code(), Some(6));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("(uid {uid}) to enter LimitedReal")),
        "{text}"
    );
    assert!(text.contains(HASH), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("minTrades"))
        .unwrap_or_else(|| panic!("no gate row in\n{text}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["minTrades", ">=", "100", "120", "yes"]
    );
    assert!(text.contains("Limits in LimitedReal:"), "{text}");
    assert!(text.contains("maxDrawdownPct"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    let list = || async { approvals.list(&ListParams::default()).await.unwrap().items };
    assert!(list().await.is_empty());

    // A phase that is not the next one is refused.
    let out = run(
        cp,
        &ns,
        &["approve", "alpha", "--phase", "Scaling", "--yes"],
    );
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("next phase is LimitedReal"));

    let out = run(cp, &ns, &["approve", "alpha", "--yes", "--expires", "2h"]);
    assert!(out.status.success());
    let created = list().await;
    assert_eq!(created.len(), 1);
    let a = &created[0];
    assert!(a.name_any().starts_with("alpha-limitedreal-"));
    assert_eq!(
        (a.spec.bot.name.as_str(), a.spec.bot.uid.as_str()),
        ("alpha", uid.as_str())
    );
    assert_eq!(a.spec.trading_hash, HASH);
    assert_eq!(a.spec.gate.len(), 1);
    let hours = a
        .spec
        .expires_at
        .0
        .duration_since(a.metadata.creation_timestamp.clone().unwrap().0);
    assert!(
        (hours.as_secs_f64() - 7200.0).abs() < 600.0,
        "expires about 2h after creation: {hours:?}"
    );

    let out = run(cp, &ns, &["status", "alpha"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.starts_with("alpha-limitedreal-"))
        .unwrap_or_else(|| panic!("no pending approval in\n{text}"));
    assert!(
        row.contains("LimitedReal") && row.ends_with("Usable"),
        "{row}"
    );
}
