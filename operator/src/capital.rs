//! Capital, pure. Outside Scaling a bot trades `spec.capital`; in Scaling the
//! policy's schedule decides, one step per interval: up after a profitable
//! interval whose drawdown stayed under the threshold, down after a losing
//! one, never past either end. A halt cuts the allocation to zero.
//!
//! The running interval (start, equity at start, worst drawdown seen) is
//! kept in `status.capital.period`, written in the same apply as the step, so
//! a restart of the operator neither loses nor repeats a step and no user
//! edit can fake an interval. Arithmetic on the engine's numbers is checked.

use std::time::Duration;

use botfleet_crds::engine_api::WindowMetrics;
use botfleet_crds::{Amount, CapitalPeriod, CapitalPolicy, Phase, SignedAmount};
use k8s_openapi::jiff::Timestamp;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// Inputs of one decision.
#[derive(Clone, Debug)]
pub struct CapitalInput<'a> {
    /// Effective phase after this reconcile's phase decision.
    pub effective: Phase,
    /// The bot is halted.
    pub halted: bool,
    /// `spec.capital`.
    pub spec_capital: Amount,
    /// The policy's schedule.
    pub policy: &'a CapitalPolicy,
    /// `status.capital.step` before this reconcile (`None` outside Scaling).
    pub step: Option<u32>,
    /// The interval being measured.
    pub period: CapitalPeriod,
    /// The engine's window, only when it trades in Scaling.
    pub window: Option<&'a WindowMetrics>,
    /// Now.
    pub now: Timestamp,
    /// Length of one interval (`stepIntervalDays` operator days).
    pub interval: Duration,
}

/// A step change, for the Event.
#[derive(Clone, Debug, PartialEq)]
pub struct StepChange {
    /// Step before.
    pub from: u32,
    /// Step after.
    pub to: u32,
    /// Why, with the interval's numbers.
    pub reason: String,
}

/// The result.
#[derive(Clone, Debug, PartialEq)]
pub struct CapitalOutcome {
    /// Capital the engine may trade with.
    pub allocated: Amount,
    /// Step of the schedule (Scaling only).
    pub step: Option<u32>,
    /// The interval to store.
    pub period: CapitalPeriod,
    /// Set when the step changed.
    pub change: Option<StepChange>,
}

/// Decides the allocation.
pub fn decide(input: &CapitalInput<'_>) -> CapitalOutcome {
    if input.halted {
        return CapitalOutcome {
            allocated: Amount::default(),
            step: None,
            period: CapitalPeriod::default(),
            change: None,
        };
    }
    if input.effective != Phase::Scaling {
        return CapitalOutcome {
            allocated: input.spec_capital,
            step: None,
            period: CapitalPeriod::default(),
            change: None,
        };
    }
    let last = input.policy.schedule.len().saturating_sub(1) as u32;
    let (step, mut period) = match input.step {
        Some(s) => (s.min(last), input.period.clone()),
        // Entering Scaling: first step, fresh interval.
        None => (0, CapitalPeriod::default()),
    };
    let mut change = None;
    let mut new_step = step;
    if let Some(w) = input.window {
        let dd_now = round_up_tenth(w.drawdown_pct);
        match (&period.start, period.start_equity.map(SignedAmount::value)) {
            (Some(start), Some(start_equity)) => {
                period.max_drawdown_pct = period.max_drawdown_pct.max(dd_now);
                let started = start.parse::<Timestamp>().unwrap_or(input.now);
                let elapsed = input.now.duration_since(started);
                let interval = k8s_openapi::jiff::SignedDuration::try_from(input.interval)
                    .unwrap_or(k8s_openapi::jiff::SignedDuration::MAX);
                if elapsed >= interval {
                    let return_pct = match period.start_return_pct {
                        Some(r0) if w.return_pct.is_finite() => chained(r0, w.return_pct),
                        _ => return_pct(start_equity, w.equity),
                    };
                    let dd = period.max_drawdown_pct;
                    new_step = input.policy.next_step(step as usize, return_pct, dd) as u32;
                    if new_step != step {
                        let direction = if new_step > step {
                            "profitable interval"
                        } else {
                            "losing interval"
                        };
                        change = Some(StepChange {
                            from: step,
                            to: new_step,
                            reason: format!(
                                "{direction}: return {return_pct} %, max drawdown {dd} %; capital {} → {}",
                                amount(input.policy, step),
                                amount(input.policy, new_step)
                            ),
                        });
                    }
                    period = fresh(input.now, w, dd_now);
                }
            }
            _ => period = fresh(input.now, w, dd_now),
        }
    }
    CapitalOutcome {
        allocated: amount(input.policy, new_step),
        step: Some(new_step),
        period,
        change,
    }
}

fn fresh(now: Timestamp, w: &WindowMetrics, dd: f64) -> CapitalPeriod {
    CapitalPeriod {
        start: Some(now.to_string()),
        start_equity: Some(SignedAmount::new(w.equity)),
        start_return_pct: w.return_pct.is_finite().then_some(w.return_pct),
        max_drawdown_pct: dd,
    }
}

/// The return between two points of one time-weighted phase return, %,
/// to 2 decimals: (1 + r1) / (1 + r0) − 1.
fn chained(r0_pct: f64, r1_pct: f64) -> f64 {
    let growth = (1.0 + r1_pct / 100.0) / (1.0 + r0_pct / 100.0);
    if growth.is_finite() {
        ((growth - 1.0) * 10_000.0).round() / 100.0
    } else {
        -100.0
    }
}

/// Return of the interval, %, to 2 decimals. Numbers that overflow count
/// as a loss of everything (the safe side: capital steps down, never up).
fn return_pct(start: Decimal, now: Decimal) -> f64 {
    if start <= Decimal::ZERO {
        return 0.0;
    }
    now.checked_sub(start)
        .and_then(|gain| gain.checked_mul(Decimal::ONE_HUNDRED))
        .and_then(|g| g.checked_div(start))
        .and_then(|r| r.round_dp(2).to_f64())
        .unwrap_or(-100.0)
}

fn amount(policy: &CapitalPolicy, step: u32) -> Amount {
    policy.amount_at(step as usize).unwrap_or_default()
}

fn round_up_tenth(v: f64) -> f64 {
    if v.is_finite() {
        (v * 10.0).ceil() / 10.0
    } else {
        0.0
    }
}

#[cfg(test)]
#[path = "capital_tests.rs"]
mod tests;
