//! Checks pods against the "restricted" Pod Security Standard with the same rules
//! the operator's render tests use (`botfleet_operator::pod_security`).
//!
//! `kubectl get pods -o json | pss-check` prints each pod's violations and exits 1
//! when any pod has one (2 on unreadable input). The end-to-end run checks every
//! pod of the release, the bots and the simulator with it.

use std::io::Read;
use std::process::ExitCode;

use k8s_openapi::api::core::v1::Pod;

/// What `kubectl get pods -o json` prints: a `List` (not a typed `PodList`).
#[derive(serde::Deserialize)]
struct Pods {
    items: Vec<Pod>,
}

fn main() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("pss-check: reading stdin: {e}");
        return ExitCode::from(2);
    }
    let pods: Pods = match serde_json::from_str(&input) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pss-check: stdin is not a pod list (kubectl get pods -o json): {e}");
            return ExitCode::from(2);
        }
    };
    let mut bad = 0;
    for pod in &pods.items {
        let name = format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or(""),
            pod.metadata.name.as_deref().unwrap_or("")
        );
        let violations = pod
            .spec
            .as_ref()
            .map(botfleet_operator::pod_security::restricted_violations)
            .unwrap_or_else(|| vec!["no spec".into()]);
        if violations.is_empty() {
            println!("ok   {name}");
        } else {
            bad += 1;
            for v in violations {
                println!("FAIL {name}: {v}");
            }
        }
    }
    println!(
        "{} pods, {bad} violating the restricted standard",
        pods.items.len()
    );
    if bad == 0 && !pods.items.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
