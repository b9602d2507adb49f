//! `PhaseApproval` (short name `papp`): a person's GO for one bot to enter
//! one real-money phase (LimitedReal or Scaling) with one trading config,
//! until an expiry. The operator promotes into a real-money phase only with
//! an approval that [`check`] accepts; who may create one is a matter of
//! RBAC (the `botfleet-risk-manager` role), and who did is recorded by the
//! admission webhook in `spec.approvedBy`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::{CustomResource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::bot_status::GateCriterionStatus;
use crate::common::{Phase, is_k8s_name};
use crate::trading_bot::TradingBot;
use crate::validation::ValidationErrors;

/// Spec of a PhaseApproval.
// Repeated `printcolumn(type_ = ...)` entries look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "botfleet.dev",
    version = "v1alpha1",
    kind = "PhaseApproval",
    plural = "phaseapprovals",
    namespaced,
    shortname = "papp",
    category = "botfleet",
    derive = "PartialEq",
    doc = "A person's approval for one TradingBot (by UID) to enter one real-money phase with one trading config, until it expires. Create it with `kubectl botfleet approve`.",
    printcolumn(name = "Bot", type_ = "string", json_path = ".spec.bot.name"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".spec.phase"),
    printcolumn(name = "ApprovedBy", type_ = "string", json_path = ".spec.approvedBy"),
    printcolumn(name = "Expires", type_ = "string", json_path = ".spec.expiresAt"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhaseApprovalSpec {
    /// The TradingBot (same namespace) this approval is for, by name and UID: a bot deleted and created again under the same name needs a new approval.
    pub bot: ApprovedBot,
    /// The phase the bot may enter: LimitedReal or Scaling.
    pub phase: Phase,
    /// The trading hash (status.gate.tradingHash) of the config approved: a change of strategy, limits, symbols or image needs a new approval.
    pub trading_hash: String,
    /// The gate table the approver saw, criterion by criterion (a record, not re-checked: the operator checks the live gate too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gate: Vec<GateCriterionStatus>,
    /// After this time the approval is ignored.
    pub expires_at: Time,
    /// Who approved, as the apiserver authenticated them; set by the admission webhook on create, overwriting any value typed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// The approver's groups, as the apiserver authenticated them (set with approvedBy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved_groups: Vec<String>,
}

/// The bot an approval names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovedBot {
    /// TradingBot name.
    pub name: String,
    /// TradingBot `metadata.uid`.
    pub uid: String,
}

impl PhaseApprovalSpec {
    /// Every problem the schema cannot catch, with field paths.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errs = ValidationErrors::new();
        errs.check(is_k8s_name(&self.bot.name), "spec.bot.name", || {
            format!("`{}` is not a valid TradingBot name", self.bot.name)
        });
        errs.check(!self.bot.uid.trim().is_empty(), "spec.bot.uid", || {
            "set the bot's metadata.uid (kubectl botfleet approve fills it in)".into()
        });
        errs.check(self.phase.is_real_money(), "spec.phase", || {
            format!(
                "{} needs no approval; approve LimitedReal or Scaling",
                self.phase
            )
        });
        errs.check(
            !self.trading_hash.trim().is_empty(),
            "spec.tradingHash",
            || {
                "set the bot's status.gate.tradingHash (kubectl botfleet approve fills it in)"
                    .into()
            },
        );
        errs.into_result()
    }
}

impl PhaseApproval {
    /// The approval for `bot` as it is now to enter `phase` until
    /// `expires_at`: its UID, and the trading hash and gate table its status
    /// shows (what the approver is shown). Named `<bot>-<phase>-` plus a
    /// suffix the apiserver generates.
    pub fn for_bot(bot: &TradingBot, phase: Phase, expires_at: Timestamp) -> Result<Self, String> {
        let name = bot.name_any();
        let uid = bot
            .uid()
            .ok_or_else(|| format!("TradingBot `{name}` has no metadata.uid yet"))?;
        let current = bot.status.as_ref().and_then(|s| s.phase);
        let gate = bot.status.as_ref().and_then(|s| s.gate.as_ref());
        let gate = match gate {
            Some(g) if g.target_phase == phase => g,
            _ => {
                return Err(format!(
                    "`{name}` is in {} and its next phase is {}; only the next phase can be approved (--phase)",
                    current.map_or("no phase yet".to_string(), |p| p.to_string()),
                    current
                        .and_then(Phase::next)
                        .map_or("none".to_string(), |p| p.to_string()),
                ));
            }
        };
        if !phase.is_real_money() {
            return Err(format!(
                "{phase} needs no approval; approve LimitedReal or Scaling"
            ));
        }
        let trading_hash = gate.trading_hash.clone().ok_or_else(|| {
            format!(
                "`{name}`'s engine does not report the current config yet (status.gate.tradingHash is empty): there is no measured window to approve; try again once it does"
            )
        })?;
        let mut approval = PhaseApproval::new(
            "",
            PhaseApprovalSpec {
                bot: ApprovedBot {
                    name: name.clone(),
                    uid,
                },
                phase,
                trading_hash,
                gate: gate.criteria.clone(),
                expires_at: Time(expires_at),
                approved_by: None,
                approved_groups: Vec::new(),
            },
        );
        approval.metadata.name = None;
        approval.metadata.generate_name =
            Some(format!("{name}-{}-", phase.as_str().to_ascii_lowercase()));
        approval.metadata.namespace = bot.namespace();
        Ok(approval)
    }
}

/// What an approval must match to let a bot into a phase now.
#[derive(Clone, Copy, Debug)]
pub struct ApprovalTarget<'a> {
    /// The bot's name.
    pub bot_name: &'a str,
    /// The bot's `metadata.uid`.
    pub bot_uid: &'a str,
    /// The phase the bot is about to enter.
    pub phase: Phase,
    /// The trading hash the bot runs now.
    pub trading_hash: &'a str,
    /// UIDs of approvals the bot already used (one approval, one entry).
    pub used: &'a [String],
    /// Now.
    pub now: Timestamp,
    /// Approvals whose approver was asked about again when the approval
    /// was about to be used, and may no longer approve this bot.
    pub approver_refusals: &'a [ApproverRefusal],
}

/// An approval whose approver no longer holds the right to approve the bot
/// (RBAC changed since the approval was given), or whose right could not be
/// confirmed: the approval is not used (fail closed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApproverRefusal {
    /// The PhaseApproval's `metadata.uid`.
    pub approval_uid: String,
    /// What the apiserver answered, for the condition message.
    pub why: String,
}

/// Why an approval does not let the bot in. The condition reason of each
/// is [`ApprovalRejection::reason`].
#[derive(Clone, Debug, PartialEq)]
pub enum ApprovalRejection {
    /// No approval names this bot.
    Missing,
    /// Names this bot's name but another UID (a bot of the same name, deleted since).
    OtherBot { uid: String },
    /// For another phase.
    OtherPhase { phase: Phase },
    /// For another trading config.
    OtherConfig { approved: String },
    /// Past its expiry.
    Expired { at: Timestamp },
    /// Already used for an earlier entry into the phase.
    AlreadyUsed,
    /// Valid, but its approver may no longer approve the bot.
    ApproverNotAllowed { approver: String, why: String },
}

/// Condition reasons for approvals (`PromotionBlocked`).
pub mod approval_reasons {
    /// No approval names the bot.
    pub const REQUIRED: &str = "ApprovalRequired";
    /// The approval names another bot UID.
    pub const OTHER_BOT: &str = "ApprovalForOtherBot";
    /// The approval is for another phase.
    pub const OTHER_PHASE: &str = "ApprovalForOtherPhase";
    /// The approval is for another trading hash.
    pub const OTHER_CONFIG: &str = "ApprovalForOtherConfig";
    /// The approval expired.
    pub const EXPIRED: &str = "ApprovalExpired";
    /// The approval was used already.
    pub const ALREADY_USED: &str = "ApprovalAlreadyUsed";
    /// The approver lost the right to approve since approving.
    pub const APPROVER_NOT_ALLOWED: &str = "ApproverNotAllowed";
}

impl ApprovalRejection {
    /// The `PromotionBlocked` reason.
    pub fn reason(&self) -> &'static str {
        use approval_reasons as r;
        match self {
            Self::Missing => r::REQUIRED,
            Self::OtherBot { .. } => r::OTHER_BOT,
            Self::OtherPhase { .. } => r::OTHER_PHASE,
            Self::OtherConfig { .. } => r::OTHER_CONFIG,
            Self::Expired { .. } => r::EXPIRED,
            Self::AlreadyUsed => r::ALREADY_USED,
            Self::ApproverNotAllowed { .. } => r::APPROVER_NOT_ALLOWED,
        }
    }

    /// What is wrong and what to do, for the condition message.
    pub fn message(&self, target: &ApprovalTarget<'_>) -> String {
        let phase = target.phase;
        let fix = format!(
            "a risk manager approves with `kubectl botfleet approve {} --phase {phase}`",
            target.bot_name
        );
        match self {
            Self::Missing => format!("entering {phase} needs a PhaseApproval: {fix}"),
            Self::OtherBot { uid } => format!(
                "the PhaseApproval names uid {uid}, not this bot's {} (a bot of the same name, deleted since): {fix}",
                target.bot_uid
            ),
            Self::OtherPhase { phase: other } => {
                format!("the PhaseApproval is for {other}, not {phase}: {fix}")
            }
            Self::OtherConfig { approved } => format!(
                "the PhaseApproval approves trading hash {}, but the bot now trades {} (strategy, limits, symbols or image changed): {fix}",
                short(approved),
                short(target.trading_hash)
            ),
            Self::Expired { at } => format!("the PhaseApproval expired at {at}: {fix}"),
            Self::AlreadyUsed => {
                format!("the PhaseApproval was used for an earlier entry into {phase}: {fix}")
            }
            Self::ApproverNotAllowed { approver, why } => format!(
                "the PhaseApproval was given by {approver}, who may no longer approve this bot ({why}): {fix}, or the approve right is granted back"
            ),
        }
    }

    /// How close an approval came, for picking the reason to report when
    /// several approvals name the bot (higher = closer).
    fn closeness(&self) -> u8 {
        match self {
            Self::Missing => 0,
            Self::OtherBot { .. } => 1,
            Self::OtherPhase { .. } => 2,
            Self::OtherConfig { .. } => 3,
            Self::Expired { .. } => 4,
            Self::AlreadyUsed => 5,
            Self::ApproverNotAllowed { .. } => 6,
        }
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// Is this approval valid for this bot, phase and config now?
pub fn check(
    approval: &PhaseApproval,
    target: &ApprovalTarget<'_>,
) -> Result<(), ApprovalRejection> {
    let spec = &approval.spec;
    if spec.bot.name != target.bot_name {
        return Err(ApprovalRejection::Missing);
    }
    if spec.bot.uid != target.bot_uid {
        return Err(ApprovalRejection::OtherBot {
            uid: spec.bot.uid.clone(),
        });
    }
    if spec.phase != target.phase {
        return Err(ApprovalRejection::OtherPhase { phase: spec.phase });
    }
    if spec.trading_hash != target.trading_hash {
        return Err(ApprovalRejection::OtherConfig {
            approved: spec.trading_hash.clone(),
        });
    }
    if spec.expires_at.0 <= target.now {
        return Err(ApprovalRejection::Expired {
            at: spec.expires_at.0,
        });
    }
    let uid = approval.uid().unwrap_or_default();
    if target.used.contains(&uid) {
        return Err(ApprovalRejection::AlreadyUsed);
    }
    if let Some(refusal) = target
        .approver_refusals
        .iter()
        .find(|r| r.approval_uid == uid)
    {
        return Err(ApprovalRejection::ApproverNotAllowed {
            approver: spec.approved_by.clone().unwrap_or_default(),
            why: refusal.why.clone(),
        });
    }
    Ok(())
}

/// The valid approval among `approvals` (the one expiring last), or the
/// rejection of the approval that came closest.
pub fn find_valid<'a>(
    approvals: impl IntoIterator<Item = &'a PhaseApproval>,
    target: &ApprovalTarget<'_>,
) -> Result<&'a PhaseApproval, ApprovalRejection> {
    let mut best: Option<&PhaseApproval> = None;
    let mut closest = ApprovalRejection::Missing;
    for a in approvals {
        match check(a, target) {
            Ok(()) => {
                if best.is_none_or(|b| b.spec.expires_at.0 < a.spec.expires_at.0) {
                    best = Some(a);
                }
            }
            Err(e) if e.closeness() > closest.closeness() => closest = e,
            Err(_) => {}
        }
    }
    best.ok_or(closest)
}

#[cfg(test)]
#[path = "phase_approval_tests.rs"]
mod tests;
