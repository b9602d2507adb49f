//! Who may reach the engine pods: the operator's settings its NetworkPolicies
//! are rendered from (`network_policy`), kept apart so the workload settings
//! (`render`) can carry them without depending on the renderer.

use std::collections::BTreeMap;

/// Who may reach the engines, from the operator's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EnginePeers {
    /// The operator's namespace.
    pub operator_namespace: String,
    /// Labels of the operator's pods.
    pub operator_pod_labels: BTreeMap<String, String>,
    /// Labels of the namespaces the metrics scraper runs in (empty: any).
    pub scraper_namespace_labels: BTreeMap<String, String>,
    /// Labels of the scraper's pods (empty: any pod of those namespaces).
    pub scraper_pod_labels: BTreeMap<String, String>,
}

/// Parses `k=v,k=v` (a flag's value) into labels; empty is no label.
pub fn parse_labels(text: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!(
                "`{pair}` is not a label: write key=value, separated by commas"
            )),
        })
        .collect()
}
