//! `decide` without an apiserver: one observed state in, the decisions out.

use std::net::{IpAddr, Ipv4Addr};

use botfleet_crds::engine_api::{
    ENGINE_STATUS_API_VERSION, EngineState, EngineStatus, HaltInfo, WindowMetrics,
};
use botfleet_crds::{
    BotState, ConditionStatus, RiskPolicySpec, condition_reasons as r, condition_types as ct,
};
use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::config::OperatorConfig;
use crate::decisions::EngineView;
use crate::engine_client::EngineAddress;
use crate::token::TokenKey;

fn config() -> OperatorConfig {
    OperatorConfig::new(TokenKey::new([7u8; 32]).unwrap(), "engine:test")
}

fn bot(annotations: serde_json::Value, halted: bool) -> TradingBot {
    serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "TradingBot",
        "metadata": {"name": "b", "namespace": "ns", "uid": "0123456789ab", "generation": 3,
            "annotations": annotations},
        "spec": {"strategyRef": {"name": "s"}, "riskPolicyRef": {"name": "p"},
            "exchange": {"symbols": ["BTCUSDT"], "credentialsSecretRef": {"name": "k"}},
            "capital": 10000, "phase": "LimitedReal", "halted": halted},
    }))
    .unwrap()
}

/// A policy whose LimitedReal limits drop the absolute total-loss cap.
fn loose_policy() -> RiskPolicySpec {
    serde_json::from_value(json!({"limits": {"limitedReal": {"maxTotalLossPct": 50}}})).unwrap()
}

fn engine(phase: Phase, equity: i64, halt: Option<HaltInfo>) -> EngineView {
    EngineView {
        status: Some(EngineStatus {
            api_version: ENGINE_STATUS_API_VERSION.into(),
            bot: "b".into(),
            uid: Some("0123456789ab".into()),
            phase,
            state: if halt.is_some() {
                EngineState::Halted
            } else {
                EngineState::Trading
            },
            config_hash: "h".into(),
            engine_started_at: "2026-01-01T00:00:00Z".into(),
            phase_started_at: "2026-01-01T00:00:00Z".into(),
            halt,
            pause: None,
            window: WindowMetrics {
                start_equity: Decimal::from(10_000),
                equity: Decimal::from(equity),
                return_pct: 0.0,
                drawdown_pct: 1.0,
                max_drawdown_pct: 1.0,
                trades: 0,
                wins: 0,
                win_rate_pct: f64::NAN,
                sharpe: f64::NAN,
                sortino: f64::NAN,
                profit_factor: f64::NAN,
                daily_pnl: Decimal::ZERO,
                losing_days_in_a_row: 0,
                orders: 0,
                order_errors: 0,
            },
            open_positions: vec![],
            open_orders: 0,
            limits_hit: vec![],
        }),
        error: None,
        failures: 0,
        address: Some(EngineAddress {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
        }),
    }
}

fn status_in(phase: Phase, halt: Option<HaltStatus>) -> TradingBotStatus {
    TradingBotStatus {
        phase: Some(phase),
        halt,
        ..Default::default()
    }
}

fn now() -> Timestamp {
    "2026-01-02T00:00:00Z".parse().unwrap()
}

fn run(
    bot: &TradingBot,
    old: &TradingBotStatus,
    policy: &RiskPolicySpec,
    e: &EngineView,
) -> Decisions {
    decide(&Observed {
        bot,
        old,
        policy,
        engine: e,
        now: now(),
        config: &config(),
    })
}

#[test]
fn a_loss_past_the_limited_real_hard_cap_halts_even_under_a_looser_policy() {
    // 600 lost of 10 000 is 6 %, under the policy's 50 %, but over the $500 hard cap.
    let b = bot(json!({}), false);
    let old = status_in(Phase::LimitedReal, None);
    let d = run(
        &b,
        &old,
        &loose_policy(),
        &engine(Phase::LimitedReal, 9_400, None),
    );
    let (source, h) = d.new_halt.clone().expect("a halt");
    assert_eq!(source, HaltSource::Breach);
    assert!(h.reason.contains("maxTotalLoss = 500"), "{}", h.reason);
    // The engine is told first, and the capital is cut.
    assert!(
        matches!(&d.engine_commands[..], [EngineCommand::Halt(req)] if req.halt_id.as_deref() == Some(h.id.as_str())),
        "{:?}",
        d.engine_commands
    );
    assert_eq!(d.cap.allocated, botfleet_crds::Amount::ZERO);
    assert_eq!(d.status.state, Some(BotState::Halted));
    assert!(
        d.status
            .condition_is(ct::HALTED, ConditionStatus::True, r::LIMIT_BREACHED)
    );
}

#[test]
fn an_engine_that_halted_itself_is_latched_under_its_id_and_not_told_again() {
    let b = bot(json!({}), false);
    let old = status_in(Phase::LimitedReal, None);
    let halt = HaltInfo {
        id: "halt-7".into(),
        reason: "drawdown".into(),
        at: "2026-01-01T12:00:00Z".into(),
    };
    let d = run(
        &b,
        &old,
        &loose_policy(),
        &engine(Phase::LimitedReal, 10_000, Some(halt)),
    );
    assert_eq!(
        d.halt_status.as_ref().map(|h| h.id.as_str()),
        Some("halt-7")
    );
    assert!(d.engine_commands.is_empty(), "{:?}", d.engine_commands);
    assert!(
        d.status
            .condition_is(ct::HALTED, ConditionStatus::True, r::ENGINE_HALTED)
    );
}

#[test]
fn the_resume_annotation_with_the_halt_id_resumes_in_the_policy_resume_phase() {
    let latched = HaltStatus {
        id: "h-1".into(),
        reason: "x".into(),
        at: Time(now()),
    };
    let b = bot(json!({"botfleet.dev/resume": "h-1"}), false);
    let old = status_in(Phase::LimitedReal, Some(latched));
    let engine_halt = HaltInfo {
        id: "h-1".into(),
        reason: "x".into(),
        at: "2026-01-01T12:00:00Z".into(),
    };
    let policy = RiskPolicySpec::default();
    let d = run(
        &b,
        &old,
        &policy,
        &engine(Phase::LimitedReal, 10_000, Some(engine_halt)),
    );
    assert_eq!(d.resumed.as_deref(), Some("h-1"));
    assert!(d.halt_status.is_none());
    assert_eq!(
        d.engine_commands,
        vec![EngineCommand::Resume {
            halt_id: "h-1".into(),
            required: true
        }]
    );
    assert_eq!(d.outcome.effective, policy.on_halt.resume_phase);
    assert!(d.history[0].reason.contains("resumed after halt h-1"));
}

#[test]
fn the_kill_switch_halts_a_bot_whose_references_do_not_resolve() {
    let b = bot(json!({}), true);
    let old = TradingBotStatus::default();
    let problem = Problem {
        reason: "StrategyNotFound",
        message: "strategyRef.name: no Strategy `s`".into(),
    };
    let (new, command) = decide_unresolved(&b, &old, &problem, now());
    assert!(new.condition_is(ct::READY, ConditionStatus::False, "StrategyNotFound"));
    assert!(new.condition_is(ct::HALTED, ConditionStatus::True, r::MANUAL_KILL_SWITCH));
    let h = new.halt.expect("latched");
    match command {
        Some(EngineCommand::Halt(req)) => assert_eq!(req.halt_id, Some(h.id)),
        other => panic!("expected a halt request, got {other:?}"),
    }
    // Already latched: nothing new to send.
    let (_, again) = decide_unresolved(&b, &new_status_with_halt(), &problem, now());
    assert!(again.is_none());
}

fn new_status_with_halt() -> TradingBotStatus {
    status_in(
        Phase::Paper,
        Some(HaltStatus {
            id: "h-2".into(),
            reason: "x".into(),
            at: Time(now()),
        }),
    )
}

#[test]
fn min_days_count_from_the_operators_own_phase_history_not_the_engines_clock() {
    // The engine claims its Paper window started in 1970; the operator moved
    // the bot into Paper a second before now: no day has passed.
    let b = bot(json!({}), false);
    let mut old = status_in(Phase::Paper, None);
    old.phase_history.push(PhaseTransition {
        from: None,
        to: Phase::Paper,
        at: Time(now() - k8s_openapi::jiff::SignedDuration::from_secs(1)),
        reason: "created".into(),
    });
    let mut e = engine(Phase::Paper, 10_000, None);
    e.status.as_mut().unwrap().phase_started_at = "1970-01-01T00:00:00Z".into();
    let d = run(&b, &old, &RiskPolicySpec::default(), &e);
    let gate = d.outcome.gate.expect("a gate out of Paper");
    let days = gate.criteria.iter().find(|c| c.name == "minDays").unwrap();
    assert_eq!(days.measured, Some(0.0), "{days:?}");
    assert!(!days.met);
}
