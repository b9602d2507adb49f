//! Fleet benchmark (not a timed test): N TradingBots (default 1000,
//! `BOTFLEET_BENCH_BOTS`) on the local control plane, reconciled by the real
//! `botfleet-operator` binary running as its restricted identity. Prints the
//! time until every bot has a status, reconcile duration p50/p99 (from the
//! operator's histogram) and the operator's RSS.
//!
//! `cargo bench -p botfleet-operator --bench fleet`

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use botfleet_crds::TradingBot;
use botfleet_tests::control_plane::ControlPlane;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

#[path = "fleet/requests.rs"]
mod requests;

const TOKEN: &str = "bench-operator-token";
const USER: &str = "system:serviceaccount:botfleet-system:botfleet-operator";

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Quantile from a Prometheus histogram exposition (linear within a bucket).
fn quantile(metrics: &str, q: f64) -> Option<f64> {
    let name = "botfleet_operator_reconcile_duration_seconds_bucket";
    let mut buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            let count: f64 = l.rsplit(' ').next()?.parse().ok()?;
            Some((le, count))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    let target = q * total;
    let (mut prev_le, mut prev_count) = (0.0, 0.0);
    for (le, count) in buckets {
        if count >= target {
            if le.is_infinite() {
                return Some(prev_le);
            }
            let share = if count > prev_count {
                (target - prev_count) / (count - prev_count)
            } else {
                1.0
            };
            return Some(prev_le + (le - prev_le) * share);
        }
        (prev_le, prev_count) = (le, count);
    }
    None
}

fn metric(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// When every bot had a status and when every bot's StatefulSet existed
/// (since the first create), and the operator's peak RSS sampled meanwhile.
struct Progress {
    status: Duration,
    children: Duration,
    peak_rss_kib: u64,
}

/// Follows the bots and StatefulSets with watches (a LIST of every bot
/// each poll would load the apiserver more than the operator does).
async fn progress(
    bots: Api<TradingBot>,
    sets: Api<PartialObjectMeta<StatefulSet>>,
    n: usize,
    start: Instant,
    pid: u32,
) -> Result<Progress> {
    let (mut with_status, mut with_children) = (HashSet::new(), HashSet::new());
    let (mut status, mut children, mut peak_rss_kib) = (None, None, 0);
    let bot_events = watcher(bots, watcher::Config::default())
        .default_backoff()
        .applied_objects();
    let set_events = watcher(sets, watcher::Config::default())
        .default_backoff()
        .applied_objects();
    futures::pin_mut!(bot_events, set_events);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let limit = Duration::from_secs(600) + Duration::from_millis(200) * n as u32;
    loop {
        tokio::select! {
            Some(bot) = bot_events.next() => {
                // A watch error (410 Expired under load) is recovered by the
                // watcher listing again; it is not the operator's failure.
                let Ok(bot) = bot else { continue };
                if bot.status.as_ref().is_some_and(|s| s.phase.is_some() && s.observed_generation.is_some()) {
                    with_status.insert(bot.name_any());
                }
            }
            Some(set) = set_events.next() => {
                if let Ok(set) = set {
                    with_children.insert(set.name_any());
                }
            }
            _ = tick.tick() => {
                peak_rss_kib = peak_rss_kib.max(rss_kib(pid, "VmRSS:"));
                if start.elapsed() > limit {
                    bail!(
                        "after {} s only {} of {n} bots have a status and {} a StatefulSet",
                        limit.as_secs(), with_status.len(), with_children.len()
                    );
                }
            }
        }
        if status.is_none() && with_status.len() == n {
            status = Some(start.elapsed());
        }
        if children.is_none() && with_children.len() == n {
            children = Some(start.elapsed());
        }
        if let (Some(status), Some(children)) = (status, children) {
            return Ok(Progress {
                status,
                children,
                peak_rss_kib,
            });
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    botfleet_operator::install_crypto_provider();
    let n: usize = std::env::var("BOTFLEET_BENCH_BOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let cp = ControlPlane::builder()
        .with_token(TOKEN, USER, ["system:serviceaccounts"])
        .start()
        .await?;
    let admin = cp.client().await?;
    let ns = cp.namespace("fleet").await?;
    let pp = PatchParams::apply("bench").force();
    let role: ClusterRole = serde_yaml::from_str(&std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rbac/clusterrole.yaml"
    ))?)?;
    Api::<ClusterRole>::all(admin.clone())
        .patch("botfleet-operator", &pp, &Patch::Apply(&role))
        .await?;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "botfleet-operator"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "botfleet-operator"},
        "subjects": [{"kind": "User", "name": USER, "apiGroup": "rbac.authorization.k8s.io"}],
    }))?;
    Api::<ClusterRoleBinding>::all(admin.clone())
        .patch("botfleet-operator", &pp, &Patch::Apply(&binding))
        .await?;
    let docs = [
        json!({"apiVersion": "botfleet.dev/v1alpha1", "kind": "Strategy", "metadata": {"name": "sma"},
               "spec": {"timeframe": "1h", "smaCrossover": {"fast": 10, "slow": 30}}}),
        json!({"apiVersion": "botfleet.dev/v1alpha1", "kind": "RiskPolicy", "metadata": {"name": "seed"}, "spec": {}}),
    ];
    Api::<botfleet_crds::Strategy>::namespaced(admin.clone(), &ns)
        .patch("sma", &pp, &Patch::Apply(&docs[0]))
        .await?;
    Api::<botfleet_crds::RiskPolicy>::namespaced(admin.clone(), &ns)
        .patch("seed", &pp, &Patch::Apply(&docs[1]))
        .await?;

    let dir = tempfile::tempdir()?;
    let key = dir.path().join("key");
    std::fs::write(&key, "bench-key-0123456789abcdef0123456789abcdef")?;
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let operator = Command::new(env!("CARGO_BIN_EXE_botfleet-operator"))
        .env("KUBECONFIG", cp.write_kubeconfig(TOKEN)?)
        .env("RUST_LOG", "error")
        .args([
            "--namespace",
            &ns,
            "--leader-elect",
            "false",
            "--signing-key-file",
        ])
        .arg(&key)
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::null())
        .spawn()
        .context("starting botfleet-operator")?;
    /// Kills the operator on every exit path, errors included.
    struct Guard(std::process::Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = operator.id();
    let _operator = Guard(operator);
    let scrape = || async move {
        reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
            .await?
            .text()
            .await
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while scrape().await.is_err() {
        if Instant::now() > deadline {
            bail!("the operator did not serve /metrics");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let idle_rss = rss_kib(pid, "VmRSS:");

    let bots: Api<TradingBot> = Api::namespaced(admin.clone(), &ns);
    let before = requests::scrape(&cp).await?;
    let start = Instant::now();
    let watching = tokio::spawn(progress(
        bots.clone(),
        Api::namespaced(admin.clone(), &ns),
        n,
        start,
        pid,
    ));
    futures::stream::iter(0..n)
        .map(|i| {
            let bots = bots.clone();
            async move {
                let bot: TradingBot = serde_json::from_value(json!({
                    "apiVersion": "botfleet.dev/v1alpha1", "kind": "TradingBot",
                    "metadata": {"name": format!("bot-{i:04}")},
                    "spec": {"strategyRef": {"name": "sma"}, "riskPolicyRef": {"name": "seed"},
                             "exchange": {"symbols": ["BTCUSDT"]}, "capital": 1000}}))?;
                bots.create(&PostParams::default(), &bot).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    let created = start.elapsed();
    let Progress {
        status: converged,
        children,
        peak_rss_kib: mut peak_rss,
    } = watching.await??;
    let at_converged = requests::scrape(&cp).await?;
    // One more poll round at rest (10 s poll interval) for steady-state numbers.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let at_rest = requests::scrape(&cp).await?;
    let text = scrape().await?;
    peak_rss = peak_rss.max(rss_kib(pid, "VmRSS:"));
    let hwm = rss_kib(pid, "VmHWM:");

    println!("| metric | value |");
    println!("|---|---|");
    println!("| bots | {n} |");
    println!(
        "| bots created (16 parallel clients) | {:.1} s |",
        created.as_secs_f64()
    );
    println!(
        "| all bots reconciled with status | {:.1} s |",
        converged.as_secs_f64()
    );
    println!(
        "| all bots' StatefulSets applied (the last child) | {:.1} s |",
        children.as_secs_f64()
    );
    println!(
        "| reconciles | {} |",
        metric(&text, "botfleet_operator_reconciles_total")
    );
    println!(
        "| reconcile p50 | {:.0} ms |",
        quantile(&text, 0.5).unwrap_or(f64::NAN) * 1000.0
    );
    println!(
        "| reconcile p99 | {:.0} ms |",
        quantile(&text, 0.99).unwrap_or(f64::NAN) * 1000.0
    );
    println!(
        "| operator RSS idle / peak sampled / high-water | {:.1} / {:.1} / {:.1} MB |",
        idle_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    let errors: f64 = text
        .lines()
        .filter(|l| l.starts_with("botfleet_operator_reconcile_errors_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    println!("| failed reconciles (all kinds, e.g. 409 conflicts) | {errors} |");
    requests::print(
        "until every bot has a status",
        &requests::delta(&before, &at_converged),
        n,
    );
    requests::print(
        "from the first create to 12 s after the last status (every child applied, one poll)",
        &requests::delta(&before, &at_rest),
        n,
    );
    Ok(())
}
