//! Starting the three components and waiting until they serve.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::Api;

use super::process::{self, Component};
use super::{
    ADMIN_USER, ControlPlane, ControlPlaneBuilder, StartupTimings, TokenIdentity, install_crds,
    pki, read_crds,
};

impl ControlPlane {
    pub(super) async fn start(builder: ControlPlaneBuilder) -> Result<ControlPlane> {
        let began = Instant::now();
        let etcd_bin = crate::tools::control_plane_binary("etcd")?;
        let apiserver_bin = crate::tools::control_plane_binary("kube-apiserver")?;
        let kcm_bin = crate::tools::control_plane_binary("kube-controller-manager")?;
        let crds = match &builder.crd_dir {
            Some(dir) => read_crds(dir)?,
            None => Vec::new(),
        };
        validate_tokens(&builder.tokens)?;

        let keep_dir = std::env::var_os("BOTFLEET_KEEP_CONTROL_PLANE_DIR").is_some();
        let dir = process::create_run_dir(&run_base_dir())?;
        if keep_dir {
            process::unregister_dir(&dir);
        }
        let pki = pki::Pki::generate(&dir)?;
        let admin = TokenIdentity {
            token: pki::random_token()?,
            user: ADMIN_USER.into(),
            groups: vec!["system:masters".into()],
        };
        let kcm_identity = TokenIdentity {
            token: pki::random_token()?,
            user: "system:kube-controller-manager".into(),
            // Simplest working setup: all controllers share this identity.
            groups: vec!["system:masters".into()],
        };
        let mut token_file = String::new();
        for t in [&admin, &kcm_identity].into_iter().chain(&builder.tokens) {
            token_file.push_str(&format!(
                "{},{},{},\"{}\"\n",
                t.token,
                t.user,
                t.user,
                t.groups.join(",")
            ));
        }
        std::fs::write(dir.join("tokens.csv"), token_file)?;

        let [etcd_port, etcd_peer_port, apiserver_port] = free_ports()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer_port}");
        let server = format!("https://127.0.0.1:{apiserver_port}");
        let path = |p: &Path| p.display().to_string();

        let mut cp = ControlPlane {
            dir: dir.clone(),
            keep_dir,
            server: server.clone(),
            ca_cert: pki.ca_cert.clone(),
            admin,
            tokens: builder.tokens.clone(),
            components: Vec::new(),
            timings: StartupTimings {
                apiserver_ready: Duration::ZERO,
                controller_manager_ready: Duration::ZERO,
                total: Duration::ZERO,
            },
            next_id: AtomicU32::new(0),
        };
        let kcm_kubeconfig = dir.join("controller-manager.kubeconfig");
        std::fs::write(
            &kcm_kubeconfig,
            cp.kubeconfig_yaml(&kcm_identity, "default")?,
        )?;
        std::fs::write(cp.kubeconfig(), cp.kubeconfig_yaml(&cp.admin, "default")?)?;

        let etcd_args = [
            "--name=default".to_string(),
            format!("--data-dir={}", path(&dir.join("etcd"))),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=default={peer_url}"),
        ];
        let sa_key = path(&pki.service_account_key);
        let mut apiserver_args = vec![
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={apiserver_port}"),
            "--insecure-port=0".into(),
            format!("--tls-cert-file={}", path(&pki.serving_cert)),
            format!("--tls-private-key-file={}", path(&pki.serving_key)),
            format!("--token-auth-file={}", path(&dir.join("tokens.csv"))),
            "--authorization-mode=RBAC".into(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!(
                "--service-account-key-file={}",
                path(&pki.service_account_public_key)
            ),
            format!("--service-account-signing-key-file={sa_key}"),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            // The `kubernetes` Endpoints may not hold a loopback address.
            "--endpoint-reconciler-type=none".into(),
            "--allow-privileged=true".into(),
            "--profiling=false".into(),
        ];
        apiserver_args.extend(builder.extra_apiserver_args.iter().cloned());
        let kcm_args = [
            format!("--kubeconfig={}", path(&kcm_kubeconfig)),
            "--controllers=*".into(),
            "--leader-elect=false".into(),
            // No serving at all: no fixed default port to collide on.
            "--port=0".into(),
            "--secure-port=0".into(),
            format!("--service-account-private-key-file={sa_key}"),
            format!("--root-ca-file={}", path(&pki.ca_cert)),
            format!("--cluster-signing-cert-file={}", path(&pki.ca_cert)),
            format!("--cluster-signing-key-file={}", path(&pki.ca_key)),
            "--profiling=false".into(),
        ];
        // The controller-manager starts once the apiserver is ready: started
        // alongside it, on a loaded machine it gives up waiting for the
        // apiserver's health and exits.
        for (name, bin, args) in [
            ("etcd", &etcd_bin, &etcd_args[..]),
            ("kube-apiserver", &apiserver_bin, &apiserver_args),
        ] {
            let log = dir.join(format!("{name}.log"));
            cp.components.push(Component::spawn(name, bin, args, log)?);
        }

        let timeout = builder.startup_timeout;
        let admin = cp.client_without_retries().await?;
        cp.wait_until(
            "kube-apiserver /readyz",
            "kube-apiserver",
            timeout,
            || async {
                let request = http::Request::get("/readyz").body(Vec::new())?;
                Ok(admin
                    .request_text(request)
                    .await
                    .map(|body| body.trim() == "ok")?)
            },
        )
        .await?;
        cp.timings.apiserver_ready = began.elapsed();
        let log = dir.join("kube-controller-manager.log");
        cp.components.push(Component::spawn(
            "kube-controller-manager",
            &kcm_bin,
            &kcm_args,
            log,
        )?);

        // The controllers run once the service-account controller has made the default
        // ServiceAccount (namespaces need it before Pods can be created in them).
        let service_accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
        cp.wait_until(
            "the controller-manager (ServiceAccount default/default)",
            "kube-controller-manager",
            timeout,
            || async { Ok(service_accounts.get_opt("default").await?.is_some()) },
        )
        .await?;
        cp.timings.controller_manager_ready = began.elapsed();

        if !crds.is_empty() {
            install_crds(&admin, &crds, timeout).await?;
        }
        cp.timings.total = began.elapsed();
        eprintln!(
            "control plane {} up in {:.1?} (apiserver ready {:.1?}, controllers {:.1?}); run dir {}",
            cp.server,
            cp.timings.total,
            cp.timings.apiserver_ready,
            cp.timings.controller_manager_ready,
            cp.dir.display()
        );
        Ok(cp)
    }

    /// Polls `probe` until it returns `Ok(true)`, failing early when a component exits
    /// and at `timeout` with the tail of `log_of`'s log.
    async fn wait_until<F, Fut>(
        &self,
        what: &str,
        log_of: &str,
        timeout: Duration,
        mut probe: F,
    ) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<bool>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            for c in &self.components {
                if let Some(status) = c.exit_status() {
                    bail!(
                        "{} exited ({status}) while waiting for {what}; last lines of {}:\n{}",
                        c.name,
                        c.log.display(),
                        c.log_tail(40)
                    );
                }
            }
            let last = match probe().await {
                Ok(true) => return Ok(()),
                Ok(false) => "not ready".to_string(),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() > deadline {
                let log = self.dir.join(format!("{log_of}.log"));
                bail!(
                    "{what} not ready after {timeout:?} (last probe: {last}); last lines of {}:\n{}",
                    log.display(),
                    process::log_tail(&log, 40)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Where run directories go: `$BOTFLEET_CONTROL_PLANE_RUN_DIR`, else /dev/shm (on
/// tmpfs etcd's fsyncs cost nothing, so a slow CI disk cannot slow the tests down),
/// else the temp dir.
pub(super) fn run_base_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BOTFLEET_CONTROL_PLANE_RUN_DIR") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        return shm.join("botfleet-control-plane");
    }
    std::env::temp_dir().join("botfleet-control-plane")
}

/// Three distinct free loopback ports (held together while choosing, so they differ).
fn free_ports() -> Result<[u16; 3]> {
    let listeners = [
        TcpListener::bind("127.0.0.1:0")?,
        TcpListener::bind("127.0.0.1:0")?,
        TcpListener::bind("127.0.0.1:0")?,
    ];
    Ok([
        listeners[0].local_addr()?.port(),
        listeners[1].local_addr()?.port(),
        listeners[2].local_addr()?.port(),
    ])
}

/// The token file is CSV: tokens, users and groups must not break its syntax.
fn validate_tokens(tokens: &[TokenIdentity]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for t in tokens {
        if t.token.is_empty()
            || !t
                .token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        {
            bail!(
                "token {:?} for user {}: use only letters, digits and -._~",
                t.token,
                t.user
            );
        }
        if t.user.is_empty() || t.user.contains([',', '"', '\n']) {
            bail!(
                "token {}: user {:?} must be non-empty without , \" or newline",
                t.token,
                t.user
            );
        }
        if let Some(g) = t
            .groups
            .iter()
            .find(|g| g.is_empty() || g.contains([',', '"', '\n']))
        {
            bail!(
                "token {}: group {g:?} must be non-empty without , \" or newline",
                t.token
            );
        }
        if !seen.insert(&t.token) {
            bail!("token {} is given twice", t.token);
        }
    }
    Ok(())
}
