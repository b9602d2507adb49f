//! The admission decision, pure: from one `AdmissionReview` request (as
//! JSON) the response — refuse with every problem `validate()` finds, with
//! field paths; refuse a phase skip; and on PhaseApproval CREATE record the
//! requesting user (`userInfo`) in `spec.approvedBy`/`approvedGroups`,
//! overwriting whatever was typed — once the apiserver has said that user
//! may approve that bot (verb `approve` on `tradingbots`, asked by the
//! webhook as a LocalSubjectAccessReview: [`approver_question`] and
//! [`ApproverAnswer`]). No I/O: [`crate::webhook`] serves it to the
//! apiserver (docs/operator.md, Trust model).

use botfleet_crds::{
    Phase, PhaseApprovalSpec, Promotion, RiskPolicySpec, StrategySpec, TradingBotSpec,
    ValidationErrors,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The RBAC verb on `tradingbots` a PhaseApproval's creator must hold for
/// the bot it names (the chart's risk-manager role has it; creating
/// PhaseApproval objects alone is not enough).
pub const APPROVE_VERB: &str = "approve";

/// Who asks to approve which bot: what the webhook asks the apiserver
/// before admitting a PhaseApproval.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApproverQuestion {
    pub namespace: String,
    pub bot: String,
    pub user: String,
    pub uid: Option<String>,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The apiserver's answer to an [`ApproverQuestion`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApproverAnswer {
    Allowed,
    Denied {
        reason: String,
    },
    /// The question could not be asked (the approval is refused: fail closed).
    Unknown {
        error: String,
    },
}

/// The question to ask before `review` may be admitted: only a PhaseApproval
/// CREATE has one.
pub fn approver_question(review: &Value) -> Option<ApproverQuestion> {
    let request = &review["request"];
    if request["kind"]["kind"] != "PhaseApproval" || request["operation"] != "CREATE" {
        return None;
    }
    let user = &request["userInfo"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(ApproverQuestion {
        namespace: request["namespace"]
            .as_str()
            .or(request["object"]["metadata"]["namespace"].as_str())
            .unwrap_or_default()
            .into(),
        bot: request["object"]["spec"]["bot"]["name"]
            .as_str()
            .unwrap_or_default()
            .into(),
        user: user["username"].as_str().unwrap_or_default().into(),
        uid: user["uid"].as_str().map(String::from),
        groups: strings(&user["groups"]),
        extra: user["extra"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), strings(v))).collect())
            .unwrap_or_default(),
    })
}

/// The `response` of an AdmissionReview for `review` (its `request`);
/// `approver` is the answer to its [`approver_question`], if it has one
/// (a PhaseApproval without an `Allowed` answer is refused).
pub fn respond(review: &Value, approver: Option<&ApproverAnswer>) -> Value {
    let request = &review["request"];
    let uid = request["uid"].clone();
    let mut response = json!({"uid": uid, "allowed": true});
    let decision = match approver_question(review) {
        Some(question) => may_approve(&question, approver).and_then(|()| decide(request)),
        None => decide(request),
    };
    match decision {
        Ok(None) => {}
        Ok(Some(patch)) => {
            response["patchType"] = json!("JSONPatch");
            response["patch"] = json!(base64(&patch.to_string()));
        }
        Err(message) => {
            response["allowed"] = json!(false);
            response["status"] = json!({"code": 422, "reason": "Invalid", "message": message});
        }
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
}

/// `Ok(None)` admits, `Ok(Some(json_patch))` admits changed, `Err` refuses.
fn decide(request: &Value) -> Result<Option<Value>, String> {
    let operation = request["operation"].as_str().unwrap_or_default();
    if !matches!(operation, "CREATE" | "UPDATE") {
        return Ok(None);
    }
    let kind = request["kind"]["kind"].as_str().unwrap_or_default();
    let object = &request["object"];
    let name = object["metadata"]["name"]
        .as_str()
        .or(object["metadata"]["generateName"].as_str())
        .unwrap_or_default();
    match kind {
        "Strategy" => check::<StrategySpec>(kind, name, object, |s| s.validate()).map(|_| None),
        "RiskPolicy" => check::<RiskPolicySpec>(kind, name, object, |s| s.validate()).map(|_| None),
        "TradingBot" => {
            let spec = check::<TradingBotSpec>(kind, name, object, |s| s.validate())?;
            no_skip(&spec, effective_phase(&request["oldObject"]), name).map(|()| None)
        }
        "PhaseApproval" => {
            check::<PhaseApprovalSpec>(kind, name, object, |s| s.validate())?;
            Ok((operation == "CREATE").then(|| approved_by(object, &request["userInfo"])))
        }
        _ => Ok(None),
    }
}

/// Refuses unless the apiserver allowed `question`, naming the fix.
fn may_approve(question: &ApproverQuestion, answer: Option<&ApproverAnswer>) -> Result<(), String> {
    let ApproverQuestion {
        namespace,
        bot,
        user,
        ..
    } = question;
    match answer {
        Some(ApproverAnswer::Allowed) => Ok(()),
        Some(ApproverAnswer::Denied { reason }) => Err(format!(
            "PhaseApproval: `{user}` may not approve TradingBot `{namespace}/{bot}`{}: approving needs the verb `{APPROVE_VERB}` on tradingbots in addition to creating PhaseApprovals; ask for the botfleet-risk-manager role in {namespace}",
            if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            }
        )),
        Some(ApproverAnswer::Unknown { error }) => Err(format!(
            "PhaseApproval: could not check whether `{user}` may approve TradingBot `{namespace}/{bot}` ({error}); nothing was stored, try again"
        )),
        None => Err(format!(
            "PhaseApproval: the approver `{user}` was not checked; nothing was stored, try again"
        )),
    }
}

fn check<T: DeserializeOwned>(
    kind: &str,
    name: &str,
    object: &Value,
    validate: impl FnOnce(&T) -> Result<(), ValidationErrors>,
) -> Result<T, String> {
    let spec: T = serde_json::from_value(object["spec"].clone())
        .map_err(|e| format!("{kind} `{name}`: spec: {e}"))?;
    validate(&spec).map_err(|e| format!("{kind} `{name}` is invalid: {e}"))?;
    Ok(spec)
}

fn effective_phase(old: &Value) -> Phase {
    serde_json::from_value(old["status"]["phase"].clone()).unwrap_or(Phase::Paper)
}

/// With `Manual` promotion, `spec.phase` may ask for one step above the
/// effective phase at most (the operator refuses more, but the person
/// should hear it at `kubectl apply`).
fn no_skip(spec: &TradingBotSpec, effective: Phase, name: &str) -> Result<(), String> {
    let next = effective.next().unwrap_or(effective);
    if spec.promotion == Promotion::Manual && spec.phase > next {
        return Err(format!(
            "TradingBot `{name}` is invalid: spec.phase: {} skips a phase: the bot is in {effective}, so ask for {next} first (promotions go one step at a time), or set promotion: Automatic to make spec.phase a ceiling",
            spec.phase
        ));
    }
    Ok(())
}

/// The JSON patch recording the requesting user as the approver.
fn approved_by(object: &Value, user: &Value) -> Value {
    let username = user["username"].as_str().unwrap_or_default();
    let groups = user["groups"].clone();
    let groups = if groups.is_array() { groups } else { json!([]) };
    let op = |field: &str| {
        if object["spec"].get(field).is_some() {
            "replace"
        } else {
            "add"
        }
    };
    json!([
        {"op": op("approvedBy"), "path": "/spec/approvedBy", "value": username},
        {"op": op("approvedGroups"), "path": "/spec/approvedGroups", "value": groups},
    ])
}

/// Standard base64 with padding (the AdmissionReview `patch` encoding).
fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
