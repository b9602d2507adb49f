//! The engine pod meets the "restricted" Pod Security Standard: non-root
//! (65532, the image's user), no privilege escalation, every capability
//! dropped, seccomp `RuntimeDefault`, a read-only root, and `fsGroup` so the
//! SQLite volume is writable. [`restricted_violations`] checks a pod spec
//! against every rule of the standard (baseline included); the tests run it
//! on what the operator renders.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, PodSecurityContext, PodSpec, ResourceRequirements, SeccompProfile,
    SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The non-root user and group of the images (distroless "nonroot").
pub const ENGINE_UID: i64 = 65532;

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        localhost_profile: None,
    }
}

/// The pod-level security context of the engine.
pub fn engine_pod() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(ENGINE_UID),
        run_as_group: Some(ENGINE_UID),
        fs_group: Some(ENGINE_UID),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

/// The engine container's security context.
pub fn engine_container() -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(ENGINE_UID),
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

/// Requests and limits when the bot names none: enough for one engine
/// (its RSS is tens of MiB), bounded so one bot cannot starve a node.
pub fn default_resources() -> ResourceRequirements {
    let q = |s: &str| Quantity(s.into());
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".into(), q("50m")),
            ("memory".into(), q("64Mi")),
        ])),
        limits: Some(BTreeMap::from([("memory".into(), q("256Mi"))])),
        ..Default::default()
    }
}

/// Every rule of the "restricted" Pod Security Standard (which includes
/// "baseline") that `pod` breaks, one line each; empty when it complies.
pub fn restricted_violations(pod: &PodSpec) -> Vec<String> {
    let mut v = Vec::new();
    let mut fail = |rule: &str| v.push(rule.to_string());
    // Baseline.
    if pod.host_network == Some(true) || pod.host_pid == Some(true) || pod.host_ipc == Some(true) {
        fail("host namespaces: hostNetwork, hostPID and hostIPC must be unset or false");
    }
    let psc = pod.security_context.clone().unwrap_or_default();
    if psc.sysctls.as_ref().is_some_and(|s| !s.is_empty()) {
        fail("sysctls: only the safe set is allowed; this pod sets none by design");
    }
    let allowed_volumes = |vol: &k8s_openapi::api::core::v1::Volume| {
        vol.config_map.is_some()
            || vol.csi.is_some()
            || vol.downward_api.is_some()
            || vol.empty_dir.is_some()
            || vol.ephemeral.is_some()
            || vol.persistent_volume_claim.is_some()
            || vol.projected.is_some()
            || vol.secret.is_some()
    };
    for vol in pod.volumes.iter().flatten() {
        if vol.host_path.is_some() {
            fail(&format!(
                "hostPath volumes: volume `{}` is a hostPath",
                vol.name
            ));
        } else if !allowed_volumes(vol) {
            fail(&format!(
                "volume types: volume `{}` is not an allowed type",
                vol.name
            ));
        }
    }
    let pod_seccomp_ok = psc
        .seccomp_profile
        .as_ref()
        .is_some_and(|p| p.type_ == "RuntimeDefault" || p.type_ == "Localhost");
    let pod_non_root = psc.run_as_non_root == Some(true);
    if psc.run_as_user == Some(0) {
        fail("runAsUser: the pod must not run as user 0");
    }
    let containers = pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten());
    for c in containers {
        let name = &c.name;
        let sc = c.security_context.clone().unwrap_or_default();
        if sc.privileged == Some(true) {
            fail(&format!("privileged: container `{name}` is privileged"));
        }
        if c.ports
            .iter()
            .flatten()
            .any(|p| p.host_port.is_some_and(|h| h != 0))
        {
            fail(&format!("host ports: container `{name}` uses a hostPort"));
        }
        if sc.proc_mount.as_deref().is_some_and(|m| m != "Default") {
            fail(&format!(
                "/proc mount: container `{name}` must use the Default procMount"
            ));
        }
        if sc.allow_privilege_escalation != Some(false) {
            fail(&format!(
                "privilege escalation: container `{name}` must set allowPrivilegeEscalation: false"
            ));
        }
        let non_root = sc.run_as_non_root.or(pod_non_root.then_some(true)) == Some(true);
        if !non_root {
            fail(&format!(
                "running as non-root: container `{name}` must set runAsNonRoot: true"
            ));
        }
        if sc.run_as_user == Some(0) {
            fail(&format!(
                "runAsUser: container `{name}` must not run as user 0"
            ));
        }
        let seccomp = sc
            .seccomp_profile
            .as_ref()
            .map(|p| p.type_ == "RuntimeDefault" || p.type_ == "Localhost");
        if !seccomp.unwrap_or(pod_seccomp_ok) {
            fail(&format!(
                "seccomp: container `{name}` needs seccompProfile RuntimeDefault or Localhost"
            ));
        }
        let caps = sc.capabilities.unwrap_or_default();
        if !caps.drop.iter().flatten().any(|d| d == "ALL") {
            fail(&format!("capabilities: container `{name}` must drop ALL"));
        }
        if caps.add.iter().flatten().any(|a| a != "NET_BIND_SERVICE") {
            fail(&format!(
                "capabilities: container `{name}` may add only NET_BIND_SERVICE"
            ));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, HostPathVolumeSource, Volume};

    fn pod(sc: SecurityContext) -> PodSpec {
        PodSpec {
            security_context: Some(engine_pod()),
            containers: vec![Container {
                name: "engine".into(),
                security_context: Some(sc),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_engine_contexts_comply_and_each_broken_rule_is_named() {
        assert_eq!(
            restricted_violations(&pod(engine_container())),
            Vec::<String>::new()
        );

        let mut root = engine_container();
        root.run_as_user = Some(0);
        root.allow_privilege_escalation = None;
        root.capabilities = None;
        let v = restricted_violations(&pod(root));
        assert_eq!(v.len(), 3, "{v:?}");

        let mut host = pod(engine_container());
        host.host_network = Some(true);
        host.volumes = Some(vec![Volume {
            name: "root".into(),
            host_path: Some(HostPathVolumeSource {
                path: "/".into(),
                type_: None,
            }),
            ..Default::default()
        }]);
        host.security_context = Some(PodSecurityContext::default());
        let v = restricted_violations(&host);
        assert!(v.iter().any(|l| l.starts_with("host namespaces")), "{v:?}");
        assert!(v.iter().any(|l| l.starts_with("hostPath")), "{v:?}");
        // The container's own seccomp still holds without the pod's.
        assert!(!v.iter().any(|l| l.starts_with("seccomp")), "{v:?}");
    }
}
