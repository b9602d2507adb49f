//! The connection to the cluster and the few requests the plugin makes,
//! with apiserver refusals turned into [`PluginError`]s that name the bot,
//! the namespace, and the verb and resource RBAC refused.

use std::path::Path;

use anyhow::Context;
use botfleet_crds::{PhaseApproval, RiskPolicy, TradingBot};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::error::PluginError;

const BOTS: &str = "tradingbots.botfleet.dev";
const POLICIES: &str = "riskpolicies.botfleet.dev";
const APPROVALS: &str = "phaseapprovals.botfleet.dev";

/// A client and the namespace the command acts in.
pub struct Cluster {
    client: Client,
    pub namespace: String,
}

impl Cluster {
    /// `--kubeconfig FILE` when given, else kube's inference ($KUBECONFIG,
    /// ~/.kube/config, in-cluster). The namespace is `-n`, else the
    /// context's, else `default`.
    pub async fn connect(
        kubeconfig: Option<&Path>,
        namespace: Option<String>,
    ) -> Result<Self, PluginError> {
        let config = match kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path)
                    .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
                Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                    .await
                    .with_context(|| format!("kubeconfig {} is not usable", path.display()))?
            }
            None => Config::infer().await.context(
                "no cluster configuration found: pass --kubeconfig FILE or set KUBECONFIG",
            )?,
        };
        let namespace = namespace.unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).context("cannot create a Kubernetes client")?;
        Ok(Self { client, namespace })
    }

    fn bots(&self) -> Api<TradingBot> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub async fn get_bot(&self, name: &str) -> Result<TradingBot, PluginError> {
        self.bots()
            .get(name)
            .await
            .map_err(|e| self.map_err(e, name, "get", BOTS))
    }

    /// A JSON merge patch of the bot (spec and metadata only).
    pub async fn patch_bot(
        &self,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<TradingBot, PluginError> {
        self.bots()
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(|e| self.map_err(e, name, "patch", BOTS))
    }

    /// Creates a PhaseApproval (its name is generated).
    pub async fn create_approval(
        &self,
        approval: &PhaseApproval,
    ) -> Result<PhaseApproval, PluginError> {
        let api: Api<PhaseApproval> = Api::namespaced(self.client.clone(), &self.namespace);
        let bot = approval.spec.bot.name.clone();
        api.create(&PostParams::default(), approval)
            .await
            .map_err(|e| match e {
                kube::Error::Api(s) if s.is_forbidden() => PluginError::Forbidden {
                    verb: "create",
                    resource: APPROVALS,
                    namespace: self.namespace.clone(),
                    message: s.message.clone(),
                },
                kube::Error::Api(s) if s.code == 400 || s.code == 422 => PluginError::Refused(
                    format!("the apiserver refused the approval of {bot}: {}", s.message),
                ),
                e => self.map_err(e, &bot, "create", APPROVALS),
            })
    }

    /// The PhaseApprovals naming bot `name`; an unreadable list is a note.
    pub async fn approvals_for(&self, name: &str) -> Result<Vec<PhaseApproval>, String> {
        let api: Api<PhaseApproval> = Api::namespaced(self.client.clone(), &self.namespace);
        match api.list(&ListParams::default()).await {
            Ok(list) => Ok(list
                .items
                .into_iter()
                .filter(|a| a.spec.bot.name == name)
                .collect()),
            Err(kube::Error::Api(s)) if s.is_forbidden() => Err(format!(
                "no permission to list {APPROVALS} in namespace \"{}\"",
                self.namespace
            )),
            Err(e) => Err(format!("cannot list PhaseApprovals: {e}")),
        }
    }

    /// The bot's RiskPolicy; a missing or unreadable policy is reported as
    /// a note (the status can be shown without it).
    pub async fn get_policy(&self, name: &str) -> Result<RiskPolicy, String> {
        let api: Api<RiskPolicy> = Api::namespaced(self.client.clone(), &self.namespace);
        api.get(name).await.map_err(|e| match e {
            kube::Error::Api(s) if s.is_not_found() => format!(
                "RiskPolicy \"{name}\" not found in namespace \"{}\"",
                self.namespace
            ),
            kube::Error::Api(s) if s.is_forbidden() => format!(
                "no permission to get {POLICIES} in namespace \"{}\"",
                self.namespace
            ),
            e => format!("cannot read RiskPolicy \"{name}\": {e}"),
        })
    }

    fn map_err(
        &self,
        e: kube::Error,
        name: &str,
        verb: &'static str,
        resource: &'static str,
    ) -> PluginError {
        match e {
            kube::Error::Api(s) if s.is_not_found() => PluginError::NotFound {
                name: name.to_string(),
                namespace: self.namespace.clone(),
            },
            kube::Error::Api(s) if s.is_forbidden() => PluginError::Forbidden {
                verb,
                resource,
                namespace: self.namespace.clone(),
                message: s.message.clone(),
            },
            kube::Error::Api(s) if s.is_conflict() => PluginError::Refused(format!(
                "TradingBot \"{name}\" changed while the request was prepared ({}); run the command again",
                s.message
            )),
            kube::Error::Api(s) if s.code == 401 => PluginError::Refused(format!(
                "the cluster did not accept the kubeconfig's credentials (401 {})",
                s.message
            )),
            e => PluginError::Other(anyhow::Error::new(e).context(format!(
                "cannot {verb} TradingBot \"{name}\" in namespace \"{}\"",
                self.namespace
            ))),
        }
    }
}
