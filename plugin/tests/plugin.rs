//! The `kubectl-botfleet` binary against the real local control plane: a
//! bot whose status the test writes through the status subresource (no
//! operator runs), and each command's effect read back from the apiserver.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use botfleet_crds::labels::RESUME_ANNOTATION;
use botfleet_crds::{Phase, RiskPolicy, Strategy, TradingBot};
use botfleet_tests::control_plane::ControlPlane;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-botfleet");

async fn cp() -> &'static ControlPlane {
    let _ = rustls::crypto::ring::default_provider().install_default();
    ControlPlane::shared().await
}

/// A namespace with Strategy `sma`, RiskPolicy `seed` (defaults) and an
/// admin client.
struct World {
    ns: String,
    admin: Client,
    kubeconfig: PathBuf,
}

impl World {
    async fn new(prefix: &str) -> Self {
        let cp = cp().await;
        let ns = cp.namespace(prefix).await.unwrap();
        let admin = cp.client().await.unwrap();
        let pp = PatchParams::apply("plugin-tests").force();
        let strategy = json!({"apiVersion": "botfleet.dev/v1alpha1", "kind": "Strategy",
            "metadata": {"name": "sma"},
            "spec": {"timeframe": "1h", "smaCrossover": {"fast": 10, "slow": 30}}});
        Api::<Strategy>::namespaced(admin.clone(), &ns)
            .patch("sma", &pp, &Patch::Apply(&strategy))
            .await
            .unwrap();
        let policy = json!({"apiVersion": "botfleet.dev/v1alpha1", "kind": "RiskPolicy",
            "metadata": {"name": "seed"}, "spec": {}});
        Api::<RiskPolicy>::namespaced(admin.clone(), &ns)
            .patch("seed", &pp, &Patch::Apply(&policy))
            .await
            .unwrap();
        Self {
            ns,
            admin,
            kubeconfig: cp.kubeconfig(),
        }
    }

    fn bots(&self) -> Api<TradingBot> {
        Api::namespaced(self.admin.clone(), &self.ns)
    }

    /// Creates bot `name` in `phase` (spec) and writes `status`.
    async fn bot(&self, name: &str, phase: &str, halted: bool, status: Value) {
        let bot: TradingBot = serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "TradingBot",
        "metadata": {"name": name},
        "spec": {
            "strategyRef": {"name": "sma"}, "riskPolicyRef": {"name": "seed"},
            "exchange": {"symbols": ["BTCUSDT"], "sandboxCredentialsSecretRef": {"name": "keys"}, "liveCredentialsSecretRef": {"name": "keys-live"}},
            "capital": 1000, "phase": phase, "halted": halted,
        }}))
        .unwrap();
        self.bots()
            .create(&PostParams::default(), &bot)
            .await
            .unwrap();
        self.bots()
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": status })),
            )
            .await
            .unwrap();
    }

    async fn get(&self, name: &str) -> TradingBot {
        self.bots().get(name).await.unwrap()
    }

    /// Runs the plugin with the admin kubeconfig in this namespace.
    fn run(&self, args: &[&str]) -> Output {
        run_with(&self.kubeconfig, &self.ns, args)
    }
}

fn run_with(kubeconfig: &Path, ns: &str, args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", ns])
        .args(args)
        .env_remove("KUBECONFIG")
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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Paper, trading, with metrics and the gate to Sandbox: minTrades unmet
/// (42 of 100), minWinRatePct met (60.5 > 55).
fn paper_status(gate_met: bool) -> Value {
    let trades = if gate_met { 120.0 } else { 42.0 };
    json!({
        "phase": "Paper", "state": "Trading",
        "metrics": {"equity": 1030.5, "returnPct": 3.05, "drawdownPct": 4.5,
            "maxDrawdownPct": 6.25, "winRatePct": 60.5, "sharpe": 1.8, "trades": trades as u64,
            "openPositions": 2, "dailyPnl": -12.5},
        "gate": {"targetPhase": "Sandbox", "met": gate_met, "criteria": [
            {"name": "minTrades", "comparison": ">=", "required": 100.0,
             "measured": trades, "met": gate_met},
            {"name": "minWinRatePct", "comparison": ">", "required": 55.0,
             "measured": 60.5, "met": true},
        ]},
        "capital": {"allocated": 1000},
    })
}

#[tokio::test]
async fn status_shows_gate_limits_capital_as_table_and_json() {
    let w = World::new("plugin-status").await;
    w.bot("alpha", "Paper", false, paper_status(false)).await;

    let out = w.run(&["status", "alpha"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("Phase:      Paper"), "{text}");
    assert!(text.contains("State:      Trading"), "{text}");
    assert!(text.contains("Gate to Sandbox (not met)"), "{text}");
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix} in\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(line("minTrades"), ["minTrades", ">=", "100", "42", "NO"]);
    assert_eq!(
        line("minWinRatePct"),
        ["minWinRatePct", ">", "55", "60.5", "yes"]
    );
    // Paper defaults: drawdown halts at 20 %, 5 open positions.
    assert_eq!(
        line("maxDrawdownPct"),
        ["maxDrawdownPct", "4.5", "%", "20", "%", "23%", "halts"]
    );
    // Today started at equity 1030.5 minus today's P&L -12.5 = 1043; 5 % of it.
    assert_eq!(
        line("dailyLossLimit"),
        [
            "dailyLossLimit",
            "12.5",
            "52.15",
            "24%",
            "pauses",
            "entries"
        ]
    );
    assert_eq!(
        line("maxOpenPositions"),
        ["maxOpenPositions", "2", "5", "40%", "caps", "entries"]
    );
    assert!(
        text.contains("allocated 1000 (spec.capital 1000)"),
        "{text}"
    );
    assert!(text.contains("Halt: none"), "{text}");

    let out = w.run(&["status", "alpha", "-o", "json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_str(&stdout(&out)).expect("status -o json is JSON");
    assert_eq!(v["name"], "alpha");
    assert_eq!(v["namespace"], w.ns.as_str());
    assert_eq!(v["phase"], "Paper");
    assert_eq!(v["gate"]["targetPhase"], "Sandbox");
    assert_eq!(v["gate"]["criteria"][0]["name"], "minTrades");
    assert_eq!(v["gate"]["criteria"][0]["measured"], 42.0);
    assert_eq!(v["gate"]["criteria"][0]["met"], false);
    let dd = v["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["limit"] == "maxDrawdownPct")
        .unwrap();
    assert_eq!(dd["used"], 4.5);
    assert_eq!(dd["allowed"], 20.0);
    assert_eq!(v["capital"]["allocated"], 1000);
    assert!(v["halt"].is_null());
}

#[tokio::test]
async fn promote_refuses_an_unmet_gate_and_patches_a_met_one() {
    let w = World::new("plugin-promote").await;
    w.bot("blocked", "Paper", false, paper_status(false)).await;
    w.bot("ready", "Paper", false, paper_status(true)).await;

    let out = w.run(&["promote", "blocked"]);
    assert_eq!(out.status.code(), Some(5));
    let err = stderr(&out);
    assert!(err.contains("gate not met"), "{err}");
    assert!(
        err.contains("minTrades: measured 42, required >= 100"),
        "{err}"
    );
    assert!(!err.contains("minWinRatePct"), "only unmet criteria: {err}");
    assert_eq!(w.get("blocked").await.spec.phase, Phase::Paper);

    let out = w.run(&["promote", "blocked", "--force"]);
    assert!(out.status.success());
    assert_eq!(w.get("blocked").await.spec.phase, Phase::Sandbox);

    let out = w.run(&["promote", "ready", "-o", "json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (v["from"].as_str(), v["to"].as_str()),
        (Some("Paper"), Some("Sandbox"))
    );
    assert_eq!(w.get("ready").await.spec.phase, Phase::Sandbox);
}

#[tokio::test]
async fn demote_lowers_spec_phase_and_refuses_going_up() {
    let w = World::new("plugin-demote").await;
    let mut status = paper_status(false);
    status["phase"] = json!("LimitedReal");
    status["gate"]["targetPhase"] = json!("Scaling");
    w.bot("carol", "LimitedReal", false, status).await;

    let out = w.run(&["demote", "carol", "Scaling"]);
    assert_eq!(out.status.code(), Some(6));
    assert!(stderr(&out).contains("demote to a lower phase (Paper, Sandbox)"));
    assert_eq!(w.get("carol").await.spec.phase, Phase::LimitedReal);

    let out = w.run(&["demote", "carol", "paper"]);
    assert!(out.status.success());
    assert_eq!(w.get("carol").await.spec.phase, Phase::Paper);
}

#[tokio::test]
async fn halt_sets_the_kill_switch_and_resume_uses_the_current_halt_id() {
    let w = World::new("plugin-halt").await;
    w.bot("dave", "Paper", false, paper_status(false)).await;

    let out = w.run(&["resume", "dave"]);
    assert_eq!(out.status.code(), Some(6));
    assert!(stderr(&out).contains("dave is not halted"));

    let out = w.run(&["halt", "dave"]);
    assert!(out.status.success());
    assert!(w.get("dave").await.spec.halted);

    // What the operator would record for the kill switch.
    w.bots()
        .patch_status(
            "dave",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"state": "Halted", "halt": {
                "id": "h-1700000000000-abc123", "reason": "manual kill switch: spec.halted is true",
                "at": "2026-01-02T03:04:05Z"}}})),
        )
        .await
        .unwrap();
    let out = w.run(&["status", "dave"]);
    assert!(
        stdout(&out)
            .contains("Halted: manual kill switch: spec.halted is true (id h-1700000000000-abc123")
    );

    let out = w.run(&["promote", "dave"]);
    assert_eq!(out.status.code(), Some(6), "no promotion while halted");

    let out = w.run(&["resume", "dave", "-o", "json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["haltId"], "h-1700000000000-abc123");
    let bot = w.get("dave").await;
    assert_eq!(
        bot.metadata
            .annotations
            .unwrap()
            .get(RESUME_ANNOTATION)
            .map(String::as_str),
        Some("h-1700000000000-abc123")
    );
    assert!(!bot.spec.halted, "resume releases the kill switch");
}

#[tokio::test]
async fn a_missing_bot_is_named_with_its_namespace() {
    let w = World::new("plugin-missing").await;
    let out = w.run(&["status", "ghost"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "TradingBot \"ghost\" not found in namespace \"{}\"",
            w.ns
        )),
        "{err}"
    );
}

#[tokio::test]
async fn an_identity_without_rights_is_told_which_verb_and_resource() {
    let w = World::new("plugin-forbidden").await;
    w.bot("erin", "Paper", false, paper_status(false)).await;
    let cp = cp().await;
    let token = cp.service_account_token(&w.ns, "nobody").await.unwrap();
    let kubeconfig = cp.write_kubeconfig(&token).unwrap();

    let out = run_with(&kubeconfig, &w.ns, &["status", "erin"]);
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "no permission to get tradingbots.botfleet.dev in namespace \"{}\"",
            w.ns
        )),
        "{err}"
    );
    let out = run_with(&kubeconfig, &w.ns, &["halt", "erin"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(!w.get("erin").await.spec.halted);

    // Read-only rights: status works, a change names the verb it lacks.
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "bot-reader"},
        "rules": [{"apiGroups": ["botfleet.dev"], "resources": ["tradingbots", "riskpolicies"],
                   "verbs": ["get"]}]});
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "bot-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "bot-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "nobody", "namespace": w.ns}]});
    let pp = PatchParams::apply("plugin-tests").force();
    Api::<Role>::namespaced(w.admin.clone(), &w.ns)
        .patch("bot-reader", &pp, &Patch::Apply(&role))
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(w.admin.clone(), &w.ns)
        .patch("bot-reader", &pp, &Patch::Apply(&binding))
        .await
        .unwrap();
    // RBAC grants take effect asynchronously: wait (bounded) for the read.
    let mut tries = 0;
    while !run_with(&kubeconfig, &w.ns, &["status", "erin"])
        .status
        .success()
    {
        tries += 1;
        assert!(tries < 200, "the read grant never took effect");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let out = run_with(&kubeconfig, &w.ns, &["halt", "erin"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains(&format!(
            "no permission to patch tradingbots.botfleet.dev in namespace \"{}\"",
            w.ns
        )),
        "{}",
        stderr(&out)
    );
    assert!(!w.get("erin").await.spec.halted);
}

#[tokio::test]
async fn the_kubeconfig_comes_from_the_environment_without_the_flag() {
    let w = World::new("plugin-env").await;
    w.bot("fred", "Paper", false, paper_status(false)).await;
    let out = Command::new(BIN)
        .args(["status", "fred", "-n", &w.ns, "-o", "json"])
        .env("KUBECONFIG", &w.kubeconfig)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["name"], "fred");
}

#[test]
fn backtest_runs_the_engine_locally() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../manifests/examples/quickstart.yaml"
    );
    let out = Command::new(BIN)
        .args([
            "backtest",
            "-f",
            manifests,
            "--candles",
            "600",
            "-o",
            "json",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["apiVersion"], "botfleet.dev/backtest-report/v1");
    assert_eq!(v["candles"], 600);
    assert!(dir.path().join("report.html").exists());

    let out = Command::new(BIN)
        .args(["backtest", "-f", "/nonexistent/bot.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/bot.yaml"),
        "{}",
        stderr(&out)
    );
}
