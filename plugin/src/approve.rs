//! `approve`: shows exactly what a PhaseApproval approves — the bot and
//! its UID, the phase, the trading hash, the gate table the operator
//! measured and the limits the phase trades under — then creates it after
//! a confirmation (`--yes`, or `y` at the prompt). Who approved is not
//! typed here: the admission webhook records the requesting user.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use botfleet_crds::{Phase, PhaseApproval, RiskPolicy, TradingBot};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;
use serde_json::Value;

use crate::Output;
use crate::cluster::Cluster;
use crate::error::PluginError;
use crate::status_view::effective_phase;
use crate::table::{num, render};

/// What is approved, for the table and `-o json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalPreview {
    pub approval: PhaseApproval,
    /// The limits of the approved phase, as the bot's RiskPolicy sets them
    /// (hard caps applied), or why they cannot be shown.
    pub limits: Result<Value, String>,
}

/// Builds the approval for `bot` to enter `phase` (default: the next one)
/// for `valid_for`.
pub fn preview(
    bot: &TradingBot,
    phase: Option<Phase>,
    valid_for: Duration,
    policy: Result<RiskPolicy, String>,
    now: Timestamp,
) -> Result<ApprovalPreview, PluginError> {
    let from = effective_phase(bot);
    let phase = match phase.or(from.next()) {
        Some(p) => p,
        None => {
            return Err(PluginError::Refused(format!(
                "{} is in {from}, the last phase; there is nothing to approve",
                bot.name_any()
            )));
        }
    };
    let expires = now
        .checked_add(valid_for)
        .map_err(|e| PluginError::Refused(format!("--expires is too far ahead: {e}")))?;
    let approval = PhaseApproval::for_bot(bot, phase, expires).map_err(PluginError::Refused)?;
    let limits = policy.and_then(|p| {
        serde_json::to_value(p.spec.effective_limits(phase)).map_err(|e| e.to_string())
    });
    Ok(ApprovalPreview { approval, limits })
}

/// The terminal rendering of what will be approved.
pub fn render_preview(p: &ApprovalPreview) -> String {
    let s = &p.approval.spec;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Approve TradingBot {}/{} (uid {}) to enter {}",
        p.approval.namespace().unwrap_or_default(),
        s.bot.name,
        s.bot.uid,
        s.phase
    );
    let _ = writeln!(out, "Config:     trading hash {}", s.trading_hash);
    let _ = writeln!(out, "Expires:    {}", s.expires_at.0);
    let _ = writeln!(out, "\nGate as measured by the operator:");
    let rows: Vec<Vec<String>> = s
        .gate
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                format!("{} {}", c.comparison, num(c.required)),
                c.measured.map_or_else(|| "-".into(), num),
                if c.met { "yes" } else { "NO" }.into(),
            ]
        })
        .collect();
    out.push_str(&render(
        &["CRITERION", "REQUIRED", "MEASURED", "MET"],
        &rows,
    ));
    // What a number cannot say (the ledger check's differences, named).
    for c in &s.gate {
        if let Some(detail) = &c.detail {
            let _ = writeln!(out, "{}: {detail}", c.name);
        }
    }
    if s.gate.iter().any(|c| !c.met) {
        let _ = writeln!(
            out,
            "note: the gate is not met; the operator also waits for it"
        );
    }
    let _ = writeln!(out, "\nLimits in {}:", s.phase);
    match &p.limits {
        Ok(Value::Object(map)) => {
            let rows: Vec<Vec<String>> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| vec![k.clone(), compact(v)])
                .collect();
            out.push_str(&render(&["LIMIT", "VALUE"], &rows));
        }
        Ok(other) => {
            let _ = writeln!(out, "  {}", compact(other));
        }
        Err(note) => {
            let _ = writeln!(out, "  cannot be shown: {note}");
        }
    }
    out
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn approve(
    ctx: &Cluster,
    name: &str,
    phase: Option<Phase>,
    valid_for: Duration,
    yes: bool,
    output: Output,
) -> Result<(), PluginError> {
    let bot = ctx.get_bot(name).await?;
    let policy = ctx.get_policy(&bot.spec.risk_policy_ref.name).await;
    let p = preview(&bot, phase, valid_for, policy, Timestamp::now())?;
    if output == Output::Table {
        print!("{}", render_preview(&p));
    }
    if !yes && !confirm()? {
        return Err(PluginError::Refused(
            "not approved: nothing was created (confirm with y, or pass --yes)".into(),
        ));
    }
    let created = ctx.create_approval(&p.approval).await?;
    match output {
        Output::Json => {
            let text = serde_json::to_string_pretty(&ApprovalPreview {
                approval: created,
                limits: p.limits,
            })
            .map_err(anyhow::Error::from)?;
            println!("{text}");
        }
        Output::Table => println!(
            "\nPhaseApproval {} created; the operator promotes {name} to {} once the gate is met",
            created.name_any(),
            created.spec.phase
        ),
    }
    Ok(())
}

/// Asks at the terminal; without one, only `--yes` approves.
fn confirm() -> Result<bool, PluginError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(PluginError::Refused(
            "not approved: stdin is not a terminal, so nothing can be confirmed; review the output above and pass --yes".into(),
        ));
    }
    print!("Create this approval? [y/N] ");
    std::io::stdout().flush().map_err(anyhow::Error::from)?;
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(anyhow::Error::from)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
