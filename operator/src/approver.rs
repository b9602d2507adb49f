//! Who may approve: the apiserver is asked (a LocalSubjectAccessReview in
//! the bot's namespace) whether a user holds the verb `approve` on a
//! TradingBot. Asked twice: by the webhook when a PhaseApproval is created
//! (its creator), and by the reconcile just before an approval lets a bot
//! into a real-money phase (its recorded approver, who may have lost the
//! right since). Any failure to ask counts as "may not" (fail closed).

use k8s_openapi::api::authorization::v1::{
    LocalSubjectAccessReview, ResourceAttributes, SubjectAccessReviewSpec,
};
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use botfleet_crds::PhaseApproval;
use botfleet_crds::phase_approval::ApproverRefusal;

use crate::admission::{APPROVE_VERB, ApproverAnswer, ApproverQuestion};

/// Asks the apiserver (a LocalSubjectAccessReview in the approval's
/// namespace) whether a user may `approve` a TradingBot.
#[derive(Clone)]
pub struct ApproverCheck {
    client: kube::Client,
}

impl ApproverCheck {
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    pub async fn ask(&self, q: &ApproverQuestion) -> ApproverAnswer {
        let review = LocalSubjectAccessReview {
            metadata: kube::api::ObjectMeta {
                namespace: Some(q.namespace.clone()),
                ..Default::default()
            },
            spec: SubjectAccessReviewSpec {
                user: Some(q.user.clone()),
                uid: q.uid.clone(),
                groups: Some(q.groups.clone()),
                extra: Some(q.extra.clone()),
                resource_attributes: Some(ResourceAttributes {
                    group: Some(botfleet_crds::GROUP.into()),
                    resource: Some("tradingbots".into()),
                    verb: Some(APPROVE_VERB.into()),
                    namespace: Some(q.namespace.clone()),
                    name: Some(q.bot.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            status: None,
        };
        let api: Api<LocalSubjectAccessReview> = Api::namespaced(self.client.clone(), &q.namespace);
        match api.create(&PostParams::default(), &review).await {
            Ok(answered) => match answered.status {
                Some(s) if s.allowed && s.denied != Some(true) => ApproverAnswer::Allowed,
                Some(s) => ApproverAnswer::Denied {
                    reason: s.reason.unwrap_or_default(),
                },
                None => ApproverAnswer::Unknown {
                    error: "the access review came back without a status".into(),
                },
            },
            Err(e) => ApproverAnswer::Unknown {
                error: format!("access review failed: {e}"),
            },
        }
    }
}

/// Asks again about each approval's recorded approver (`approvedBy` with
/// `approvedGroups`, as the webhook recorded them at creation) and returns
/// the approvals that may not be used.
pub async fn refusals(check: &ApproverCheck, approvals: &[&PhaseApproval]) -> Vec<ApproverRefusal> {
    let mut refused = Vec::new();
    for a in approvals {
        let why = match &a.spec.approved_by {
            None => Some("no approver was recorded by the admission webhook".to_string()),
            Some(user) => {
                let question = ApproverQuestion {
                    namespace: a.namespace().unwrap_or_default(),
                    bot: a.spec.bot.name.clone(),
                    user: user.clone(),
                    uid: None,
                    groups: a.spec.approved_groups.clone(),
                    extra: Default::default(),
                };
                match check.ask(&question).await {
                    ApproverAnswer::Allowed => None,
                    ApproverAnswer::Denied { reason } if reason.is_empty() => Some(format!(
                        "{user} does not hold the verb {APPROVE_VERB} on it"
                    )),
                    ApproverAnswer::Denied { reason } => Some(format!(
                        "{user} does not hold the verb {APPROVE_VERB} on it: {reason}"
                    )),
                    ApproverAnswer::Unknown { error } => {
                        Some(format!("the right of {user} could not be checked: {error}"))
                    }
                }
            }
        };
        if let Some(why) = why {
            refused.push(ApproverRefusal {
                approval_uid: a.uid().unwrap_or_default(),
                why,
            });
        }
    }
    refused
}
