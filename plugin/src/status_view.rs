//! What `status` shows: the bot's phases and state, the gate table, the
//! limits of the effective phase against what the metrics say is used,
//! capital and halt — as one serializable view, printed as tables or JSON.

use std::fmt::Write as _;

use botfleet_crds::limits::PhaseLimits;
use botfleet_crds::phase_approval::{self, ApprovalTarget};
use botfleet_crds::{Amount, GateStatus, HaltStatus, Phase, PhaseApproval, RiskPolicy, TradingBot};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use crate::table::{num, render};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub name: String,
    pub namespace: String,
    /// Effective phase (Paper until the operator reports one).
    pub phase: Phase,
    /// Desired phase, `spec.phase`.
    pub target: Phase,
    pub state: Option<String>,
    pub promotion: String,
    /// `spec.halted`, the kill switch.
    pub kill_switch: bool,
    pub gate: Option<GateStatus>,
    pub limits: Vec<LimitRow>,
    /// Why limits could not be shown (policy missing or unreadable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits_note: Option<String>,
    pub capital: CapitalView,
    pub halt: Option<HaltStatus>,
    /// PhaseApprovals naming the bot that it has not used yet.
    pub pending_approvals: Vec<ApprovalView>,
    /// Why approvals could not be listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvals_note: Option<String>,
    pub conditions: Vec<ConditionView>,
}

/// One PhaseApproval not used yet, and whether it would let the bot into
/// its next phase now.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalView {
    pub name: String,
    pub phase: Phase,
    pub approved_by: Option<String>,
    pub expires_at: String,
    /// `Usable`, or the reason the operator would give (ApprovalExpired, ...).
    pub state: String,
}

/// One limit of the effective phase: how much of it is used.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitRow {
    /// Field in `RiskPolicy.spec.limits.<phase>`.
    pub limit: String,
    pub used: f64,
    pub allowed: f64,
    pub unit: String,
    /// What reaching it does: halts, pauses entries, caps.
    pub effect: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapitalView {
    /// `spec.capital`.
    pub spec: Amount,
    /// `status.capital.allocated`, what the engine may trade now.
    pub allocated: Option<Amount>,
    pub step: Option<u32>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// The bot's effective phase: `status.phase`, Paper before the operator
/// wrote one (a new bot starts in Paper).
pub fn effective_phase(bot: &TradingBot) -> Phase {
    bot.status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or(Phase::Paper)
}

pub fn build(
    bot: &TradingBot,
    policy: Result<RiskPolicy, String>,
    approvals: Result<Vec<PhaseApproval>, String>,
    now: Timestamp,
) -> StatusView {
    let status = bot.status.clone().unwrap_or_default();
    let phase = effective_phase(bot);
    let (limits, limits_note) = match &policy {
        Ok(p) => match &status.metrics {
            Some(m) => (limit_rows(&p.spec.effective_limits(phase), m), None),
            None => (
                Vec::new(),
                Some("no metrics reported yet (the engine has not been polled)".into()),
            ),
        },
        Err(note) => (Vec::new(), Some(note.clone())),
    };
    StatusView {
        name: bot.name_any(),
        namespace: bot.namespace().unwrap_or_default(),
        phase,
        target: bot.spec.phase,
        state: status.state.map(|s| format!("{s:?}")),
        promotion: format!("{:?}", bot.spec.promotion),
        kill_switch: bot.spec.halted,
        gate: status.gate.clone(),
        limits,
        limits_note,
        capital: CapitalView {
            spec: bot.spec.capital,
            allocated: status.capital.as_ref().map(|c| c.allocated),
            step: status.capital.as_ref().and_then(|c| c.step),
        },
        halt: status.halt.clone(),
        pending_approvals: approvals
            .as_ref()
            .map(|a| pending(bot, a, now))
            .unwrap_or_default(),
        approvals_note: approvals.err(),
        conditions: status
            .conditions
            .iter()
            .map(|c| ConditionView {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .collect(),
    }
}

/// The approvals the bot has not used, each checked with the operator's
/// rule against the bot's next phase and the config it runs now.
fn pending(bot: &TradingBot, approvals: &[PhaseApproval], now: Timestamp) -> Vec<ApprovalView> {
    let status = bot.status.clone().unwrap_or_default();
    let used = status.used_approval_uids();
    let (name, uid) = (bot.name_any(), bot.uid().unwrap_or_default());
    let hash = status
        .gate
        .as_ref()
        .and_then(|g| g.trading_hash.clone())
        .unwrap_or_default();
    let next = effective_phase(bot).next();
    approvals
        .iter()
        .filter(|a| a.uid().is_none_or(|u| !used.contains(&u)))
        .map(|a| {
            let target = ApprovalTarget {
                bot_name: &name,
                bot_uid: &uid,
                phase: next.unwrap_or(a.spec.phase),
                trading_hash: &hash,
                used: &used,
                now,
                // The plugin cannot ask as the operator does; it shows the
                // approval as usable and the bot's status says otherwise.
                approver_refusals: &[],
            };
            let state = match phase_approval::check(a, &target) {
                Ok(()) => "Usable".to_string(),
                Err(e) => e.reason().to_string(),
            };
            ApprovalView {
                name: a.name_any(),
                phase: a.spec.phase,
                approved_by: a.spec.approved_by.clone(),
                expires_at: a.spec.expires_at.0.to_string(),
                state,
            }
        })
        .collect()
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// The limits the status metrics can be compared with. Losses are
/// positive numbers (a gain uses none of a loss limit).
fn limit_rows(l: &PhaseLimits, m: &botfleet_crds::BotMetrics) -> Vec<LimitRow> {
    let row = |limit: &str, used: f64, allowed: f64, unit: &str, effect: &str| LimitRow {
        limit: limit.into(),
        used,
        allowed,
        unit: unit.into(),
        effect: effect.into(),
    };
    let equity = m.equity.value();
    let daily_loss = (-m.daily_pnl.value()).max(Decimal::ZERO);
    // The day started at today's equity minus today's P&L.
    let day_start =
        Amount::try_from((equity - m.daily_pnl.value()).max(Decimal::ZERO)).unwrap_or(Amount::ZERO);
    let mut rows = vec![
        row(
            "maxDrawdownPct",
            m.drawdown_pct,
            l.max_drawdown_pct.to_f64(),
            "%",
            "halts",
        ),
        row(
            "maxTotalLossPct",
            (-m.return_pct).max(0.0),
            l.max_total_loss_pct.to_f64(),
            "%",
            "halts",
        ),
        row(
            "dailyLossLimit",
            f(daily_loss),
            l.daily_loss_limit_for(day_start).to_f64(),
            "quote",
            "pauses entries",
        ),
        row(
            "maxOpenPositions",
            f64::from(m.open_positions),
            f64::from(l.max_open_positions),
            "positions",
            "caps entries",
        ),
    ];
    if let Some(cap) = l.max_total_loss {
        // Start equity from the phase return: equity = start * (1 + r/100).
        let growth = 1.0 + m.return_pct / 100.0;
        let start = if growth > 0.0 {
            f(equity) / growth
        } else {
            f(equity)
        };
        rows.push(row(
            "maxTotalLoss",
            ((start - f(equity)) * 100.0).round().max(0.0) / 100.0,
            cap.to_f64(),
            "quote",
            "halts",
        ));
    }
    rows
}

/// The terminal rendering.
pub fn render_table(v: &StatusView) -> String {
    let mut out = String::new();
    let dash = || "-".to_string();
    let _ = writeln!(out, "TradingBot {}/{}", v.namespace, v.name);
    let mut head = vec![
        vec!["Phase".into(), v.phase.to_string()],
        vec!["Target".into(), v.target.to_string()],
        vec!["State".into(), v.state.clone().unwrap_or_else(dash)],
        vec!["Promotion".into(), v.promotion.clone()],
    ];
    if v.kill_switch {
        head.push(vec!["Kill switch".into(), "on (spec.halted: true)".into()]);
    }
    let alloc = v.capital.allocated.map_or_else(dash, |a| a.to_string());
    let step = v
        .capital
        .step
        .map_or_else(String::new, |s| format!(", schedule step {s}"));
    head.push(vec![
        "Capital".into(),
        format!("allocated {alloc} (spec.capital {}{step})", v.capital.spec),
    ]);
    for row in &head {
        let _ = writeln!(out, "{:<12}{}", format!("{}:", row[0]), row[1]);
    }

    match &v.gate {
        Some(g) => {
            let _ = writeln!(
                out,
                "\nGate to {} ({}):",
                g.target_phase,
                if g.met { "met" } else { "not met" }
            );
            let rows: Vec<Vec<String>> = g
                .criteria
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        format!("{} {}", c.comparison, num(c.required)),
                        c.measured.map_or_else(dash, num),
                        if c.met { "yes" } else { "NO" }.into(),
                    ]
                })
                .collect();
            out.push_str(&render(
                &["CRITERION", "REQUIRED", "MEASURED", "MET"],
                &rows,
            ));
        }
        None if v.phase.next().is_none() => {
            let _ = writeln!(out, "\nGate: none ({} is the last phase)", v.phase);
        }
        None => {
            let _ = writeln!(out, "\nGate: not evaluated yet");
        }
    }

    let _ = writeln!(out, "\nLimits ({}):", v.phase);
    if let Some(note) = &v.limits_note {
        let _ = writeln!(out, "  {note}");
    } else {
        let rows: Vec<Vec<String>> = v
            .limits
            .iter()
            .map(|r| {
                let share = if r.allowed > 0.0 {
                    format!("{}%", num((r.used / r.allowed * 100.0).round()))
                } else {
                    dash()
                };
                let unit = |x: f64| match r.unit.as_str() {
                    "%" => format!("{} %", num(x)),
                    _ => num(x),
                };
                vec![
                    r.limit.clone(),
                    unit(r.used),
                    unit(r.allowed),
                    share,
                    r.effect.clone(),
                ]
            })
            .collect();
        out.push_str(&render(
            &["LIMIT", "USED", "ALLOWED", "USE", "AT LIMIT"],
            &rows,
        ));
    }

    match &v.halt {
        Some(h) => {
            let _ = writeln!(
                out,
                "\nHalted: {} (id {}, at {})\n  resume with: kubectl botfleet resume {} -n {}",
                h.reason, h.id, h.at.0, v.name, v.namespace
            );
        }
        None => {
            let _ = writeln!(out, "\nHalt: none");
        }
    }

    if let Some(note) = &v.approvals_note {
        let _ = writeln!(out, "\nApprovals: {note}");
    } else if v.pending_approvals.is_empty() {
        let _ = writeln!(out, "\nPending approvals: none");
    } else {
        let _ = writeln!(out, "\nPending approvals:");
        let rows: Vec<Vec<String>> = v
            .pending_approvals
            .iter()
            .map(|a| {
                vec![
                    a.name.clone(),
                    a.phase.to_string(),
                    a.approved_by.clone().unwrap_or_else(dash),
                    a.expires_at.clone(),
                    a.state.clone(),
                ]
            })
            .collect();
        out.push_str(&render(
            &["APPROVAL", "PHASE", "APPROVED BY", "EXPIRES", "STATE"],
            &rows,
        ));
    }

    if !v.conditions.is_empty() {
        let rows: Vec<Vec<String>> = v
            .conditions
            .iter()
            .map(|c| {
                vec![
                    c.type_.clone(),
                    c.status.clone(),
                    c.reason.clone(),
                    c.message.clone(),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&render(
            &["CONDITION", "STATUS", "REASON", "MESSAGE"],
            &rows,
        ));
    }
    out
}

#[cfg(test)]
#[path = "status_view_tests.rs"]
mod tests;
