//! Harness of the operator's integration tests: the shared control plane,
//! the operator running as a token identity bound only to its ClusterRole,
//! stand-in engines, and bounded waits (no timed assertions).

#![allow(dead_code)]

pub mod climb;
pub mod engine;
pub mod live_market;
pub mod operator_process;
pub mod real_engine;
pub mod scenario;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use botfleet_crds::{PhaseApproval, RiskPolicy, Strategy, TradingBot};
use botfleet_operator::config::LeaderElection;
use botfleet_operator::signing::SigningKeys;
use botfleet_operator::{Metrics, OperatorConfig};
use botfleet_tests::control_plane::ControlPlane;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleRef, Subject};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::OnceCell;

pub use engine::FakeEngine;

pub const OPERATOR_TOKEN: &str = "botfleet-operator-token";
pub const OPERATOR_USER: &str = "system:serviceaccount:botfleet-system:botfleet-operator";
const KEY: &[u8] = b"test-key-0123456789abcdef0123456789abcdef";

/// The control plane of this test binary, with the operator's identity.
pub async fn cp() -> &'static ControlPlane {
    botfleet_operator::install_crypto_provider();
    if std::env::var_os("RUST_LOG").is_some() {
        botfleet_operator::telemetry::init(false);
    }
    ControlPlane::shared_with(|b| {
        b.with_token(OPERATOR_TOKEN, OPERATOR_USER, ["system:serviceaccounts"])
    })
    .await
}

/// Binds the operator's identity to `operator/rbac/clusterrole.yaml`, once.
pub async fn rbac() -> Result<()> {
    static DONE: OnceCell<()> = OnceCell::const_new();
    DONE.get_or_try_init(|| async {
        let admin = cp().await.client().await?;
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/rbac/clusterrole.yaml"
        ))?;
        let role: ClusterRole = serde_yaml::from_str(&text)?;
        let pp = PatchParams::apply("botfleet-tests").force();
        Api::<ClusterRole>::all(admin.clone())
            .patch("botfleet-operator", &pp, &Patch::Apply(&role))
            .await?;
        let binding = ClusterRoleBinding {
            metadata: kube::api::ObjectMeta {
                name: Some("botfleet-operator".into()),
                ..Default::default()
            },
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: "botfleet-operator".into(),
            },
            subjects: Some(vec![Subject {
                kind: "User".into(),
                name: OPERATOR_USER.into(),
                api_group: Some("rbac.authorization.k8s.io".into()),
                ..Default::default()
            }]),
        };
        Api::<ClusterRoleBinding>::all(admin)
            .patch("botfleet-operator", &pp, &Patch::Apply(&binding))
            .await?;
        // Wait until the grant is effective.
        let client = cp().await.client_for_token(OPERATOR_TOKEN).await?;
        eventually(
            "the operator identity can list bots",
            Duration::from_secs(20),
            || {
                let api: Api<TradingBot> = Api::all(client.clone());
                async move { Ok(api.list(&ListParams::default().limit(1)).await.is_ok()) }
            },
        )
        .await
    })
    .await?;
    Ok(())
}

/// Polls `check` every 50 ms until it returns `Ok(true)`, for at most `timeout`.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<()>
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub const WAIT: Duration = Duration::from_secs(30);

/// One test's world: a namespace, an admin client, stand-in engines, and
/// the pod IPs they answer on.
pub struct World {
    pub ns: String,
    pub admin: Client,
    pub operator_client: Client,
    pub engine_port: u16,
    pub engines: Arc<Mutex<BTreeMap<String, FakeEngine>>>,
    assigner: tokio::task::JoinHandle<()>,
}

impl Drop for World {
    fn drop(&mut self) {
        self.assigner.abort();
    }
}

/// A running operator.
pub struct Operator {
    pub metrics: Arc<Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<botfleet_operator::Result<()>>,
}

impl Operator {
    /// Stops it gracefully and waits for it.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(30), &mut self.task)
            .await
            .expect("the operator stops within 30 s")
            .expect("operator task")
            .expect("operator result");
    }

    pub fn reconciles(&self) -> u64 {
        self.metrics.reconciles.get()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.task.abort();
        }
    }
}

impl World {
    pub async fn new(prefix: &str) -> Result<Self> {
        let cp = cp().await;
        rbac().await?;
        let ns = cp.namespace(prefix).await?;
        let admin = cp.client().await?;
        let operator_client = cp.client_for_token(OPERATOR_TOKEN).await?;
        let engines: Arc<Mutex<BTreeMap<String, FakeEngine>>> = Default::default();
        let assigner = tokio::spawn(assign_pod_ips(admin.clone(), ns.clone(), engines.clone()));
        Ok(Self {
            ns,
            admin,
            operator_client,
            engine_port: engine::free_port(),
            engines,
            assigner,
        })
    }

    /// The operator settings of the tests: this namespace only, fast polls,
    /// one-second "days".
    pub fn config(&self) -> OperatorConfig {
        let mut c = OperatorConfig::new(signing_keys(), "botfleet/engine:test");
        c.engine_port = self.engine_port;
        c.namespaces = vec![self.ns.clone()];
        c.poll_interval = Duration::from_millis(200);
        c.error_requeue = Duration::from_millis(200);
        c.engine_timeout = Duration::from_millis(500);
        c.day = Duration::from_secs(1);
        c.finalizer_timeout = Duration::from_secs(20);
        c
    }

    /// Leader election on a Lease in this namespace.
    pub fn with_leader_election(&self, mut c: OperatorConfig, identity: &str) -> OperatorConfig {
        c.instance = identity.into();
        c.leader_election = Some(LeaderElection {
            lease_name: "botfleet-operator".into(),
            lease_namespace: self.ns.clone(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(3),
            renew_before: Duration::from_secs(1),
        });
        c
    }

    /// Starts an operator as the restricted identity.
    pub fn start_operator(&self, config: OperatorConfig) -> Operator {
        let metrics = Arc::new(Metrics::new());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(botfleet_operator::run(
            self.operator_client.clone(),
            config,
            metrics.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        Operator {
            metrics,
            stop: Some(tx),
            task,
        }
    }

    pub fn bots(&self) -> Api<TradingBot> {
        Api::namespaced(self.admin.clone(), &self.ns)
    }

    pub async fn apply_yaml(&self, yaml: &str) -> Result<()> {
        for doc in yaml.split("\n---\n") {
            let value: serde_json::Value = serde_yaml::from_str(doc)?;
            let name = value["metadata"]["name"].as_str().unwrap().to_string();
            let pp = PatchParams::apply("botfleet-tests").force();
            match value["kind"].as_str().unwrap() {
                "Strategy" => {
                    Api::<Strategy>::namespaced(self.admin.clone(), &self.ns)
                        .patch(&name, &pp, &Patch::Apply(&value))
                        .await?;
                }
                "RiskPolicy" => {
                    Api::<RiskPolicy>::namespaced(self.admin.clone(), &self.ns)
                        .patch(&name, &pp, &Patch::Apply(&value))
                        .await?;
                }
                "TradingBot" => {
                    self.bots().patch(&name, &pp, &Patch::Apply(&value)).await?;
                }
                k => bail!("unknown kind {k}"),
            }
        }
        Ok(())
    }

    /// A Strategy `sma`, and RiskPolicy `name` with `spec`.
    pub async fn policy(&self, name: &str, spec: serde_json::Value) -> Result<()> {
        let value = json!({"apiVersion": "botfleet.dev/v1alpha1", "kind": "RiskPolicy",
            "metadata": {"name": name}, "spec": spec});
        let pp = PatchParams::apply("botfleet-tests").force();
        Api::<RiskPolicy>::namespaced(self.admin.clone(), &self.ns)
            .patch(name, &pp, &Patch::Apply(&value))
            .await?;
        Ok(())
    }

    pub async fn strategy(&self, name: &str) -> Result<()> {
        self.apply_yaml(&format!(
            "apiVersion: botfleet.dev/v1alpha1\nkind: Strategy\nmetadata: {{name: {name}}}\nspec: {{timeframe: 1h, smaCrossover: {{fast: 10, slow: 30}}}}"
        ))
        .await
    }

    /// Creates bot `name` (spec fields merged over a Paper default), starts
    /// its stand-in engine and returns it once the bot has a UID.
    pub async fn bot(
        &self,
        name: &str,
        policy: &str,
        extra: serde_json::Value,
    ) -> Result<FakeEngine> {
        let mut spec = json!({
            "strategyRef": {"name": "sma"},
            "riskPolicyRef": {"name": policy},
            "exchange": {"symbols": ["BTCUSDT"], "sandboxCredentialsSecretRef": {"name": "keys"}, "liveCredentialsSecretRef": {"name": "keys-live"}},
            "capital": 1000,
        });
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let engine = FakeEngine::start(name, self.engine_port).await;
        let bot: TradingBot = serde_json::from_value(json!({
            "apiVersion": "botfleet.dev/v1alpha1", "kind": "TradingBot",
            "metadata": {"name": name}, "spec": spec}))?;
        let created = self.bots().create(&PostParams::default(), &bot).await?;
        engine.expect_signed(operator_public_keys(), created.uid().unwrap());
        // A real engine reports the UID from its rendered config.
        engine.update(|s| s.uid = created.uid());
        self.engines
            .lock()
            .unwrap()
            .insert(name.into(), engine.clone());
        Ok(engine)
    }

    pub async fn get(&self, name: &str) -> Result<TradingBot> {
        Ok(self.bots().get(name).await?)
    }

    /// Waits until `check` holds for bot `name`.
    pub async fn wait_bot(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&TradingBot) -> bool,
    ) -> Result<TradingBot> {
        let api = self.bots();
        let deadline = Instant::now() + WAIT;
        loop {
            let last = api.get(name).await;
            if let Ok(bot) = &last
                && check(bot)
            {
                return Ok(last?);
            }
            if Instant::now() > deadline {
                let shown = last
                    .map(|b| format!("{:#?}", b.status))
                    .unwrap_or_else(|e| e.to_string());
                bail!("{what}: not true after {WAIT:?}; last status: {shown}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn patch_spec(&self, name: &str, spec: serde_json::Value) -> Result<()> {
        self.bots()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": spec})),
            )
            .await?;
        Ok(())
    }

    pub async fn annotate(&self, name: &str, key: &str, value: &str) -> Result<()> {
        let patch = json!({"metadata": {"annotations": {key: value}}});
        self.bots()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Events about bot `name` with `reason`.
    pub async fn events(&self, name: &str, reason: &str) -> Result<Vec<Event>> {
        let api: Api<Event> = Api::namespaced(self.admin.clone(), &self.ns);
        Ok(api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    && e.reason.as_deref() == Some(reason)
            })
            .collect())
    }

    /// Waits until at least one Event about `name` with `reason` exists
    /// (Events follow the status write that commits a transition).
    pub async fn wait_events(&self, name: &str, reason: &str) -> Result<Vec<Event>> {
        eventually(&format!("an Event {reason} about {name}"), WAIT, || async {
            Ok(!self.events(name, reason).await?.is_empty())
        })
        .await?;
        self.events(name, reason).await
    }

    /// Waits until `operator` has run `n` more reconciles (time passing
    /// without assuming how long it takes).
    pub async fn let_reconcile(&self, operator: &Operator, n: u64) -> Result<()> {
        let target = operator.reconciles() + n;
        eventually("the operator keeps reconciling", WAIT, || async {
            Ok(operator.reconciles() >= target)
        })
        .await
    }
}

pub fn condition<'a>(
    bot: &'a TradingBot,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    bot.status.as_ref()?.condition(type_)
}

pub fn condition_is(bot: &TradingBot, type_: &str, status: &str) -> bool {
    condition(bot, type_).is_some_and(|c| c.status == status)
}

/// What a real engine does with its rendered config: report the hash of
/// what it trades (`crds::trading_hash`), so the stand-in's window counts
/// for the config the operator rendered last.
async fn report_trading_hash(admin: &Client, ns: &str, bot: &str, engine: &FakeEngine) {
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(admin.clone(), ns);
    let Ok(cm) = maps.get(&format!("{bot}-config")).await else {
        return;
    };
    let Some(yaml) = cm.data.as_ref().and_then(|d| d.values().next()) else {
        return;
    };
    if let Ok(m) = botfleet_crds::Manifests::from_yaml(yaml)
        && let Ok(bundle) = m.bundle(Some(bot))
    {
        let hash = m.trading_hash(&bundle);
        engine.update(|s| s.trading_hash = Some(hash));
    }
}

/// Plays the kubelet's part for one field: gives each engine pod the IP of
/// its bot's stand-in engine.
async fn assign_pod_ips(
    admin: Client,
    ns: String,
    engines: Arc<Mutex<BTreeMap<String, FakeEngine>>>,
) {
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &ns);
    loop {
        if let Ok(list) = pods
            .list(&ListParams::default().labels("app.kubernetes.io/managed-by=botfleet-operator"))
            .await
        {
            for pod in list {
                let bot = pod
                    .labels()
                    .get("botfleet.dev/bot")
                    .cloned()
                    .unwrap_or_default();
                let Some(engine) = engines.lock().unwrap().get(&bot).cloned() else {
                    continue;
                };
                report_trading_hash(&admin, &ns, &bot, &engine).await;
                let ip = engine.ip.to_string();
                if pod.status.as_ref().and_then(|s| s.pod_ip.as_ref()) == Some(&ip) {
                    continue;
                }
                let patch = json!({"status": {"podIP": ip, "podIPs": [{"ip": ip}]}});
                if let Err(e) = pods
                    .patch_status(
                        &pod.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                {
                    eprintln!("cannot set the IP of pod {}: {e}", pod.name_any());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The operator's signing key in these tests.
pub fn signing_keys() -> SigningKeys {
    SigningKeys::from_material(KEY).unwrap()
}

/// The public keys an engine verifies the test operator's signatures with.
pub fn operator_public_keys() -> Vec<botfleet_crds::control_signature::PublicKey> {
    botfleet_crds::control_signature::parse_public_keys(&signing_keys().public_keys_file()).unwrap()
}

impl World {
    /// What a risk manager does with `kubectl botfleet approve`: waits until
    /// bot `name`'s gate leads to `phase` with a measured config, then
    /// creates the PhaseApproval for it (valid for an hour), with
    /// `approvedBy` as the admission webhook would record it.
    pub async fn approve(&self, name: &str, phase: botfleet_crds::Phase) -> Result<PhaseApproval> {
        let approval = self.approval_for(name, phase).await?;
        self.create_approval(approval).await
    }

    /// The PhaseApproval `kubectl botfleet approve` would build for bot
    /// `name` once its gate leads to `phase` with a measured config.
    pub async fn approval_for(
        &self,
        name: &str,
        phase: botfleet_crds::Phase,
    ) -> Result<PhaseApproval> {
        let bot = self
            .wait_bot(name, &format!("a measured gate to {phase}"), |b| {
                b.status
                    .as_ref()
                    .and_then(|s| s.gate.as_ref())
                    .is_some_and(|g| g.target_phase == phase && g.trading_hash.is_some())
            })
            .await?;
        let expires = k8s_openapi::jiff::Timestamp::now() + Duration::from_secs(3600);
        PhaseApproval::for_bot(&bot, phase, expires).map_err(anyhow::Error::msg)
    }

    /// Creates `approval` as the risk manager `risk-manager@test`.
    pub async fn create_approval(&self, mut approval: PhaseApproval) -> Result<PhaseApproval> {
        approval.spec.approved_by = Some("risk-manager@test".into());
        let api: Api<PhaseApproval> = Api::namespaced(self.admin.clone(), &self.ns);
        Ok(api.create(&PostParams::default(), &approval).await?)
    }
}
