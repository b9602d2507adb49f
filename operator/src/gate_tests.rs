use super::*;
use rust_decimal::Decimal;

/// A window that meets the seed gate with margin.
fn good_window() -> WindowMetrics {
    WindowMetrics {
        start_equity: Decimal::from(1000),
        money_base: None,
        equity: Decimal::from(1100),
        return_pct: 10.0,
        drawdown_pct: 1.0,
        max_drawdown_pct: 4.0,
        trades: 150,
        wins: 90,
        win_rate_pct: 60.0,
        sharpe: 2.0,
        sortino: 2.5,
        profit_factor: 1.8,
        daily_pnl: Decimal::ZERO,
        losing_days_in_a_row: 0,
        orders: 300,
        order_errors: 3,
    }
}

/// A recent ledger check that found the books equal.
fn agreeing() -> LedgerEvidence {
    LedgerEvidence {
        differences: Some(0),
        detail: "ledger matches the venue: 150 trade(s), fees and cash equal".into(),
    }
}

fn good() -> GateMeasurement {
    measurement(&good_window(), 20.0, agreeing()).unwrap()
}

fn input(
    desired: Phase,
    effective: Option<Phase>,
    m: Result<GateMeasurement, String>,
) -> GateInput<'static> {
    static GATES: std::sync::OnceLock<Gates> = std::sync::OnceLock::new();
    GateInput {
        desired,
        effective,
        promotion: Promotion::Manual,
        gates: GATES.get_or_init(Gates::default),
        measurement: m,
        halted: false,
        holding: None,
        flat_confirmed: true,
        approval: ApprovalGate::NotNeeded,
    }
}

fn criterion<'a>(rows: &'a [GateCriterionStatus], name: &str) -> &'a GateCriterionStatus {
    rows.iter().find(|c| c.name == name).unwrap()
}

#[test]
fn every_criterion_blocks_on_its_own() {
    let criteria = GateCriteria::seed(14);
    assert!(evaluate(&criteria, &Ok(good())).iter().all(|c| c.met));
    type Spoil = Box<dyn Fn(&mut GateMeasurement)>;
    let cases: Vec<(&str, Spoil)> = vec![
        ("minDays", Box::new(|m| m.days_in_phase = 13.9)),
        ("minTrades", Box::new(|m| m.trades = 99)),
        ("minWinRatePct", Box::new(|m| m.win_rate_pct = Some(55.0))),
        ("minSharpe", Box::new(|m| m.sharpe = Some(1.5))),
        ("maxDrawdownPct", Box::new(|m| m.max_drawdown_pct = 10.0)),
        ("minReturnPct", Box::new(|m| m.return_pct = 0.0)),
        (
            "maxErrorRatePct",
            Box::new(|m| m.error_rate_pct = Some(2.01)),
        ),
    ];
    for (name, spoil) in cases {
        let mut m = good();
        spoil(&mut m);
        let rows = evaluate(&criteria, &Ok(m));
        let unmet: Vec<_> = rows
            .iter()
            .filter(|c| !c.met)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(unmet, [name], "spoiling {name}");
    }
}

#[test]
fn boundaries_follow_the_comparisons() {
    let criteria = GateCriteria::seed(14);
    let mut m = good();
    m.days_in_phase = 14.0;
    m.trades = 100;
    m.win_rate_pct = Some(55.01);
    m.sharpe = Some(1.51);
    m.max_drawdown_pct = 9.99;
    m.return_pct = 0.01;
    m.error_rate_pct = Some(2.0);
    let rows = evaluate(&criteria, &Ok(m));
    assert!(rows.iter().all(|c| c.met), "{rows:?}");
    assert_eq!(criterion(&rows, "minTrades").comparison.symbol(), ">=");
    assert_eq!(criterion(&rows, "maxDrawdownPct").comparison.symbol(), "<");
}

#[test]
fn fractional_days_are_floored_so_a_day_counts_only_when_complete() {
    let criteria = GateCriteria::seed(14);
    let mut m = good();
    m.days_in_phase = 13.999;
    let rows = evaluate(&criteria, &Ok(m));
    let days = criterion(&rows, "minDays");
    assert_eq!((days.measured, days.met), (Some(13.0), false));
}

#[test]
fn nan_and_missing_statistics_are_not_measurable_and_not_met() {
    let mut w = good_window();
    w.sharpe = f64::NAN;
    w.win_rate_pct = f64::INFINITY;
    let m = measurement(&w, 20.0, agreeing()).unwrap();
    assert_eq!((m.sharpe, m.win_rate_pct), (None, None));
    let rows = evaluate(&GateCriteria::seed(1), &Ok(m));
    for name in ["minSharpe", "minWinRatePct"] {
        let c = criterion(&rows, name);
        assert_eq!((c.measured, c.met), (None, false), "{name}");
    }
    // Every measured value in status is finite (NaN would make every status write differ).
    assert!(rows.iter().all(|c| c.measured.is_none_or(f64::is_finite)));

    let mut undefined = good_window();
    undefined.return_pct = f64::NAN;
    assert!(
        measurement(&undefined, 1.0, agreeing())
            .unwrap_err()
            .contains("undefined")
    );
}

#[test]
fn an_empty_window_meets_nothing_that_needs_trades() {
    let mut w = good_window();
    w.trades = 0;
    w.wins = 0;
    w.orders = 0;
    w.order_errors = 0;
    w.win_rate_pct = 0.0;
    let m = measurement(&w, 30.0, agreeing()).unwrap();
    assert_eq!((m.win_rate_pct, m.error_rate_pct), (None, None));
    let rows = evaluate(&GateCriteria::seed(1), &Ok(m));
    assert!(!criterion(&rows, "minTrades").met);
    assert!(!criterion(&rows, "minWinRatePct").met);
    assert!(!criterion(&rows, "maxErrorRatePct").met);
}

#[test]
fn missing_metrics_leave_every_criterion_unmeasured() {
    let rows = evaluate(&GateCriteria::seed(1), &Err("engine unreachable".into()));
    assert_eq!(rows.len(), 7);
    assert!(rows.iter().all(|c| c.measured.is_none() && !c.met));
}

#[test]
fn a_new_bot_starts_in_paper_whatever_it_asks() {
    let out = decide(&input(Phase::Scaling, None, Ok(good())));
    assert_eq!(out.effective, Phase::Paper);
    let change = out.change.unwrap();
    assert_eq!((change.from, change.kind), (None, ChangeKind::Initial));
}

#[test]
fn promotion_happens_only_when_the_gate_is_met() {
    let mut m = good();
    m.trades = 40;
    let blocked = decide(&input(Phase::Sandbox, Some(Phase::Paper), Ok(m)));
    assert_eq!(blocked.effective, Phase::Paper);
    assert!(blocked.change.is_none());
    let b = blocked.blocked.unwrap();
    assert_eq!(b.reason, "GateNotMet");
    assert!(
        b.message.contains("minTrades 40 (needs >= 100)"),
        "{}",
        b.message
    );
    let gate = blocked.gate.unwrap();
    assert_eq!((gate.target_phase, gate.met), (Phase::Sandbox, false));

    let granted = decide(&input(Phase::Sandbox, Some(Phase::Paper), Ok(good())));
    assert_eq!(granted.effective, Phase::Sandbox);
    let change = granted.change.unwrap();
    assert_eq!(change.kind, ChangeKind::Promoted);
    assert_eq!(change.from, Some(Phase::Paper));
    assert!(granted.blocked.is_none());
    // The next gate starts unmeasured: Paper's metrics prove nothing about Sandbox.
    let next = granted.gate.unwrap();
    assert_eq!(next.target_phase, Phase::LimitedReal);
    assert!(next.criteria.iter().all(|c| c.measured.is_none()));
}

#[test]
fn a_skip_is_refused_even_with_a_met_gate() {
    let out = decide(&input(Phase::LimitedReal, Some(Phase::Paper), Ok(good())));
    assert_eq!(out.effective, Phase::Paper);
    let b = out.blocked.unwrap();
    assert_eq!(b.reason, "SkipRefused");
    assert!(
        b.message.contains("set spec.phase to Sandbox"),
        "{}",
        b.message
    );
}

#[test]
fn automatic_climbs_one_step_at_a_time_up_to_spec_phase() {
    let mut i = input(Phase::Scaling, Some(Phase::Paper), Ok(good()));
    i.promotion = Promotion::Automatic;
    let out = decide(&i);
    assert_eq!(out.effective, Phase::Sandbox);
    assert!(out.change.unwrap().reason.contains("automatic"));
    // At the ceiling nothing more happens.
    let mut top = input(Phase::Sandbox, Some(Phase::Sandbox), Ok(good()));
    top.promotion = Promotion::Automatic;
    assert!(decide(&top).change.is_none());
}

#[test]
fn demotion_is_immediate_even_when_halted_and_unmeasured() {
    let mut i = input(Phase::Paper, Some(Phase::Scaling), Err("none".into()));
    i.halted = true;
    let out = decide(&i);
    assert_eq!(out.effective, Phase::Paper);
    assert_eq!(out.change.unwrap().kind, ChangeKind::Demoted);
}

#[test]
fn no_promotion_while_halted_or_unmeasured() {
    let mut halted = input(Phase::Sandbox, Some(Phase::Paper), Ok(good()));
    halted.halted = true;
    let out = decide(&halted);
    assert_eq!(
        (out.effective, out.blocked.unwrap().reason),
        (Phase::Paper, "Halted")
    );

    let out = decide(&input(
        Phase::Sandbox,
        Some(Phase::Paper),
        Err("engine reports Sandbox".into()),
    ));
    let b = out.blocked.unwrap();
    assert_eq!(b.reason, "MetricsUnavailable");
    assert!(b.message.contains("engine reports Sandbox"));
}

#[test]
fn scaling_has_no_gate_and_staying_is_not_blocked() {
    let out = decide(&input(Phase::Scaling, Some(Phase::Scaling), Ok(good())));
    assert_eq!(
        (out.effective, out.gate, out.blocked),
        (Phase::Scaling, None, None)
    );
    let stay = decide(&input(Phase::Paper, Some(Phase::Paper), Ok(good())));
    assert!(stay.blocked.is_none() && stay.change.is_none());
    assert!(
        stay.gate.unwrap().met,
        "the gate is shown even without a request"
    );
}

#[test]
fn a_met_gate_waits_for_a_flat_book() {
    let mut i = input(Phase::Sandbox, Some(Phase::Paper), Ok(good()));
    i.holding = Some("1 open position".into());
    let out = decide(&i);
    assert_eq!(out.effective, Phase::Paper);
    let blocked = out.blocked.expect("blocked");
    assert_eq!(blocked.reason, "NotFlat");
    assert!(
        blocked.message.contains("1 open position"),
        "{}",
        blocked.message
    );
    i.holding = None;
    assert_eq!(decide(&i).effective, Phase::Sandbox);
}

fn record() -> ApprovalRecord {
    ApprovalRecord {
        name: "b-limitedreal".into(),
        uid: "a-uid".into(),
        phase: Phase::LimitedReal,
        approved_by: Some("alice".into()),
        trading_hash: "h".into(),
        used_at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-01T00:00:00Z".parse().unwrap(),
        ),
    }
}

#[test]
fn a_met_gate_without_approval_stays_with_the_approvals_reason() {
    let mut i = input(Phase::LimitedReal, Some(Phase::Sandbox), Ok(good()));
    i.approval = ApprovalGate::Refused(Blocked {
        reason: "ApprovalRequired",
        message: "entering LimitedReal needs a PhaseApproval".into(),
    });
    let out = decide(&i);
    assert_eq!(out.effective, Phase::Sandbox);
    assert!(out.change.is_none());
    assert_eq!(out.blocked.unwrap().reason, "ApprovalRequired");
    assert!(out.gate.unwrap().met, "the gate itself is met");
}

#[test]
fn an_unmet_gate_is_reported_before_the_approval() {
    let mut m = good();
    m.trades = 3;
    let mut i = input(Phase::LimitedReal, Some(Phase::Sandbox), Ok(m));
    i.approval = ApprovalGate::Granted(record());
    let out = decide(&i);
    assert_eq!(out.effective, Phase::Sandbox);
    assert_eq!(out.blocked.unwrap().reason, "GateNotMet");
}

#[test]
fn a_granted_approval_promotes_and_is_named_in_the_change() {
    let mut i = input(Phase::LimitedReal, Some(Phase::Sandbox), Ok(good()));
    i.approval = ApprovalGate::Granted(record());
    let out = decide(&i);
    assert_eq!(out.effective, Phase::LimitedReal);
    let change = out.change.unwrap();
    assert_eq!(change.approval, Some(record()));
    assert!(
        change.reason.contains("approved by alice"),
        "{}",
        change.reason
    );
}

/// Out of Sandbox the ledger must match the venue: a check that found a
/// difference blocks with the difference named, no check (or a stale one)
/// is not measurable, and Paper → Sandbox does not ask for it.
#[test]
fn ledger_matches_venue_blocks_sandbox_with_the_difference_named() {
    let differs = GateMeasurement {
        ledger: LedgerEvidence {
            differences: Some(1),
            detail: "the venue reports BTCUSDT trade 9 buy 0.001 @ 50000 fee 0.05 the ledger lacks"
                .into(),
        },
        ..good()
    };
    let out = decide(&input(
        Phase::LimitedReal,
        Some(Phase::Sandbox),
        Ok(differs),
    ));
    assert_eq!(out.effective, Phase::Sandbox);
    let blocked = out.blocked.unwrap();
    assert_eq!(blocked.reason, "GateNotMet");
    assert!(
        blocked
            .message
            .contains("ledgerMatchesVenue 1 (needs <= 0)"),
        "{}",
        blocked.message
    );
    let gate = out.gate.unwrap();
    let row = criterion(&gate.criteria, "ledgerMatchesVenue");
    assert!(!row.met);
    assert!(
        row.detail.as_deref().unwrap().contains("BTCUSDT trade 9"),
        "{row:?}"
    );

    let unchecked = GateMeasurement {
        ledger: LedgerEvidence::default(),
        ..good()
    };
    let out = decide(&input(
        Phase::LimitedReal,
        Some(Phase::Sandbox),
        Ok(unchecked),
    ));
    assert_eq!(out.effective, Phase::Sandbox);
    assert!(!criterion(&out.gate.unwrap().criteria, "ledgerMatchesVenue").met);

    let out = decide(&input(Phase::LimitedReal, Some(Phase::Sandbox), Ok(good())));
    assert_eq!(out.effective, Phase::LimitedReal);

    let paper = decide(&input(Phase::Paper, Some(Phase::Paper), Ok(good())));
    let rows = paper.gate.unwrap().criteria;
    assert!(
        rows.iter().all(|c| c.name != "ledgerMatchesVenue"),
        "{rows:?}"
    );
}
