//! The CRDs are installed, Established and discoverable, and every shipped example
//! is accepted as it is.

use std::collections::BTreeSet;

use botfleet_tests::control_plane::{default_crd_dir, read_crds};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use serde_json::Value;

use crate::{KINDS, cp, create, examples, renamed};

#[tokio::test]
async fn the_chart_crds_are_established_and_discoverable() {
    let cp = cp().await;
    let client = cp.client().await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let chart = read_crds(&default_crd_dir()).unwrap();
    assert_eq!(
        chart.len(),
        KINDS.len() + 1,
        "one CRD per kind, and PhaseApproval"
    );
    for file_crd in &chart {
        let name = file_crd.metadata.name.clone().unwrap();
        let installed = crds.get(&name).await.unwrap();
        let conditions = installed
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default();
        for wanted in ["Established", "NamesAccepted"] {
            assert!(
                conditions
                    .iter()
                    .any(|c| c.type_ == wanted && c.status == "True"),
                "{name}: {wanted} is not True: {conditions:?}"
            );
        }
        // A non-structural schema would be accepted but flagged (and not pruned).
        assert!(
            !conditions.iter().any(|c| c.type_ == "NonStructuralSchema"),
            "{name}: {conditions:?}"
        );
    }

    let resources = client
        .list_api_group_resources("botfleet.dev/v1alpha1")
        .await
        .unwrap();
    for (kind, plural) in KINDS {
        let main = resources
            .resources
            .iter()
            .find(|r| r.name == plural)
            .unwrap_or_else(|| panic!("{plural} not served"));
        assert_eq!(main.kind, kind);
        assert!(main.namespaced);
        assert_eq!(
            main.categories.as_deref(),
            Some(&["botfleet".to_string()][..]),
            "{plural}"
        );
        let status = format!("{plural}/status");
        assert!(
            resources.resources.iter().any(|r| r.name == status),
            "{status} subresource not served"
        );
    }
    let short = |plural: &str| {
        resources
            .resources
            .iter()
            .find(|r| r.name == plural)
            .and_then(|r| r.short_names.clone())
            .unwrap_or_default()
    };
    assert_eq!(short("tradingbots"), ["tbot"]);
    assert_eq!(short("riskpolicies"), ["risk"]);
    assert_eq!(short("strategies"), ["strat"]);
    // PhaseApproval: namespaced, no status (nothing but its spec is trusted).
    let approvals = resources
        .resources
        .iter()
        .find(|r| r.name == "phaseapprovals")
        .expect("phaseapprovals not served");
    assert_eq!(approvals.kind, "PhaseApproval");
    assert!(approvals.namespaced);
    assert_eq!(short("phaseapprovals"), ["papp"]);
}

#[tokio::test]
async fn every_shipped_example_is_accepted() {
    let cp = cp().await;
    let ns = cp.namespace("examples").await.unwrap();
    let docs = examples();
    let kinds: BTreeSet<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["RiskPolicy", "Strategy", "TradingBot"])
    );
    for doc in &docs {
        let name = doc["metadata"]["name"].as_str().unwrap();
        let created = create(&ns, doc, false)
            .await
            .unwrap_or_else(|e| panic!("{} {name} rejected: {}", doc["kind"], e.message));
        // What the user wrote is kept (the apiserver only adds defaults, nothing is pruned).
        if let Some(difference) = first_difference(&doc["spec"], &created.data["spec"], "spec") {
            panic!("{} {name}: {difference}", doc["kind"]);
        }
    }
}

/// Where `stored` lost or changed a value of `written` (extra fields in `stored`
/// are defaults and fine).
fn first_difference(written: &Value, stored: &Value, path: &str) -> Option<String> {
    match (written, stored) {
        (Value::Object(w), Value::Object(s)) => w.iter().find_map(|(key, value)| {
            let path = format!("{path}.{key}");
            match s.get(key) {
                Some(stored) => first_difference(value, stored, &path),
                None => Some(format!("{path} was dropped")),
            }
        }),
        (Value::Number(w), Value::Number(s)) if w.as_f64() == s.as_f64() => None,
        (w, s) if w == s => None,
        (w, s) => Some(format!("{path}: wrote {w}, stored {s}")),
    }
}

#[tokio::test]
async fn defaults_from_the_schema_are_applied_by_the_apiserver() {
    let cp = cp().await;
    let ns = cp.namespace("defaults").await.unwrap();
    let mut bot = renamed(crate::example("TradingBot", |_| true), "minimal");
    let spec = bot["spec"].as_object_mut().unwrap();
    spec.retain(|k, _| {
        ["strategyRef", "riskPolicyRef", "exchange", "capital"].contains(&k.as_str())
    });
    spec["exchange"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k == "symbols");
    let created = create(&ns, &bot, false).await.unwrap();
    let spec = &created.data["spec"];
    assert_eq!(spec["phase"], "Paper", "{spec}");
    assert_eq!(spec["promotion"], "Manual");
    assert_eq!(spec["halted"], false);
    assert_eq!(spec["exchange"]["venue"], "binance");
    assert_eq!(spec["persistence"]["sqlite"]["storageSize"], "1Gi");
}
