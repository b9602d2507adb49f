//! Every promise of the installed schemas, checked one by one: for each bound,
//! enum, pattern, minimum item count and required field under `spec`, a shipped
//! example is broken in exactly that place and the apiserver must refuse it naming
//! that field. The list comes from the CRDs themselves, so a constraint added later
//! is covered without touching this file.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use serde_json::{Value, json};

use std::collections::HashMap;

use crate::{KINDS, api_resource, cp, create_with, examples, names_field, renamed};

#[derive(Debug, Clone)]
enum Seg {
    Field(String),
    Item,
}

#[derive(Debug)]
enum Violation {
    Below(f64, bool),
    Above(f64, bool),
    Enum,
    Pattern,
    MinItems(u64),
    Required(String),
}

#[derive(Debug)]
struct Promise {
    kind: &'static str,
    path: Vec<Seg>,
    violation: Violation,
}

impl Promise {
    /// The field the apiserver must name, in the 1.20 spelling (`[0]` for items,
    /// which `names_field` matches with or without the index).
    fn field(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Field(f) if out.is_empty() => out.push_str(f),
                Seg::Field(f) => out.push_str(&format!(".{f}")),
                Seg::Item => out.push_str("[0]"),
            }
        }
        if let Violation::Required(f) = &self.violation {
            out = if out.is_empty() {
                f.clone()
            } else {
                format!("{out}.{f}")
            };
        }
        out
    }

    fn says(&self) -> String {
        let number = |v: f64| {
            if v.fract() == 0.0 {
                format!("{}", v as i64)
            } else {
                v.to_string()
            }
        };
        match &self.violation {
            Violation::Below(min, _) => {
                format!("should be greater than or equal to {}", number(*min))
            }
            Violation::Above(max, _) => format!("should be less than or equal to {}", number(*max)),
            Violation::Enum => "Unsupported value".into(),
            Violation::Pattern => "should match".into(),
            Violation::MinItems(n) => format!("should have at least {n} items"),
            Violation::Required(_) => "Required value".into(),
        }
    }

    /// `base` broken in exactly this promise's place (objects and a first list item
    /// are created on the way when the example has none).
    fn break_in(&self, mut base: Value) -> Value {
        let mut target = &mut base;
        for seg in &self.path {
            target = match seg {
                Seg::Field(f) => {
                    if !target.is_object() {
                        *target = json!({});
                    }
                    target
                        .as_object_mut()
                        .unwrap()
                        .entry(f.clone())
                        .or_insert(Value::Null)
                }
                Seg::Item => {
                    if target.as_array().is_none_or(|a| a.is_empty()) {
                        *target = json!([null]);
                    }
                    &mut target.as_array_mut().unwrap()[0]
                }
            };
        }
        let as_json = |v: f64, integer: bool| if integer { json!(v as i64) } else { json!(v) };
        match &self.violation {
            Violation::Below(min, integer) => *target = as_json(min - 1.0, *integer),
            Violation::Above(max, integer) => *target = as_json(max + 1.0, *integer),
            Violation::Enum => *target = json!("NotOneOfThem"),
            Violation::Pattern => *target = json!("not a valid value!"),
            Violation::MinItems(n) => {
                let mut items = target.as_array().cloned().unwrap_or_default();
                items.truncate((*n as usize).saturating_sub(1));
                *target = Value::Array(items);
            }
            Violation::Required(field) => {
                if !target.is_object() {
                    *target = json!({});
                }
                target.as_object_mut().unwrap().remove(field);
            }
        }
        base
    }
}

/// Collects the promises of `schema` at `path`, skipping `status` (written by the
/// operator through the status subresource) and required fields that have a default
/// (the apiserver fills those in before validating).
fn collect(kind: &'static str, schema: &Value, path: &[Seg], out: &mut Vec<Promise>) {
    let mut push = |violation| {
        out.push(Promise {
            kind,
            path: path.to_vec(),
            violation,
        })
    };
    let integer = schema["type"] == "integer";
    if let Some(min) = schema["minimum"].as_f64() {
        push(Violation::Below(min, integer));
    }
    if let Some(max) = schema["maximum"].as_f64() {
        push(Violation::Above(max, integer));
    }
    if schema["enum"].is_array() {
        push(Violation::Enum);
    }
    if schema["pattern"].is_string() {
        push(Violation::Pattern);
    }
    if let Some(n) = schema["minItems"].as_u64().filter(|n| *n > 0) {
        push(Violation::MinItems(n));
    }
    for field in schema["required"].as_array().into_iter().flatten() {
        let field = field.as_str().unwrap();
        if schema["properties"][field].get("default").is_none() {
            push(Violation::Required(field.to_string()));
        }
    }
    for (name, sub) in schema["properties"].as_object().into_iter().flatten() {
        if path.is_empty() && name != "spec" {
            continue;
        }
        let mut sub_path = path.to_vec();
        sub_path.push(Seg::Field(name.clone()));
        collect(kind, sub, &sub_path, out);
    }
    if schema["items"].is_object() {
        let mut sub_path = path.to_vec();
        sub_path.push(Seg::Item);
        collect(kind, &schema["items"], &sub_path, out);
    }
}

/// How much of `path` already exists in `doc` (to pick the example closest to it).
fn existing_depth(doc: &Value, path: &[Seg]) -> usize {
    let mut node = doc;
    for (depth, seg) in path.iter().enumerate() {
        let next = match seg {
            Seg::Field(f) => node.get(f),
            Seg::Item => node.get(0),
        };
        match next {
            Some(n) if !n.is_null() => node = n,
            _ => return depth,
        }
    }
    path.len()
}

#[tokio::test]
async fn every_schema_promise_under_spec_is_enforced_naming_the_field() {
    let cp = cp().await;
    let ns = cp.namespace("schema-sweep").await.unwrap();
    let client = cp.client().await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let apis: HashMap<&str, Api<_>> = KINDS
        .iter()
        .map(|(kind, _)| {
            (
                *kind,
                Api::namespaced_with(client.clone(), &ns, &api_resource(kind)),
            )
        })
        .collect();
    let docs = examples();

    let mut promises = Vec::new();
    for (kind, plural) in KINDS {
        let crd = crds.get(&format!("{plural}.botfleet.dev")).await.unwrap();
        let version = &crd.spec.versions[0];
        let schema =
            serde_json::to_value(&version.schema.as_ref().unwrap().open_api_v3_schema).unwrap();
        collect(kind, &schema, &[], &mut promises);
        // The examples themselves must pass, or every refusal below would prove nothing.
        for doc in docs.iter().filter(|d| d["kind"] == kind) {
            if let Err(e) = create_with(&apis[kind], doc, true).await {
                panic!(
                    "example {kind} {} refused: {}",
                    doc["metadata"]["name"], e.message
                );
            }
        }
    }

    let mut broken_promises = Vec::new();
    for promise in &promises {
        let base = docs
            .iter()
            .filter(|d| d["kind"] == promise.kind)
            .max_by_key(|d| {
                (
                    existing_depth(d, &promise.path),
                    std::cmp::Reverse(d["metadata"]["name"].to_string()),
                )
            })
            .expect("an example of each kind");
        let object = promise.break_in(renamed(base.clone(), "sweep"));
        let (field, says) = (promise.field(), promise.says());
        match create_with(&apis[promise.kind], &object, true).await {
            Ok(_) => broken_promises.push(format!(
                "{} {field}: {:?} accepted",
                promise.kind, promise.violation
            )),
            Err(status) if names_field(&status, &field, &says) => {}
            Err(status) => broken_promises.push(format!(
                "{} {field}: refused without naming it with {says:?}: {}",
                promise.kind, status.message
            )),
        }
    }
    eprintln!("checked {} schema promises", promises.len());
    for kind in ["Strategy", "RiskPolicy", "TradingBot"] {
        assert!(
            promises.iter().any(|p| p.kind == kind),
            "no promise found for {kind}"
        );
    }
    assert!(
        broken_promises.is_empty(),
        "{} of {} promises broken:\n{}",
        broken_promises.len(),
        promises.len(),
        broken_promises.join("\n")
    );
}
