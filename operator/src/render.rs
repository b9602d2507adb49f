//! The child objects of a TradingBot, pure: the rendered engine config and
//! the ConfigMap, StatefulSet, Service, ServiceAccount and token Secret that
//! run it. Everything is owned by the bot (garbage-collected with it) and
//! applied with server-side apply.

use std::collections::BTreeMap;

use botfleet_crds::{
    API_VERSION, Amount, PersistenceBackend, Phase, RiskPolicy, Strategy, TradingBot,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource,
    HTTPGetAction, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSpec, PodTemplateSpec,
    Probe, Secret, SecretKeySelector, Service, ServiceAccount, ServicePort, ServiceSpec, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::{FIELD_MANAGER, pod_security, token};
use botfleet_crds::labels::{BOT_LABEL, CONFIG_HASH_ANNOTATION, MANAGED_BY_LABEL};

/// Name of the engine container in the bot's pod.
pub const ENGINE_CONTAINER: &str = "engine";

/// Key of the engine config in the ConfigMap.
pub const CONFIG_KEY: &str = "bot.yaml";
/// Where the config is mounted in the engine container.
pub const CONFIG_DIR: &str = "/etc/botfleet";
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
    /// The operator's halt latch.
    pub halted: bool,
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
}

/// Operator settings the workload depends on.
#[derive(Clone, Debug)]
pub struct WorkloadSettings<'a> {
    /// Image when the bot does not name one.
    pub default_image: &'a str,
    /// Port of `/status` and the control endpoints.
    pub engine_port: u16,
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
    let yaml = config_yaml(inputs, inputs.halted)?;
    let restart_yaml = config_yaml(inputs, false)?;
    Ok(RenderedConfig {
        hash: hex::encode(Sha256::digest(yaml.as_bytes())),
        restart_hash: hex::encode(Sha256::digest(restart_yaml.as_bytes())),
        yaml,
    })
}

fn config_yaml(inputs: &EngineInputs<'_>, halted: bool) -> Result<String> {
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
    spec.halted = halted;
    // The engine hashes what trades over its config, the image included.
    spec.engine.image = Some(inputs.image.to_string());
    // The manifest format needs capital > 0; a halted engine trades nothing anyway.
    if inputs.capital > Amount::ZERO {
        spec.capital = inputs.capital;
    }
    docs.push(doc(
        "TradingBot",
        &inputs.bot.metadata,
        serde_json::to_value(&spec)?,
    ));
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

fn selector(bot: &TradingBot) -> BTreeMap<String, String> {
    labels(bot).into_iter().take(2).collect()
}

fn owner(bot: &TradingBot) -> Result<OwnerReference> {
    bot.controller_owner_ref(&())
        .ok_or(Error::MissingField("metadata.uid"))
}

fn meta(bot: &TradingBot, name: String) -> Result<ObjectMeta> {
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

/// ConfigMap with the rendered config.
pub fn config_map(bot: &TradingBot, config: &RenderedConfig) -> Result<ConfigMap> {
    let mut metadata = meta(bot, config_map_name(&bot.name_any()))?;
    metadata.annotations = Some(BTreeMap::from([(
        CONFIG_HASH_ANNOTATION.into(),
        config.hash.clone(),
    )]));
    Ok(ConfigMap {
        metadata,
        data: Some(BTreeMap::from([(CONFIG_KEY.into(), config.yaml.clone())])),
        ..Default::default()
    })
}

/// ServiceAccount of the engine pod; the engine needs no API access, so no
/// token is mounted.
pub fn service_account(bot: &TradingBot) -> Result<ServiceAccount> {
    Ok(ServiceAccount {
        metadata: meta(bot, bot.name_any())?,
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
        metadata: meta(bot, bot.name_any())?,
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

/// The Secret with the engine's bearer token. Written, never read.
pub fn token_secret(bot: &TradingBot, token_value: &str) -> Result<Secret> {
    Ok(Secret {
        metadata: meta(bot, token::secret_name(&bot.name_any()))?,
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            token::SECRET_KEY.into(),
            ByteString(token_value.as_bytes().to_vec()),
        )])),
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
        secret_env(
            "BOTFLEET_ENGINE_TOKEN",
            &token::secret_name(&name),
            token::SECRET_KEY,
            false,
        ),
    ];
    if let Some(creds) = &bot.spec.exchange.credentials_secret_ref {
        env.push(secret_env(
            "BOTFLEET_EXCHANGE_API_KEY",
            &creds.name,
            "apiKey",
            false,
        ));
        env.push(secret_env(
            "BOTFLEET_EXCHANGE_API_SECRET",
            &creds.name,
            "apiSecret",
            false,
        ));
    }
    let mut mounts = vec![VolumeMount {
        name: "config".into(),
        mount_path: CONFIG_DIR.into(),
        read_only: Some(true),
        ..Default::default()
    }];
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
        args: Some(vec![
            "run".into(),
            "--config".into(),
            format!("{CONFIG_DIR}/{CONFIG_KEY}"),
            "--listen".into(),
            format!("0.0.0.0:{}", settings.engine_port),
        ]),
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
        metadata: meta(bot, name.clone())?,
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
                    volumes: Some(vec![Volume {
                        name: "config".into(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: config_map_name(&name),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }]),
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
