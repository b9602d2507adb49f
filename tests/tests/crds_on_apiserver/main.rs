//! The Botfleet CRDs on a real Kubernetes 1.20 apiserver: they install, the shipped
//! examples are accepted, invalid objects are rejected with the field named, kubectl
//! shows the printer columns and the doc text, and status is a subresource.

mod install;
mod kubectl;
mod schema;
mod schema_sweep;
mod status;
mod typed;

use std::path::Path;

use botfleet_tests::control_plane::ControlPlane;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::core::Status;
use serde::Deserialize;
use serde_json::Value;

pub const KINDS: [(&str, &str); 3] = [
    ("Strategy", "strategies"),
    ("RiskPolicy", "riskpolicies"),
    ("TradingBot", "tradingbots"),
];

/// The control plane of this test binary, with the chart's CRDs installed.
pub async fn cp() -> &'static ControlPlane {
    ControlPlane::shared().await
}

pub fn api_resource(kind: &str) -> ApiResource {
    let (_, plural) = KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .unwrap_or_else(|| panic!("not a Botfleet kind: {kind}"));
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("botfleet.dev", "v1alpha1", kind),
        plural,
    )
}

/// An admin API for `kind` in `namespace`.
pub async fn api(kind: &str, namespace: &str) -> Api<DynamicObject> {
    let client = cp().await.client().await.unwrap();
    Api::namespaced_with(client, namespace, &api_resource(kind))
}

/// Every document of `manifests/examples/*.yaml`, in file order.
pub fn examples() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value =
                Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if !value.is_null() {
                docs.push(value);
            }
        }
    }
    docs
}

/// The most complete example of `kind` (most spec fields) for which `pick` holds.
pub fn example(kind: &str, pick: impl Fn(&Value) -> bool) -> Value {
    examples()
        .into_iter()
        .filter(|d| d["kind"] == kind && pick(d))
        .max_by_key(|d| d["spec"].as_object().map_or(0, |s| s.len()))
        .unwrap_or_else(|| panic!("no matching {kind} in manifests/examples"))
}

/// Creates `object` (of its own kind) in `namespace`; the error is the apiserver's Status.
pub async fn create(
    namespace: &str,
    object: &Value,
    dry_run: bool,
) -> Result<DynamicObject, Box<Status>> {
    let kind = object["kind"].as_str().expect("an object with a kind");
    create_with(&api(kind, namespace).await, object, dry_run).await
}

/// Like [`create`], through an existing API handle (each new client costs a TLS handshake).
pub async fn create_with(
    api: &Api<DynamicObject>,
    object: &Value,
    dry_run: bool,
) -> Result<DynamicObject, Box<Status>> {
    let object: DynamicObject = serde_json::from_value(object.clone()).unwrap();
    let params = PostParams {
        dry_run,
        ..Default::default()
    };
    match api.create(&params, &object).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(status)) => Err(status),
        Err(e) => panic!("creating {:?}: {e}", object.types),
    }
}

/// Creates `object`, expecting the apiserver to refuse it as Invalid (422).
pub async fn rejection(namespace: &str, object: &Value) -> Status {
    match create(namespace, object, false).await {
        Ok(created) => panic!("accepted, expected a rejection: {:?}", created.data),
        Err(status) => {
            assert_eq!(status.code, 422, "expected Invalid: {status:?}");
            *status
        }
    }
}

/// Whether the rejection has a cause for `field` whose message contains `says`.
/// Kubernetes 1.20 names list items without their index (`spec.tiers.tier`), newer
/// versions with it (`spec.tiers[0].tier`): both count.
pub fn names_field(status: &Status, field: &str, says: &str) -> bool {
    let without_index = strip_indexes(field);
    status.details.as_ref().is_some_and(|d| {
        d.causes.iter().any(|c| {
            (c.field == field || strip_indexes(&c.field) == without_index)
                && c.message.contains(says)
        })
    })
}

/// `spec.tiers[0].tier` → `spec.tiers.tier`.
pub fn strip_indexes(path: &str) -> String {
    let mut out = String::new();
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

/// Sets the value at a dotted path (`spec.exchange.symbols`), creating objects on the way.
pub fn set(object: &mut Value, path: &str, value: Value) {
    let mut target = object;
    for key in path.split('.') {
        if !target.is_object() {
            *target = Value::Object(Default::default());
        }
        target = target
            .as_object_mut()
            .unwrap()
            .entry(key)
            .or_insert(Value::Null);
    }
    *target = value;
}

/// Gives the object a new name, so tests sharing a namespace never collide.
pub fn renamed(mut object: Value, name: &str) -> Value {
    object["metadata"] = serde_json::json!({ "name": name });
    object
}
