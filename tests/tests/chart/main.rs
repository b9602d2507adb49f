//! The Helm chart (`charts/botfleet`), its alerts, dashboard and the rendered
//! `manifests/install.yaml`: helm lint, what the templates render, the rendered
//! manifest kept in sync, the alerts unit-tested with promtool, every metric an alert
//! or a panel queries exported by the code, and the chart applied to the real
//! control plane (server-side dry run, then helm install and the operator's RBAC).

mod cluster;
mod images;
mod metrics;
mod monitoring;
mod render;
mod roles;
mod startup_layout;
mod webhook;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use std::io::Write as _;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

pub fn chart_dir() -> PathBuf {
    repo().join("charts/botfleet")
}

/// A helm command with its state kept out of the user's home.
pub fn helm() -> Command {
    let helm = botfleet_tests::tools::helm().unwrap_or_else(|e| panic!("{e:#}"));
    let mut command = Command::new(helm);
    let state = std::env::temp_dir().join("botfleet-chart-tests-helm");
    command
        .env_remove("KUBECONFIG")
        .env("HELM_CACHE_HOME", state.join("cache"))
        .env("HELM_CONFIG_HOME", state.join("config"))
        .env("HELM_DATA_HOME", state.join("data"));
    command
}

/// Runs `command` (with `stdin` when given) and returns its output, panicking with
/// stdout and stderr when it fails.
pub fn run(mut command: Command, stdin: Option<&str>) -> Output {
    let what = format!("{command:?}");
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("writing to {what}: {e}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `helm template botfleet charts/botfleet --namespace NS ARGS...`, stdout.
pub fn template(namespace: &str, args: &[&str]) -> String {
    let mut command = helm();
    command
        .arg("template")
        .arg("botfleet")
        .arg(chart_dir())
        .args(["--namespace", namespace])
        .args(args);
    String::from_utf8(run(command, None).stdout).expect("helm prints UTF-8")
}

/// Every non-empty YAML document of `text`.
pub fn documents(text: &str) -> Vec<serde_yaml::Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("invalid YAML: {e}")))
        .filter(|v: &serde_yaml::Value| !v.is_null())
        .collect()
}

/// The one document of `kind` (panics if there is not exactly one).
pub fn one<'a>(docs: &'a [serde_yaml::Value], kind: &str) -> &'a serde_yaml::Value {
    let found: Vec<_> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind}, found {}", found.len());
    found[0]
}

pub fn kinds(docs: &[serde_yaml::Value]) -> Vec<String> {
    docs.iter()
        .map(|d| d["kind"].as_str().unwrap_or("?").to_string())
        .collect()
}
