//! The cluster commands. Each reads the bot first, decides from its spec
//! and status, and changes it only through the fields the operator reads
//! (`spec.phase`, `spec.halted`, the resume annotation), with a JSON merge
//! patch pinned to the resourceVersion it decided on, so a concurrent change
//! makes the command fail instead of acting on a stale view.

use botfleet_crds::labels::RESUME_ANNOTATION;
use botfleet_crds::{Phase, TradingBot};
use kube::ResourceExt;
use serde_json::json;

use crate::Output;
use crate::cluster::Cluster;
use crate::error::{PluginError, Unmet};
use crate::status_view::{self, effective_phase};

pub async fn status(ctx: &Cluster, name: &str, output: Output) -> Result<(), PluginError> {
    let bot = ctx.get_bot(name).await?;
    let policy = ctx.get_policy(&bot.spec.risk_policy_ref.name).await;
    let approvals = ctx.approvals_for(name).await;
    let view = status_view::build(&bot, policy, approvals, k8s_openapi::jiff::Timestamp::now());
    match output {
        Output::Json => print_json(&view)?,
        Output::Table => print!("{}", status_view::render_table(&view)),
    }
    Ok(())
}

/// Refuses before patching when the operator's measured gate to the next
/// phase is not met (unless `force`): asking would only park the bot in
/// PromotionBlocked, and a refusal here tells the person why at once.
pub async fn promote(
    ctx: &Cluster,
    name: &str,
    force: bool,
    output: Output,
) -> Result<(), PluginError> {
    let bot = ctx.get_bot(name).await?;
    let from = effective_phase(&bot);
    let Some(to) = from.next() else {
        return Err(PluginError::Refused(format!(
            "{name} is in {from}, the last phase; there is nothing to promote to"
        )));
    };
    let status = bot.status.clone().unwrap_or_default();
    if let Some(h) = &status.halt {
        return Err(PluginError::Refused(format!(
            "{name} is halted ({}; halt id {}): resume it first with `kubectl botfleet resume {name}`",
            h.reason, h.id
        )));
    }
    let mut note = None;
    match &status.gate {
        Some(g) if g.target_phase == to && !g.met => {
            let unmet: Vec<Unmet> = g
                .criteria
                .iter()
                .filter(|c| !c.met)
                .map(|c| Unmet {
                    name: c.name.clone(),
                    comparison: c.comparison.symbol().into(),
                    required: c.required,
                    measured: c.measured,
                })
                .collect();
            let err = PluginError::GateNotMet {
                name: name.into(),
                target: to,
                unmet,
            };
            if !force {
                return Err(err);
            }
            note = Some(format!(
                "gate to {to} not met; requested anyway (--force): the operator keeps {name} in {from} until it is"
            ));
        }
        Some(g) if g.target_phase == to => {}
        _ => {
            note = Some(format!(
                "the operator has not reported the gate to {to} yet; it promotes only when the gate is met"
            ))
        }
    }
    set_phase(ctx, &bot, "promote", from, to, note, output).await
}

pub async fn demote(
    ctx: &Cluster,
    name: &str,
    to: Phase,
    output: Output,
) -> Result<(), PluginError> {
    let bot = ctx.get_bot(name).await?;
    let from = effective_phase(&bot);
    if to >= from {
        let lower: Vec<&str> = Phase::ALL
            .iter()
            .filter(|p| **p < from)
            .map(|p| p.as_str())
            .collect();
        let choices = if lower.is_empty() {
            "none: Paper is the lowest".to_string()
        } else {
            lower.join(", ")
        };
        return Err(PluginError::Refused(format!(
            "{name} trades in {from}; demote to a lower phase ({choices}), or use `promote` to go up"
        )));
    }
    set_phase(ctx, &bot, "demote", from, to, None, output).await
}

async fn set_phase(
    ctx: &Cluster,
    bot: &TradingBot,
    action: &str,
    from: Phase,
    to: Phase,
    note: Option<String>,
    output: Output,
) -> Result<(), PluginError> {
    let name = bot.name_any();
    let patch = json!({
        "metadata": {"resourceVersion": bot.resource_version()},
        "spec": {"phase": to},
    });
    ctx.patch_bot(&name, &patch).await?;
    let result = json!({
        "action": action, "bot": name, "namespace": ctx.namespace,
        "from": from, "to": to, "note": note,
    });
    match output {
        Output::Json => print_json(&result)?,
        Output::Table => {
            println!("{name}: spec.phase set to {to} (effective phase {from})");
            if let Some(n) = note {
                println!("note: {n}");
            }
        }
    }
    Ok(())
}

pub async fn halt(ctx: &Cluster, name: &str, output: Output) -> Result<(), PluginError> {
    let bot = ctx.get_bot(name).await?;
    let already = bot.spec.halted;
    if !already {
        ctx.patch_bot(name, &json!({"spec": {"halted": true}}))
            .await?;
    }
    let result = json!({
        "action": "halt", "bot": name, "namespace": ctx.namespace, "changed": !already,
    });
    match output {
        Output::Json => print_json(&result)?,
        Output::Table if already => println!("{name}: kill switch already on (spec.halted: true)"),
        Output::Table => println!(
            "{name}: kill switch on (spec.halted: true); the operator halts the engine and records the halt in status.halt"
        ),
    }
    Ok(())
}

/// Resumes the halt the operator recorded. The operator lifts a halt only
/// when the annotation carries the current halt id *and* `spec.halted` is
/// false, so both are set in one patch (pinned to the resourceVersion the
/// id was read from).
pub async fn resume(ctx: &Cluster, name: &str, output: Output) -> Result<(), PluginError> {
    let bot = ctx.get_bot(name).await?;
    let halt = bot.status.as_ref().and_then(|s| s.halt.clone());
    let Some(halt) = halt else {
        let hint = if bot.spec.halted {
            "; spec.halted is true but the operator has not recorded the halt yet: wait for status.halt and run resume again"
        } else {
            ""
        };
        return Err(PluginError::Refused(format!(
            "{name} is not halted (status.halt is empty){hint}"
        )));
    };
    let mut patch = json!({
        "metadata": {
            "resourceVersion": bot.resource_version(),
            "annotations": {RESUME_ANNOTATION: halt.id},
        },
    });
    if bot.spec.halted {
        patch["spec"] = json!({"halted": false});
    }
    ctx.patch_bot(name, &patch).await?;
    let result = json!({
        "action": "resume", "bot": name, "namespace": ctx.namespace,
        "haltId": halt.id, "killSwitchReleased": bot.spec.halted,
    });
    match output {
        Output::Json => print_json(&result)?,
        Output::Table => {
            println!(
                "{name}: resume requested for halt {} ({}); annotation {RESUME_ANNOTATION}={}",
                halt.id, halt.reason, halt.id
            );
            if bot.spec.halted {
                println!("{name}: kill switch released (spec.halted: false)");
            }
            println!("the bot comes back in its policy's onHalt.resumePhase");
        }
    }
    Ok(())
}

fn print_json(value: &impl serde::Serialize) -> Result<(), PluginError> {
    let text = serde_json::to_string_pretty(value).map_err(anyhow::Error::from)?;
    println!("{text}");
    Ok(())
}
