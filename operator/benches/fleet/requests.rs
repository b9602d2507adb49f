//! The apiserver's own request counters (`apiserver_request_total`), read
//! before and after a phase of the benchmark, and the share of them the
//! operator made.
//!
//! The 1.20 apiserver does not label requests by user, so the operator's
//! requests are picked by verb and resource: those it makes and neither the
//! benchmark (POST and LIST of TradingBots) nor kube-controller-manager
//! (POST/PUT/GET of pods, PVCs, endpoints, secrets, StatefulSet status,
//! core/v1 Events) makes. Server-side applies are counted under their own
//! verb, `APPLY`; `PATCH` is every other patch (JSON and merge patches).

use std::collections::BTreeMap;

use anyhow::Result;
use botfleet_tests::control_plane::ControlPlane;

/// `(verb, group, resource, subresource)`.
pub type Key = (String, String, String, String);

/// Request counts by key.
pub type Counts = BTreeMap<Key, f64>;

/// Reads the apiserver's `/metrics` as the admin.
pub async fn scrape(cp: &ControlPlane) -> Result<Counts> {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(cp.ca_cert())?)?;
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()?;
    let text = http
        .get(format!("{}/metrics", cp.server_url()))
        .bearer_auth(&cp.admin().token)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let mut counts = Counts::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        let key = (
            label("verb"),
            label("group"),
            label("resource"),
            label("subresource"),
        );
        *counts.entry(key).or_default() += value.parse::<f64>().unwrap_or(0.0);
    }
    Ok(counts)
}

/// `after - before`, without the keys that did not move.
pub fn delta(before: &Counts, after: &Counts) -> Counts {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// Whether the operator (and not the benchmark or kube-controller-manager)
/// made the requests of `key`.
pub fn by_operator((verb, group, resource, _): &Key) -> bool {
    matches!(
        (verb.as_str(), group.as_str(), resource.as_str()),
        ("GET" | "PATCH" | "APPLY", "botfleet.dev", "tradingbots")
            | (
                "PATCH" | "APPLY",
                "" | "apps" | "networking.k8s.io",
                "configmaps" | "serviceaccounts" | "services" | "statefulsets" | "networkpolicies",
            )
            | ("POST" | "PATCH", "events.k8s.io", "events")
    )
}

/// Prints the operator's requests of `delta` per bot, by verb and resource.
pub fn print(title: &str, delta: &Counts, bots: usize) {
    let total: f64 = delta
        .iter()
        .filter(|(k, _)| by_operator(k))
        .map(|(_, v)| v)
        .sum();
    println!();
    println!(
        "operator → apiserver, {title}: {total:.0} requests, {:.2} per bot",
        total / bots as f64
    );
    println!("| verb | resource | requests | per bot |");
    println!("|---|---|---|---|");
    for (key @ (verb, group, resource, sub), n) in delta {
        if by_operator(key) {
            let sub = if sub.is_empty() {
                String::new()
            } else {
                format!("/{sub}")
            };
            let group = if group.is_empty() {
                String::new()
            } else {
                format!(".{group}")
            };
            println!(
                "| {verb} | {resource}{group}{sub} | {n:.0} | {:.2} |",
                n / bots as f64
            );
        }
    }
    let others: f64 = delta
        .iter()
        .filter(|(k, _)| !by_operator(k))
        .map(|(_, v)| v)
        .sum();
    println!("(everyone else — benchmark, kube-controller-manager, watches: {others:.0} requests)");
}
