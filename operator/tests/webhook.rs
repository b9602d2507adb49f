//! The admission webhook server on the real apiserver: registered with
//! `ValidatingWebhookConfiguration`/`MutatingWebhookConfiguration` URL
//! webhooks on loopback (a test CA in `caBundle`), it refuses invalid
//! objects at create time with field paths and records the authenticated
//! approver of a PhaseApproval. And its certificate is rotated in place.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use botfleet_crds::{PhaseApproval, Strategy};
use botfleet_operator::approver::ApproverCheck;
use botfleet_operator::webhook::WebhookServer;
use common::{cp, eventually};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// A test CA, able to sign serving certificates for 127.0.0.1.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> Result<Self> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(Self { issuer })
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Writes a certificate for 127.0.0.1 signed by this CA, and its key,
    /// to `dir/tls.crt` and `dir/tls.key` (replacing them: a rotation).
    fn write_serving(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        let params = CertificateParams::new(vec!["127.0.0.1".to_string()])?;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let (cert_file, key_file) = (dir.join("tls.crt"), dir.join("tls.key"));
        // Write beside and rename, as a Secret volume swaps its files.
        std::fs::write(dir.join("tls.key.new"), key.serialize_pem())?;
        std::fs::write(dir.join("tls.crt.new"), cert.pem())?;
        std::fs::rename(dir.join("tls.key.new"), &key_file)?;
        std::fs::rename(dir.join("tls.crt.new"), &cert_file)?;
        Ok((cert_file, key_file))
    }
}

/// The webhook server on a free loopback port, stopped when dropped.
struct Webhook {
    url: String,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// It asks the apiserver about approvers as the operator's identity (bound
/// only to `rbac/clusterrole.yaml`).
async fn start_webhook(ca: &TestCa) -> Result<Webhook> {
    botfleet_operator::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let (cert, key) = ca.write_serving(dir.path())?;
    common::rbac().await?;
    let operator = cp().await.client_for_token(common::OPERATOR_TOKEN).await?;
    let approvers = ApproverCheck::new(operator);
    let server = WebhookServer::bind("127.0.0.1:0".parse()?, &cert, &key, approvers).await?;
    let url = format!("https://{}", server.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    Ok(Webhook {
        url,
        _dir: dir,
        _stop: stop,
    })
}

/// Registers the webhook for the namespaces labelled with `test_label`
/// (the shared control plane's other tests stay unaffected), the way the
/// chart does: validation for every kind, the approver patch for
/// PhaseApprovals.
async fn register(admin: &Client, name: &str, test_label: &str, url: &str, ca: &str) -> Result<()> {
    let client_config = |path: &str| json!({"url": format!("{url}{path}"), "caBundle": ByteString(ca.as_bytes().to_vec())});
    let selector = json!({"matchLabels": {"botfleet.dev/test": test_label}});
    let common = |path: &str, resources: Value| {
        json!({
            "clientConfig": client_config(path),
            "rules": [{"apiGroups": ["botfleet.dev"], "apiVersions": ["*"],
                       "operations": ["CREATE", "UPDATE"], "resources": resources,
                       "scope": "Namespaced"}],
            "namespaceSelector": selector,
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 10,
        })
    };
    let mut validate = common(
        "/validate",
        json!([
            "strategies",
            "riskpolicies",
            "tradingbots",
            "phaseapprovals"
        ]),
    );
    validate["name"] = json!("validate.botfleet.dev");
    let mut mutate = common("/mutate", json!(["phaseapprovals"]));
    mutate["name"] = json!("approver.botfleet.dev");
    let validating: ValidatingWebhookConfiguration = serde_json::from_value(json!({
        "metadata": {"name": name}, "webhooks": [validate]}))?;
    let mutating: MutatingWebhookConfiguration = serde_json::from_value(json!({
        "metadata": {"name": name}, "webhooks": [mutate]}))?;
    Api::<ValidatingWebhookConfiguration>::all(admin.clone())
        .create(&PostParams::default(), &validating)
        .await?;
    Api::<MutatingWebhookConfiguration>::all(admin.clone())
        .create(&PostParams::default(), &mutating)
        .await?;
    Ok(())
}

/// Creates `spec` as Strategy `name` and returns the apiserver's refusal;
/// an admitted one (the webhook not yet in effect) is deleted again and
/// the caller polls.
async fn refusal(api: &Api<Strategy>, name: &str, spec: Value) -> Result<Option<String>> {
    let strategy: Strategy = serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "Strategy",
        "metadata": {"name": name}, "spec": spec}))?;
    match api.create(&PostParams::default(), &strategy).await {
        Ok(_) => {
            api.delete(name, &DeleteParams::default()).await?;
            Ok(None)
        }
        Err(kube::Error::Api(status)) => Ok(Some(status.message)),
        Err(e) => Err(e.into()),
    }
}

/// The refusal of `spec` once the webhook answers for the namespace.
async fn refused(api: &Api<Strategy>, name: &str, spec: Value) -> Result<String> {
    let message = std::sync::Mutex::new(String::new());
    eventually("the webhook to refuse the strategy", WAIT, || {
        let spec = spec.clone();
        let message = &message;
        async move {
            match refusal(api, name, spec).await? {
                Some(m) if m.contains("denied the request") => {
                    *message.lock().unwrap() = m;
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
    })
    .await?;
    Ok(message.into_inner().unwrap())
}

#[tokio::test]
async fn invalid_strategies_are_refused_at_create_with_the_field_path() -> Result<()> {
    let cp = cp().await;
    let admin = cp.client().await?;
    let ns = cp.namespace("webhook-refuse").await?;
    let ca = TestCa::new("webhook-refuse-ca")?;
    let webhook = start_webhook(&ca).await?;
    register(&admin, &ns, "webhook-refuse", &webhook.url, &ca.pem()).await?;
    let strategies: Api<Strategy> = Api::namespaced(admin.clone(), &ns);

    let crossed = json!({"timeframe": "1h", "smaCrossover": {"fast": 30, "slow": 10}});
    let message = refused(&strategies, "crossed", crossed).await?;
    assert!(
        message.contains("Strategy `crossed` is invalid") && message.contains("spec.smaCrossover"),
        "the refusal names the strategy and the field: {message}"
    );
    let message = refused(&strategies, "empty", json!({"timeframe": "1h"})).await?;
    assert!(
        message.contains("Strategy `empty` is invalid")
            && message.contains("smaCrossover, rsiReversion"),
        "the refusal names the strategy and what to set: {message}"
    );
    assert!(strategies.get_opt("crossed").await?.is_none());
    assert!(strategies.get_opt("empty").await?.is_none());

    // A valid one is admitted unchanged.
    let valid: Strategy = serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "Strategy", "metadata": {"name": "valid"},
        "spec": {"timeframe": "1h", "smaCrossover": {"fast": 10, "slow": 30}}}))?;
    strategies.create(&PostParams::default(), &valid).await?;
    Ok(())
}

#[tokio::test]
async fn a_phase_approval_records_the_authenticated_approver_not_the_typed_name() -> Result<()> {
    let cp = cp().await;
    let admin = cp.client().await?;
    let ns = cp.namespace("webhook-approver").await?;
    let ca = TestCa::new("webhook-approver-ca")?;
    let webhook = start_webhook(&ca).await?;
    register(&admin, &ns, "webhook-approver", &webhook.url, &ca.pem()).await?;

    // A risk manager: a token identity allowed to create approvals here
    // and to approve bots.
    let alice = identity(&admin, &ns, "alice", true).await?;
    let alice_name = format!("system:serviceaccount:{ns}:alice");
    let approvals: Api<PhaseApproval> = Api::namespaced(alice, &ns);

    let created = std::sync::Mutex::new(None);
    eventually("a PhaseApproval stamped by the webhook", WAIT, || {
        let approvals = approvals.clone();
        let created = &created;
        async move {
            let approval: PhaseApproval = serde_json::from_value(json!({
                "apiVersion": "botfleet.dev/v1alpha1", "kind": "PhaseApproval",
                "metadata": {"generateName": "bot-limitedreal-"},
                "spec": {"bot": {"name": "bot", "uid": "0f0e0d0c-uid"}, "phase": "LimitedReal",
                         "tradingHash": "sha256:abc", "expiresAt": "2099-01-01T00:00:00Z",
                         "approvedBy": "the-ceo", "approvedGroups": ["admins"]}}))?;
            let made = approvals.create(&PostParams::default(), &approval).await?;
            if made.spec.approved_by.as_deref() == Some("the-ceo") {
                // Admitted before the webhook was in effect: try again.
                approvals
                    .delete(
                        &made.metadata.name.unwrap_or_default(),
                        &DeleteParams::default(),
                    )
                    .await?;
                return Ok(false);
            }
            *created.lock().unwrap() = Some(made);
            Ok(true)
        }
    })
    .await?;
    let created = created.into_inner().unwrap().context("no approval")?;
    assert_eq!(
        created.spec.approved_by.as_deref(),
        Some(alice_name.as_str())
    );
    assert!(
        created
            .spec
            .approved_groups
            .iter()
            .any(|g| g == "system:serviceaccounts")
            && !created.spec.approved_groups.iter().any(|g| g == "admins"),
        "the groups are the authenticated ones: {:?}",
        created.spec.approved_groups
    );
    Ok(())
}

/// Token identity `name` in `ns` that may create PhaseApprovals, and with
/// `approve` also holds the verb `approve` on tradingbots.
async fn identity(admin: &Client, ns: &str, name: &str, approve: bool) -> Result<Client> {
    let mut rules = vec![
        json!({"apiGroups": ["botfleet.dev"], "resources": ["phaseapprovals"],
                                "verbs": ["create", "get", "delete"]}),
    ];
    if approve {
        rules.push(
            json!({"apiGroups": ["botfleet.dev"], "resources": ["tradingbots"],
                          "verbs": ["approve"]}),
        );
    }
    let role: Role = serde_json::from_value(json!({"metadata": {"name": name}, "rules": rules}))?;
    Api::<Role>::namespaced(admin.clone(), ns)
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({"metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}]}))?;
    Api::<RoleBinding>::namespaced(admin.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await?;
    let cp = cp().await;
    let token = cp.service_account_token(ns, name).await?;
    cp.client_for_token(&token).await
}

#[tokio::test]
async fn a_phase_approval_by_someone_without_the_approve_verb_is_refused_naming_the_fix()
-> Result<()> {
    let cp = cp().await;
    let admin = cp.client().await?;
    let ns = cp.namespace("webhook-no-approve").await?;
    let ca = TestCa::new("webhook-no-approve-ca")?;
    let webhook = start_webhook(&ca).await?;
    register(&admin, &ns, "webhook-no-approve", &webhook.url, &ca.pem()).await?;
    // Bob may create PhaseApproval objects (RBAC alone would store his), but
    // holds no `approve` on tradingbots.
    let bob = identity(&admin, &ns, "bob", false).await?;
    let approvals: Api<PhaseApproval> = Api::namespaced(bob, &ns);
    let refusal = std::sync::Mutex::new(String::new());
    eventually("the webhook refuses bob's approval", WAIT, || {
        let approvals = approvals.clone();
        let refusal = &refusal;
        async move {
            let approval: PhaseApproval = serde_json::from_value(json!({
                "apiVersion": "botfleet.dev/v1alpha1", "kind": "PhaseApproval",
                "metadata": {"generateName": "bot-limitedreal-"},
                "spec": {"bot": {"name": "bot", "uid": "0f0e0d0c-uid"}, "phase": "LimitedReal",
                         "tradingHash": "sha256:abc", "expiresAt": "2099-01-01T00:00:00Z"}}))?;
            match approvals.create(&PostParams::default(), &approval).await {
                Ok(made) => {
                    // Admitted before the webhook was in effect: try again.
                    approvals
                        .delete(
                            &made.metadata.name.unwrap_or_default(),
                            &DeleteParams::default(),
                        )
                        .await?;
                    Ok(false)
                }
                Err(kube::Error::Api(e)) => {
                    *refusal.lock().unwrap() = e.message;
                    Ok(true)
                }
                Err(e) => Err(e.into()),
            }
        }
    })
    .await?;
    let refusal = refusal.into_inner().unwrap();
    assert!(
        refusal.contains(&format!(
            "`system:serviceaccount:{ns}:bob` may not approve TradingBot `{ns}/bot`"
        )) && refusal.contains("verb `approve` on tradingbots"),
        "{refusal}"
    );
    assert!(
        Api::<PhaseApproval>::namespaced(admin, &ns)
            .list(&Default::default())
            .await?
            .items
            .is_empty(),
        "nothing stored"
    );
    Ok(())
}

/// POSTs an AdmissionReview to `url/validate` trusting only `ca`.
async fn answer(url: &str, ca: &str) -> Result<Value> {
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes())?])
        .timeout(Duration::from_secs(10))
        .build()?;
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u1", "kind": {"group": "botfleet.dev", "version": "v1alpha1",
        "kind": "Strategy"}, "operation": "DELETE", "object": null}});
    let response = client
        .post(format!("{url}/validate"))
        .json(&review)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("HTTP {}", response.status());
    }
    Ok(response.json().await?)
}

#[tokio::test]
async fn a_rotated_certificate_is_served_without_a_restart() -> Result<()> {
    let old_ca = TestCa::new("old-ca")?;
    let new_ca = TestCa::new("new-ca")?;
    let webhook = start_webhook(&old_ca).await?;
    let answered = answer(&webhook.url, &old_ca.pem()).await?;
    assert_eq!(answered["response"]["uid"], "u1");
    assert_eq!(answered["response"]["allowed"], true);
    assert!(
        answer(&webhook.url, &new_ca.pem()).await.is_err(),
        "not yet signed by the new CA"
    );

    new_ca.write_serving(webhook._dir.path())?;
    eventually("the new certificate served", WAIT, || async {
        Ok(answer(&webhook.url, &new_ca.pem()).await.is_ok())
    })
    .await?;
    assert!(
        answer(&webhook.url, &old_ca.pem()).await.is_err(),
        "the old certificate is no longer served"
    );
    Ok(())
}
