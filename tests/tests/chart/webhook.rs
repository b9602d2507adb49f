//! The admission webhook in the chart: off by default; when enabled, the
//! operator serves it with the chart-generated certificate and the API
//! server trusts that certificate's CA.

use serde_yaml::Value;

use crate::{documents, kinds, one, template};

const ON: &[&str] = &["--set", "webhook.enabled=true"];

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

fn decode(b64: &str) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("base64");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b64.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "not base64: {b64}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_webhook_is_off_by_default() {
    let docs = documents(&template("botfleet", &[]));
    let kinds = kinds(&docs);
    assert!(
        !kinds.iter().any(|k| k.ends_with("WebhookConfiguration")),
        "{kinds:?}"
    );
    let args = one(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| text(a).to_string())
        .collect::<Vec<_>>();
    assert!(!args.iter().any(|a| a.starts_with("--webhook")), "{args:?}");
}

#[test]
fn enabled_the_operator_serves_the_webhook_with_a_certificate_the_api_server_trusts() {
    let docs = documents(&template("botfleet", ON));
    let secret = docs
        .iter()
        .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == "botfleet-webhook-tls")
        .expect("the webhook's certificate Secret");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let ca = text(&secret["data"]["ca.crt"]);
    assert!(decode(ca).starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(decode(text(&secret["data"]["tls.crt"])).starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(decode(text(&secret["data"]["tls.key"])).contains("PRIVATE KEY-----"));

    // The operator listens with that certificate, on the port the Service targets.
    let pod = &one(&docs, "Deployment")["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let args: Vec<&str> = c["args"].as_sequence().unwrap().iter().map(text).collect();
    assert!(args.contains(&"--webhook-addr=0.0.0.0:9443"), "{args:?}");
    assert!(args.contains(&"--webhook-cert-file=/etc/botfleet/webhook/tls.crt"));
    assert!(args.contains(&"--webhook-key-file=/etc/botfleet/webhook/tls.key"));
    let ports = c["ports"].as_sequence().unwrap();
    assert!(
        ports
            .iter()
            .any(|p| p["name"] == "webhook" && p["containerPort"] == 9443)
    );
    let mount = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/etc/botfleet/webhook")
        .expect("the certificate mounted");
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert_eq!(volume["secret"]["secretName"], "botfleet-webhook-tls");
    let service = docs
        .iter()
        .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == "botfleet-webhook")
        .expect("the webhook Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "webhook");
    assert_eq!(service["spec"]["ports"][0]["port"], 443);

    // Both configurations call that Service and trust that CA; approvals
    // fail closed, the other kinds open.
    let validating = one(&docs, "ValidatingWebhookConfiguration")["webhooks"]
        .as_sequence()
        .unwrap();
    let mutating = one(&docs, "MutatingWebhookConfiguration")["webhooks"]
        .as_sequence()
        .unwrap();
    for hook in validating.iter().chain(mutating) {
        let client = &hook["clientConfig"];
        assert_eq!(client["caBundle"], ca, "{hook:?}");
        assert_eq!(client["service"]["name"], "botfleet-webhook");
        assert_eq!(client["service"]["namespace"], "botfleet");
        assert_eq!(client["service"]["port"], 443);
        assert_eq!(hook["admissionReviewVersions"][0], "v1");
        assert_eq!(hook["sideEffects"], "None");
        let resources = hook["rules"][0]["resources"].as_sequence().unwrap();
        let approvals = resources.iter().any(|r| r == "phaseapprovals");
        let expected = if approvals { "Fail" } else { "Ignore" };
        assert_eq!(hook["failurePolicy"], expected, "{hook:?}");
    }
    assert!(
        validating
            .iter()
            .all(|h| h["clientConfig"]["service"]["path"] == "/validate")
    );
    let covered: Vec<&str> = validating
        .iter()
        .flat_map(|h| {
            h["rules"][0]["resources"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(text)
        })
        .collect();
    for kind in [
        "strategies",
        "riskpolicies",
        "tradingbots",
        "phaseapprovals",
    ] {
        assert!(covered.contains(&kind), "{kind} validated: {covered:?}");
    }
    assert_eq!(mutating.len(), 1);
    assert_eq!(mutating[0]["clientConfig"]["service"]["path"], "/mutate");
    assert_eq!(mutating[0]["rules"][0]["resources"][0], "phaseapprovals");
    assert_eq!(mutating[0]["rules"][0]["operations"][0], "CREATE");
}

#[test]
fn with_a_network_policy_the_webhook_port_stays_reachable() {
    let docs = documents(&template(
        "botfleet",
        &["--set", "webhook.enabled=true,networkPolicy.enabled=true"],
    ));
    let ingress = one(&docs, "NetworkPolicy")["spec"]["ingress"]
        .as_sequence()
        .unwrap();
    let open = ingress
        .iter()
        .find(|rule| rule["ports"][0]["port"] == "webhook")
        .expect("an ingress rule for the webhook port");
    assert!(
        open["from"].is_null(),
        "the API server may call from anywhere: {open:?}"
    );
}
