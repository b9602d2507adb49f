//! The NetworkPolicy of each engine pod, rendered by the operator next to the
//! StatefulSet (bots live in any namespace, so a chart template could not
//! cover them). Ingress: only the operator's pods (status polls and signed
//! control calls) and the metrics scraper, on the engine port. Egress: only
//! DNS, HTTPS to the venue (443, and 9443 of Binance's market streams) and,
//! for a PostgreSQL store, 5432. Everything else is denied once a network
//! plugin enforces NetworkPolicies.

use std::collections::BTreeMap;

use botfleet_crds::{PersistenceBackend, TradingBot};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

pub use crate::engine_peers::{EnginePeers, parse_labels};
use crate::error::Result;

/// The label every namespace carries with its own name (Kubernetes ≥ 1.21).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Ports of the venue: HTTPS, and Binance's WebSocket market streams.
pub const VENUE_PORTS: [i32; 2] = [443, 9443];
/// PostgreSQL's port, opened for a bot whose store is PostgreSQL.
pub const POSTGRES_PORT: i32 = 5432;

fn selector(labels: &BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels.clone()),
        ..Default::default()
    }
}

fn port(protocol: &str, port: IntOrString) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(port),
        ..Default::default()
    }
}

/// The name of the bot's NetworkPolicy.
pub fn network_policy_name(bot: &str) -> String {
    format!("{bot}-engine")
}

/// The bot's NetworkPolicy, named after it and selecting its engine pod.
pub fn engine_network_policy(
    bot: &TradingBot,
    engine_port: u16,
    peers: &EnginePeers,
) -> Result<NetworkPolicy> {
    let engine = || vec![port("TCP", IntOrString::Int(i32::from(engine_port)))];
    let operator = NetworkPolicyPeer {
        namespace_selector: Some(selector(&BTreeMap::from([(
            NAMESPACE_NAME_LABEL.to_string(),
            peers.operator_namespace.clone(),
        )]))),
        pod_selector: Some(selector(&peers.operator_pod_labels)),
        ..Default::default()
    };
    let scraper = NetworkPolicyPeer {
        namespace_selector: Some(selector(&peers.scraper_namespace_labels)),
        pod_selector: Some(selector(&peers.scraper_pod_labels)),
        ..Default::default()
    };
    let dns = NetworkPolicyEgressRule {
        ports: Some(vec![
            port("UDP", IntOrString::Int(53)),
            port("TCP", IntOrString::Int(53)),
        ]),
        to: None,
    };
    let mut out_ports: Vec<_> = VENUE_PORTS
        .iter()
        .map(|p| port("TCP", IntOrString::Int(*p)))
        .collect();
    if let Some(PersistenceBackend::Postgres(_)) = bot.spec.persistence.backend() {
        out_ports.push(port("TCP", IntOrString::Int(POSTGRES_PORT)));
    }
    Ok(NetworkPolicy {
        metadata: crate::render::child_meta(bot, network_policy_name(&bot.name_any()))?,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(&crate::render::selector(bot))),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![
                NetworkPolicyIngressRule {
                    from: Some(vec![operator]),
                    ports: Some(engine()),
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![scraper]),
                    ports: Some(engine()),
                },
            ]),
            egress: Some(vec![
                dns,
                NetworkPolicyEgressRule {
                    ports: Some(out_ports),
                    to: None,
                },
            ]),
        }),
    })
}

#[cfg(test)]
#[path = "network_policy_tests.rs"]
mod tests;
