//! The control plane fixture itself: verified TLS, token identities bound by RBAC,
//! service-account identities, per-test namespaces, kubectl, and the controllers
//! (Deployments and StatefulSets get Pods, garbage collection works).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use botfleet_tests::control_plane::ControlPlane;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding, RoleRef, Subject};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use serde_json::json;

const OPERATOR_TOKEN: &str = "operator-token";
const OPERATOR_USER: &str = "system:serviceaccount:botfleet:operator";

/// Every test of this binary shares one control plane with these identities.
async fn cp() -> &'static ControlPlane {
    ControlPlane::shared_with(|b| {
        b.with_token(
            OPERATOR_TOKEN,
            OPERATOR_USER,
            ["system:serviceaccounts", "system:serviceaccounts:botfleet"],
        )
    })
    .await
}

/// Polls `check` every 100 ms until it returns `Ok(true)`, for at most `timeout`.
async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(true) => return Ok(()),
            Ok(false) => "condition false".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() > deadline {
            bail!("{what}: not true after {timeout:?} ({last})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn api_error(result: kube::Result<impl std::fmt::Debug>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_apiserver_is_reached_over_verified_tls() {
    let cp = cp().await;
    assert!(cp.server_url().starts_with("https://127.0.0.1:"));
    let admin = cp.client().await.unwrap();
    let version = admin.apiserver_version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "20")
    );

    // A client that does not trust the fixture's CA must refuse the connection.
    let untrusting = kube::Config::new(cp.server_url().parse().unwrap());
    let client = kube::Client::try_from(untrusting).unwrap();
    let err = client.apiserver_version().await.unwrap_err();
    let chain = format!("{:?}", anyhow::Error::from(err));
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");
}

#[tokio::test]
async fn a_token_identity_has_only_what_rbac_grants() {
    let cp = cp().await;
    let ns = cp.namespace("rbac").await.unwrap();
    let other_ns = cp.namespace("rbac-other").await.unwrap();
    let operator = cp.client_for_token(OPERATOR_TOKEN).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(operator.clone(), &ns);

    let denied = api_error(pods.list(&ListParams::default()).await);
    assert_eq!(denied.code, 403);
    assert!(denied.message.contains(OPERATOR_USER), "{}", denied.message);

    let admin = cp.client().await.unwrap();
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
    }))
    .unwrap();
    Api::<Role>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding = RoleBinding {
        metadata: kube::api::ObjectMeta {
            name: Some("operator-reads-pods".into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: "pod-reader".into(),
        },
        subjects: Some(vec![Subject {
            kind: "User".into(),
            name: OPERATOR_USER.into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Default::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(admin, &ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();

    eventually(
        "the operator may list pods",
        Duration::from_secs(10),
        || async { Ok(pods.list(&ListParams::default()).await.is_ok()) },
    )
    .await
    .unwrap();
    // The grant is namespaced and verb-scoped.
    let elsewhere: Api<Pod> = Api::namespaced(operator.clone(), &other_ns);
    assert_eq!(
        api_error(elsewhere.list(&ListParams::default()).await).code,
        403
    );
    let delete = pods
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    assert_eq!(api_error(delete).code, 403);

    // An unknown token is not an identity at all.
    let stranger = cp.client_for_token("no-such-token").await.unwrap();
    let unauthorized = api_error(
        Api::<Pod>::namespaced(stranger, &ns)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(unauthorized.code, 401);
}

#[tokio::test]
async fn a_service_account_token_authenticates_as_the_service_account() {
    let cp = cp().await;
    let ns = cp.namespace("sa").await.unwrap();
    let token = cp.service_account_token(&ns, "engine").await.unwrap();
    let engine = cp.client_for_token(&token).await.unwrap();
    let denied = api_error(
        Api::<ConfigMap>::namespaced(engine, &ns)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(denied.code, 403);
    let user = format!("system:serviceaccount:{ns}:engine");
    assert!(denied.message.contains(&user), "{}", denied.message);
}

#[tokio::test]
async fn every_namespace_request_gets_a_new_namespace() {
    let cp = cp().await;
    let first = cp.namespace("Same Prefix").await.unwrap();
    let second = cp.namespace("Same Prefix").await.unwrap();
    assert_ne!(first, second);
    assert!(first.starts_with("same-prefix-"), "{first}");
    let namespaces: Api<Namespace> = Api::all(cp.client().await.unwrap());
    for name in [&first, &second] {
        let ns = namespaces.get(name).await.unwrap();
        let phase = ns.status.and_then(|s| s.phase);
        assert_eq!(phase.as_deref(), Some("Active"));
    }
}

#[tokio::test]
async fn kubectl_uses_the_written_kubeconfigs() {
    let cp = cp().await;
    let ns = cp.namespace("kubectl").await.unwrap();
    let out = cp
        .kubectl()
        .unwrap()
        .args(["get", "namespace", &ns, "-o", "name"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("namespace/{ns}")
    );

    let operator = cp.write_kubeconfig(OPERATOR_TOKEN).unwrap();
    let out = cp
        .kubectl_with(&operator)
        .unwrap()
        .args(["auth", "can-i", "list", "pods", "-n", &ns])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
}

fn workload(kind: &str, name: &str, replicas: i32) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                // Never pulled: there is no kubelet.
                "spec": {"containers": [{"name": "main", "image": "registry.invalid/none:1"}]},
            },
        },
    })
}

async fn pod_count(pods: &Api<Pod>, app: &str) -> Result<usize> {
    let list = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await?;
    Ok(list.items.len())
}

#[tokio::test]
async fn controllers_create_pods_and_collect_garbage() {
    let cp = cp().await;
    let ns = cp.namespace("controllers").await.unwrap();
    let admin = cp.client().await.unwrap();
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), &ns);
    let statefulsets: Api<StatefulSet> = Api::namespaced(admin.clone(), &ns);

    let mut deployment = workload("Deployment", "web", 2);
    deployment["spec"]
        .as_object_mut()
        .unwrap()
        .remove("serviceName");
    let deployment: Deployment = serde_json::from_value(deployment).unwrap();
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let sts: StatefulSet = serde_json::from_value(workload("StatefulSet", "engine", 1)).unwrap();
    statefulsets
        .create(&PostParams::default(), &sts)
        .await
        .unwrap();

    let wait = Duration::from_secs(30);
    eventually("the Deployment has 2 pods", wait, || async {
        Ok(pod_count(&pods, "web").await? == 2)
    })
    .await
    .unwrap();
    eventually("the StatefulSet has pod engine-0", wait, || async {
        Ok(pods.get_opt("engine-0").await?.is_some())
    })
    .await
    .unwrap();

    // Deleting the owner lets the garbage collector remove its ReplicaSet and Pods.
    deployments
        .delete("web", &DeleteParams::background())
        .await
        .unwrap();
    let replicasets: Api<ReplicaSet> = Api::namespaced(admin, &ns);
    eventually("the Deployment's pods are collected", wait, || async {
        let rs = replicasets.list(&ListParams::default()).await?.items.len();
        Ok(rs == 0 && pod_count(&pods, "web").await? == 0)
    })
    .await
    .unwrap();
    assert!(
        pods.get_opt("engine-0").await.unwrap().is_some(),
        "unrelated pods stay"
    );
}

#[tokio::test]
async fn a_component_that_cannot_start_is_reported_with_its_log() {
    let started = Instant::now();
    let err = ControlPlane::builder()
        .without_crds()
        .apiserver_arg("--no-such-flag=1")
        .start()
        .await
        .expect_err("an apiserver with an unknown flag cannot start");
    let message = format!("{err:#}");
    assert!(message.contains("kube-apiserver exited"), "{message}");
    assert!(message.contains("kube-apiserver.log"), "{message}");
    // The tail of the log says why.
    assert!(
        message.contains("unknown flag: --no-such-flag"),
        "{message}"
    );
    // Reported as soon as the process died, not at the startup timeout.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}
