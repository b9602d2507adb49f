//! The real-engine tier: a kubelet stand-in that runs the real
//! `botfleet-bot` binary for every engine pod of a test namespace.
//!
//! The operator renders a ConfigMap and a StatefulSet; kube-controller-manager
//! creates pod `<bot>-0`; nothing runs it, since the control plane has no
//! kubelet. [`Kubelet`] plays that part for the engine container:
//!
//! - **volumes**: the `configMap` volume is written to a directory per
//!   pod (the CURRENT ConfigMap, read when the container starts), a `secret`
//!   volume's items likewise (the exchange credentials from Sandbox up); the
//!   `persistentVolumeClaim` of the StatefulSet's `data` template is a
//!   directory per claim, so the SQLite store survives restarts like a PVC;
//!   every mount path in the args and env is mapped to its directory;
//! - **env**: plain values, and `secretKeyRef` / `configMapKeyRef` read from
//!   the API (the exchange keys
//!   from the bot's credentials Secret), exactly what a pod would get;
//! - **args**: the container's own (`run --config … --listen 0.0.0.0:<port>`),
//!   with `--listen` bound to the bot's own loopback address (127.x.y.z, one
//!   per bot, the port the operator rendered), plus what the test adds: the
//!   feed (`--feed replay --data …`) and, from Sandbox up, the exchange
//!   simulator (`--venue-url`);
//! - **status**: `podIP`, `phase: Running`, and `Ready` once `/readyz`
//!   answers 200, so the StatefulSet controller can roll the pod;
//! - **lifecycle**: a pod that gets a deletionTimestamp, disappears or is
//!   replaced (new UID) has its engine stopped with SIGTERM (SIGKILL after
//!   30 s), and a terminating pod is then deleted with grace 0; a new pod
//!   gets a new engine from the current ConfigMap. An engine that exits by
//!   itself is restarted with back-off (counted as a container restart, as
//!   `restartCount`), the way `restartPolicy: Always` does.
//!
//! Each engine process logs to its own file; when a test fails, the
//! kubelet's journal and the tail of every engine log are printed and the
//! directory is kept. Every process is killed when the [`Kubelet`] is
//! dropped (even while a test panics), and by the kernel if the test
//! process dies (`PR_SET_PDEATHSIG`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use botfleet_crds::engine_api::EngineStatus;
use botfleet_crds::{BotMetrics, Phase, SignedAmount};
use botfleet_tests::venue_kind::VenueKind;
use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar, Pod, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client, ResourceExt};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::json;

use super::{WAIT, World, eventually};

/// Label every engine pod carries.
const MANAGED: &str = "app.kubernetes.io/managed-by=botfleet-operator";
/// How long an engine gets between SIGTERM and SIGKILL (the pod's grace).
const TERMINATION_GRACE: Duration = Duration::from_secs(30);
/// The engine container's name in the operator's pod template.
const CONTAINER: &str = "engine";

// ---------------------------------------------------------------------------
// The binary

/// The `botfleet-bot` binary of this checkout, built once per test binary
/// (`cargo build -p botfleet-bot --bin botfleet-bot`, into the target
/// directory this test binary was built in, so `CARGO_TARGET_DIR` and the
/// profile carry over). `BOTFLEET_BOT_BINARY` names a prebuilt one instead.
pub async fn engine_binary() -> Result<PathBuf> {
    static BINARY: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    BINARY
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(build_engine_binary)
                .await
                .context("the build task")?
        })
        .await
        .cloned()
}

fn build_engine_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("BOTFLEET_BOT_BINARY").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    // <target>/<profile>/deps/<this test binary>
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test binary is not in <target>/<profile>/deps")?
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .context("no target directory above the profile directory")?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let mut build = Command::new(cargo);
    build
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "build",
            "--quiet",
            "-p",
            "botfleet-bot",
            "--bin",
            "botfleet-bot",
            // The same binary `cargo test` builds for the engine's own tests
            // (which kill it at crash points): building it without the
            // feature here would replace theirs.
            "--features",
            "test-crash-points",
        ])
        .arg("--target-dir")
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            build.arg("--release");
        }
        other => {
            build.args(["--profile", other]);
        }
    }
    let out = build
        .output()
        .context("running cargo build -p botfleet-bot")?;
    if !out.status.success() {
        bail!(
            "cargo build -p botfleet-bot failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let binary = profile_dir.join("botfleet-bot");
    if !binary.exists() {
        bail!(
            "cargo built botfleet-bot but {} is missing",
            binary.display()
        );
    }
    eprintln!(
        "real engine: {} (build checked in {:.1?})",
        binary.display(),
        started.elapsed()
    );
    Ok(binary)
}

// ---------------------------------------------------------------------------
// Processes that never outlive the test process

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// Engines are forked by one thread that lives as long as the process, with
/// `PR_SET_PDEATHSIG = SIGKILL`: the kernel kills them if the test process
/// dies in any way. (The signal follows the forking thread, so forking from
/// a test's runtime thread would kill them when that thread ends.)
pub(super) fn spawn(mut command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("real-engine-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
                loop {
                    std::thread::park();
                }
            })
            .expect("starting the engine spawner thread");
        Mutex::new(tx)
    });
    let parent = std::process::id();
    // SAFETY: only async-signal-safe syscalls (prctl, getppid) after fork.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() as u32 != parent {
                return Err(io::Error::other("the test process died during spawn"));
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((command, tx))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("the spawner thread is gone"))?
}

/// A child process shared by the kubelet loop and the teardown.
pub(super) type SharedChild = Arc<Mutex<Option<Child>>>;

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn signal(child: &SharedChild, sig: libc::c_int) {
    if let Some(c) = lock(child).as_ref() {
        // SAFETY: a plain kill(2) on a child this process has not reaped yet
        // (it is reaped only through this same mutex).
        unsafe {
            libc::kill(c.id() as libc::pid_t, sig);
        }
    }
}

/// `Some(exit)` once the process has exited (and been reaped).
pub(super) fn try_exit(child: &SharedChild) -> Option<String> {
    let mut guard = lock(child);
    let c = guard.as_mut()?;
    match c.try_wait() {
        Ok(Some(status)) => {
            *guard = None;
            Some(status.to_string())
        }
        Ok(None) => None,
        Err(e) => {
            *guard = None;
            Some(format!("unknown ({e})"))
        }
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL. Returns how it ended.
pub(super) async fn terminate(child: &SharedChild, grace: Duration) -> String {
    signal(child, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    loop {
        if let Some(exit) = try_exit(child) {
            return exit;
        }
        if lock(child).is_none() {
            return "already reaped".into();
        }
        if Instant::now() > deadline {
            signal(child, libc::SIGKILL);
            let mut guard = lock(child);
            if let Some(mut c) = guard.take() {
                let _ = c.wait();
            }
            return format!("did not stop within {grace:?} of SIGTERM: SIGKILLed");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(super) fn kill_now(child: &SharedChild) {
    if let Some(mut c) = lock(child).take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

// ---------------------------------------------------------------------------
// The kubelet

/// What a feed function learns about the engine it picks a feed for.
#[derive(Clone, Debug)]
pub struct StartInfo {
    pub bot: String,
    /// The phase of the rendered config (`None` if it does not parse).
    pub phase: Option<Phase>,
    /// How many engines this bot had before this one.
    pub run: usize,
}

/// Picks the feed flags of an engine (`--feed …`).
pub type FeedFn = Arc<dyn Fn(&StartInfo) -> Vec<String> + Send + Sync>;

/// One engine process the kubelet started.
#[derive(Clone, Debug)]
pub struct Run {
    pub pod: String,
    pub pod_uid: String,
    pub phase: Option<Phase>,
    /// `botfleet.dev/config-hash` of the ConfigMap it was started from.
    pub config_hash: String,
    /// The rendered config it was started from.
    pub config: String,
    pub addr: SocketAddr,
    pub args: Vec<String>,
    pub log: PathBuf,
    pub pid: u32,
    /// The store, as the (mapped) `BOTFLEET_DATABASE_URL`.
    pub store_url: Option<String>,
    /// How it ended: `None` while running.
    pub exit: Option<String>,
    /// Whether the kubelet stopped it (pod deleted or replaced), rather
    /// than it exiting by itself.
    pub stopped_by_kubelet: bool,
}

struct Proc {
    child: SharedChild,
    pod_uid: String,
    pod_name: String,
    run: usize,
    addr: SocketAddr,
    ready: bool,
    failed_probes: u32,
    last_probe: Option<Instant>,
}

struct Slot {
    ip: IpAddr,
    dir: PathBuf,
    feed: Option<FeedFn>,
    proc: Option<Proc>,
    runs: Vec<Run>,
    /// Container restarts (exits not asked for) per pod UID.
    restarts: BTreeMap<String, u32>,
    /// No start before this (crash-loop back-off), for this pod UID.
    backoff: Option<(String, Instant)>,
}

struct State {
    slots: BTreeMap<String, Slot>,
    venue_url: Option<String>,
    default_feed: FeedFn,
    journal: Vec<String>,
    parked: BTreeSet<String>,
}

struct Inner {
    admin: Client,
    ns: String,
    binary: PathBuf,
    root: PathBuf,
    started: Instant,
    state: Mutex<State>,
    /// Every process ever started, for the teardown.
    children: Mutex<Vec<SharedChild>>,
    http: reqwest::Client,
}

impl Inner {
    fn note(&self, text: impl AsRef<str>) {
        let line = format!(
            "[{:>7.2}s] {}",
            self.started.elapsed().as_secs_f64(),
            text.as_ref()
        );
        if std::env::var_os("BOTFLEET_KUBELET_TRACE").is_some() {
            eprintln!("kubelet {line}");
        }
        lock(&self.state).journal.push(line);
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.admin.clone(), &self.ns)
    }
}

/// The kubelet stand-in of one test namespace (see the module docs).
pub struct Kubelet {
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
    dir: Option<tempfile::TempDir>,
}

impl Kubelet {
    /// Starts playing the kubelet for the engine pods of `ns`.
    pub async fn start(admin: Client, ns: &str) -> Result<Kubelet> {
        let binary = engine_binary().await?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("real-engine-{ns}-"))
            .tempdir()?;
        let inner = Arc::new(Inner {
            admin,
            ns: ns.into(),
            binary,
            root: dir.path().to_path_buf(),
            started: Instant::now(),
            state: Mutex::new(State {
                slots: BTreeMap::new(),
                venue_url: None,
                default_feed: Arc::new(|_| {
                    ["--feed", "synthetic", "--candles", "300", "--speed", "max"]
                        .map(String::from)
                        .to_vec()
                }),
                journal: Vec::new(),
                parked: BTreeSet::new(),
            }),
            children: Mutex::new(Vec::new()),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_millis(800))
                .build()?,
        });
        let task = tokio::spawn(run_loop(inner.clone()));
        Ok(Kubelet {
            inner,
            task,
            dir: Some(dir),
        })
    }

    fn with_slot<T>(&self, bot: &str, f: impl FnOnce(&mut Slot) -> T) -> T {
        let mut state = lock(&self.inner.state);
        let slot = slot(&mut state, &self.inner.root, bot);
        f(slot)
    }

    /// The loopback address the engines of `bot` listen on.
    pub fn ip(&self, bot: &str) -> IpAddr {
        self.with_slot(bot, |s| s.ip)
    }

    /// The feed of `bot`'s engines from now on (the next start uses it).
    pub fn set_feed(
        &self,
        bot: &str,
        feed: impl Fn(&StartInfo) -> Vec<String> + Send + Sync + 'static,
    ) {
        self.with_slot(bot, |s| s.feed = Some(Arc::new(feed)));
    }

    /// The exchange simulator engines trade on from Sandbox up.
    pub fn set_venue(&self, url: &str) {
        lock(&self.inner.state).venue_url = Some(url.into());
    }

    /// Every engine `bot` had, oldest first.
    pub fn runs(&self, bot: &str) -> Vec<Run> {
        self.with_slot(bot, |s| s.runs.clone())
    }

    /// The engine running now.
    pub fn current(&self, bot: &str) -> Option<Run> {
        self.with_slot(bot, |s| s.proc.as_ref().map(|p| s.runs[p.run].clone()))
    }

    /// Container restarts of `bot` (exits nobody asked for), all pods.
    pub fn restarts(&self, bot: &str) -> u32 {
        self.with_slot(bot, |s| s.restarts.values().sum())
    }

    /// The kubelet's journal so far.
    pub fn journal(&self) -> String {
        lock(&self.inner.state).journal.join("\n")
    }

    /// `GET /status` of `bot`'s current engine.
    pub async fn status(&self, bot: &str) -> Result<EngineStatus> {
        let run = self
            .current(bot)
            .ok_or_else(|| anyhow!("no engine runs for {bot}"))?;
        let response = self
            .inner
            .http
            .get(format!("http://{}/status", run.addr))
            .send()
            .await?;
        let code = response.status();
        let body = response.text().await?;
        if !code.is_success() {
            bail!("/status answered {code}: {body}");
        }
        serde_json::from_str(&body).with_context(|| format!("not an EngineStatus: {body}"))
    }

    /// `GET /metrics` of `bot`'s current engine: `name{labels}` → value.
    pub async fn metrics(&self, bot: &str) -> Result<BTreeMap<String, f64>> {
        let run = self
            .current(bot)
            .ok_or_else(|| anyhow!("no engine runs for {bot}"))?;
        let text = self
            .inner
            .http
            .get(format!("http://{}/metrics", run.addr))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let mut out = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            if let Some((series, value)) = line.rsplit_once(' ') {
                out.insert(series.to_string(), value.parse().unwrap_or(f64::NAN));
            }
        }
        Ok(out)
    }

    /// A metric of the current engine, summed over its label sets, e.g.
    /// `botfleet_engine_feed_finished`.
    pub async fn metric(&self, bot: &str, name: &str) -> Result<f64> {
        Ok(self
            .metrics(bot)
            .await?
            .iter()
            .filter(|(series, _)| series.split('{').next() == Some(name))
            .map(|(_, v)| v)
            .sum())
    }

    /// Polls the current engine's `/status` until `check` holds.
    pub async fn wait_engine(
        &self,
        bot: &str,
        what: &str,
        check: impl Fn(&EngineStatus) -> bool,
    ) -> Result<EngineStatus> {
        let deadline = Instant::now() + WAIT;
        loop {
            let last = self.status(bot).await;
            if let Ok(s) = &last
                && check(s)
            {
                return last;
            }
            if Instant::now() > deadline {
                let shown = match last {
                    Ok(s) => serde_json::to_string_pretty(&s)?,
                    Err(e) => format!("{e:#}"),
                };
                bail!("{bot}'s engine: {what}: not true after {WAIT:?}; last /status: {shown}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the current engine of `bot` has traded and stored the
    /// candle opening at `last` (ms), its feed is over, and it reports no
    /// open order.
    pub async fn wait_replayed(&self, bot: &str, last: i64) -> Result<EngineStatus> {
        let want = last as f64 / 1000.0;
        eventually(
            &format!("{bot}'s engine stored the candle of {last} and its feed ended"),
            WAIT,
            || async {
                Ok(self
                    .metric(bot, "botfleet_engine_last_candle_time_seconds")
                    .await?
                    == want
                    && self.metric(bot, "botfleet_engine_feed_finished").await? == 1.0)
            },
        )
        .await?;
        self.wait_engine(bot, "no open order", |s| s.open_orders == 0)
            .await
    }

    /// Waits until `bot`'s current engine satisfies `check` (e.g. started
    /// from a config in the new phase) and its `/status` answers. An engine
    /// exiting by itself meanwhile (a crash loop) fails the wait at once,
    /// with its log.
    pub async fn wait_run(
        &self,
        bot: &str,
        what: &str,
        check: impl Fn(&Run) -> bool,
    ) -> Result<Run> {
        let crashes = self.restarts(bot);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(run) = self.current(bot)
                && check(&run)
                && self.status(bot).await.is_ok()
            {
                return Ok(run);
            }
            if self.restarts(bot) > crashes {
                let runs = self.runs(bot);
                let run = runs.last().context("no run")?;
                bail!(
                    "{bot}: {what}: engine #{} exited by itself ({:?}); its log:\n{}",
                    runs.len() - 1,
                    run.exit,
                    tail(&run.log, 30)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{bot}: {what}: not true after {WAIT:?}; kubelet journal:\n{}",
                    self.journal()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The ConfigMap `<bot>-config` as rendered now.
    pub async fn rendered_config(&self, bot: &str) -> Result<String> {
        let configs: Api<ConfigMap> = Api::namespaced(self.inner.admin.clone(), &self.inner.ns);
        let cm = configs.get(&format!("{bot}-config")).await?;
        Ok(cm
            .data
            .and_then(|d| d.get("bot.yaml").cloned())
            .unwrap_or_default())
    }

    /// Deletes pod `<bot>-0` (an eviction, a node drain) and waits until a
    /// new engine runs for the pod the StatefulSet creates again.
    pub async fn replace_pod(&self, bot: &str) -> Result<Run> {
        let before = self.runs(bot).len();
        match self
            .inner
            .pods()
            .delete(&format!("{bot}-0"), &DeleteParams::default())
            .await
        {
            Ok(_) => self
                .inner
                .note(format!("{bot}: the test deleted pod {bot}-0")),
            // Between a roll's delete and its re-create: replaced anyway.
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        self.wait_run(bot, "a new engine after the pod was deleted", |r| {
            self.runs(bot).len() > before && r.exit.is_none()
        })
        .await
    }

    /// Stops `bot`'s engine (SIGTERM, as a pod deletion would) and starts
    /// none for it any more: its store can then be read.
    pub async fn park(&self, bot: &str) -> Result<Option<String>> {
        let proc = {
            let mut state = lock(&self.inner.state);
            state.parked.insert(bot.into());
            let s = slot(&mut state, &self.inner.root, bot);
            s.proc.take().map(|p| (p.child, p.run))
        };
        let Some((child, run)) = proc else {
            return Ok(None);
        };
        let exit = terminate(&child, TERMINATION_GRACE).await;
        self.inner
            .note(format!("{bot}: parked, engine stopped: {exit}"));
        self.with_slot(bot, |s| {
            s.runs[run].exit = Some(exit.clone());
            s.runs[run].stopped_by_kubelet = true;
        });
        Ok(Some(exit))
    }

    /// Stops playing the kubelet: stops every engine with SIGTERM and waits.
    pub async fn shutdown(&self) {
        self.task.abort();
        let bots: Vec<String> = lock(&self.inner.state).slots.keys().cloned().collect();
        for bot in bots {
            let _ = self.park(&bot).await;
        }
    }

    /// Log paths of every engine, for a failure message.
    pub fn logs(&self) -> Vec<PathBuf> {
        lock(&self.inner.state)
            .slots
            .values()
            .flat_map(|s| s.runs.iter().map(|r| r.log.clone()))
            .collect()
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.task.abort();
        for child in lock(&self.inner.children).drain(..) {
            kill_now(&child);
        }
        if std::thread::panicking() {
            let dir = self.dir.take().map(tempfile::TempDir::keep);
            let mut text = String::new();
            let _ = writeln!(
                text,
                "\n==== kubelet stand-in of {} (kept in {:?}) ====\n{}",
                self.inner.ns,
                dir,
                self.journal()
            );
            let state = lock(&self.inner.state);
            for (bot, slot) in &state.slots {
                for (i, run) in slot.runs.iter().enumerate() {
                    let _ = writeln!(
                        text,
                        "---- {bot} engine #{i} (pod {} uid {}, phase {:?}, exit {:?}) log {} ----\n{}",
                        run.pod,
                        run.pod_uid,
                        run.phase,
                        run.exit,
                        run.log.display(),
                        tail(&run.log, 40)
                    );
                }
            }
            eprintln!("{text}");
        }
    }
}

pub(super) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("({e})"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn slot<'a>(state: &'a mut State, root: &Path, bot: &str) -> &'a mut Slot {
    state.slots.entry(bot.to_string()).or_insert_with(|| Slot {
        ip: super::engine::next_ip(),
        dir: root.join(bot),
        feed: None,
        proc: None,
        runs: Vec::new(),
        restarts: BTreeMap::new(),
        backoff: None,
    })
}

async fn run_loop(k: Arc<Inner>) {
    loop {
        if let Err(e) = tick(&k).await {
            k.note(format!("sync failed: {e:#}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn tick(k: &Inner) -> Result<()> {
    let list = k
        .pods()
        .list(&ListParams::default().labels(MANAGED))
        .await?;
    let mut pods: BTreeMap<String, Pod> = BTreeMap::new();
    for pod in list {
        let Some(bot) = pod.labels().get(botfleet_crds::labels::BOT_LABEL).cloned() else {
            continue;
        };
        if pod.name_any() == format!("{bot}-0") {
            pods.insert(bot, pod);
        }
    }

    // Engines whose pod is gone, replaced or terminating stop first: one
    // engine per account, and the old one frees the address and the store.
    let running: Vec<(String, String, SharedChild, usize)> = {
        let state = lock(&k.state);
        state
            .slots
            .iter()
            .filter_map(|(bot, s)| {
                s.proc
                    .as_ref()
                    .map(|p| (bot.clone(), p.pod_uid.clone(), p.child.clone(), p.run))
            })
            .collect()
    };
    for (bot, uid, child, run) in running {
        let pod = pods.get(&bot);
        let same = pod.is_some_and(|p| p.uid().as_deref() == Some(uid.as_str()));
        let terminating = same && pod.is_some_and(|p| p.metadata.deletion_timestamp.is_some());
        if same && !terminating {
            continue;
        }
        let why = if terminating {
            "the pod is terminating"
        } else if pod.is_some() {
            "the pod was replaced"
        } else {
            "the pod is gone"
        };
        k.note(format!("{bot}: {why}: SIGTERM to engine #{run}"));
        let exit = terminate(&child, TERMINATION_GRACE).await;
        k.note(format!("{bot}: engine #{run} stopped: {exit}"));
        {
            let mut state = lock(&k.state);
            let s = slot(&mut state, &k.root, &bot);
            s.runs[run].exit = Some(exit);
            s.runs[run].stopped_by_kubelet = true;
            s.proc = None;
        }
        if terminating {
            force_delete(k, &bot, &uid).await;
        }
    }

    for (bot, pod) in &pods {
        if lock(&k.state).parked.contains(bot) {
            continue;
        }
        let uid = pod.uid().unwrap_or_default();
        if pod.metadata.deletion_timestamp.is_some() {
            // Its engine is stopped (above): let the pod go.
            force_delete(k, bot, &uid).await;
            continue;
        }
        if let Err(e) = sync_pod(k, bot, pod, &uid).await {
            k.note(format!("{bot}: cannot run pod {}: {e:#}", pod.name_any()));
            let mut state = lock(&k.state);
            slot(&mut state, &k.root, bot).backoff =
                Some((uid.clone(), Instant::now() + Duration::from_secs(1)));
        }
    }
    Ok(())
}

async fn force_delete(k: &Inner, bot: &str, uid: &str) {
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(uid.into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match k.pods().delete(&format!("{bot}-0"), &dp).await {
        Ok(_) => k.note(format!("{bot}: pod {bot}-0 ({uid}) deleted with grace 0")),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(e) => k.note(format!("{bot}: cannot delete pod {bot}-0: {e}")),
    }
}

/// Runs, watches and probes the engine of one live pod.
async fn sync_pod(k: &Inner, bot: &str, pod: &Pod, uid: &str) -> Result<()> {
    enum Next {
        Start,
        Exited(String, u32),
        Probe(SocketAddr, bool),
        Wait,
    }
    let next = {
        let mut state = lock(&k.state);
        let s = slot(&mut state, &k.root, bot);
        match &mut s.proc {
            Some(p) => match try_exit(&p.child) {
                Some(exit) => {
                    let run = p.run;
                    s.proc = None;
                    s.runs[run].exit = Some(exit.clone());
                    let n = s.restarts.entry(uid.to_string()).or_default();
                    *n += 1;
                    let n = *n;
                    let delay = Duration::from_secs(1 << (n - 1).min(3));
                    s.backoff = Some((uid.to_string(), Instant::now() + delay));
                    Next::Exited(format!("engine #{run} exited by itself: {exit}"), n)
                }
                None => {
                    let due = p.last_probe.is_none_or(|t| {
                        t.elapsed()
                            >= if p.ready {
                                Duration::from_secs(1)
                            } else {
                                Duration::from_millis(100)
                            }
                    });
                    if due {
                        p.last_probe = Some(Instant::now());
                        Next::Probe(p.addr, p.ready)
                    } else {
                        Next::Wait
                    }
                }
            },
            None => match &s.backoff {
                Some((for_uid, until)) if for_uid == uid && Instant::now() < *until => Next::Wait,
                _ => Next::Start,
            },
        }
    };
    match next {
        Next::Wait => Ok(()),
        Next::Exited(what, restarts) => {
            k.note(format!(
                "{bot}: {what} (restart #{restarts} after back-off)"
            ));
            patch_status(k, pod, None, false, restarts, Some("CrashLoopBackOff")).await
        }
        Next::Start => start_engine(k, bot, pod, uid).await,
        Next::Probe(addr, was_ready) => {
            let ok = k
                .http
                .get(format!("http://{addr}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            let change = {
                let mut state = lock(&k.state);
                let s = slot(&mut state, &k.root, bot);
                let restarts = s.restarts.get(uid).copied().unwrap_or(0);
                let Some(p) = s.proc.as_mut() else {
                    return Ok(());
                };
                if ok {
                    p.failed_probes = 0;
                    (!was_ready).then(|| {
                        p.ready = true;
                        (true, restarts, p.run)
                    })
                } else {
                    p.failed_probes += 1;
                    (was_ready && p.failed_probes >= 3).then(|| {
                        p.ready = false;
                        (false, restarts, p.run)
                    })
                }
            };
            if let Some((ready, restarts, run)) = change {
                k.note(format!(
                    "{bot}: engine #{run} is {}",
                    if ready { "ready" } else { "not ready" }
                ));
                patch_status(k, pod, Some(addr.ip()), ready, restarts, None).await?;
            }
            Ok(())
        }
    }
}

/// Sets the pod's status as a kubelet would.
async fn patch_status(
    k: &Inner,
    pod: &Pod,
    ip: Option<IpAddr>,
    ready: bool,
    restarts: u32,
    waiting: Option<&str>,
) -> Result<()> {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let flag = if ready { "True" } else { "False" };
    let state = match waiting {
        Some(reason) => json!({"waiting": {"reason": reason}}),
        None => json!({"running": {"startedAt": now}}),
    };
    let mut status = json!({
        "phase": "Running",
        "hostIP": "127.0.0.1",
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": flag, "lastTransitionTime": now},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        ],
        "containerStatuses": [{
            "name": CONTAINER,
            "ready": ready,
            "started": waiting.is_none(),
            "restartCount": restarts,
            "image": pod_container(pod).ok().and_then(|c| c.image.clone()).unwrap_or_default(),
            "imageID": "",
            "state": state,
        }],
    });
    if let Some(ip) = ip {
        status["podIP"] = json!(ip.to_string());
        status["podIPs"] = json!([{"ip": ip.to_string()}]);
    }
    k.pods()
        .patch_status(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .with_context(|| format!("patching the status of pod {}", pod.name_any()))?;
    Ok(())
}

fn pod_container(pod: &Pod) -> Result<&Container> {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == CONTAINER))
        .ok_or_else(|| anyhow!("pod {} has no container `{CONTAINER}`", pod.name_any()))
}

/// Replaces a mount path at the start of `value` or after `://`.
fn map_paths(value: &str, mounts: &[(String, PathBuf)]) -> String {
    let mut out = value.to_string();
    for (mount, host) in mounts {
        let host = host.display().to_string();
        if out == *mount {
            out = host.clone();
        } else if let Some(rest) = out.strip_prefix(&format!("{mount}/")) {
            out = format!("{host}/{rest}");
        } else {
            out = out.replace(&format!("://{mount}/"), &format!("://{host}/"));
        }
    }
    out
}

async fn secret_value(k: &Inner, name: &str, key: &str) -> Result<Option<String>> {
    let api: Api<Secret> = Api::namespaced(k.admin.clone(), &k.ns);
    let Some(secret) = api.get_opt(name).await? else {
        return Ok(None);
    };
    let from_data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned());
    let from_string = secret
        .string_data
        .as_ref()
        .and_then(|d| d.get(key))
        .cloned();
    Ok(from_data.or(from_string))
}

async fn env_value(
    k: &Inner,
    pod: &Pod,
    var: &EnvVar,
    mounts: &[(String, PathBuf)],
) -> Result<Option<String>> {
    if let Some(v) = &var.value {
        return Ok(Some(map_paths(v, mounts)));
    }
    let Some(from) = &var.value_from else {
        return Ok(Some(String::new()));
    };
    if let Some(r) = &from.secret_key_ref {
        let value = secret_value(k, &r.name, &r.key).await?;
        return match value {
            Some(v) => Ok(Some(v)),
            None if r.optional == Some(true) => Ok(None),
            None => bail!(
                "CreateContainerConfigError: env {} needs key `{}` of Secret `{}`, which does not exist",
                var.name,
                r.key,
                r.name
            ),
        };
    }
    if let Some(r) = &from.config_map_key_ref {
        let api: Api<ConfigMap> = Api::namespaced(k.admin.clone(), &k.ns);
        let value = api
            .get_opt(&r.name)
            .await?
            .and_then(|cm| cm.data.and_then(|d| d.get(&r.key).cloned()));
        return match value {
            Some(v) => Ok(Some(v)),
            None if r.optional == Some(true) => Ok(None),
            None => bail!(
                "CreateContainerConfigError: env {} needs key `{}` of ConfigMap `{}`",
                var.name,
                r.key,
                r.name
            ),
        };
    }
    if let Some(f) = &from.field_ref {
        return Ok(Some(match f.field_path.as_str() {
            "metadata.name" => pod.name_any(),
            "metadata.namespace" => k.ns.clone(),
            "metadata.uid" => pod.uid().unwrap_or_default(),
            other => bail!(
                "env {}: fieldRef {other} is not supported by the stand-in",
                var.name
            ),
        }));
    }
    bail!(
        "env {}: this valueFrom is not supported by the stand-in",
        var.name
    )
}

/// Starts the engine of `pod` from the current ConfigMap.
async fn start_engine(k: &Inner, bot: &str, pod: &Pod, uid: &str) -> Result<()> {
    let (ip, dir, run, feed, venue) = {
        let mut state = lock(&k.state);
        let venue = state.venue_url.clone();
        let default_feed = state.default_feed.clone();
        let s = slot(&mut state, &k.root, bot);
        (
            s.ip,
            s.dir.clone(),
            s.runs.len(),
            s.feed.clone().unwrap_or(default_feed),
            venue,
        )
    };
    let spec = pod.spec.as_ref().context("pod without spec")?;
    let container = pod_container(pod)?;

    // Volumes.
    let pod_dir = dir.join(format!("pod-{run}-{uid}"));
    let mut volumes: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut config_hash = String::new();
    for volume in spec.volumes.iter().flatten() {
        let host = if let Some(cm) = &volume.config_map {
            let api: Api<ConfigMap> = Api::namespaced(k.admin.clone(), &k.ns);
            let Some(map) = api.get_opt(&cm.name).await? else {
                bail!("ContainerCreating: ConfigMap `{}` does not exist", cm.name);
            };
            if let Some(h) = map
                .annotations()
                .get(botfleet_crds::labels::CONFIG_HASH_ANNOTATION)
            {
                config_hash = h.clone();
            }
            let host = pod_dir.join(&volume.name);
            std::fs::create_dir_all(&host)?;
            for (key, value) in map.data.iter().flatten() {
                std::fs::write(host.join(key), value)?;
            }
            host
        } else if let Some(secret) = &volume.secret {
            // A Secret volume: its items as files, as the kubelet writes them.
            let name = secret.secret_name.clone().unwrap_or_default();
            let host = pod_dir.join(&volume.name);
            std::fs::create_dir_all(&host)?;
            let items: Vec<(String, String)> = match &secret.items {
                Some(items) => items
                    .iter()
                    .map(|i| (i.key.clone(), i.path.clone()))
                    .collect(),
                None => bail!(
                    "volume `{}`: a Secret volume without items is not supported by the stand-in",
                    volume.name
                ),
            };
            for (key, path) in items {
                let Some(value) = secret_value(k, &name, &key).await? else {
                    bail!("ContainerCreating: Secret `{name}` has no key `{key}`");
                };
                std::fs::write(host.join(path), value)?;
            }
            host
        } else if let Some(pvc) = &volume.persistent_volume_claim {
            dir.join("volumes").join(&pvc.claim_name)
        } else if volume.empty_dir.is_some() {
            pod_dir.join(&volume.name)
        } else {
            bail!(
                "volume `{}`: only configMap, secret, persistentVolumeClaim and emptyDir are supported",
                volume.name
            );
        };
        std::fs::create_dir_all(&host)?;
        volumes.insert(volume.name.clone(), host);
    }
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for m in container.volume_mounts.iter().flatten() {
        let host = volumes
            .get(&m.name)
            .with_context(|| format!("volumeMount of unknown volume `{}`", m.name))?;
        mounts.push((m.mount_path.trim_end_matches('/').to_string(), host.clone()));
    }
    // The longest mount path first, so nested mounts map correctly.
    mounts.sort_by_key(|(m, _)| std::cmp::Reverse(m.len()));

    // Environment.
    let mut env: Vec<(String, String)> = Vec::new();
    for var in container.env.iter().flatten() {
        if let Some(value) = env_value(k, pod, var, &mounts).await? {
            env.push((var.name.clone(), value));
        }
    }

    // Arguments: the container's, the listen address on this bot's IP.
    let mut args: Vec<String> = Vec::new();
    let mut addr: Option<SocketAddr> = None;
    let mut config_path: Option<PathBuf> = None;
    let given = container.args.clone().unwrap_or_default();
    let mut it = given.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--listen" => {
                let value = it.next().context("--listen without a value")?;
                let port = value
                    .parse::<SocketAddr>()
                    .with_context(|| format!("--listen {value}"))?
                    .port();
                let a = SocketAddr::new(ip, port);
                addr = Some(a);
                args.extend(["--listen".to_string(), a.to_string()]);
            }
            "--config" | "-f" => {
                let value = map_paths(it.next().context("--config without a value")?, &mounts);
                config_path = Some(PathBuf::from(&value));
                args.extend([arg.clone(), value]);
            }
            _ => args.push(map_paths(arg, &mounts)),
        }
    }
    let addr = addr.context("the container args have no --listen")?;
    let config = match &config_path {
        Some(p) => std::fs::read_to_string(p).unwrap_or_default(),
        None => String::new(),
    };
    let bot_name = env
        .iter()
        .find(|(n, _)| n == "BOTFLEET_BOT")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| bot.to_string());
    let phase = botfleet_crds::Manifests::from_yaml(&config)
        .ok()
        .and_then(|m| m.bundle(Some(&bot_name)).ok().map(|b| b.bot.spec.phase));
    let info = StartInfo {
        bot: bot.to_string(),
        phase,
        run,
    };
    args.extend(feed(&info));
    if let (Some(p), Some(url)) = (phase, &venue)
        && p != Phase::Paper
    {
        args.extend(["--venue-url".to_string(), url.clone()]);
        args.extend(["--venue-timeout-ms".to_string(), "3000".to_string()]);
        // The ledger check every second, so a disagreeing venue shows soon.
        args.extend(["--ledger-check-secs".to_string(), "1".to_string()]);
    }
    let store_url = env
        .iter()
        .find(|(n, _)| n == "BOTFLEET_DATABASE_URL")
        .map(|(_, v)| v.clone());

    let log = dir.join(format!("engine-{run}.log"));
    let out = File::create(&log)?;
    let mut command = Command::new(&k.binary);
    command
        .args(&args)
        .env_clear()
        .envs(env.iter().map(|(n, v)| (n, v)))
        .env(
            "RUST_LOG",
            std::env::var("BOTFLEET_ENGINE_LOG").unwrap_or_else(|_| "info".into()),
        )
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    let child = spawn(command).with_context(|| format!("starting {}", k.binary.display()))?;
    let pid = child.id();
    let child: SharedChild = Arc::new(Mutex::new(Some(child)));
    lock(&k.children).push(child.clone());
    let restarts = {
        let mut state = lock(&k.state);
        let s = slot(&mut state, &k.root, bot);
        s.runs.push(Run {
            pod: pod.name_any(),
            pod_uid: uid.to_string(),
            phase,
            config_hash: config_hash.clone(),
            config,
            addr,
            args: args.clone(),
            log: log.clone(),
            pid,
            store_url,
            exit: None,
            stopped_by_kubelet: false,
        });
        s.proc = Some(Proc {
            child,
            pod_uid: uid.to_string(),
            pod_name: pod.name_any(),
            run,
            addr,
            ready: false,
            failed_probes: 0,
            last_probe: None,
        });
        s.backoff = None;
        s.restarts.get(uid).copied().unwrap_or(0)
    };
    k.note(format!(
        "{bot}: engine #{run} (pid {pid}) for pod {} uid {uid}, phase {phase:?}, config {}…, on {addr}; log {}",
        pod.name_any(),
        config_hash.get(..12).unwrap_or(&config_hash),
        log.display()
    ));
    patch_status(k, pod, Some(ip), false, restarts, None).await
}

// ---------------------------------------------------------------------------
// A world with real engines

/// A test world whose engine pods run the real engine.
pub struct RealWorld {
    pub w: World,
    pub kubelet: Kubelet,
}

impl std::ops::Deref for RealWorld {
    type Target = World;
    fn deref(&self) -> &World {
        &self.w
    }
}

impl RealWorld {
    pub async fn new(prefix: &str) -> Result<Self> {
        let started = Instant::now();
        let w = World::new(prefix).await?;
        let world = started.elapsed();
        let kubelet = Kubelet::start(w.admin.clone(), &w.ns).await?;
        eprintln!(
            "{prefix}: control plane and namespace in {world:.1?}, engine binary and kubelet in {:.1?}",
            started.elapsed() - world
        );
        Ok(Self { w, kubelet })
    }

    /// Secrets `name` (the bot's `sandboxCredentialsSecretRef`) and
    /// `name-live` (its `liveCredentialsSecretRef`) with the exchange
    /// credentials (`apiKey`, `apiSecret`). The simulator stands for both the
    /// test network and the live API, so both hold its one key pair.
    pub async fn credentials(&self, name: &str, key: &str, secret: &str) -> Result<()> {
        for name in [name.to_string(), format!("{name}-live")] {
            let s: Secret = serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name},
                "stringData": {"apiKey": key, "apiSecret": secret},
            }))?;
            Api::<Secret>::namespaced(self.admin.clone(), &self.ns)
                .create(&Default::default(), &s)
                .await?;
        }
        Ok(())
    }

    /// Strategy `name`: an SMA crossover on one-hour candles.
    pub async fn sma(&self, name: &str, fast: u32, slow: u32) -> Result<()> {
        self.apply_yaml(&format!(
            "apiVersion: botfleet.dev/v1alpha1\nkind: Strategy\nmetadata: {{name: {name}}}\nspec: {{timeframe: 1h, smaCrossover: {{fast: {fast}, slow: {slow}}}}}"
        ))
        .await
    }

    /// Creates TradingBot `name` (BTCUSDT, capital 1000, Paper, credentials
    /// Secret `keys`) with `extra` merged into its spec; its engines use `feed`.
    pub async fn bot(
        &self,
        name: &str,
        strategy: &str,
        policy: &str,
        extra: serde_json::Value,
        feed: impl Fn(&StartInfo) -> Vec<String> + Send + Sync + 'static,
    ) -> Result<botfleet_crds::TradingBot> {
        self.kubelet.set_feed(name, feed);
        let mut spec = json!({
            "strategyRef": {"name": strategy},
            "riskPolicyRef": {"name": policy},
            "exchange": {"symbols": ["BTCUSDT"], "sandboxCredentialsSecretRef": {"name": "keys"}, "liveCredentialsSecretRef": {"name": "keys-live"}},
            "capital": 1000,
        });
        for (k, v) in extra.as_object().context("extra is an object")? {
            spec[k] = v.clone();
        }
        let bot: botfleet_crds::TradingBot = serde_json::from_value(json!({
            "apiVersion": "botfleet.dev/v1alpha1", "kind": "TradingBot",
            "metadata": {"name": name}, "spec": spec}))?;
        Ok(self.bots().create(&Default::default(), &bot).await?)
    }
}

// ---------------------------------------------------------------------------
// Candles

/// One one-hour candle of the replay feed.
#[derive(Clone, Copy, Debug)]
pub struct Bar {
    pub time: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
}

/// Open time of the first candle (2024-01-01T00:00:00Z).
pub const FIRST_CANDLE: i64 = 1_704_067_200_000;
pub const HOUR: i64 = 3_600_000;

/// Candles closing at `closes` (each opening at the previous close, with a
/// 0.1 % wick on each side), one hour apart from `start`.
pub fn bars(start: i64, first_open: Decimal, closes: &[Decimal]) -> Vec<Bar> {
    let wick = Decimal::new(1, 3);
    let mut open = first_open;
    closes
        .iter()
        .enumerate()
        .map(|(i, &close)| {
            let high = (open.max(close) * (Decimal::ONE + wick)).round_dp(2);
            let low = (open.min(close) * (Decimal::ONE - wick)).round_dp(2);
            let bar = Bar {
                time: start + i as i64 * HOUR,
                open,
                high,
                low,
                close,
            };
            open = close;
            bar
        })
        .collect()
}

/// `n` closes on a sine wave around `mid` (± `amplitude_pct` %, `period`
/// candles), starting at `phase` candles into the wave.
pub fn wave(n: usize, mid: Decimal, amplitude_pct: f64, period: f64, phase: usize) -> Vec<Decimal> {
    (0..n)
        .map(|i| {
            let x = (i + phase) as f64 / period * std::f64::consts::TAU;
            let factor = 1.0 + amplitude_pct / 100.0 * x.sin();
            (mid * Decimal::try_from(factor).unwrap()).round_dp(2)
        })
        .collect()
}

/// `n` closes from `from`, each `step_pct` % from the one before.
pub fn trend(n: usize, from: Decimal, step_pct: i64) -> Vec<Decimal> {
    let factor = Decimal::ONE + Decimal::new(step_pct, 2);
    let mut price = from;
    (0..n)
        .map(|_| {
            price = (price * factor).round_dp(2);
            price
        })
        .collect()
}

/// Appends candles following `bars` (one hour after its last) closing at `closes`.
pub fn extend(bars_so_far: &mut Vec<Bar>, closes: &[Decimal]) {
    let last = *bars_so_far.last().expect("at least one bar");
    bars_so_far.extend(bars(last.time + HOUR, last.close, closes));
}

/// Writes `bars` as `timestamp,open,high,low,close,volume` (ms).
pub fn write_csv(path: &Path, bars: &[Bar]) -> Result<()> {
    let mut text = String::from("timestamp,open,high,low,close,volume\n");
    for b in bars {
        writeln!(
            text,
            "{},{},{},{},{},100",
            b.time, b.open, b.high, b.low, b.close
        )?;
    }
    std::fs::write(path, text)?;
    Ok(())
}

/// `--feed replay --data <csv> --speed max`, plus `--to` (candles before it).
pub fn replay(csv: &Path, to: Option<i64>) -> Vec<String> {
    let mut args = vec![
        "--feed".to_string(),
        "replay".to_string(),
        "--data".to_string(),
        csv.display().to_string(),
        "--speed".to_string(),
        "max".to_string(),
    ];
    if let Some(t) = to {
        args.extend(["--to".to_string(), t.to_string()]);
    }
    args
}

// ---------------------------------------------------------------------------
// What must hold

/// The status metrics the operator must show for an engine report: money
/// to the cent and statistics to 2 decimals, half away from zero.
pub fn expected_metrics(engine: &EngineStatus) -> BotMetrics {
    let w = &engine.window;
    let cents = |d: Decimal| {
        SignedAmount::new(d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
    };
    let stat = |v: f64| (v * 100.0).round() / 100.0;
    BotMetrics {
        equity: cents(w.equity),
        return_pct: stat(w.return_pct),
        drawdown_pct: stat(w.drawdown_pct),
        max_drawdown_pct: stat(w.max_drawdown_pct),
        win_rate_pct: (w.trades > 0 && w.win_rate_pct.is_finite()).then(|| stat(w.win_rate_pct)),
        sharpe: w.sharpe.is_finite().then(|| stat(w.sharpe)),
        trades: w.trades,
        open_positions: engine.open_positions.len() as u32,
        daily_pnl: cents(w.daily_pnl),
    }
}

/// The engine's books equal the exchange simulator's, after the engine
/// stopped (`store_url` is its store; `last` its final `/status`):
/// - every venue trade is stored once as a fill with the venue's price,
///   quantity, fee and side, and no other non-paper fill exists;
/// - every order the venue has is stored with the venue's filled quantity
///   and final status; nothing is open on either side;
/// - the account's USDT moved by exactly the stored venue fills' cash, and
///   its BTC is the position of the ledger rebuilt from every stored fill
///   and capital transfer (`capital` the ledger started with), which is
///   also the stored position and the one `/status` reported; the stored
///   cash (last equity point) is the ledger's, and `/status` reports the
///   stored transfers as its allocations.
pub async fn assert_books_equal(
    store_url: &str,
    sim: &botfleet_tests::exchange_sim::ExchangeSim,
    sim_usdt_at_start: Decimal,
    capital: i64,
    last: &EngineStatus,
) {
    assert_books_equal_on(
        VenueKind::Binance,
        store_url,
        sim,
        sim_usdt_at_start,
        capital,
        last,
    )
    .await
}

/// [`assert_books_equal`] on a venue of `kind` (its product id, its quote
/// currency in place of USDT, its trade ids).
pub async fn assert_books_equal_on(
    kind: VenueKind,
    store_url: &str,
    sim: &botfleet_tests::exchange_sim::ExchangeSim,
    sim_quote_at_start: Decimal,
    capital: i64,
    last: &EngineStatus,
) {
    use botfleet_bot::domain::{OrderStatus, Side};
    use botfleet_bot::ledger::Ledger;
    use botfleet_bot::store::{Store, StoreConfig};
    use botfleet_tests::exchange_sim::{SimSide, SimStatus};

    let store = Store::open(&StoreConfig::parse(store_url)).await.unwrap();
    let fills = store.fills().await.unwrap();
    let trades = sim.trades();
    assert!(!trades.is_empty(), "the bot never traded on the venue");

    let venue_fills: BTreeMap<String, _> = fills
        .iter()
        .filter(|f| !f.trade_id.starts_with("paper-"))
        .map(|f| (f.trade_id.clone(), f))
        .collect();
    let ids: BTreeSet<String> = trades.iter().map(|t| kind.trade_id(t)).collect();
    assert_eq!(
        venue_fills.keys().cloned().collect::<BTreeSet<_>>(),
        ids,
        "stored venue fills (left) vs the venue's trades (right)"
    );
    let mut cash_flow = Decimal::ZERO;
    for t in &trades {
        let f = venue_fills[&kind.trade_id(t)];
        assert_eq!(f.quantity.value(), t.qty, "trade {}", t.id);
        assert_eq!(f.price.value(), t.price, "trade {}", t.id);
        assert_eq!(f.fee.value(), t.commission, "trade {}", t.id);
        assert_eq!(t.commission_asset, kind.quote(), "trade {}", t.id);
        let side = match t.side {
            SimSide::Buy => Side::Buy,
            SimSide::Sell => Side::Sell,
        };
        assert_eq!(f.side, side, "trade {}", t.id);
        let notional = t.price * t.qty;
        cash_flow += match t.side {
            SimSide::Buy => -notional,
            SimSide::Sell => notional,
        } - t.commission;
    }

    let orders = sim.orders();
    let cids: BTreeSet<&str> = orders.iter().map(|o| o.client_order_id.as_str()).collect();
    assert_eq!(cids.len(), orders.len(), "an order reached the venue twice");
    for o in &orders {
        let record = store
            .order_by_client_id(&o.client_order_id)
            .await
            .unwrap()
            .unwrap_or_else(|| {
                panic!("{} is at the venue but not in the store", o.client_order_id)
            });
        assert_eq!(
            record.filled_quantity.value(),
            o.executed_qty,
            "{}",
            o.client_order_id
        );
        let status = match o.status {
            SimStatus::Filled => OrderStatus::Filled,
            SimStatus::Canceled => OrderStatus::Canceled,
            SimStatus::Expired => OrderStatus::Expired,
            open => panic!("{} is still {open:?} at the venue", o.client_order_id),
        };
        assert_eq!(record.status, status, "{}", o.client_order_id);
    }
    let open = store.open_orders().await.unwrap();
    assert!(open.is_empty(), "open in the store: {open:?}");
    assert_eq!(last.open_orders, 0, "open orders in the last /status");

    let quote = sim.balance(kind.quote());
    assert_eq!(
        quote.locked,
        Decimal::ZERO,
        "{} locked at the venue",
        kind.quote()
    );
    assert_eq!(
        quote.free - sim_quote_at_start,
        cash_flow,
        "the venue's {} change vs the stored venue fills",
        kind.quote()
    );

    // The engine's own snapshot of the step it stored last holds its cash
    // and its capital transfers (allocation changes), each after as many
    // fills as it followed.
    let snapshot: serde_json::Value = store
        .get_value("engine_snapshot")
        .await
        .unwrap()
        .expect("the engine stored a snapshot");
    let transfers: Vec<botfleet_bot::ledger::Transfer> =
        serde_json::from_value(snapshot["transfers"].clone()).unwrap_or_default();
    let reported_moves: Vec<Decimal> = last.allocations.iter().map(|a| a.amount).collect();
    let stored_moves: Vec<Decimal> = transfers.iter().map(|t| t.amount.value()).collect();
    assert_eq!(
        reported_moves, stored_moves,
        "/status allocations vs the stored transfers"
    );
    let mut ledger = Ledger::new(botfleet_bot::domain::Money::from(capital)).unwrap();
    let mut pending = transfers.iter().peekable();
    for f in &fills {
        let applied = ledger.fills_applied();
        while let Some(t) = pending.next_if(|t| t.after_fills <= applied) {
            ledger.replay_transfer(t).unwrap();
        }
        let _ = ledger.apply_fill(f).unwrap();
    }
    for t in pending {
        ledger.replay_transfer(t).unwrap();
    }
    let held: BTreeMap<String, Decimal> = ledger
        .positions()
        .filter(|p| !p.is_flat())
        .map(|p| (p.symbol().to_string(), p.quantity().value()))
        .collect();
    let btc = sim.balance("BTC");
    assert_eq!(
        held.get(kind.symbol()).copied().unwrap_or_default(),
        btc.free + btc.locked,
        "the ledger's position vs the venue's BTC"
    );
    let stored: BTreeMap<String, Decimal> = store
        .positions()
        .await
        .unwrap()
        .iter()
        .filter(|p| !p.quantity.is_zero())
        .map(|p| (p.symbol.to_string(), p.quantity.value()))
        .collect();
    assert_eq!(stored, held, "stored positions vs the ledger's");
    let reported: BTreeMap<String, Decimal> = last
        .open_positions
        .iter()
        .map(|p| (p.symbol.clone(), p.quantity))
        .collect();
    assert_eq!(reported, held, "/status positions vs the ledger's");
    let money = |v: &serde_json::Value| -> botfleet_bot::domain::Money {
        serde_json::from_value(v.clone()).unwrap()
    };
    assert_eq!(
        money(&snapshot["startingCash"]),
        botfleet_bot::domain::Money::from(capital),
        "the ledger's starting cash"
    );
    let stored_cash = money(&snapshot["cash"]);
    assert_eq!(stored_cash, ledger.cash(), "stored cash vs the ledger's");
    if held.is_empty() {
        assert_eq!(
            last.window.equity,
            ledger.cash().value(),
            "/status equity of a flat book vs the ledger's cash"
        );
    }
    store.close().await;
}

/// Where an engine keeps its store, from its run.
pub fn store_url(run: &Run) -> String {
    run.store_url
        .clone()
        .expect("the pod sets BOTFLEET_DATABASE_URL")
}

/// The exchange simulator holding `usdt` (and no BTC) with the given API
/// key, its price moving along `bars` (round and round) until the returned
/// task is aborted.
pub async fn simulator(
    key: &str,
    secret: &str,
    usdt: Decimal,
    bars: Vec<Bar>,
) -> (
    Arc<botfleet_tests::exchange_sim::ExchangeSim>,
    tokio::task::JoinHandle<()>,
) {
    use botfleet_tests::exchange_sim::{ExchangeSim, SimConfig};
    let mut config = SimConfig::btcusdt(key, secret);
    config.balances = vec![("USDT".into(), usdt)];
    let sim = Arc::new(ExchangeSim::start(config).await);
    let first = bars[0].close;
    sim.candle("BTCUSDT", first, first, first);
    let feeder = sim.clone();
    let prices = tokio::spawn(async move {
        for b in bars.iter().cycle() {
            feeder.candle("BTCUSDT", b.low, b.high, b.close);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (sim, prices)
}

/// The exchange simulator holding `usdt` (and no BTC), its price fixed at
/// `price`: every fill is at that price.
pub async fn simulator_at(
    key: &str,
    secret: &str,
    usdt: Decimal,
    price: Decimal,
) -> Arc<botfleet_tests::exchange_sim::ExchangeSim> {
    use botfleet_tests::exchange_sim::{ExchangeSim, SimConfig};
    let mut config = SimConfig::btcusdt(key, secret);
    config.balances = vec![("USDT".into(), usdt)];
    let sim = Arc::new(ExchangeSim::start(config).await);
    sim.candle("BTCUSDT", price, price, price);
    sim
}
