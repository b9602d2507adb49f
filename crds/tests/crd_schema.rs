//! The generated CRDs: names, subresources, printer columns, and a schema a
//! Kubernetes 1.20 apiserver accepts (structural, no CEL) with the bounds
//! and defaults the design promises.

use botfleet_crds::crds;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

fn crd(kind: &str) -> CustomResourceDefinition {
    crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap()
}

fn schema(kind: &str) -> Value {
    let crd = crd(kind);
    serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap()
}

/// The schema node at a dotted property path (`spec.limits.paper`).
fn node<'a>(schema: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(schema, |n, p| {
        if p == "[]" {
            &n["items"]
        } else {
            n["properties"]
                .get(p)
                .unwrap_or_else(|| panic!("no property {p} in {path}"))
        }
    })
}

#[test]
fn names_scope_and_subresources() {
    for (kind, plural, short) in [
        ("Strategy", "strategies", "strat"),
        ("RiskPolicy", "riskpolicies", "risk"),
        ("TradingBot", "tradingbots", "tbot"),
    ] {
        let c = crd(kind);
        assert_eq!(c.spec.group, "botfleet.dev");
        assert_eq!(c.spec.scope, "Namespaced");
        assert_eq!(c.spec.names.plural, plural);
        assert_eq!(
            c.spec.names.short_names.as_deref(),
            Some(&[short.to_string()][..])
        );
        assert_eq!(
            c.spec.names.categories.as_deref(),
            Some(&["botfleet".to_string()][..])
        );
        let v = &c.spec.versions[0];
        assert_eq!(
            (v.name.as_str(), v.served, v.storage),
            ("v1alpha1", true, true)
        );
        assert!(
            v.subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "{kind} has a status subresource"
        );
    }
}

#[test]
fn helm_keeps_the_crds_on_uninstall() {
    for kind in ["Strategy", "RiskPolicy", "TradingBot"] {
        let annotations = crd(kind).metadata.annotations.unwrap_or_default();
        assert_eq!(
            annotations
                .get("helm.sh/resource-policy")
                .map(String::as_str),
            Some("keep"),
            "{kind}: uninstalling the chart must not delete the bots"
        );
    }
}

#[test]
fn trading_bot_printer_columns() {
    let c = crd("TradingBot");
    let cols: Vec<(String, String)> = c.spec.versions[0]
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .filter(|c| c.priority.unwrap_or(0) == 0)
        .map(|c| (c.name.clone(), c.json_path.clone()))
        .collect();
    let expected = [
        ("Phase", ".status.phase"),
        ("Target", ".spec.phase"),
        ("State", ".status.state"),
        ("Equity", ".status.metrics.equity"),
        ("Drawdown", ".status.metrics.drawdownPct"),
        ("Trades", ".status.metrics.trades"),
        ("Age", ".metadata.creationTimestamp"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(cols, expected);
    for kind in ["Strategy", "RiskPolicy"] {
        assert!(
            crd(kind).spec.versions[0]
                .additional_printer_columns
                .as_ref()
                .is_some_and(|c| c.len() >= 2)
        );
    }
}

/// Checks the rules of a structural schema as Kubernetes 1.20 enforces
/// them, plus "every field documented", and that each default validates
/// against its node (the apiserver refuses a CRD whose defaults do not).
fn check_structural(node: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(map) = node.as_object() else {
        problems.push(format!("{path}: schema is not an object"));
        return;
    };
    for forbidden in [
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "$ref",
        "x-kubernetes-validations",
        "definitions",
        "$schema",
        "const",
    ] {
        if map.contains_key(forbidden) {
            problems.push(format!("{path}: `{forbidden}` is not allowed here"));
        }
    }
    let open = map.contains_key("x-kubernetes-int-or-string")
        || map.contains_key("x-kubernetes-preserve-unknown-fields");
    if !open && !map.contains_key("type") {
        problems.push(format!("{path}: no `type`"));
    }
    if map.contains_key("properties") && map.contains_key("additionalProperties") {
        problems.push(format!("{path}: both properties and additionalProperties"));
    }
    if map.get("type") == Some(&json!("array")) && !map.contains_key("items") {
        problems.push(format!("{path}: array without items"));
    }
    if let Some(default) = map.get("default") {
        check_value(default, node, &format!("{path} (default)"), problems);
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let p = format!("{path}.{name}");
            if prop
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                problems.push(format!("{p}: no description (kubectl explain text)"));
            }
            check_structural(prop, &p, problems);
        }
    }
    if let Some(items) = map.get("items") {
        check_structural(items, &format!("{path}[]"), problems);
    }
    if let Some(extra) = map.get("additionalProperties").filter(|v| v.is_object()) {
        check_structural(extra, &format!("{path}{{}}"), problems);
    }
}

fn check_value(value: &Value, schema: &Value, path: &str, problems: &mut Vec<String>) {
    let ty = schema.get("type").and_then(Value::as_str);
    let ok_type = match (ty, value) {
        (None, _) => true,
        (Some("object"), Value::Object(_))
        | (Some("array"), Value::Array(_))
        | (Some("string"), Value::String(_)) => true,
        (Some("boolean"), Value::Bool(_)) => true,
        (Some("integer"), Value::Number(n)) => n.is_i64() || n.is_u64(),
        (Some("number"), Value::Number(_)) => true,
        _ => false,
    };
    if !ok_type {
        problems.push(format!("{path}: {value} is not of type {ty:?}"));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        problems.push(format!("{path}: {value} not in enum"));
    }
    if let Some(x) = value.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x < m)
        {
            problems.push(format!("{path}: {x} below minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x > m)
        {
            problems.push(format!("{path}: {x} above maximum"));
        }
    }
    match value {
        Value::Object(fields) => {
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in fields {
                match props.and_then(|p| p.get(k)) {
                    Some(sub) => check_value(v, sub, &format!("{path}.{k}"), problems),
                    None => problems.push(format!(
                        "{path}.{k}: unknown field in default (would be pruned)"
                    )),
                }
            }
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = required.as_str().unwrap();
                let defaulted = props
                    .and_then(|p| p.get(name))
                    .is_some_and(|p| p.get("default").is_some());
                if !fields.contains_key(name) && !defaulted {
                    problems.push(format!("{path}: default lacks required `{name}`"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                problems.push(format!("{path}: fewer than {min} items"));
            }
            for (i, item) in items.iter().enumerate() {
                check_value(item, &schema["items"], &format!("{path}[{i}]"), problems);
            }
        }
        _ => {}
    }
}

#[test]
fn schemas_are_structural_documented_and_defaults_valid() {
    for kind in ["Strategy", "RiskPolicy", "TradingBot"] {
        let s = schema(kind);
        let mut problems = Vec::new();
        for part in ["spec", "status"] {
            check_structural(node(&s, part), &format!("{kind}.{part}"), &mut problems);
        }
        assert!(problems.is_empty(), "{kind}:\n{}", problems.join("\n"));
    }
}

#[test]
fn the_checker_catches_what_it_should() {
    let mut problems = Vec::new();
    let bad = json!({"type": "object", "properties": {
        "a": {"description": "x", "anyOf": [{"type": "string"}, {"type": "integer"}]},
        "b": {"type": "integer", "minimum": 1, "default": 0},
        "c": {"type": "string"}
    }});
    check_structural(&bad, "X", &mut problems);
    let text = problems.join("\n");
    assert!(text.contains("X.a: `anyOf`"), "{text}");
    assert!(text.contains("X.a: no `type`"), "{text}");
    assert!(text.contains("X.b (default): 0 below minimum"), "{text}");
    assert!(text.contains("X.c: no description"), "{text}");
}

#[test]
fn bounds_promised_by_the_design() {
    let bot = schema("TradingBot");
    assert_eq!(node(&bot, "spec.capital")["minimum"], json!(0.0));
    assert_eq!(node(&bot, "spec.capital")["type"], json!("number"));
    assert_eq!(node(&bot, "spec.exchange.symbols")["minItems"], json!(1));
    assert_eq!(
        node(&bot, "spec.phase")["enum"],
        json!(["Paper", "Sandbox", "LimitedReal", "Scaling"])
    );
    assert_eq!(node(&bot, "spec.phase")["default"], json!("Paper"));
    assert_eq!(node(&bot, "spec.promotion")["default"], json!("Manual"));
    assert_eq!(node(&bot, "spec.halted")["default"], json!(false));
    assert_eq!(
        node(&bot, "status.state")["enum"],
        json!(["Starting", "Trading", "Paused", "Halted", "Degraded"])
    );

    let risk = schema("RiskPolicy");
    for phase in ["paper", "sandbox", "limitedReal", "scaling"] {
        let p = node(&risk, &format!("spec.limits.{phase}.stopLossPct"));
        assert_eq!(
            (p["minimum"].clone(), p["maximum"].clone()),
            (json!(0.0), json!(100.0)),
            "{phase}"
        );
    }
    assert_eq!(
        node(&risk, "spec.limits.limitedReal.maxPosition")["default"],
        json!(250)
    );
    assert_eq!(
        node(&risk, "spec.limits.limitedReal.dailyLossLimit")["default"],
        json!(50)
    );
    assert_eq!(
        node(&risk, "spec.limits.limitedReal.maxTotalLoss")["default"],
        json!(500)
    );
    assert_eq!(
        node(&risk, "spec.limits.scaling.dailyLossLimitPct")["default"],
        json!(2)
    );
    assert_eq!(
        node(&risk, "spec.limits.paper.maxPosition").get("default"),
        None
    );
    // A field with a default must not be nullable, or the apiserver keeps an explicit null.
    assert_eq!(
        node(&risk, "spec.limits.limitedReal.maxPosition").get("nullable"),
        None
    );
    assert_eq!(
        node(&risk, "spec.onHalt.action")["enum"],
        json!(["cancelOrders", "flatten"])
    );
    assert_eq!(
        node(&risk, "spec.gates.paperToSandbox.minTrades")["default"],
        json!(100)
    );

    let strat = schema("Strategy");
    for path in [
        "spec.smaCrossover.fast",
        "spec.rsiReversion.period",
        "spec.bollingerReversion.period",
        "spec.macdTrend.signal",
    ] {
        assert_eq!(node(&strat, path)["minimum"], json!(1.0), "{path}");
    }
    assert_eq!(
        node(&strat, "spec.timeframe")["enum"],
        json!(["1m", "5m", "15m", "1h", "4h", "1d"])
    );
    assert_eq!(node(&strat, "spec.committee.members")["minItems"], json!(1));
}
