use super::*;

fn policy() -> CapitalPolicy {
    CapitalPolicy::default() // 5k → 10k → 20k → 35k → 50k, step down 1, up: return > 0 and dd < 10 %
}

fn window(equity: i64, drawdown_pct: f64) -> WindowMetrics {
    WindowMetrics {
        start_equity: Decimal::from(5000),
        money_base: None,
        equity: Decimal::from(equity),
        return_pct: 0.0,
        drawdown_pct,
        max_drawdown_pct: drawdown_pct,
        trades: 1,
        wins: 1,
        win_rate_pct: 100.0,
        sharpe: 1.0,
        sortino: 1.0,
        profit_factor: 1.0,
        daily_pnl: Decimal::ZERO,
        losing_days_in_a_row: 0,
        orders: 1,
        order_errors: 0,
    }
}

const DAY: Duration = Duration::from_secs(86_400);

fn t(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

/// A period as the operator opens it: with the engine's return then (0 %
/// in these windows).
fn opened(p: CapitalPeriod) -> CapitalPeriod {
    CapitalPeriod {
        start_return_pct: Some(0.0),
        ..p
    }
}

fn period_started(at: Timestamp, equity: i64) -> CapitalPeriod {
    CapitalPeriod {
        start: Some(at.to_string()),
        start_equity: Some(botfleet_crds::SignedAmount::new(Decimal::from(equity))),
        start_return_pct: None,
        max_drawdown_pct: 0.0,
    }
}

fn run(
    step: Option<u32>,
    period: CapitalPeriod,
    w: Option<&WindowMetrics>,
    now: Timestamp,
) -> CapitalOutcome {
    let p = policy();
    decide(&CapitalInput {
        effective: Phase::Scaling,
        halted: false,
        spec_capital: Amount::from(777),
        policy: &p,
        step,
        period,
        window: w,
        now,
        interval: DAY * 30,
    })
}

#[test]
fn outside_scaling_the_spec_capital_applies_and_a_halt_cuts_it() {
    let p = policy();
    let mut input = CapitalInput {
        effective: Phase::LimitedReal,
        halted: false,
        spec_capital: Amount::from(777),
        policy: &p,
        step: Some(3),
        period: period_started(t(0), 1),
        window: None,
        now: t(0),
        interval: DAY,
    };
    let out = decide(&input);
    assert_eq!((out.allocated, out.step), (Amount::from(777), None));
    assert_eq!(out.period, CapitalPeriod::default());
    input.halted = true;
    assert_eq!(decide(&input).allocated, Amount::ZERO);
}

#[test]
fn entering_scaling_starts_at_the_first_step_and_opens_an_interval() {
    let w = window(5000, 0.0);
    let out = run(None, period_started(t(-999), 1), Some(&w), t(0));
    assert_eq!(
        (out.allocated, out.step, out.change),
        (Amount::from(5000), Some(0), None)
    );
    assert_eq!(out.period, opened(period_started(t(0), 5000)));
    // Without engine metrics in Scaling yet, the interval waits.
    let out = run(None, CapitalPeriod::default(), None, t(0));
    assert_eq!((out.step, out.period.start), (Some(0), None));
}

#[test]
fn a_profitable_interval_steps_up_only_once_it_is_complete() {
    let w = window(5200, 2.0);
    let early = run(
        Some(0),
        period_started(t(0), 5000),
        Some(&w),
        t(86_400 * 30 - 1),
    );
    assert_eq!((early.step, early.change), (Some(0), None));
    assert_eq!(
        early.period.max_drawdown_pct, 2.0,
        "the interval's worst drawdown is kept"
    );

    let done = run(
        Some(0),
        period_started(t(0), 5000),
        Some(&w),
        t(86_400 * 30),
    );
    assert_eq!((done.step, done.allocated), (Some(1), Amount::from(10_000)));
    let change = done.change.unwrap();
    assert_eq!((change.from, change.to), (0, 1));
    assert!(change.reason.contains("return 4 %"), "{}", change.reason);
    assert_eq!(
        done.period,
        CapitalPeriod {
            max_drawdown_pct: 2.0,
            ..opened(period_started(t(86_400 * 30), 5200))
        }
    );
}

#[test]
fn a_deep_drawdown_during_the_interval_blocks_the_step_up() {
    let mut period = period_started(t(0), 5000);
    period.max_drawdown_pct = 12.0; // seen earlier in the interval
    let w = window(5200, 1.0);
    let out = run(Some(1), period, Some(&w), t(86_400 * 30));
    assert_eq!((out.step, out.change), (Some(1), None));
}

#[test]
fn a_losing_interval_steps_down_and_the_schedule_bounds_hold() {
    let losing = window(4900, 3.0);
    let out = run(
        Some(2),
        period_started(t(0), 5000),
        Some(&losing),
        t(86_400 * 31),
    );
    assert_eq!((out.step, out.allocated), (Some(1), Amount::from(10_000)));
    assert!(out.change.unwrap().reason.starts_with("losing interval"));

    let bottom = run(
        Some(0),
        period_started(t(0), 5000),
        Some(&losing),
        t(86_400 * 31),
    );
    assert_eq!((bottom.step, bottom.change), (Some(0), None));

    let winning = window(6000, 1.0);
    let top = run(
        Some(4),
        period_started(t(0), 5000),
        Some(&winning),
        t(86_400 * 31),
    );
    assert_eq!(
        (top.step, top.allocated, top.change),
        (Some(4), Amount::from(50_000), None)
    );
    // A step beyond the schedule (the policy shrank) is clamped.
    let shrunk = run(Some(9), period_started(t(0), 5000), None, t(1));
    assert_eq!(
        (shrunk.step, shrunk.allocated),
        (Some(4), Amount::from(50_000))
    );
}

#[test]
fn numbers_that_overflow_step_down_never_up() {
    let mut w = window(0, 0.0);
    w.equity = Decimal::MIN;
    let mut p = period_started(t(0), 5000);
    p.start_equity = Some(botfleet_crds::SignedAmount::new(Decimal::MAX));
    let out = run(Some(2), p, Some(&w), t(DAY.as_secs() as i64 * 31));
    assert!(out.step.unwrap() < 2, "{out:?}");
}

#[test]
fn a_capital_transfer_is_not_return_the_engines_time_weighted_return_is() {
    // The interval started at a 4 % phase return with equity 5000; the step
    // to 10 000 doubled equity by transfer. The engine's time-weighted return
    // is now 4.52 %: the interval earned 0.5 %, not 100 %.
    let mut p = period_started(t(0), 5000);
    p.start_return_pct = Some(4.0);
    let mut w = window(10_050, 0.0);
    w.return_pct = 4.52;
    let out = run(Some(1), p, Some(&w), t(DAY.as_secs() as i64 * 31));
    let change = out.change.expect("a profitable interval steps up");
    assert!(change.reason.contains("return 0.5 %"), "{}", change.reason);
    // And a losing time-weighted interval steps down even if a transfer raised equity.
    let mut p = period_started(t(0), 5000);
    p.start_return_pct = Some(4.0);
    w.return_pct = 3.0;
    let out = run(Some(1), p, Some(&w), t(DAY.as_secs() as i64 * 31));
    assert_eq!(out.step, Some(0), "{out:?}");
}
