//! A real, local Kubernetes 1.20 control plane for the tests: etcd, kube-apiserver
//! and kube-controller-manager on free loopback ports, in a run directory of their own.
//!
//! No scheduler and no kubelet: Deployments and StatefulSets get Pods (the controllers
//! run) but the Pods never start. See `docs/testing.md`.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use botfleet_tests::control_plane::ControlPlane;
//! let cp = ControlPlane::shared().await; // one per test binary, CRDs installed
//! let ns = cp.namespace("my-test").await?; // one namespace per test
//! let admin = cp.client().await?; // system:masters
//! # Ok(()) }
//! ```

mod crds;
mod launch;
mod pki;
mod process;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

pub use crds::{default_crd_dir, install as install_crds, read_crds};
use process::Component;
pub use process::is_alive;

/// The user name of the admin identity (group `system:masters`).
pub const ADMIN_USER: &str = "botfleet-test-admin";

/// A bearer token the apiserver maps to a user and groups (`--token-auth-file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    pub token: String,
    pub user: String,
    pub groups: Vec<String>,
}

/// How long each startup phase took, measured from the start of `start()`.
#[derive(Debug, Clone, Copy)]
pub struct StartupTimings {
    pub apiserver_ready: Duration,
    pub controller_manager_ready: Duration,
    pub total: Duration,
}

/// Configures a control plane before it starts (token identities are fixed at start:
/// the 1.20 apiserver reads its token file once).
#[derive(Debug, Clone)]
pub struct ControlPlaneBuilder {
    tokens: Vec<TokenIdentity>,
    crd_dir: Option<PathBuf>,
    startup_timeout: Duration,
    extra_apiserver_args: Vec<String>,
}

impl ControlPlaneBuilder {
    /// Adds a token identity, e.g.
    /// `.with_token("operator-token", "system:serviceaccount:botfleet:operator", ["system:serviceaccounts"])`.
    /// The identity has no permission until RBAC grants it some.
    pub fn with_token<G: Into<String>>(
        mut self,
        token: &str,
        user: &str,
        groups: impl IntoIterator<Item = G>,
    ) -> Self {
        self.tokens.push(TokenIdentity {
            token: token.into(),
            user: user.into(),
            groups: groups.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Installs the CRDs of `dir` instead of the chart's (`charts/botfleet/crds`).
    pub fn with_crds_from(mut self, dir: impl Into<PathBuf>) -> Self {
        self.crd_dir = Some(dir.into());
        self
    }

    /// Installs no CRD.
    pub fn without_crds(mut self) -> Self {
        self.crd_dir = None;
        self
    }

    /// Adds a kube-apiserver flag (e.g. `--feature-gates=…`); later flags win.
    pub fn apiserver_arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_apiserver_args.push(arg.into());
        self
    }

    /// Bounds each wait of the startup (apiserver, controller-manager, CRDs); 120 s by default.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the control plane and waits until it is ready.
    pub async fn start(self) -> Result<ControlPlane> {
        install_crypto_provider();
        ControlPlane::start(self).await
    }
}

/// A running control plane. Dropping it kills the components and removes the run
/// directory; when the process dies first, the kernel kills them (see `process`).
#[derive(Debug)]
pub struct ControlPlane {
    dir: PathBuf,
    keep_dir: bool,
    server: String,
    ca_cert: PathBuf,
    admin: TokenIdentity,
    tokens: Vec<TokenIdentity>,
    /// In start order: etcd, kube-apiserver, kube-controller-manager.
    components: Vec<Component>,
    timings: StartupTimings,
    next_id: AtomicU32,
}

impl ControlPlane {
    pub fn builder() -> ControlPlaneBuilder {
        ControlPlaneBuilder {
            tokens: Vec::new(),
            crd_dir: Some(default_crd_dir()),
            startup_timeout: Duration::from_secs(120),
            extra_apiserver_args: Vec::new(),
        }
    }

    /// The control plane of this test binary, with the chart's CRDs installed, started
    /// by the first caller. Panics with the startup error (every caller gets it).
    pub async fn shared() -> &'static ControlPlane {
        Self::shared_with(|b| b).await
    }

    /// Like [`shared`](Self::shared), with identities added by `configure`. Every
    /// caller in a test binary must ask for the same identities (put the call in one
    /// helper function): the first caller starts the control plane, a later one asking
    /// for an identity it lacks panics.
    pub async fn shared_with(
        configure: impl FnOnce(ControlPlaneBuilder) -> ControlPlaneBuilder,
    ) -> &'static ControlPlane {
        static SHARED: tokio::sync::OnceCell<Result<ControlPlane, String>> =
            tokio::sync::OnceCell::const_new();
        let wanted = configure(Self::builder());
        let wanted_tokens = wanted.tokens.clone();
        let started = SHARED
            .get_or_init(|| async { wanted.start().await.map_err(|e| format!("{e:#}")) })
            .await;
        let cp = match started {
            Ok(cp) => cp,
            Err(e) => panic!("the shared control plane did not start: {e}"),
        };
        for identity in wanted_tokens {
            assert!(
                cp.tokens.contains(&identity),
                "the shared control plane was started without the identity {identity:?}: \
                 declare every identity of a test binary in the same shared_with call",
            );
        }
        cp
    }

    /// The apiserver's URL (`https://127.0.0.1:<port>`).
    pub fn server_url(&self) -> &str {
        &self.server
    }

    /// The CA certificate that signed the apiserver's serving certificate.
    pub fn ca_cert(&self) -> &Path {
        &self.ca_cert
    }

    /// The admin kubeconfig (identity [`ADMIN_USER`], group `system:masters`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("admin.kubeconfig")
    }

    /// The admin identity.
    pub fn admin(&self) -> &TokenIdentity {
        &self.admin
    }

    /// The identities added with [`ControlPlaneBuilder::with_token`].
    pub fn tokens(&self) -> &[TokenIdentity] {
        &self.tokens
    }

    /// The run directory (PKI, kubeconfigs, etcd data, `<component>.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn startup_timings(&self) -> StartupTimings {
        self.timings
    }

    /// `(component name, pid)` of etcd, kube-apiserver and kube-controller-manager.
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        self.components.iter().map(|c| (c.name, c.pid)).collect()
    }

    /// A client with the admin identity, bound to the calling test's runtime.
    pub async fn client(&self) -> Result<kube::Client> {
        self.client_for_token(&self.admin.token.clone()).await
    }

    /// A client authenticating with `token`: one from the token file or a
    /// service-account token (see [`service_account_token`](Self::service_account_token)).
    pub async fn client_for_token(&self, token: &str) -> Result<kube::Client> {
        let config = self.config_for_token(token).await?;
        Ok(kube::Client::try_from(config)?)
    }

    async fn config_for_token(&self, token: &str) -> Result<kube::Config> {
        install_crypto_provider();
        let identity = self.identity_for_token(token);
        let yaml = self.kubeconfig_yaml(&identity, "default")?;
        let kubeconfig = Kubeconfig::from_yaml(&yaml)?;
        Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
    }

    /// The startup probes: no retry on 503, so a poll reports the real state at once.
    async fn client_without_retries(&self) -> Result<kube::Client> {
        let mut config = self.config_for_token(&self.admin.token.clone()).await?;
        config.default_retry = false;
        Ok(kube::Client::try_from(config)?)
    }

    /// Writes a kubeconfig authenticating with `token` (for kubectl or helm) and
    /// returns its path.
    pub fn write_kubeconfig(&self, token: &str) -> Result<PathBuf> {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("kubeconfig-{n}"));
        std::fs::write(
            &path,
            self.kubeconfig_yaml(&self.identity_for_token(token), "default")?,
        )?;
        Ok(path)
    }

    /// `kubectl --kubeconfig <admin>` with a private discovery cache.
    pub fn kubectl(&self) -> Result<Command> {
        self.kubectl_with(&self.kubeconfig())
    }

    /// `kubectl --kubeconfig <kubeconfig>` with a private discovery cache.
    pub fn kubectl_with(&self, kubeconfig: &Path) -> Result<Command> {
        let mut command = Command::new(crate::tools::kubectl()?);
        command
            .env_remove("KUBECONFIG")
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!(
                "--cache-dir={}",
                self.dir.join("kubectl-cache").display()
            ));
        Ok(command)
    }

    /// Creates a uniquely named namespace `<prefix>-<n>` and returns its name.
    pub async fn namespace(&self, prefix: &str) -> Result<String> {
        let mut prefix: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(50)
            .collect();
        prefix = prefix.trim_matches('-').to_string();
        if prefix.is_empty() {
            prefix = "test".into();
        }
        let name = format!("{prefix}-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let namespaces: Api<Namespace> = Api::all(self.client().await?);
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([("botfleet.dev/test".to_string(), prefix)].into()),
                ..Default::default()
            },
            ..Default::default()
        };
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        Ok(name)
    }

    /// A token of the ServiceAccount `namespace/name` (created if missing), valid for an
    /// hour: the identity `system:serviceaccount:<namespace>:<name>`, the way the
    /// operator authenticates in a cluster.
    pub async fn service_account_token(&self, namespace: &str, name: &str) -> Result<String> {
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client().await?, namespace);
        if accounts.get_opt(name).await?.is_none() {
            let sa = ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            accounts.create(&PostParams::default(), &sa).await?;
        }
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![],
                expiration_seconds: Some(3600),
                ..Default::default()
            },
            ..Default::default()
        };
        let response = accounts
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .with_context(|| format!("requesting a token for ServiceAccount {namespace}/{name}"))?;
        Ok(response
            .status
            .context("TokenRequest without status")?
            .token)
    }

    fn identity_for_token(&self, token: &str) -> TokenIdentity {
        std::iter::once(&self.admin)
            .chain(&self.tokens)
            .find(|t| t.token == token)
            .cloned()
            .unwrap_or_else(|| TokenIdentity {
                token: token.into(),
                user: "token-user".into(),
                groups: vec![],
            })
    }

    fn kubeconfig_yaml(&self, identity: &TokenIdentity, namespace: &str) -> Result<String> {
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "botfleet-test", "cluster": {
                "server": self.server,
                "certificate-authority": self.ca_cert,
            }}],
            "users": [{"name": identity.user, "user": {"token": identity.token}}],
            "contexts": [{"name": "botfleet-test", "context": {
                "cluster": "botfleet-test",
                "user": identity.user,
                "namespace": namespace,
            }}],
            "current-context": "botfleet-test",
        });
        Ok(serde_yaml::to_string(&config)?)
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        for c in self.components.iter().rev() {
            c.stop();
        }
        if !self.keep_dir {
            process::unregister_dir(&self.dir);
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Removes the run directories of control planes whose test process is gone (an
/// aborted or killed run leaves its directory; every start also does this).
pub fn remove_stale_run_dirs() -> Vec<PathBuf> {
    process::remove_stale_run_dirs(&launch::run_base_dir())
}

/// Selects rustls' process-wide crypto provider. A test binary that links both
/// kube (ring) and reqwest (aws-lc-rs) has two, and rustls then refuses to pick
/// one on its own; the first caller wins, later calls change nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
