use super::*;
use botfleet_crds::Manifests;
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;

fn bot(persistence: Option<serde_json::Value>) -> TradingBot {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/examples/");
    let text = std::fs::read_to_string(format!("{dir}trading-bot.yaml")).unwrap();
    let mut bot = Manifests::from_yaml(&text).unwrap().trading_bots.remove(0);
    bot.metadata.namespace = Some("team-a".into());
    bot.metadata.uid = Some("uid-1".into());
    if let Some(p) = persistence {
        bot.spec.persistence = serde_json::from_value(p).unwrap();
    }
    bot
}

fn peers() -> EnginePeers {
    EnginePeers {
        operator_namespace: "botfleet".into(),
        operator_pod_labels: parse_labels("app.kubernetes.io/name=botfleet-operator").unwrap(),
        scraper_namespace_labels: parse_labels("kubernetes.io/metadata.name=monitoring").unwrap(),
        scraper_pod_labels: parse_labels("app.kubernetes.io/name=prometheus").unwrap(),
    }
}

fn labels(s: &Option<LabelSelector>) -> BTreeMap<String, String> {
    s.as_ref().unwrap().match_labels.clone().unwrap_or_default()
}

fn ports(list: &Option<Vec<NetworkPolicyPort>>) -> Vec<(String, i32)> {
    list.iter()
        .flatten()
        .map(|p| {
            let n = match p.port.as_ref().unwrap() {
                IntOrString::Int(n) => *n,
                IntOrString::String(s) => panic!("named port {s}"),
            };
            (p.protocol.clone().unwrap(), n)
        })
        .collect()
}

fn only_peer(from: &Option<Vec<NetworkPolicyPeer>>) -> &NetworkPolicyPeer {
    let from = from
        .as_ref()
        .expect("a rule without `from` admits everyone");
    assert_eq!(from.len(), 1);
    &from[0]
}

#[test]
fn ingress_only_from_the_operator_and_the_scraper_on_the_engine_port() {
    let bot = bot(None);
    let np = engine_network_policy(&bot, 8080, &peers()).unwrap();
    assert_eq!(np.metadata.name.as_deref(), Some("btc-sma-engine"));
    assert_eq!(np.metadata.namespace.as_deref(), Some("team-a"));
    assert_eq!(
        np.metadata.owner_references.as_ref().unwrap()[0].uid,
        "uid-1",
        "garbage-collected with the bot"
    );
    let spec = np.spec.unwrap();
    // It selects exactly the engine pod's selector labels.
    assert_eq!(labels(&spec.pod_selector), crate::render::selector(&bot));
    assert_eq!(
        spec.policy_types.unwrap(),
        ["Ingress", "Egress"],
        "both directions are restricted"
    );
    let ingress = spec.ingress.unwrap();
    assert_eq!(ingress.len(), 2);
    let operator = only_peer(&ingress[0].from);
    assert_eq!(
        labels(&operator.namespace_selector),
        BTreeMap::from([(NAMESPACE_NAME_LABEL.into(), "botfleet".into())])
    );
    assert_eq!(
        labels(&operator.pod_selector)["app.kubernetes.io/name"],
        "botfleet-operator"
    );
    let scraper = only_peer(&ingress[1].from);
    assert_eq!(
        labels(&scraper.namespace_selector)[NAMESPACE_NAME_LABEL],
        "monitoring"
    );
    assert_eq!(
        labels(&scraper.pod_selector)["app.kubernetes.io/name"],
        "prometheus"
    );
    for rule in &ingress {
        assert_eq!(ports(&rule.ports), [("TCP".to_string(), 8080)]);
        assert!(only_peer(&rule.from).ip_block.is_none());
    }
}

#[test]
fn egress_only_dns_and_https_to_the_venue_plus_postgres_when_used() {
    let spec = engine_network_policy(&bot(None), 8080, &peers())
        .unwrap()
        .spec
        .unwrap();
    let egress = spec.egress.unwrap();
    let all: Vec<(String, i32)> = egress.iter().flat_map(|r| ports(&r.ports)).collect();
    assert_eq!(
        all,
        [
            ("UDP".to_string(), 53),
            ("TCP".to_string(), 53),
            ("TCP".to_string(), 443),
            ("TCP".to_string(), 9443)
        ]
    );
    for rule in &egress {
        assert!(
            rule.ports.is_some(),
            "a rule without ports opens every port"
        );
    }

    let pg = bot(Some(serde_json::json!(
        {"postgres": {"urlSecretRef": {"name": "pg", "key": "url"}}}
    )));
    let egress = engine_network_policy(&pg, 8080, &peers())
        .unwrap()
        .spec
        .unwrap()
        .egress
        .unwrap();
    let all: Vec<(String, i32)> = egress.iter().flat_map(|r| ports(&r.ports)).collect();
    assert!(all.contains(&("TCP".to_string(), POSTGRES_PORT)), "{all:?}");
}

#[test]
fn label_flags_parse_or_say_how_to_write_them() {
    assert_eq!(
        parse_labels(" a=b , c=d ").unwrap(),
        BTreeMap::from([("a".into(), "b".into()), ("c".into(), "d".into())])
    );
    assert!(parse_labels("").unwrap().is_empty());
    let err = parse_labels("novalue").unwrap_err();
    assert!(err.contains("key=value"), "{err}");
}
