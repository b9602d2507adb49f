//! The child objects of a TradingBot, pure: the rendered engine config and
//! the ConfigMap (with the operator's public keys), StatefulSet, Service and
//! ServiceAccount that run it. No Secret: the engine verifies the operator's
//! signatures with public keys. Everything is owned by the bot (garbage-collected with it) and
//! applied with server-side apply.

use std::collections::BTreeMap;

use crate::endpoints::EngineEndpoints;
use botfleet_crds::{
    API_VERSION, Amount, PersistenceBackend, Phase, RiskPolicy, Strategy, TradingBot,
};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource,
    HTTPGetAction, KeyToPath, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSpec,
    PodTemplateSpec, Probe, SecretKeySelector, SecretVolumeSource, Service, ServiceAccount,
    ServicePort, ServiceSpec, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::{FIELD_MANAGER, pod_security, signing};
use botfleet_crds::labels::{
    BOT_LABEL, CONFIG_HASH_ANNOTATION, HALT_ID_ANNOTATION, MANAGED_BY_LABEL,
};

/// Name of the engine container in the bot's pod.
pub const ENGINE_CONTAINER: &str = "engine";

/// Key of the engine config in the ConfigMap.
pub const CONFIG_KEY: &str = "bot.yaml";
/// Where the config is mounted in the engine container.
pub const CONFIG_DIR: &str = "/etc/botfleet";
/// Where the exchange credentials are mounted (Sandbox and up only).
pub const CREDENTIALS_DIR: &str = "/etc/botfleet/exchange";
const CREDENTIALS_VOLUME: &str = "exchange-credentials";
/// Where the SQLite volume is mounted.
pub const DATA_DIR: &str = "/var/lib/botfleet";

/// What the engine runs with, resolved by the reconciler.
#[derive(Clone, Debug)]
pub struct EngineInputs<'a> {
    /// The bot.
    pub bot: &'a TradingBot,
    /// Its strategy.
    pub strategy: &'a Strategy,
    /// Strategies referenced by a committee strategy.
    pub members: Vec<&'a Strategy>,
    /// Its risk policy.
    pub policy: &'a RiskPolicy,
    /// The effective phase the engine must trade in.
    pub phase: Phase,
    /// The capital allocated (zero while halted).
    pub capital: Amount,
    /// The id of the operator's halt latch, when halted: rendered as
    /// `spec.halted: true` with the id in the `botfleet.dev/halt-id`
    /// annotation, so an engine that restarts halted keeps the id.
    pub halt_id: Option<&'a str>,
    /// The engine image the pod runs (the bot's, else the operator's default).
    pub image: &'a str,
}

impl EngineInputs<'_> {
    /// [`botfleet_crds::trading_hash`] of these inputs: what the engine,
    /// computing it over the rendered config, reports for this config.
    pub fn trading_hash(&self) -> String {
        botfleet_crds::trading_hash(&botfleet_crds::WhatTrades {
            strategy: &self.strategy.spec,
            members: self.members.iter().map(|m| &m.spec).collect(),
            policy: &self.policy.spec,
            symbols: &self.bot.spec.exchange.symbols,
            image: Some(self.image),
        })
    }
}

/// The rendered config and its hash.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedConfig {
    /// Multi-document YAML the engine reads with `Manifests`.
    pub yaml: String,
    /// SHA-256 of `yaml`, hex.
    pub hash: String,
    /// SHA-256 of the config as it would be without the halt latch: the pod
    /// restarts when this changes. A halt or a resume reaches the running
    /// engine by its control endpoint, so it never restarts the pod (a
    /// restart mid-flatten would interrupt the flatten); the latch is still
    /// in the ConfigMap for an engine that restarts for another reason.
    pub restart_hash: String,
    /// The effective phase: it decides which credentials and which venue
    /// URL the pod gets.
    pub phase: Phase,
    /// API keys of the model members: (environment variable, Secret key),
    /// set on the engine container from the Secrets, never written here.
    pub llm_keys: Vec<(String, botfleet_crds::SecretKeyRef)>,
}

/// Operator settings the workload depends on.
#[derive(Clone, Debug)]
pub struct WorkloadSettings<'a> {
    /// Image when the bot does not name one.
    pub default_image: &'a str,
    /// Port of `/status` and the control endpoints.
    pub engine_port: u16,
    /// Market data and venue URLs for the engine's flags.
    pub endpoints: &'a EngineEndpoints,
    /// Who may reach the engines; `None` renders no NetworkPolicy.
    pub network_peers: Option<&'a crate::engine_peers::EnginePeers>,
}

fn doc(kind: &str, meta: &ObjectMeta, spec: serde_json::Value) -> serde_json::Value {
    let mut metadata = json!({"name": meta.name, "namespace": meta.namespace});
    if let Some(uid) = &meta.uid {
        // The engine reports it in /status, where the operator checks it.
        metadata["uid"] = json!(uid);
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    })
}

/// Renders the engine config: the Strategy (and committee members), the
/// RiskPolicy and the TradingBot with the *effective* phase, the allocated
/// capital and the halt latch — the same format a user passes with `-f`.
pub fn engine_config(inputs: &EngineInputs<'_>) -> Result<RenderedConfig> {
    let yaml = config_yaml(inputs, inputs.halt_id)?;
    let restart_yaml = config_yaml(inputs, None)?;
    let mut llm_keys: Vec<(String, botfleet_crds::SecretKeyRef)> = Vec::new();
    let specs = std::iter::once(inputs.strategy).chain(inputs.members.iter().copied());
    for llm in specs.flat_map(|s| s.spec.llm_members()) {
        if let (Some(env), Some(r)) = (llm.api_key_env(), &llm.api_key_secret_ref)
            && !llm_keys.iter().any(|(e, _)| *e == env)
        {
            llm_keys.push((env, r.clone()));
        }
    }
    Ok(RenderedConfig {
        hash: hex::encode(Sha256::digest(yaml.as_bytes())),
        restart_hash: hex::encode(Sha256::digest(restart_yaml.as_bytes())),
        yaml,
        phase: inputs.phase,
        llm_keys,
    })
}

fn config_yaml(inputs: &EngineInputs<'_>, halt_id: Option<&str>) -> Result<String> {
    let mut docs = vec![doc(
        "Strategy",
        &inputs.strategy.metadata,
        serde_json::to_value(&inputs.strategy.spec)?,
    )];
    for member in &inputs.members {
        docs.push(doc(
            "Strategy",
            &member.metadata,
            serde_json::to_value(&member.spec)?,
        ));
    }
    docs.push(doc(
        "RiskPolicy",
        &inputs.policy.metadata,
        serde_json::to_value(&inputs.policy.spec)?,
    ));
    let mut spec = inputs.bot.spec.clone();
    spec.phase = inputs.phase;
    spec.halted = halt_id.is_some();
    // The engine hashes what trades over its config, the image included.
    spec.engine.image = Some(inputs.image.to_string());
    // The manifest format needs capital > 0; a halted engine trades nothing anyway.
    if inputs.capital > Amount::ZERO {
        spec.capital = inputs.capital;
    }
    let mut bot = doc(
        "TradingBot",
        &inputs.bot.metadata,
        serde_json::to_value(&spec)?,
    );
    if let Some(id) = halt_id {
        bot["metadata"]["annotations"] = json!({ HALT_ID_ANNOTATION: id });
    }
    docs.push(bot);
    let mut yaml = String::new();
    for d in &docs {
        yaml.push_str("---\n");
        yaml.push_str(&serde_yaml::to_string(d)?);
    }
    Ok(yaml)
}

/// Labels of every child; the selector uses the first two.
pub fn labels(bot: &TradingBot) -> BTreeMap<String, String> {
    let name = bot.name_any();
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "botfleet-engine".into()),
        (BOT_LABEL.into(), name.clone()),
        ("app.kubernetes.io/instance".into(), name),
        ("app.kubernetes.io/component".into(), "engine".into()),
        (MANAGED_BY_LABEL.into(), FIELD_MANAGER.into()),
    ])
}

pub(crate) fn selector(bot: &TradingBot) -> BTreeMap<String, String> {
    labels(bot).into_iter().take(2).collect()
}

fn owner(bot: &TradingBot) -> Result<OwnerReference> {
    bot.controller_owner_ref(&())
        .ok_or(Error::MissingField("metadata.uid"))
}

pub(crate) fn child_meta(bot: &TradingBot, name: String) -> Result<ObjectMeta> {
    Ok(ObjectMeta {
        name: Some(name),
        namespace: bot.namespace(),
        labels: Some(labels(bot)),
        owner_references: Some(vec![owner(bot)?]),
        ..Default::default()
    })
}

/// The name of the bot's ConfigMap.
pub fn config_map_name(bot: &str) -> String {
    format!("{bot}-config")
}

/// ConfigMap with the rendered config and the operator's public keys. The
/// keys are outside the config hash: a key rotation reaches the running
/// engine as a file update (the engine re-reads it), not as a restart.
pub fn config_map(
    bot: &TradingBot,
    config: &RenderedConfig,
    public_keys: &str,
) -> Result<ConfigMap> {
    let mut metadata = child_meta(bot, config_map_name(&bot.name_any()))?;
    metadata.annotations = Some(BTreeMap::from([(
        CONFIG_HASH_ANNOTATION.into(),
        config.hash.clone(),
    )]));
    Ok(ConfigMap {
        metadata,
        data: Some(BTreeMap::from([
            (CONFIG_KEY.into(), config.yaml.clone()),
            (signing::PUBLIC_KEYS_KEY.into(), public_keys.to_string()),
        ])),
        ..Default::default()
    })
}

/// ServiceAccount of the engine pod; the engine needs no API access, so no
/// token is mounted.
pub fn service_account(bot: &TradingBot) -> Result<ServiceAccount> {
    Ok(ServiceAccount {
        metadata: child_meta(bot, bot.name_any())?,
        automount_service_account_token: Some(false),
        ..Default::default()
    })
}

/// Headless Service in front of the engine's HTTP port (metrics and
/// status): the StatefulSet's governing service. Headless, because nothing
/// needs a virtual IP (the operator talks to the pod IP) and a fleet must
/// not exhaust the cluster's service range.
pub fn service(bot: &TradingBot, settings: &WorkloadSettings<'_>) -> Result<Service> {
    Ok(Service {
        metadata: child_meta(bot, bot.name_any())?,
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(selector(bot)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: i32::from(settings.engine_port),
                // Server-side apply on 1.20 needs the list-map key spelled out.
                protocol: Some("TCP".into()),
                target_port: Some(IntOrString::String("http".into())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn secret_env(name: &str, secret: &str, key: &str, optional: bool) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: optional.then_some(true),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The credentials Secret the engine pod of `phase` mounts: none in Paper
/// (it sends no order), the test network's in Sandbox, the live one in
/// LimitedReal and Scaling — never the other phase's.
pub fn credentials_for(bot: &TradingBot, phase: Phase) -> Option<&botfleet_crds::SecretRef> {
    bot.spec.exchange.credentials_for(phase)
}

fn probe(path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..Default::default()
        }),
        period_seconds: Some(10),
        ..Default::default()
    }
}

/// The single-replica StatefulSet running the engine. The config hash on
/// the pod template rolls the pod only when the rendered config changed.
pub fn stateful_set(
    bot: &TradingBot,
    config: &RenderedConfig,
    settings: &WorkloadSettings<'_>,
) -> Result<StatefulSet> {
    let name = bot.name_any();
    let image = bot
        .spec
        .engine
        .image
        .clone()
        .unwrap_or_else(|| settings.default_image.to_string());
    let mut env = vec![
        EnvVar {
            name: "BOTFLEET_BOT".into(),
            value: Some(name.clone()),
            ..Default::default()
        },
        EnvVar {
            name: "BOTFLEET_CONTROL_KEYS_FILE".into(),
            value: Some(format!("{CONFIG_DIR}/{}", signing::PUBLIC_KEYS_KEY)),
            ..Default::default()
        },
    ];
    for (var, key) in &config.llm_keys {
        env.push(secret_env(var, &key.name, &key.key, false));
    }
    let mut mounts = vec![VolumeMount {
        name: "config".into(),
        mount_path: CONFIG_DIR.into(),
        read_only: Some(true),
        ..Default::default()
    }];
    let mut volumes = vec![Volume {
        name: "config".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map_name(&name),
            ..Default::default()
        }),
        ..Default::default()
    }];
    let mut credential_args = Vec::new();
    if let Some(creds) = credentials_for(bot, config.phase) {
        // Files, not env: env leaks into crash dumps, `kubectl describe`
        // of a misconfigured pod and child processes.
        mounts.push(VolumeMount {
            name: CREDENTIALS_VOLUME.into(),
            mount_path: CREDENTIALS_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        });
        volumes.push(Volume {
            name: CREDENTIALS_VOLUME.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(creds.name.clone()),
                // Owner root, group fsGroup (the engine's): group read only.
                default_mode: Some(0o440),
                items: Some(
                    ["apiKey", "apiSecret"]
                        .map(|key| KeyToPath {
                            key: key.into(),
                            path: key.into(),
                            mode: None,
                        })
                        .to_vec(),
                ),
                optional: None,
            }),
            ..Default::default()
        });
        credential_args = vec![
            "--api-key-file".to_string(),
            format!("{CREDENTIALS_DIR}/apiKey"),
            "--api-secret-file".to_string(),
            format!("{CREDENTIALS_DIR}/apiSecret"),
        ];
    }
    let mut claims = None;
    match bot.spec.persistence.backend() {
        Some(PersistenceBackend::Postgres(p)) => env.push(secret_env(
            "BOTFLEET_DATABASE_URL",
            &p.url_secret_ref.name,
            &p.url_secret_ref.key,
            false,
        )),
        sqlite => {
            let size = match sqlite {
                Some(PersistenceBackend::Sqlite(s)) => s.storage_size.clone(),
                _ => k8s_openapi::apimachinery::pkg::api::resource::Quantity("1Gi".into()),
            };
            env.push(EnvVar {
                name: "BOTFLEET_DATABASE_URL".into(),
                value: Some(format!("sqlite://{DATA_DIR}/bot.db?mode=rwc")),
                ..Default::default()
            });
            mounts.push(VolumeMount {
                name: "data".into(),
                mount_path: DATA_DIR.into(),
                ..Default::default()
            });
            claims = Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    labels: Some(labels(bot)),
                    ..Default::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([("storage".into(), size)])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]);
        }
    }
    let container = Container {
        name: ENGINE_CONTAINER.into(),
        image: Some(image),
        args: Some(
            vec![
                "run".into(),
                "--config".into(),
                format!("{CONFIG_DIR}/{CONFIG_KEY}"),
                "--listen".into(),
                format!("0.0.0.0:{}", settings.engine_port),
            ]
            .into_iter()
            .chain(credential_args)
            .chain(settings.endpoints.engine_args(config.phase))
            .collect(),
        ),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: i32::from(settings.engine_port),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        env: Some(env),
        volume_mounts: Some(mounts),
        resources: Some(
            bot.spec
                .engine
                .resources
                .clone()
                .unwrap_or_else(pod_security::default_resources),
        ),
        readiness_probe: Some(probe("/readyz")),
        liveness_probe: Some(probe("/healthz")),
        security_context: Some(pod_security::engine_container()),
        ..Default::default()
    };
    Ok(StatefulSet {
        metadata: child_meta(bot, name.clone())?,
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(name.clone()),
            selector: LabelSelector {
                match_labels: Some(selector(bot)),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(bot)),
                    annotations: Some(BTreeMap::from([(
                        CONFIG_HASH_ANNOTATION.into(),
                        config.restart_hash.clone(),
                    )])),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(name.clone()),
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security::engine_pod()),
                    termination_grace_period_seconds: Some(30),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            volume_claim_templates: claims,
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
