//! The real operator binary (`botfleet-operator`) as a child process of the
//! test, so a test can do to it what happens to a pod: SIGKILL it, freeze
//! it (SIGSTOP, as a stalled node or a long GC pause would), thaw it.
//!
//! [`OperatorProcesses`] gives one test namespace the operator's identity
//! the way a cluster does: a ServiceAccount `botfleet-operator` whose token
//! is in a kubeconfig, bound in the namespace to the operator's ClusterRole
//! (`operator/rbac/clusterrole.yaml`). [`hold_config_writes`] swaps that
//! binding for a copy of the role that may read but not write ConfigMaps:
//! a reconcile then commits its status and stops at the ConfigMap apply,
//! which puts an operator deterministically *between* a transition's status
//! write and its config write — where a test SIGKILLs it.
//!
//! Every process gets its own log file (its tail is printed when a test
//! fails) and dies with the test process (`PR_SET_PDEATHSIG`).
//!
//! [`hold_config_writes`]: OperatorProcesses::hold_config_writes

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, RoleBinding, RoleRef, Subject};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

use super::real_engine::{SharedChild, kill_now, signal, spawn, tail, terminate};
use super::{KEY, WAIT, World, eventually};

/// The operator's ServiceAccount in each test namespace.
const ACCOUNT: &str = "botfleet-operator";
/// The operator's ClusterRole, minus every write on ConfigMaps.
const FROZEN_ROLE: &str = "botfleet-operator-config-frozen";

/// The operator's identity in one test namespace, and the processes started with it.
pub struct OperatorProcesses {
    admin: kube::Client,
    ns: String,
    engine_port: u16,
    kubeconfig: PathBuf,
    key_file: PathBuf,
    dir: tempfile::TempDir,
}

impl OperatorProcesses {
    /// The ServiceAccount, its binding to the operator's ClusterRole, a
    /// kubeconfig with its token and the signing key file (the tests' key).
    pub async fn new(w: &World) -> Result<Self> {
        let cp = super::cp().await;
        let dir = tempfile::Builder::new()
            .prefix(&format!("operator-process-{}-", w.ns))
            .tempdir()?;
        let token = cp.service_account_token(&w.ns, ACCOUNT).await?;
        let kubeconfig = cp.write_kubeconfig(&token)?;
        let key_file = dir.path().join("signing-key");
        std::fs::write(&key_file, KEY)?;
        let this = Self {
            admin: w.admin.clone(),
            ns: w.ns.clone(),
            engine_port: w.engine_port,
            kubeconfig,
            key_file,
            dir,
        };
        frozen_role(&this.admin).await?;
        this.bind("operator", "botfleet-operator").await?;
        this.wait_allowed("patch", true).await?;
        Ok(this)
    }

    /// Starts `botfleet-operator` as `instance`: this namespace only, the
    /// test timings (200 ms polls, one-second days), leader election on
    /// the Lease `botfleet-operator` in this namespace when `leader_elect`
    /// (3 s lease, renewed 1 s before it ends), engine calls timing out
    /// after `engine_timeout` (e.g. `500ms`).
    pub fn start(
        &self,
        instance: &str,
        leader_elect: bool,
        engine_timeout: &str,
    ) -> OperatorProcess {
        let metrics_port = super::engine::free_port();
        let metrics_addr: SocketAddr = ([127, 0, 0, 1], metrics_port).into();
        let log = self.dir.path().join(format!("{instance}.log"));
        let out = std::fs::File::create(&log).expect("the operator's log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_botfleet-operator"));
        command
            .env_clear()
            .env("KUBECONFIG", &self.kubeconfig)
            .env(
                "RUST_LOG",
                std::env::var("BOTFLEET_OPERATOR_LOG").unwrap_or_else(|_| "info".into()),
            )
            .args(["--engine-image", "botfleet/engine:test"])
            .args(["--engine-port", &self.engine_port.to_string()])
            .arg("--signing-key-file")
            .arg(&self.key_file)
            .args(["--namespace", &self.ns])
            .args(["--poll-interval", "200ms", "--error-requeue", "200ms"])
            .args(["--engine-timeout", engine_timeout, "--day-length", "1s"])
            .args(["--finalizer-timeout", "20s"])
            .args(["--metrics-addr", &metrics_addr.to_string()])
            .args(["--instance", instance])
            .args([
                "--leader-elect",
                if leader_elect { "true" } else { "false" },
            ])
            .args(["--lease-namespace", &self.ns])
            .args(["--lease-duration", "3s", "--lease-renew-before", "1s"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("the operator's log file"))
            .stderr(out);
        let child = spawn(command).expect("starting botfleet-operator");
        let pid = child.id();
        eprintln!(
            "operator process {instance}: pid {pid}, metrics {metrics_addr}, log {}",
            log.display()
        );
        OperatorProcess {
            instance: instance.into(),
            pid,
            child: Arc::new(Mutex::new(Some(child))),
            metrics_addr,
            log,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_millis(800))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// From now on the operator may read ConfigMaps but not write them
    /// (waits until the apiserver enforces it).
    pub async fn hold_config_writes(&self) -> Result<()> {
        self.bind("operator-config-frozen", FROZEN_ROLE).await?;
        self.unbind("operator").await?;
        self.wait_allowed("patch", false).await
    }

    /// Gives the operator its whole role back (waits until effective).
    pub async fn release_config_writes(&self) -> Result<()> {
        self.bind("operator", "botfleet-operator").await?;
        self.wait_allowed("patch", true).await
    }

    async fn bind(&self, name: &str, role: &str) -> Result<()> {
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
                name: ACCOUNT.into(),
                namespace: Some(self.ns.clone()),
                ..Default::default()
            }]),
        };
        Api::<RoleBinding>::namespaced(self.admin.clone(), &self.ns)
            .patch(
                name,
                &PatchParams::apply("botfleet-tests").force(),
                &Patch::Apply(&binding),
            )
            .await?;
        Ok(())
    }

    async fn unbind(&self, name: &str) -> Result<()> {
        Api::<RoleBinding>::namespaced(self.admin.clone(), &self.ns)
            .delete(name, &DeleteParams::default())
            .await?;
        Ok(())
    }

    /// Waits until the apiserver answers `allowed` to "may the operator
    /// `verb` ConfigMaps here".
    async fn wait_allowed(&self, verb: &str, allowed: bool) -> Result<()> {
        let reviews: Api<SubjectAccessReview> = Api::all(self.admin.clone());
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(format!("system:serviceaccount:{}:{ACCOUNT}", self.ns)),
                groups: Some(vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{}", self.ns),
                    "system:authenticated".into(),
                ]),
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(self.ns.clone()),
                    verb: Some(verb.into()),
                    resource: Some("configmaps".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        eventually(
            &format!("the operator may {verb} ConfigMaps: {allowed}"),
            WAIT,
            || async {
                let answer = reviews.create(&PostParams::default(), &review).await?;
                Ok(answer.status.is_some_and(|s| s.allowed == allowed))
            },
        )
        .await
    }
}

/// The ClusterRole `botfleet-operator-config-frozen`: the operator's role
/// with ConfigMaps read-only.
async fn frozen_role(admin: &kube::Client) -> Result<()> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rbac/clusterrole.yaml"
    ))?;
    let mut role: ClusterRole = serde_yaml::from_str(&text)?;
    role.metadata.name = Some(FROZEN_ROLE.into());
    let mut rules: Vec<PolicyRule> = Vec::new();
    for mut rule in role.rules.take().unwrap_or_default() {
        let resources = rule.resources.get_or_insert_with(Vec::new);
        if resources.iter().any(|r| r == "configmaps") {
            resources.retain(|r| r != "configmaps");
            rules.push(PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["configmaps".into()]),
                verbs: vec!["get".into(), "list".into(), "watch".into()],
                ..Default::default()
            });
        }
        rules.push(rule);
    }
    role.rules = Some(rules);
    Api::<ClusterRole>::all(admin.clone())
        .patch(
            FROZEN_ROLE,
            &PatchParams::apply("botfleet-tests").force(),
            &Patch::Apply(&role),
        )
        .await?;
    Ok(())
}

/// One `botfleet-operator` process.
pub struct OperatorProcess {
    pub instance: String,
    pub pid: u32,
    child: SharedChild,
    pub metrics_addr: SocketAddr,
    pub log: PathBuf,
    http: reqwest::Client,
}

impl OperatorProcess {
    /// SIGKILL, and reap it: nothing of it runs any more.
    pub fn kill(&self) {
        kill_now(&self.child);
        eprintln!("operator process {}: SIGKILLed", self.instance);
    }

    /// SIGSTOP: it holds its connections and state but runs no instruction.
    pub fn freeze(&self) {
        signal(&self.child, libc::SIGSTOP);
        eprintln!("operator process {}: SIGSTOPped", self.instance);
    }

    /// SIGCONT.
    pub fn thaw(&self) {
        signal(&self.child, libc::SIGCONT);
        eprintln!("operator process {}: SIGCONTinued", self.instance);
    }

    /// SIGTERM (a graceful stop), and waits for it to exit.
    pub async fn stop(&self) -> String {
        terminate(&self.child, Duration::from_secs(30)).await
    }

    /// Its `/metrics`: `name{labels}` → value.
    pub async fn metrics(&self) -> Result<BTreeMap<String, f64>> {
        let text = self
            .http
            .get(format!("http://{}/metrics", self.metrics_addr))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| l.rsplit_once(' '))
            .map(|(series, value)| (series.to_string(), value.parse().unwrap_or(f64::NAN)))
            .collect())
    }

    /// One series of its `/metrics` (0 when absent).
    pub async fn metric(&self, series: &str) -> Result<f64> {
        Ok(self.metrics().await?.get(series).copied().unwrap_or(0.0))
    }

    /// Reconciles started.
    pub async fn reconciles(&self) -> Result<f64> {
        self.metric("botfleet_operator_reconciles_total").await
    }

    /// Reconciles started and not finished yet.
    pub async fn reconciles_in_flight(&self) -> Result<f64> {
        let m = self.metrics().await?;
        let started = m
            .get("botfleet_operator_reconciles_total")
            .copied()
            .unwrap_or(0.0);
        let finished = m
            .get("botfleet_operator_reconcile_duration_seconds_count")
            .copied()
            .unwrap_or(0.0);
        Ok(started - finished)
    }

    /// Whether it says it holds the Lease (`botfleet_operator_leader`).
    pub async fn leading(&self) -> Result<bool> {
        Ok(self.metric("botfleet_operator_leader").await? == 1.0)
    }

    /// Waits until its metrics answer and it has run `n` more reconciles.
    pub async fn let_reconcile(&self, n: f64) -> Result<()> {
        let start = loop_until_metrics(self).await?;
        eventually(
            &format!("{} keeps reconciling", self.instance),
            WAIT,
            || async { Ok(self.reconciles().await? >= start + n) },
        )
        .await
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether it exited by itself (`Some(how)`) or still runs.
    pub fn exited(&self) -> Option<String> {
        super::real_engine::try_exit(&self.child)
    }
}

async fn loop_until_metrics(p: &OperatorProcess) -> Result<f64> {
    let mut last = None;
    for _ in 0..200 {
        match p.reconciles().await {
            Ok(n) => return Ok(n),
            Err(e) => last = Some(e),
        }
        if let Some(exit) = p.exited() {
            bail!(
                "operator {} exited ({exit}); its log:\n{}",
                p.instance,
                tail(&p.log, 40)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last.context("no answer")?).context(format!("{}'s /metrics", p.instance))
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        signal(&self.child, libc::SIGCONT);
        kill_now(&self.child);
        if std::thread::panicking() {
            eprintln!(
                "\n==== operator process {} (log {}) ====\n{}",
                self.instance,
                self.log.display(),
                tail(&self.log, 60)
            );
        }
    }
}
