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
use crate::signing::SigningKeys;

fn config() -> OperatorConfig {
    OperatorConfig::new(
        SigningKeys::from_material(&[7u8; 32]).unwrap(),
        "engine:test",
    )
}

fn bot(annotations: serde_json::Value, halted: bool) -> TradingBot {
    serde_json::from_value(json!({
        "apiVersion": "botfleet.dev/v1alpha1", "kind": "TradingBot",
        "metadata": {"name": "b", "namespace": "ns", "uid": "0123456789ab", "generation": 3,
            "annotations": annotations},
        "spec": {"strategyRef": {"name": "s"}, "riskPolicyRef": {"name": "p"},
            "exchange": {"symbols": ["BTCUSDT"], "sandboxCredentialsSecretRef": {"name": "k"}, "liveCredentialsSecretRef": {"name": "k-live"}},
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
            trading_hash: Some(TRADING_HASH.into()),
            engine_started_at: "2026-01-01T00:00:00Z".into(),
            phase_started_at: "2026-01-01T00:00:00Z".into(),
            halt,
            pause: None,
            window: WindowMetrics {
                start_equity: Decimal::from(10_000),
                money_base: None,
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
            allocations: vec![],
            flatten_pending: false,
            ledger_check: None,
        }),
        error: None,
        failures: 0,
        address: Some(EngineAddress {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
        }),
        image_id: None,
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
        trading_hash: TRADING_HASH,
        approvals: &[],
        approver_refusals: &[],
    })
}

/// What the test bots trade.
const TRADING_HASH: &str = "5ca1ab1e0000";

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

#[test]
fn a_window_earned_under_another_trading_hash_promotes_nothing() {
    // A Paper window that meets every gate, and the user asks for Sandbox…
    let mut b = bot(json!({}), false);
    b.spec.phase = Phase::Sandbox;
    let mut old = status_in(Phase::Paper, None);
    old.phase_history.push(PhaseTransition {
        from: None,
        to: Phase::Paper,
        at: Time("2025-01-01T00:00:00Z".parse().unwrap()),
        reason: "created".into(),
    });
    let mut e = engine(Phase::Paper, 11_000, None);
    {
        let w = &mut e.status.as_mut().unwrap().window;
        (w.trades, w.wins, w.win_rate_pct, w.sharpe) = (150, 100, 66.0, 3.0);
        (w.return_pct, w.orders) = (10.0, 300);
        e.status.as_mut().unwrap().phase_started_at = "2025-01-01T00:00:00Z".into();
    }
    let policy = RiskPolicySpec::default();
    let earned = run(&b, &old, &policy, &e);
    assert_eq!(
        earned.outcome.effective,
        Phase::Sandbox,
        "{:?}",
        earned.outcome
    );
    assert_eq!(
        earned.outcome.gate.as_ref().map(|g| g.target_phase),
        Some(Phase::LimitedReal)
    );

    // …but the strategy was swapped since: the engine still reports the
    // window of the old config. Nothing is promoted, and the reason says why.
    let swapped = decide(&Observed {
        bot: &b,
        old: &old,
        policy: &policy,
        engine: &e,
        now: now(),
        config: &config(),
        trading_hash: "0therc0nf1g0",
        approvals: &[],
        approver_refusals: &[],
    });
    assert_eq!(swapped.outcome.effective, Phase::Paper);
    let blocked = swapped.outcome.blocked.expect("blocked");
    assert!(
        blocked.message.contains("trading hash"),
        "{}",
        blocked.message
    );
    assert_eq!(swapped.outcome.gate.unwrap().trading_hash, None);
}

fn holding_one(e: &mut EngineView, open_orders: u32) {
    let s = e.status.as_mut().unwrap();
    s.open_positions = vec![botfleet_crds::engine_api::PositionInfo {
        symbol: "BTCUSDT".into(),
        quantity: Decimal::ONE,
        average_price: Decimal::from(100),
        unrealized_pnl: Decimal::ZERO,
    }];
    s.open_orders = open_orders;
}

#[test]
fn a_demotion_off_a_live_book_halts_with_flatten_and_moves_only_once_flat() {
    let mut b = bot(json!({}), false);
    b.spec.phase = Phase::Sandbox; // demote from LimitedReal (live) to the test network
    let old = status_in(Phase::LimitedReal, None);
    let mut e = engine(Phase::LimitedReal, 10_000, None);
    holding_one(&mut e, 0);
    let policy = RiskPolicySpec::default(); // onHalt: cancelOrders
    let d = run(&b, &old, &policy, &e);
    assert_eq!(
        d.outcome.effective,
        Phase::LimitedReal,
        "the book does not move"
    );
    assert_eq!(d.outcome.move_pending, Some(Phase::Sandbox));
    let (source, h) = d.new_halt.clone().expect("halted to flatten");
    assert_eq!(source, HaltSource::BookMove);
    assert!(
        matches!(&d.engine_commands[..], [EngineCommand::Halt(r)] if r.flatten && r.halt_id.as_deref() == Some(h.id.as_str())),
        "{:?}",
        d.engine_commands
    );
    assert!(
        d.status
            .condition_is(ct::PROMOTION_BLOCKED, ConditionStatus::True, r::NOT_FLAT)
    );

    // Exits in flight: nothing is sent twice.
    let latched = d.status.clone();
    let mut e = engine(Phase::LimitedReal, 10_000, None);
    e.status.as_mut().unwrap().halt = Some(HaltInfo {
        id: h.id.clone(),
        reason: h.reason.clone(),
        at: "2026-01-01T12:00:00Z".into(),
    });
    holding_one(&mut e, 1);
    let d = run(&b, &latched, &policy, &e);
    assert!(d.engine_commands.is_empty(), "{:?}", d.engine_commands);
    assert_eq!(d.outcome.effective, Phase::LimitedReal);

    // Flat and confirmed: the bot moves, still halted (a resume is a deliberate act).
    e.status.as_mut().unwrap().open_positions.clear();
    e.status.as_mut().unwrap().open_orders = 0;
    let d = run(&b, &latched, &policy, &e);
    assert_eq!(d.outcome.effective, Phase::Sandbox);
    assert!(d.halt_status.is_some());
}

#[test]
fn a_demotion_on_the_same_book_is_immediate() {
    let mut b = bot(json!({}), false);
    b.spec.phase = Phase::LimitedReal;
    let old = status_in(Phase::Scaling, None);
    let mut e = engine(Phase::Scaling, 10_000, None);
    holding_one(&mut e, 0);
    let d = run(&b, &old, &RiskPolicySpec::default(), &e);
    assert_eq!(d.outcome.effective, Phase::LimitedReal);
    assert!(d.new_halt.is_none());
}

#[test]
fn a_resume_that_moves_the_book_waits_for_a_flatten() {
    let latched = HaltStatus {
        id: "h-9".into(),
        reason: "drawdown".into(),
        at: Time(now()),
    };
    let b = bot(json!({"botfleet.dev/resume": "h-9"}), false);
    let old = status_in(Phase::LimitedReal, Some(latched));
    let mut e = engine(
        Phase::LimitedReal,
        10_000,
        Some(HaltInfo {
            id: "h-9".into(),
            reason: "drawdown".into(),
            at: "2026-01-01T12:00:00Z".into(),
        }),
    );
    holding_one(&mut e, 0);
    let policy = RiskPolicySpec::default(); // resumes in Paper
    let d = run(&b, &old, &policy, &e);
    assert!(
        d.resumed.is_none(),
        "not resumed while holding a live position"
    );
    assert_eq!(d.outcome.effective, Phase::LimitedReal);
    assert!(
        matches!(&d.engine_commands[..], [EngineCommand::Halt(r)] if r.flatten && r.halt_id.as_deref() == Some("h-9")),
        "{:?}",
        d.engine_commands
    );
    assert!(d.stay_note.unwrap().contains("waits for a flat book"));
    // Once flat, the same annotation resumes it into Paper.
    e.status.as_mut().unwrap().open_positions.clear();
    let d = run(&b, &old, &policy, &e);
    assert_eq!(d.resumed.as_deref(), Some("h-9"));
    assert_eq!(d.outcome.effective, Phase::Paper);
}

/// An approval for bot `b` into LimitedReal under [`TRADING_HASH`].
fn approval_into_limited_real(uid: &str) -> std::sync::Arc<PhaseApproval> {
    std::sync::Arc::new(
        serde_json::from_value(json!({
            "apiVersion": "botfleet.dev/v1alpha1", "kind": "PhaseApproval",
            "metadata": {"name": format!("b-{uid}"), "namespace": "ns", "uid": uid},
            "spec": {"bot": {"name": "b", "uid": "0123456789ab"}, "phase": "LimitedReal",
                "tradingHash": TRADING_HASH, "expiresAt": "2026-01-03T00:00:00Z",
                "approvedBy": "alice"},
        }))
        .unwrap(),
    )
}

#[test]
fn only_a_wanted_promotion_into_real_money_asks_about_approvers_again() {
    let b = bot(json!({}), false);
    let usable = approval_into_limited_real("ok");
    let mut expired = (*approval_into_limited_real("old")).clone();
    expired.spec.expires_at = Time("2026-01-01T00:00:00Z".parse().unwrap());
    let approvals = [usable, std::sync::Arc::new(expired)];
    let (policy, e, config) = (loose_policy(), engine(Phase::Sandbox, 0, None), config());
    let asked = |old: &TradingBotStatus, bot: &TradingBot| {
        let o = Observed {
            bot,
            old,
            policy: &policy,
            engine: &e,
            now: now(),
            config: &config,
            trading_hash: TRADING_HASH,
            approvals: &approvals,
            approver_refusals: &[],
        };
        approvals_to_recheck(&o)
            .iter()
            .map(|a| a.name_any())
            .collect::<Vec<_>>()
    };
    // Sandbox, asked for LimitedReal: only the usable approval is asked about.
    assert_eq!(asked(&status_in(Phase::Sandbox, None), &b), ["b-ok"]);
    // Settled (spec.phase is the current phase) or the next phase is not
    // real money: no access review.
    let mut settled = b.clone();
    settled.spec.phase = Phase::Sandbox;
    assert!(asked(&status_in(Phase::Sandbox, None), &settled).is_empty());
    assert!(asked(&status_in(Phase::Paper, None), &b).is_empty());
    assert!(asked(&status_in(Phase::LimitedReal, None), &b).is_empty());
}
