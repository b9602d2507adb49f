//! Reads a multi-document YAML file (Strategy + RiskPolicy + TradingBot, as a
//! user would `kubectl apply` it) into typed resources, so the engine runs
//! the very manifests that go to the cluster. Errors name the document, its
//! line, and the field; unknown fields are rejected (the apiserver would
//! silently drop them).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::common::is_k8s_name;
use crate::validation::ValidationErrors;
use crate::yaml_docs::{Chunk, doc_error, split_documents, strip_location, typed};
use crate::{API_VERSION, GROUP, RiskPolicy, Strategy, StrategyKind, TradingBot};

pub use crate::yaml_docs::DocumentError;

/// The Botfleet resources found in a YAML stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifests {
    /// Strategy documents, in file order.
    pub strategies: Vec<Strategy>,
    /// RiskPolicy documents, in file order.
    pub risk_policies: Vec<RiskPolicy>,
    /// TradingBot documents, in file order.
    pub trading_bots: Vec<TradingBot>,
    /// Documents of other API groups (a Secret, a Namespace, ...), ignored.
    pub skipped: Vec<SkippedDocument>,
}

/// A document that is not a Botfleet resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedDocument {
    /// 1-based document number.
    pub document: usize,
    /// Its `apiVersion`.
    pub api_version: String,
    /// Its `kind`.
    pub kind: String,
}

/// Why manifests could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// One or more documents could not be read (every bad document is listed).
    #[error("{}", list_documents(.0))]
    Documents(Vec<DocumentError>),
    /// The resources were read but break semantic rules.
    #[error("invalid manifests, {0}")]
    Invalid(ValidationErrors),
    /// The file does not contain the resources the caller needs.
    #[error("{0}")]
    Missing(String),
}

fn list_documents(errors: &[DocumentError]) -> String {
    let lines: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
    format!("cannot read the manifests:\n{}", lines.join("\n"))
}

/// The resources one bot runs with.
#[derive(Clone, Copy, Debug)]
pub struct BotBundle<'a> {
    /// The bot.
    pub bot: &'a TradingBot,
    /// Its strategy.
    pub strategy: &'a Strategy,
    /// Its risk policy.
    pub risk_policy: &'a RiskPolicy,
}

const KINDS: [&str; 3] = ["Strategy", "RiskPolicy", "TradingBot"];
const TOP_LEVEL: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];

impl Manifests {
    /// Parses every document of `yaml`. Documents of other API groups are
    /// recorded in `skipped`; every bad document is reported.
    pub fn from_yaml(yaml: &str) -> Result<Self, ManifestError> {
        let mut manifests = Manifests::default();
        let mut errors = Vec::new();
        let mut number = 0;
        for chunk in split_documents(yaml) {
            let value: Value = match serde_yaml::from_str(chunk.text) {
                Ok(Value::Null) => continue,
                Ok(v) => v,
                Err(e) => {
                    number += 1;
                    let line = e.location().map(|l| l.line() + chunk.first_line - 1);
                    errors.push(doc_error(
                        number,
                        line,
                        None,
                        None,
                        None,
                        strip_location(&e.to_string()),
                    ));
                    continue;
                }
            };
            number += 1;
            if let Err(e) = manifests.add(number, &chunk, &value) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(manifests)
        } else {
            Err(ManifestError::Documents(errors))
        }
    }

    /// Reads and parses a file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ManifestError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    /// Reads, parses and validates a file: what the engine does with `-f`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ManifestError> {
        let manifests = Self::from_file(path)?;
        manifests.validate().map_err(ManifestError::Invalid)?;
        Ok(manifests)
    }

    fn add(
        &mut self,
        number: usize,
        chunk: &Chunk<'_>,
        value: &Value,
    ) -> Result<(), DocumentError> {
        let str_at = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        let (kind, name) = (
            str_at("kind"),
            value
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str),
        );
        let name = name.map(str::to_string);
        let err = |field: Option<&str>, message: String| {
            doc_error(
                number,
                Some(chunk.first_line),
                kind.clone(),
                name.clone(),
                field.map(str::to_string),
                message,
            )
        };
        let Some(map) = value.as_mapping() else {
            return Err(err(
                None,
                "a manifest must be a mapping with apiVersion, kind, metadata and spec".into(),
            ));
        };
        let api_version = str_at("apiVersion").ok_or_else(|| {
            err(
                Some("apiVersion"),
                format!("missing; Botfleet resources use `apiVersion: {API_VERSION}`"),
            )
        })?;
        let kind_name = kind.clone().ok_or_else(|| {
            err(
                Some("kind"),
                format!("missing; use one of {}", KINDS.join(", ")),
            )
        })?;
        if api_version.split('/').next() != Some(GROUP) {
            self.skipped.push(SkippedDocument {
                document: number,
                api_version,
                kind: kind_name,
            });
            return Ok(());
        }
        if api_version != API_VERSION {
            return Err(err(
                Some("apiVersion"),
                format!("`{api_version}` is not served; use `{API_VERSION}`"),
            ));
        }
        if !KINDS.contains(&kind_name.as_str()) {
            return Err(err(
                Some("kind"),
                format!(
                    "unknown kind `{kind_name}`; use one of {}",
                    KINDS.join(", ")
                ),
            ));
        }
        for key in map.keys() {
            let key = key.as_str().unwrap_or_default();
            if !TOP_LEVEL.contains(&key) {
                return Err(err(
                    Some(key),
                    format!(
                        "unknown field; a manifest has only {}",
                        TOP_LEVEL.join(", ")
                    ),
                ));
            }
        }
        match &name {
            None => {
                return Err(err(
                    Some("metadata.name"),
                    "missing; every resource needs a name".into(),
                ));
            }
            Some(n) if !is_k8s_name(n) => {
                return Err(err(
                    Some("metadata.name"),
                    format!("`{n}` is not a valid name (lower-case letters, digits, `-`, `.`)"),
                ));
            }
            Some(_) => {}
        }
        match kind_name.as_str() {
            "Strategy" => self.strategies.push(typed(number, chunk, &kind, &name)?),
            "RiskPolicy" => self.risk_policies.push(typed(number, chunk, &kind, &name)?),
            _ => self.trading_bots.push(typed(number, chunk, &kind, &name)?),
        }
        Ok(())
    }

    /// The Strategy named `name`.
    pub fn strategy(&self, name: &str) -> Option<&Strategy> {
        self.strategies
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
    }

    /// The RiskPolicy named `name`.
    pub fn risk_policy(&self, name: &str) -> Option<&RiskPolicy> {
        self.risk_policies
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
    }

    /// The bot named `name` (or the only bot when `name` is `None`) with
    /// its Strategy and RiskPolicy.
    pub fn bundle(&self, name: Option<&str>) -> Result<BotBundle<'_>, ManifestError> {
        let names = || {
            self.trading_bots
                .iter()
                .filter_map(|b| b.metadata.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let bot = match name {
            Some(n) => self
                .trading_bots
                .iter()
                .find(|b| b.metadata.name.as_deref() == Some(n))
                .ok_or_else(|| {
                    ManifestError::Missing(format!(
                        "no TradingBot named `{n}`; the file has: {}",
                        names()
                    ))
                })?,
            None => match self.trading_bots.as_slice() {
                [bot] => bot,
                [] => return Err(ManifestError::Missing("the file has no TradingBot".into())),
                _ => {
                    return Err(ManifestError::Missing(format!(
                        "the file has several TradingBots ({}); name one",
                        names()
                    )));
                }
            },
        };
        let strategy = self.strategy(&bot.spec.strategy_ref.name).ok_or_else(|| {
            ManifestError::Missing(format!(
                "Strategy `{}` is not in the file",
                bot.spec.strategy_ref.name
            ))
        })?;
        let risk_policy = self
            .risk_policy(&bot.spec.risk_policy_ref.name)
            .ok_or_else(|| {
                ManifestError::Missing(format!(
                    "RiskPolicy `{}` is not in the file",
                    bot.spec.risk_policy_ref.name
                ))
            })?;
        Ok(BotBundle {
            bot,
            strategy,
            risk_policy,
        })
    }

    /// Validates every resource and, for running locally, that every
    /// reference resolves inside the file: bots to their Strategy and
    /// RiskPolicy, committee members to non-committee Strategies with the
    /// same timeframe. Names must be unique per kind. Paths are prefixed
    /// with `Kind/name`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errs = ValidationErrors::new();
        let mut seen = BTreeSet::new();
        let name_of = |m: &kube::core::ObjectMeta| m.name.clone().unwrap_or_default();
        let mut unique = |kind: &str, name: String, errs: &mut ValidationErrors| {
            if !seen.insert((kind.to_string(), name.clone())) {
                errs.add(
                    format!("{kind}/{name}"),
                    "defined twice in the file; rename one",
                );
            }
        };
        for s in &self.strategies {
            let name = name_of(&s.metadata);
            unique("Strategy", name.clone(), &mut errs);
            if let Err(e) = s.spec.validate() {
                errs.extend_prefixed(&format!("Strategy/{name}"), e);
            }
            if let Some(StrategyKind::Committee(c)) = s.spec.kind() {
                for (i, m) in c.members.iter().enumerate() {
                    let Some(r) = &m.strategy_ref else { continue };
                    let path =
                        format!("Strategy/{name}: spec.committee.members[{i}].strategyRef.name");
                    match self.strategy(&r.name) {
                        None => errs.add(path, format!("Strategy `{}` is not in the file; add it", r.name)),
                        Some(member) if member.spec.committee.is_some() => {
                            errs.add(path, format!("`{}` is a committee; members must be single strategies", r.name))
                        }
                        Some(member) if member.spec.timeframe != s.spec.timeframe => errs.add(
                            path,
                            format!(
                                "`{}` trades {} but the committee trades {}; use the same timeframe",
                                r.name, member.spec.timeframe, s.spec.timeframe
                            ),
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
        for p in &self.risk_policies {
            let name = name_of(&p.metadata);
            unique("RiskPolicy", name.clone(), &mut errs);
            if let Err(e) = p.spec.validate() {
                errs.extend_prefixed(&format!("RiskPolicy/{name}"), e);
            }
        }
        for b in &self.trading_bots {
            let name = name_of(&b.metadata);
            unique("TradingBot", name.clone(), &mut errs);
            if let Err(e) = b.spec.validate() {
                errs.extend_prefixed(&format!("TradingBot/{name}"), e);
            }
            let prefix = format!("TradingBot/{name}");
            let strategy = &b.spec.strategy_ref.name;
            errs.check(
                self.strategy(strategy).is_some(),
                format!("{prefix}: spec.strategyRef.name"),
                || format!("Strategy `{strategy}` is not in the file; add it or fix the name"),
            );
            let policy = &b.spec.risk_policy_ref.name;
            errs.check(
                self.risk_policy(policy).is_some(),
                format!("{prefix}: spec.riskPolicyRef.name"),
                || format!("RiskPolicy `{policy}` is not in the file; add it or fix the name"),
            );
        }
        errs.into_result()
    }
}
