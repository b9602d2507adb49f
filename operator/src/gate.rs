//! The phase state machine, pure: from the desired phase (`spec.phase`), the
//! effective phase (`status.phase`), the promotion mode and the metrics the
//! engine measured in the effective phase, decide the next effective phase.
//!
//! - A new bot starts in Paper, whatever it asks for.
//! - Demotion (desired below effective) is immediate, even while halted.
//! - Promotion moves one step, only when every criterion of that step's gate
//!   is met by metrics of the current phase. With `Manual` promotion the
//!   user raises `spec.phase` one step at a time; asking for more is a skip
//!   and is refused. With `Automatic`, `spec.phase` is the ceiling and the
//!   operator climbs towards it one gate at a time.
//! - Entering a real-money phase (LimitedReal, Scaling) also needs a valid
//!   PhaseApproval ([`ApprovalGate`], decided by `crds::phase_approval`):
//!   `Automatic` climbs to Sandbox alone and waits for a person above it.
//! - Nothing is promoted while the bot is halted, nor while it holds a
//!   position or an open order: the next phase trades elsewhere (paper →
//!   test network → live), where that book does not exist.

use botfleet_crds::engine_api::WindowMetrics;
use botfleet_crds::{
    ApprovalRecord, GateCriteria, GateCriterionStatus, GateMeasurement, GateStatus, Gates,
    LedgerEvidence, Phase, Promotion,
};

/// Inputs of one evaluation.
#[derive(Clone, Debug)]
pub struct GateInput<'a> {
    /// `spec.phase`.
    pub desired: Phase,
    /// `status.phase` (`None` for a bot never reconciled).
    pub effective: Option<Phase>,
    /// `spec.promotion`.
    pub promotion: Promotion,
    /// The RiskPolicy's gates.
    pub gates: &'a Gates,
    /// Metrics of the effective phase, or why there are none.
    pub measurement: Result<GateMeasurement, String>,
    /// The bot is halted (latched).
    pub halted: bool,
    /// What the bot holds in its current phase (open positions or orders),
    /// `None` when flat or unknown. Its book does not move to the next
    /// phase's venue, so a promotion waits for a flat moment.
    pub holding: Option<String>,
    /// The engine answered in the effective phase and holds no position
    /// and no order. A demotion that moves the book waits for it.
    pub flat_confirmed: bool,
    /// Whether the next phase needs a person's approval and has one.
    pub approval: ApprovalGate,
}

/// The approval to enter the next phase, as decided from the bot's
/// PhaseApprovals.
#[derive(Clone, Debug, PartialEq)]
pub enum ApprovalGate {
    /// The next phase does not trade real money.
    NotNeeded,
    /// A valid approval; recorded in status when used.
    Granted(ApprovalRecord),
    /// No valid approval: why, as the `PromotionBlocked` reason and message.
    Refused(Blocked),
}

/// What kind of phase change happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// First phase of a new bot.
    Initial,
    /// One step up, after the gate was met.
    Promoted,
    /// Down to the desired phase.
    Demoted,
}

/// One phase change, for `phaseHistory` and the Event.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseChange {
    /// Phase before (`None` for a new bot).
    pub from: Option<Phase>,
    /// Phase after.
    pub to: Phase,
    /// Kind of change.
    pub kind: ChangeKind,
    /// Human-readable reason.
    pub reason: String,
    /// The approval this promotion used.
    pub approval: Option<ApprovalRecord>,
}

/// Why a requested promotion does not happen.
#[derive(Clone, Debug, PartialEq)]
pub struct Blocked {
    /// Condition reason (`GateNotMet`, `SkipRefused`, `MetricsUnavailable`, `Halted`).
    pub reason: &'static str,
    /// Condition message naming every unmet criterion with its numbers.
    pub message: String,
}

/// The result of one evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct GateOutcome {
    /// The effective phase after this evaluation.
    pub effective: Phase,
    /// The change made, if any.
    pub change: Option<PhaseChange>,
    /// The gate out of the effective phase (`None` in Scaling).
    pub gate: Option<GateStatus>,
    /// Set when a promotion is requested but refused.
    pub blocked: Option<Blocked>,
    /// A demotion to this phase waits until the book (on another venue) is
    /// flat: the bot is halted with flatten, then moved.
    pub move_pending: Option<Phase>,
}

/// Builds the gate measurement from an engine window and its last ledger
/// check. Undefined statistics (NaN, ∞, no trades yet) become "not
/// measurable" rather than numbers.
pub fn measurement(
    window: &WindowMetrics,
    days_in_phase: f64,
    ledger: LedgerEvidence,
) -> Result<GateMeasurement, String> {
    let finite = |v: f64| v.is_finite().then_some(v);
    if !window.return_pct.is_finite() || !window.max_drawdown_pct.is_finite() {
        return Err("the engine reports an undefined return or drawdown".into());
    }
    Ok(GateMeasurement {
        days_in_phase: if days_in_phase.is_finite() {
            days_in_phase.max(0.0)
        } else {
            0.0
        },
        trades: window.trades,
        win_rate_pct: (window.trades > 0)
            .then_some(window.win_rate_pct)
            .and_then(finite),
        sharpe: finite(window.sharpe),
        max_drawdown_pct: window.max_drawdown_pct,
        return_pct: window.return_pct,
        error_rate_pct: (window.orders > 0)
            .then(|| window.order_errors as f64 / window.orders as f64 * 100.0),
        ledger,
    })
}

/// Evaluates `criteria`; values are rounded for status (days down to whole
/// days, which is exact for `minDays`; the rest to 2 decimals) so the status
/// only changes when a number meaningfully does.
pub fn evaluate(
    criteria: &GateCriteria,
    measurement: &Result<GateMeasurement, String>,
) -> Vec<GateCriterionStatus> {
    match measurement {
        Ok(m) => {
            let m = GateMeasurement {
                days_in_phase: m.days_in_phase.floor(),
                ..m.clone()
            };
            let round = |v: f64| (v * 100.0).round() / 100.0;
            criteria
                .evaluate(&m)
                .into_iter()
                .map(|mut c| {
                    c.measured = c.measured.filter(|v| v.is_finite()).map(round);
                    c
                })
                .collect()
        }
        Err(_) => criteria
            .evaluate(&GateMeasurement::default())
            .into_iter()
            .map(|c| GateCriterionStatus {
                measured: None,
                met: false,
                detail: c.detail.filter(|d| !d.is_empty()),
                ..c
            })
            .collect(),
    }
}

/// "minTrades 40 (needs >= 100)" for every unmet criterion, with what
/// differs where the criterion names it (`ledgerMatchesVenue`).
pub fn unmet_summary(criteria: &[GateCriterionStatus]) -> String {
    criteria
        .iter()
        .filter(|c| !c.met)
        .map(|c| {
            let row = match c.measured {
                Some(m) => format!(
                    "{} {} (needs {} {})",
                    c.name,
                    number(m),
                    c.comparison,
                    number(c.required)
                ),
                None => format!(
                    "{} not measurable yet (needs {} {})",
                    c.name,
                    c.comparison,
                    number(c.required)
                ),
            };
            match &c.detail {
                Some(detail) => format!("{row}: {detail}"),
                None => row,
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn number(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn gate_status(target: Phase, criteria: Vec<GateCriterionStatus>) -> GateStatus {
    GateStatus {
        trading_hash: None,
        target_phase: target,
        met: !criteria.is_empty() && criteria.iter().all(|c| c.met),
        criteria,
    }
}

/// One step of the state machine.
pub fn decide(input: &GateInput<'_>) -> GateOutcome {
    let Some(current) = input.effective else {
        // A new bot always starts on paper; a higher spec.phase is then a request.
        return GateOutcome {
            effective: Phase::Paper,
            change: Some(PhaseChange {
                from: None,
                to: Phase::Paper,
                kind: ChangeKind::Initial,
                reason: "new bot: every bot starts in Paper".into(),
                approval: None,
            }),
            gate: input
                .gates
                .out_of(Phase::Paper)
                .map(|c| gate_status(Phase::Sandbox, evaluate(c, &Err(String::new())))),
            blocked: None,
            move_pending: None,
        };
    };
    if input.desired < current {
        let to = input.desired;
        if to.book() != current.book() && !input.flat_confirmed {
            // Nothing ever leaves a position without stops: the book is
            // flattened where it is, then the bot moves.
            let what = input
                .holding
                .as_deref()
                .unwrap_or("a book the engine has not confirmed flat");
            return GateOutcome {
                effective: current,
                change: None,
                gate: None,
                blocked: Some(Blocked {
                    reason: botfleet_crds::condition_reasons::NOT_FLAT,
                    message: format!(
                        "demotion to {to} waits for a flat book: the bot holds {what} on {}, which {to} does not trade on; it is halted with flatten and moves once flat",
                        current.book()
                    ),
                }),
                move_pending: Some(to),
            };
        }
        return GateOutcome {
            effective: to,
            change: Some(PhaseChange {
                from: Some(current),
                to,
                kind: ChangeKind::Demoted,
                reason: format!("spec.phase lowered to {to}: demotion is immediate"),
                approval: None,
            }),
            gate: input
                .gates
                .out_of(to)
                .zip(to.next())
                .map(|(c, next)| gate_status(next, evaluate(c, &Err(String::new())))),
            blocked: None,
            move_pending: None,
        };
    }
    let (Some(target), Some(criteria)) = (current.next(), input.gates.out_of(current)) else {
        return GateOutcome {
            effective: current,
            change: None,
            gate: None,
            blocked: None,
            move_pending: None,
        };
    };
    let gate = gate_status(target, evaluate(criteria, &input.measurement));
    let stay = |blocked: Option<Blocked>| GateOutcome {
        effective: current,
        change: None,
        gate: Some(gate.clone()),
        blocked,
        move_pending: None,
    };
    if input.desired == current {
        return stay(None);
    }
    if input.halted {
        return stay(Some(Blocked {
            reason: "Halted",
            message: format!(
                "promotion to {target} waits: the bot is halted; resume it first (it returns in the policy's resume phase)"
            ),
        }));
    }
    if input.promotion == Promotion::Manual && input.desired > target {
        return stay(Some(Blocked {
            reason: "SkipRefused",
            message: format!(
                "spec.phase asks for {} but the bot is in {current}: promotions go one step at a time; set spec.phase to {target} first",
                input.desired
            ),
        }));
    }
    if let Err(why) = &input.measurement {
        return stay(Some(Blocked {
            reason: "MetricsUnavailable",
            message: format!(
                "promotion to {target} waits for metrics measured in {current}: {why}"
            ),
        }));
    }
    if !gate.met {
        return stay(Some(Blocked {
            reason: "GateNotMet",
            message: format!(
                "promotion to {target} refused, gate {current}→{target} not met: {}",
                unmet_summary(&gate.criteria)
            ),
        }));
    }
    let approval = match &input.approval {
        ApprovalGate::NotNeeded => None,
        ApprovalGate::Granted(a) => Some(a.clone()),
        ApprovalGate::Refused(blocked) => return stay(Some(blocked.clone())),
    };
    if let Some(what) = &input.holding {
        return stay(Some(Blocked {
            reason: "NotFlat",
            message: format!(
                "gate {current}→{target} met; the promotion waits for a flat book: the bot holds {what} in {current}, which {target} trades elsewhere"
            ),
        }));
    }
    let how = match input.promotion {
        Promotion::Manual => "requested by spec.phase",
        Promotion::Automatic => "automatic promotion",
    };
    let approved = approval.as_ref().map_or(String::new(), |a| {
        format!(
            ", approved by {} (PhaseApproval {})",
            a.approved_by.as_deref().unwrap_or("an unrecorded user"),
            a.name
        )
    });
    GateOutcome {
        effective: target,
        change: Some(PhaseChange {
            from: Some(current),
            to: target,
            kind: ChangeKind::Promoted,
            reason: format!("gate {current}→{target} met ({how}){approved}"),
            approval,
        }),
        gate: input
            .gates
            .out_of(target)
            .zip(target.next())
            .map(|(c, next)| gate_status(next, evaluate(c, &Err(String::new())))),
        blocked: None,
        move_pending: None,
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
