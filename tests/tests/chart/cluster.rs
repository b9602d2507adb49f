//! The chart on the real control plane (Kubernetes 1.20, CRDs installed by the
//! fixture): every rendered object passes a server-side dry run, and a real
//! `helm install` gives the operator's identity the rights to do its job — and none
//! to read Secrets.

use botfleet_tests::control_plane::ControlPlane;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use serde_json::json;

use crate::{chart_dir, helm, run, template};

async fn cp() -> &'static ControlPlane {
    ControlPlane::shared().await
}

#[tokio::test]
async fn the_rendered_chart_passes_a_server_side_dry_run() {
    let cp = cp().await;
    let ns = cp.namespace("chart-dry-run").await.unwrap();
    // Everything but the Prometheus Operator's kinds (1.20 here has no such CRDs).
    let manifest = template(
        &ns,
        &[
            "--set",
            "networkPolicy.enabled=true,operator.replicas=2,grafanaDashboard.enabled=true,webhook.enabled=true",
        ],
    );
    let mut apply = cp.kubectl().unwrap();
    apply.args([
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=botfleet-chart-test",
        "-f",
        "-",
    ]);
    let out = run(apply, Some(&manifest));
    let text = String::from_utf8_lossy(&out.stdout);
    for object in [
        "deployment.apps/botfleet-operator",
        "serviceaccount/botfleet-operator",
        "clusterrole.rbac.authorization.k8s.io/botfleet-operator",
        "clusterrolebinding.rbac.authorization.k8s.io/botfleet-operator",
        "service/botfleet-operator",
        "secret/botfleet-signing-key",
        "configmap/botfleet-dashboard",
        "networkpolicy.networking.k8s.io/botfleet-operator",
        "secret/botfleet-webhook-tls",
        "service/botfleet-webhook",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/botfleet",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/botfleet",
    ] {
        assert!(
            text.contains(&format!("{object} serverside-applied (server dry run)")),
            "{object} not applied:\n{text}"
        );
    }
}

#[tokio::test]
async fn helm_install_binds_the_operator_to_its_role_without_any_verb_on_secrets() {
    let cp = cp().await;
    let ns = cp.namespace("chart-install").await.unwrap();
    let release = ns.clone();
    let mut install = helm();
    install
        .arg("install")
        .arg(&release)
        .arg(chart_dir())
        .args(["--namespace", &ns])
        .arg(format!("--kubeconfig={}", cp.kubeconfig().display()));
    let out = run(install, None);
    let notes = String::from_utf8_lossy(&out.stdout);
    assert!(notes.contains("kubectl get tbot"), "NOTES.txt: {notes}");

    // The controllers turn the Deployment into a Pod: its restricted spec is admitted
    // (there is no kubelet here, so it stays Pending).
    let pods: Api<Pod> = Api::namespaced(cp.client().await.unwrap(), &ns);
    let selector = ListParams::default().labels("app.kubernetes.io/name=botfleet-operator");
    let deadline = Instant::now() + Duration::from_secs(30);
    let pod = loop {
        if let Some(pod) = pods.list(&selector).await.unwrap().items.pop() {
            break pod;
        }
        assert!(Instant::now() < deadline, "no operator Pod after 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let spec = pod.spec.unwrap();
    assert_eq!(
        spec.service_account_name.as_deref(),
        Some(format!("{release}-botfleet-operator").as_str())
    );
    assert_eq!(spec.security_context.unwrap().run_as_non_root, Some(true));

    // The identity the operator's pod runs as.
    let sa = format!("{release}-botfleet-operator");
    let token = cp.service_account_token(&ns, &sa).await.unwrap();
    let operator = cp.client_for_token(&token).await.unwrap();

    // It can do its job: watch bots everywhere…
    let bots = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("botfleet.dev", "v1alpha1", "TradingBot"),
        "tradingbots",
    );
    let all_bots: Api<DynamicObject> = Api::all_with(operator.clone(), &bots);
    all_bots.list(&ListParams::default()).await.unwrap();
    // …and is refused every verb on Secrets, its own signing key included
    // (engines verify with public keys; nothing of the operator's is a Secret
    // it has to write or read).
    let secrets: Api<Secret> = Api::namespaced(operator.clone(), &ns);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "some-bot-engine-token"},
        "stringData": {"token": "t"}
    }))
    .unwrap();
    let forbidden = |r: kube::Result<_>, what: &str| match r {
        Err(kube::Error::Api(s)) if s.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    };
    let own_key = format!("{release}-botfleet-signing-key");
    forbidden(
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .map(|_| ()),
        "create secret",
    );
    forbidden(secrets.get(&own_key).await.map(|_| ()), "get secret");
    forbidden(
        secrets.list(&ListParams::default()).await.map(|_| ()),
        "list secrets",
    );
    forbidden(
        secrets
            .patch(
                &own_key,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
            )
            .await
            .map(|_| ()),
        "patch secret",
    );
    forbidden(
        secrets
            .replace(&own_key, &PostParams::default(), &secret)
            .await
            .map(|_| ()),
        "update secret",
    );
    forbidden(
        secrets
            .delete(&own_key, &Default::default())
            .await
            .map(|_| ()),
        "delete secret",
    );
    forbidden(
        secrets
            .delete_collection(&Default::default(), &ListParams::default())
            .await
            .map(|_| ()),
        "deletecollection secrets",
    );
    forbidden(
        Api::<Secret>::all(operator.clone())
            .list(&ListParams::default())
            .await
            .map(|_| ()),
        "list secrets in all namespaces",
    );

    // The rest of the role, as kubectl sees it.
    let kubeconfig = cp.write_kubeconfig(&token).unwrap();
    for (verb, resource, expected) in [
        ("watch", "tradingbots.botfleet.dev", "yes"),
        ("patch", "tradingbots.botfleet.dev", "yes"),
        ("create", "statefulsets.apps", "yes"),
        ("patch", "configmaps", "yes"),
        ("create", "events.events.k8s.io", "yes"),
        ("update", "leases.coordination.k8s.io", "yes"),
        ("get", "secrets", "no"),
        ("list", "secrets", "no"),
        ("watch", "secrets", "no"),
        ("create", "secrets", "no"),
        ("update", "secrets", "no"),
        ("patch", "secrets", "no"),
        ("delete", "secrets", "no"),
        ("deletecollection", "secrets", "no"),
        ("delete", "tradingbots.botfleet.dev", "no"),
        ("create", "strategies.botfleet.dev", "no"),
        ("delete", "pods", "no"),
    ] {
        let mut can_i = cp.kubectl_with(&kubeconfig).unwrap();
        can_i.args(["auth", "can-i", verb, resource, "-A"]);
        let out = can_i.output().unwrap();
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(answer, expected, "can-i {verb} {resource}");
    }

    // Uninstalling keeps the signing key material (engines verify with its public key).
    let mut uninstall = helm();
    uninstall
        .args(["uninstall", &release, "--namespace", &ns])
        .arg(format!("--kubeconfig={}", cp.kubeconfig().display()));
    run(uninstall, None);
    let admin: Api<Secret> = Api::namespaced(cp.client().await.unwrap(), &ns);
    let key = admin
        .get(&format!("{release}-botfleet-signing-key"))
        .await
        .unwrap();
    assert!(key.data.unwrap()["key"].0.len() >= 32);
}

#[tokio::test]
async fn with_watched_namespaces_the_operator_holds_roles_in_those_namespaces_only() {
    let cp = cp().await;
    let ns = cp.namespace("chart-scoped").await.unwrap();
    let watched = cp.namespace("chart-scoped-bots").await.unwrap();
    let other = cp.namespace("chart-scoped-other").await.unwrap();
    let release = ns.clone();
    let mut install = helm();
    install
        .arg("install")
        .arg(&release)
        .arg(chart_dir())
        .args(["--namespace", &ns])
        .args(["--set", &format!("operator.watchNamespaces={{{watched}}}")])
        .arg(format!("--kubeconfig={}", cp.kubeconfig().display()));
    run(install, None);

    let sa = format!("{release}-botfleet-operator");
    let token = cp.service_account_token(&ns, &sa).await.unwrap();
    let kubeconfig = cp.write_kubeconfig(&token).unwrap();
    let can_i = |verb: &str, resource: &str, namespace: Option<&str>| {
        let mut cmd = cp.kubectl_with(&kubeconfig).unwrap();
        cmd.args(["auth", "can-i", verb, resource]);
        match namespace {
            Some(n) => cmd.args(["-n", n]),
            None => cmd.arg("-A"),
        };
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Its job in the watched namespace…
    for (verb, resource) in [
        ("watch", "tradingbots.botfleet.dev"),
        ("patch", "tradingbots.botfleet.dev/status"),
        ("create", "statefulsets.apps"),
        ("patch", "configmaps"),
        ("create", "events.events.k8s.io"),
    ] {
        assert_eq!(
            can_i(verb, resource, Some(&watched)),
            "yes",
            "{verb} {resource} in {watched}"
        );
    }
    // …its Lease at home…
    assert_eq!(
        can_i("update", "leases.coordination.k8s.io", Some(&ns)),
        "yes"
    );
    // …and nothing anywhere else: not in another namespace, not cluster-wide,
    // no Lease outside its own namespace, and still no verb on Secrets.
    for (verb, resource, namespace) in [
        ("list", "tradingbots.botfleet.dev", Some(other.as_str())),
        ("create", "statefulsets.apps", Some(other.as_str())),
        ("list", "tradingbots.botfleet.dev", None),
        (
            "update",
            "leases.coordination.k8s.io",
            Some(watched.as_str()),
        ),
        ("get", "secrets", Some(watched.as_str())),
    ] {
        assert_eq!(
            can_i(verb, resource, namespace),
            "no",
            "{verb} {resource} in {namespace:?}"
        );
    }
    let operator = cp.client_for_token(&token).await.unwrap();
    let bots = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("botfleet.dev", "v1alpha1", "TradingBot"),
        "tradingbots",
    );
    let all_bots: Api<DynamicObject> = Api::all_with(operator, &bots);
    match all_bots.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) if s.code == 403 => {}
        other => panic!("listing bots in every namespace: expected 403, got {other:?}"),
    }
}
