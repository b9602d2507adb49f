//! Installs CustomResourceDefinitions from YAML files and waits until the apiserver
//! serves them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde::Deserialize;

/// The chart's generated CRDs, the ones the operator and the tests use.
pub fn default_crd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/botfleet/crds")
}

/// Every CRD in the `*.yaml`/`*.yml` files of `dir` (multi-document files allowed),
/// sorted by file name.
pub fn read_crds(dir: &Path) -> Result<Vec<CustomResourceDefinition>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the CRD directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut crds = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_yaml::Value::deserialize(doc)
                .with_context(|| format!("parsing {}", file.display()))?;
            if value.is_null() {
                continue;
            }
            let crd: CustomResourceDefinition = serde_yaml::from_value(value)
                .with_context(|| format!("{} is not a CustomResourceDefinition", file.display()))?;
            crds.push(crd);
        }
    }
    if crds.is_empty() {
        bail!(
            "no CustomResourceDefinition in {} (generate them with `make crds`)",
            dir.display()
        );
    }
    Ok(crds)
}

/// Server-side applies `crds` and waits until each is `Established` (its REST
/// endpoint is served) or `timeout` passes.
pub async fn install(
    client: &kube::Client,
    crds: &[CustomResourceDefinition],
    timeout: Duration,
) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("botfleet-tests").force();
    for crd in crds {
        let name = crd
            .metadata
            .name
            .as_deref()
            .context("a CRD without metadata.name")?;
        api.patch(name, &params, &Patch::Apply(crd))
            .await
            .with_context(|| format!("installing CRD {name}"))?;
    }
    let deadline = Instant::now() + timeout;
    for crd in crds {
        let name = crd.metadata.name.as_deref().unwrap_or_default();
        loop {
            let current = api.get(name).await?;
            let conditions = current
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
            if conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("CRD {name} not Established after {timeout:?}; conditions: {conditions:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    wait_for_openapi(client, crds, deadline).await
}

/// Waits until the apiserver publishes the CRDs' schemas in `/openapi/v2`, which it
/// does a moment after `Established`: kubectl reads them there for `explain` and for
/// client-side validation (a 1.20 apiserver serves no OpenAPI v3).
async fn wait_for_openapi(
    client: &kube::Client,
    crds: &[CustomResourceDefinition],
    deadline: Instant,
) -> Result<()> {
    // Definitions are named by the reversed group: botfleet.dev -> dev.botfleet.
    let definitions: Vec<String> = crds
        .iter()
        .flat_map(|crd| {
            let group: Vec<&str> = crd.spec.group.split('.').rev().collect();
            let group = group.join(".");
            let kind = crd.spec.names.kind.clone();
            crd.spec
                .versions
                .iter()
                .filter(|v| v.served)
                .map(move |v| format!("\"{group}.{}.{kind}\"", v.name))
        })
        .collect();
    loop {
        let request = http::Request::get("/openapi/v2").body(Vec::new())?;
        let spec = client.request_text(request).await?;
        let missing: Vec<&String> = definitions
            .iter()
            .filter(|d| !spec.contains(d.as_str()))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the apiserver did not publish {missing:?} in /openapi/v2 in time");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
