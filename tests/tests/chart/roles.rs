//! The chart's roles for people, on the real control plane with token
//! identities (service-account tokens): a trader runs bots but cannot
//! approve real money, write a bot's status, or loosen a RiskPolicy (which
//! would lift a breach halt); a risk manager can approve; a namespace
//! editor gets the trader's rights through aggregation, not the risk
//! manager's.

use std::time::Duration;

use botfleet_tests::control_plane::ControlPlane;
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use kube::Client;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};

use crate::{chart_dir, helm, run};

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("botfleet.dev", "v1alpha1", kind),
        plural,
    )
}

fn api(client: &Client, ns: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &resource(kind, plural))
}

fn object(value: Value) -> DynamicObject {
    serde_json::from_value(value).unwrap()
}

fn approval(name: &str) -> DynamicObject {
    object(
        json!({"apiVersion": "botfleet.dev/v1alpha1", "kind": "PhaseApproval",
        "metadata": {"name": name},
        "spec": {"bot": {"name": "bot", "uid": "u"}, "phase": "LimitedReal",
            "tradingHash": "0123456789ab", "expiresAt": "2030-01-01T00:00:00Z"}}),
    )
}

/// `Err(403)` expected.
fn forbidden<T: std::fmt::Debug>(r: kube::Result<T>, what: &str) {
    match r {
        Err(kube::Error::Api(s)) if s.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

/// A client for the ServiceAccount `name`, bound in `ns` to ClusterRole `role`.
async fn person(cp: &ControlPlane, ns: &str, name: &str, role: &str) -> Client {
    let binding = RoleBinding {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: name.into(),
            namespace: Some(ns.into()),
            ..Default::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(cp.client().await.unwrap(), ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let token = cp.service_account_token(ns, name).await.unwrap();
    cp.client_for_token(&token).await.unwrap()
}

/// Polls until `client` may list PhaseApprovals in `ns` (a binding, or an
/// aggregation, has taken effect).
async fn wait_until_allowed(client: &Client, ns: &str, kind: &str, plural: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if api(client, ns, kind, plural)
            .list(&Default::default())
            .await
            .is_ok()
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{plural}: still not allowed after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether `client`'s identity holds the verb `approve` on TradingBot `bot`.
async fn may_approve(client: &Client, ns: &str, bot: &str) -> bool {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    let review = SelfSubjectAccessReview {
        metadata: Default::default(),
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some("botfleet.dev".into()),
                resource: Some("tradingbots".into()),
                verb: Some("approve".into()),
                namespace: Some(ns.into()),
                name: Some(bot.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        status: None,
    };
    Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .unwrap()
        .status
        .is_some_and(|s| s.allowed)
}

#[tokio::test]
async fn a_trader_cannot_approve_write_status_or_loosen_risk_and_a_risk_manager_can_approve() {
    let cp = ControlPlane::shared().await;
    let ns = cp.namespace("chart-roles").await.unwrap();
    // The release is named after the namespace so the cluster-wide role
    // names of parallel tests never meet.
    let mut render = helm();
    render.args(["template", &ns]).arg(chart_dir()).args([
        "--namespace",
        &ns,
        "--show-only",
        "templates/user-roles.yaml",
    ]);
    let roles = String::from_utf8(run(render, None).stdout).unwrap();
    let mut apply = cp.kubectl().unwrap();
    apply.args([
        "apply",
        "--server-side",
        "--field-manager=chart-test",
        "-f",
        "-",
    ]);
    run(apply, Some(&roles));
    let role = |r: &str| format!("{ns}-botfleet-{r}");

    let admin = cp.client().await.unwrap();
    let pp = PatchParams::apply("chart-test");
    api(&admin, &ns, "RiskPolicy", "riskpolicies")
        .patch(
            "seed",
            &pp,
            &Patch::Apply(json!({"apiVersion": "botfleet.dev/v1alpha1",
            "kind": "RiskPolicy", "metadata": {"name": "seed"}, "spec": {}})),
        )
        .await
        .unwrap();

    let trader = person(cp, &ns, "trader", &role("trader")).await;
    wait_until_allowed(&trader, &ns, "TradingBot", "tradingbots").await;
    // What a trader does: strategies and bots.
    api(&trader, &ns, "Strategy", "strategies")
        .create(
            &PostParams::default(),
            &object(json!({"apiVersion": "botfleet.dev/v1alpha1",
            "kind": "Strategy", "metadata": {"name": "sma"},
            "spec": {"timeframe": "1h", "smaCrossover": {"fast": 10, "slow": 30}}})),
        )
        .await
        .unwrap();
    let bots = api(&trader, &ns, "TradingBot", "tradingbots");
    bots.create(
        &PostParams::default(),
        &object(json!({"apiVersion": "botfleet.dev/v1alpha1",
        "kind": "TradingBot", "metadata": {"name": "bot"},
        "spec": {"strategyRef": {"name": "sma"}, "riskPolicyRef": {"name": "seed"},
            "exchange": {"symbols": ["BTCUSDT"]}, "capital": 1000}})),
    )
    .await
    .unwrap();
    // What a trader may not do.
    forbidden(
        api(&trader, &ns, "PhaseApproval", "phaseapprovals")
            .create(&PostParams::default(), &approval("by-trader"))
            .await,
        "trader creates a PhaseApproval",
    );
    forbidden(
        bots.patch_status(
            "bot",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "LimitedReal"}})),
        )
        .await,
        "trader patches tradingbots/status",
    );
    forbidden(
        api(&trader, &ns, "RiskPolicy", "riskpolicies")
            .patch(
                "seed",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"limits": {"paper": {"maxDrawdownPct": 90}}}})),
            )
            .await,
        "trader loosens the RiskPolicy",
    );

    let risk = person(cp, &ns, "risk", &role("risk-manager")).await;
    wait_until_allowed(&risk, &ns, "PhaseApproval", "phaseapprovals").await;
    // The verb the admission webhook checks before admitting an approval.
    assert!(
        !may_approve(&trader, &ns, "bot").await,
        "a trader may not approve"
    );
    assert!(
        may_approve(&risk, &ns, "bot").await,
        "a risk manager may approve"
    );
    api(&risk, &ns, "PhaseApproval", "phaseapprovals")
        .create(&PostParams::default(), &approval("by-risk-manager"))
        .await
        .unwrap();
    forbidden(
        api(&risk, &ns, "TradingBot", "tradingbots")
            .patch_status(
                "bot",
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": "LimitedReal"}})),
            )
            .await,
        "risk manager patches tradingbots/status",
    );

    // A namespace editor (ClusterRole edit) gets the trader's rights by
    // aggregation, and still cannot approve.
    let editor = person(cp, &ns, "editor", "edit").await;
    wait_until_allowed(&editor, &ns, "Strategy", "strategies").await;
    forbidden(
        api(&editor, &ns, "PhaseApproval", "phaseapprovals")
            .create(&PostParams::default(), &approval("by-editor"))
            .await,
        "an editor creates a PhaseApproval",
    );
}
