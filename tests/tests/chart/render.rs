//! What the chart renders: helm lint, the operator Deployment, RBAC, optional
//! monitoring objects, values validation and the committed `manifests/install.yaml`.

use serde_yaml::Value;

use crate::{chart_dir, documents, helm, kinds, one, repo, run, template};

/// The command that renders `manifests/install.yaml` (the test below keeps it in sync).
pub const RENDER_INSTALL: &str = "helm template botfleet charts/botfleet --namespace botfleet \
     --include-crds --set signingKey.create=false";

/// Every optional object switched on.
const ALL_ON: &[&str] = &[
    "--set",
    "metrics.serviceMonitor.enabled=true,metrics.podMonitor.enabled=true,prometheusRule.enabled=true,networkPolicy.enabled=true,webhook.enabled=true",
];

fn container(docs: &[Value]) -> &Value {
    &one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
}

fn args(docs: &[Value]) -> Vec<String> {
    container(docs)["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn helm_lint_passes_with_defaults_and_with_every_option_on() {
    for extra in [&[][..], ALL_ON] {
        let mut lint = helm();
        lint.args(["lint", "--strict"]).arg(chart_dir()).args(extra);
        let out = run(lint, None);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("0 chart(s) failed"), "{text}");
    }
}

#[test]
fn the_operator_runs_with_restricted_pod_security_probes_and_its_signing_key() {
    let docs = documents(&template("botfleet", &[]));
    let deploy = one(&docs, "Deployment");
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = container(&docs);
    let sc = &c["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["capabilities"]["drop"][0], "ALL");
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["ports"][0]["containerPort"], 9090);
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert!(c["resources"]["requests"]["cpu"].is_string());

    // POD_NAME / POD_NAMESPACE from the downward API (Lease identity and namespace).
    let env = c["env"].as_sequence().unwrap();
    let field = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))["valueFrom"]["fieldRef"]["fieldPath"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(field("POD_NAME"), "metadata.name");
    assert_eq!(field("POD_NAMESPACE"), "metadata.namespace");

    // The signing key material: the chart's Secret, mounted where
    // --signing-key-file points (no subPath, so a rotation reaches the file).
    let args = args(&docs);
    assert!(
        args.contains(&"--signing-key-file=/etc/botfleet/signing-key/key".into()),
        "{args:?}"
    );
    assert!(
        args.contains(&"--metrics-addr=0.0.0.0:9090".into()),
        "{args:?}"
    );
    let mount = &c["volumeMounts"][0];
    assert_eq!(mount["mountPath"], "/etc/botfleet/signing-key");
    assert_eq!(mount["readOnly"], true);
    let volume = &pod["volumes"][0];
    assert_eq!(volume["name"], mount["name"]);
    assert_eq!(volume["secret"]["secretName"], "botfleet-signing-key");
    let secret = one(&docs, "Secret");
    assert_eq!(secret["metadata"]["name"], "botfleet-signing-key");
    assert_eq!(
        secret["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    let key = secret["data"]["key"].as_str().unwrap();
    assert!(
        key.len() >= 64,
        "the key is ≥ 32 bytes (base64 of 64 characters)"
    );
    assert_eq!(pod["serviceAccountName"], "botfleet-operator");
}

#[test]
fn leader_election_is_on_with_more_than_one_replica_and_one_replica_is_recreated() {
    let one_replica = documents(&template("botfleet", &[]));
    assert!(args(&one_replica).contains(&"--leader-elect=false".into()));
    assert_eq!(
        one(&one_replica, "Deployment")["spec"]["strategy"]["type"],
        "Recreate"
    );

    let two = documents(&template("botfleet", &["--set", "operator.replicas=2"]));
    assert!(args(&two).contains(&"--leader-elect=true".into()));
    assert_eq!(one(&two, "Deployment")["spec"]["replicas"], 2);
    assert_eq!(
        one(&two, "Deployment")["spec"]["strategy"]["type"],
        "RollingUpdate"
    );

    let forced = documents(&template(
        "botfleet",
        &["--set", "operator.leaderElection.enabled=true"],
    ));
    assert!(args(&forced).contains(&"--leader-elect=true".into()));
}

#[test]
fn images_and_settings_are_wired_to_the_operator_flags() {
    let docs = documents(&template(
        "botfleet",
        &[
            "--set",
            "operator.image.repository=reg.example/op,operator.image.tag=1.2.3,engine.image.repository=reg.example/bot,engine.image.tag=4.5.6,operator.watchNamespaces={bots},engine.port=9000",
        ],
    ));
    assert_eq!(container(&docs)["image"], "reg.example/op:1.2.3");
    let flags = args(&docs);
    for expected in [
        "--engine-image=reg.example/bot:4.5.6",
        "--namespace=bots",
        "--engine-port=9000",
    ] {
        assert!(
            flags.contains(&expected.to_string()),
            "{expected} not in {flags:?}"
        );
    }
    // Tags default to the chart's appVersion, which is the crates' version.
    let defaults = documents(&template("botfleet", &[]));
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        container(&defaults)["image"],
        format!("ghcr.io/botfleet/botfleet-operator:{version}").as_str()
    );
    assert!(args(&defaults).contains(&format!(
        "--engine-image=ghcr.io/botfleet/botfleet-bot:{version}"
    )));
    assert!(!args(&defaults).iter().any(|a| a.starts_with("--namespace")));
}

#[test]
fn the_chart_role_is_the_operators_role_and_never_reads_secrets() {
    let docs = documents(&template("botfleet", &[]));
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == "botfleet-operator")
        .expect("the operator's ClusterRole");
    let text = std::fs::read_to_string(repo().join("operator/rbac/clusterrole.yaml")).unwrap();
    let reference: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(
        role["rules"], reference["rules"],
        "charts/botfleet/templates/clusterrole.yaml drifted from operator/rbac/clusterrole.yaml"
    );
    for rule in role["rules"].as_sequence().unwrap() {
        let resources = rule["resources"].as_sequence().unwrap();
        if resources.iter().any(|r| r == "secrets" || r == "*") {
            for verb in rule["verbs"].as_sequence().unwrap() {
                assert!(
                    ["create", "update", "patch"].contains(&verb.as_str().unwrap()),
                    "secrets: verb {verb:?}"
                );
            }
        }
    }
    let binding = one(&docs, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"], "botfleet-operator");
    assert_eq!(binding["subjects"][0]["namespace"], "botfleet");
}

#[test]
fn watched_namespaces_turn_the_cluster_role_into_roles_in_those_namespaces() {
    let docs = documents(&template(
        "botfleet",
        &["--set", "operator.watchNamespaces={desk-a,desk-b}"],
    ));
    assert!(
        !docs
            .iter()
            .any(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == "botfleet-operator"),
        "no cluster-wide role for the operator"
    );
    assert!(!kinds(&docs).contains(&"ClusterRoleBinding".to_string()));
    let text = std::fs::read_to_string(repo().join("operator/rbac/clusterrole.yaml")).unwrap();
    let reference: Value = serde_yaml::from_str(&text).unwrap();
    let role_in = |ns: &str, name: &str| {
        docs.iter()
            .find(|d| {
                d["kind"] == "Role"
                    && d["metadata"]["namespace"] == ns
                    && d["metadata"]["name"] == name
            })
            .unwrap_or_else(|| panic!("Role {name} in {ns}"))
            .clone()
    };
    let lease = role_in("botfleet", "botfleet-operator-lease");
    for ns in ["desk-a", "desk-b"] {
        // The Role in each watched namespace plus the Lease role at home are
        // exactly the reference rules.
        let mut rules = role_in(ns, "botfleet-operator")["rules"]
            .as_sequence()
            .unwrap()
            .clone();
        rules.extend(lease["rules"].as_sequence().unwrap().iter().cloned());
        assert_eq!(Value::Sequence(rules), reference["rules"], "{ns}");
        let binding = docs
            .iter()
            .find(|d| d["kind"] == "RoleBinding" && d["metadata"]["namespace"] == ns)
            .expect("a RoleBinding");
        assert_eq!(binding["roleRef"]["kind"], "Role");
        assert_eq!(binding["subjects"][0]["namespace"], "botfleet");
    }
    assert!(args(&docs).contains(&"--namespace=desk-a,desk-b".to_string()));
}

#[test]
fn monitoring_and_network_policy_are_optional_and_off_by_default() {
    let defaults = kinds(&documents(&template("botfleet", &[])));
    for kind in [
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
        "NetworkPolicy",
    ] {
        assert!(
            !defaults.contains(&kind.to_string()),
            "{kind} rendered by default"
        );
    }
    let docs = documents(&template(
        "botfleet",
        &[
            ALL_ON[0],
            ALL_ON[1],
            "--set",
            "prometheusRule.runbookBaseUrl=https://wiki.example/rb/",
        ],
    ));
    let sm = one(&docs, "ServiceMonitor");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(sm["spec"]["endpoints"][0]["honorLabels"], true);
    let pm = one(&docs, "PodMonitor");
    assert_eq!(
        pm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "botfleet-engine"
    );
    assert_eq!(pm["spec"]["podMetricsEndpoints"][0]["port"], "http");
    let np = one(&docs, "NetworkPolicy");
    assert_eq!(np["spec"]["ingress"][0]["ports"][0]["port"], "metrics");

    // The PrometheusRule carries files/alerts.yaml, runbooks at the configured base.
    let rule = one(&docs, "PrometheusRule");
    let file: Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart_dir().join("files/alerts.yaml")).unwrap(),
    )
    .unwrap();
    let groups = rule["spec"]["groups"].as_sequence().unwrap();
    assert_eq!(groups.len(), file["groups"].as_sequence().unwrap().len());
    let rules: Vec<_> = groups
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap().clone())
        .collect();
    let file_rules: Vec<_> = file["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap().clone())
        .collect();
    assert_eq!(rules.len(), file_rules.len());
    for (r, f) in rules.iter().zip(&file_rules) {
        assert_eq!(r["expr"], f["expr"]);
        assert_eq!(r["for"], f["for"]);
        let alert = r["alert"].as_str().unwrap();
        assert_eq!(
            r["annotations"]["runbook_url"],
            format!("https://wiki.example/rb/{alert}.md").as_str()
        );
    }
}

#[test]
fn the_dashboard_configmap_carries_the_dashboard_under_the_configured_sidecar_label() {
    let docs = documents(&template(
        "botfleet",
        &[
            "--set",
            "grafanaDashboard.sidecarLabel=my_dashboards,grafanaDashboard.namespace=monitoring",
        ],
    ));
    let cm = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "botfleet-dashboard")
        .expect("dashboard ConfigMap");
    assert_eq!(cm["metadata"]["labels"]["my_dashboards"], "1");
    assert_eq!(cm["metadata"]["namespace"], "monitoring");
    let json = cm["data"]["botfleet.json"].as_str().unwrap();
    let file = std::fs::read_to_string(chart_dir().join("files/dashboard.json")).unwrap();
    assert_eq!(json.trim_end(), file.trim_end());
}

#[test]
fn bad_values_are_refused_naming_the_field() {
    for (set, field) in [
        ("operator.replicas=0", "/operator/replicas"),
        ("operator.pollInterval=soon", "/operator/pollInterval"),
        ("operator.replica=2", "replica"),
        ("service.type=Ingress", "/service/type"),
    ] {
        let mut command = helm();
        command
            .args(["template", "botfleet"])
            .arg(chart_dir())
            .args(["--set", set]);
        let out = command.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{set} was accepted");
        assert!(
            err.contains(field),
            "{set}: error does not name {field}: {err}"
        );
    }
}

/// The header of manifests/install.yaml.
fn install_header() -> String {
    format!(
        "# Botfleet: CRDs, operator, RBAC and dashboard, rendered from charts/botfleet.\n\
         # Generated; do not edit. Regenerate with (from the repository root):\n\
         #   {RENDER_INSTALL} > manifests/install.yaml   (then put back this header)\n\
         # or: BOTFLEET_UPDATE_INSTALL_YAML=1 cargo test -p botfleet-tests --test chart -- install_yaml\n\
         # Before applying, create the operator's signing key material (see docs/install.md):\n\
         #   kubectl create namespace botfleet\n\
         #   kubectl -n botfleet create secret generic botfleet-signing-key --from-literal=key=\"$(head -c 48 /dev/urandom | base64)\"\n"
    )
}

#[test]
fn install_yaml_is_the_rendered_chart() {
    let rendered = format!(
        "{}{}",
        install_header(),
        template(
            "botfleet",
            &["--include-crds", "--set", "signingKey.create=false"]
        )
    );
    let path = repo().join("manifests/install.yaml");
    if std::env::var_os("BOTFLEET_UPDATE_INSTALL_YAML").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "manifests/install.yaml is not the rendered chart. Regenerate it with:\n  \
         BOTFLEET_UPDATE_INSTALL_YAML=1 cargo test -p botfleet-tests --test chart -- install_yaml\n\
         (it runs `{RENDER_INSTALL}` and adds the header)"
    );
    let docs = documents(&committed);
    let kinds = kinds(&docs);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "CustomResourceDefinition")
            .count(),
        4,
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&"Secret".to_string()),
        "no random key in a committed file"
    );
    for kind in [
        "Deployment",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Service",
        "ConfigMap",
    ] {
        assert!(
            kinds.contains(&kind.to_string()),
            "{kind} missing: {kinds:?}"
        );
    }
}
