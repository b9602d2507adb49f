use super::*;
use botfleet_crds::Phase;
use botfleet_crds::engine_api::WindowMetrics;
use botfleet_crds::engine_api::{ENGINE_STATUS_API_VERSION, EngineState, HaltInfo};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use rust_decimal::Decimal;

fn window() -> WindowMetrics {
    WindowMetrics {
        start_equity: Decimal::from(1000),
        money_base: None,
        equity: Decimal::from(990),
        return_pct: -1.0,
        drawdown_pct: 2.0,
        max_drawdown_pct: 3.0,
        trades: 10,
        wins: 5,
        win_rate_pct: 50.0,
        sharpe: 0.5,
        sortino: 0.5,
        profit_factor: 1.0,
        daily_pnl: Decimal::ZERO,
        losing_days_in_a_row: 1,
        orders: 20,
        order_errors: 0,
    }
}

fn engine(w: WindowMetrics, halt: Option<HaltInfo>) -> EngineStatus {
    EngineStatus {
        api_version: ENGINE_STATUS_API_VERSION.into(),
        bot: "b".into(),
        uid: Some("0123456789ab".into()),
        phase: Phase::Paper,
        state: EngineState::Trading,
        config_hash: String::new(),
        trading_hash: None,
        engine_started_at: String::new(),
        phase_started_at: String::new(),
        halt,
        pause: None,
        window: w,
        open_positions: vec![],
        open_orders: 0,
        limits_hit: vec![],
        allocations: vec![],
        flatten_pending: false,
        ledger_check: None,
    }
}

fn latched(id: &str) -> HaltStatus {
    HaltStatus {
        id: id.into(),
        reason: "x".into(),
        at: Time(Timestamp::UNIX_EPOCH),
    }
}

fn paper() -> PhaseLimits {
    PhaseLimits::paper_default()
}

#[test]
fn breach_engine_halt_and_kill_switch_halt_a_running_bot() {
    let mut bad = window();
    bad.drawdown_pct = 50.0;
    let e = engine(bad, None);
    let limits = paper();
    let d = decide(&HaltInput {
        manual: false,
        latched: None,
        resume_annotation: None,
        engine: Some(&e),
        engine_limits: Some(&limits),
    });
    assert!(
        matches!(
            d,
            HaltDecision::Halt {
                source: HaltSource::Breach,
                ..
            }
        ),
        "{d:?}"
    );

    let halted = engine(
        window(),
        Some(HaltInfo {
            id: "e-1".into(),
            reason: "daily loss".into(),
            at: String::new(),
        }),
    );
    let d = decide(&HaltInput {
        manual: false,
        latched: None,
        resume_annotation: None,
        engine: Some(&halted),
        engine_limits: Some(&limits),
    });
    assert_eq!(
        d,
        HaltDecision::Halt {
            source: HaltSource::Engine,
            reason: "engine halted itself: daily loss".into(),
            engine_id: Some("e-1".into())
        }
    );
    // ... unless that halt was already resumed (the annotation names it).
    let d = decide(&HaltInput {
        manual: false,
        latched: None,
        resume_annotation: Some("e-1"),
        engine: Some(&halted),
        engine_limits: Some(&limits),
    });
    assert_eq!(d, HaltDecision::Running);

    let d = decide(&HaltInput {
        manual: true,
        latched: None,
        resume_annotation: None,
        engine: None,
        engine_limits: None,
    });
    assert!(matches!(
        d,
        HaltDecision::Halt {
            source: HaltSource::Manual,
            ..
        }
    ));
}

#[test]
fn only_the_current_halt_id_resumes_and_never_with_the_switch_on() {
    let h = latched("h-2");
    let input = |annotation: Option<&'static str>, manual: bool| HaltInput {
        manual,
        latched: Some(&h),
        resume_annotation: annotation,
        engine: None,
        engine_limits: None,
    };
    // The latch holds even though the engine is gone and nothing is breached.
    assert_eq!(
        decide(&input(None, false)),
        HaltDecision::Stay { note: None }
    );
    assert_eq!(
        decide(&input(Some("h-1"), false)),
        HaltDecision::Stay { note: None }
    );
    assert_eq!(
        decide(&input(Some("h-2"), false)),
        HaltDecision::Resume {
            halt_id: "h-2".into()
        }
    );
    match decide(&input(Some("h-2"), true)) {
        HaltDecision::Stay { note: Some(n) } => assert!(n.contains("spec.halted")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn halt_ids_are_unique_and_readable() {
    assert_eq!(new_halt_id(1700, "ab-12-cd-34"), "h-1700-ab12cd");
    assert_ne!(new_halt_id(1, "u"), new_halt_id(2, "u"));
}
