//! RiskPolicy: seed defaults, per-phase defaulting, validation, tiers,
//! gates, capital schedule.

use botfleet_crds::{
    Amount, GateCriteria, GateMeasurement, HaltAction, Minutes, Percent, Phase, PhaseLimits,
    RiskPolicy, RiskPolicySpec, ValidationErrors, base_asset,
};
use rust_decimal_macros::dec;

fn amount(v: u32) -> Option<Amount> {
    Some(Amount::from(v))
}

fn errors(spec: &RiskPolicySpec) -> ValidationErrors {
    spec.validate().expect_err("expected validation errors")
}

#[test]
fn defaults_match_the_seed_figures() {
    let spec = RiskPolicySpec::default();
    let lr = spec.limits_for(Phase::LimitedReal);
    assert_eq!(lr.max_position, amount(250));
    assert_eq!(lr.max_position_pct, Percent::whole(5));
    assert_eq!(lr.daily_loss_limit, amount(50));
    assert_eq!(lr.daily_loss_limit_pct, Percent::whole(1));
    assert_eq!(lr.max_total_loss, amount(500));
    assert_eq!(lr.max_total_loss_pct, Percent::whole(10));
    assert_eq!(lr.max_open_positions, 3);
    assert_eq!(lr.max_trades_per_day, 10);

    let sc = spec.limits_for(Phase::Scaling);
    assert_eq!(sc.max_position_pct, Percent::whole(5));
    assert_eq!(sc.daily_loss_limit_pct, Percent::whole(2));
    assert_eq!(sc.max_drawdown_pct, Percent::whole(15));

    for from in [Phase::Paper, Phase::Sandbox, Phase::LimitedReal] {
        let g = spec.gates.out_of(from).unwrap();
        assert_eq!(g.min_trades, 100);
        assert_eq!(g.min_win_rate_pct, 55.0);
        assert_eq!(g.min_sharpe, 1.5);
        assert_eq!(g.max_drawdown_pct, 10.0);
        assert_eq!(g.min_return_pct, 0.0);
        // The venue's records are checked wherever a venue trades.
        assert_eq!(g.ledger_matches_venue, from != Phase::Paper, "{from:?}");
    }
    assert!(spec.gates.out_of(Phase::Scaling).is_none());

    let schedule: Vec<_> = spec.capital.schedule.iter().map(|a| a.value()).collect();
    assert_eq!(
        schedule,
        [
            dec!(5000),
            dec!(10000),
            dec!(20000),
            dec!(35000),
            dec!(50000)
        ]
    );
    assert_eq!(spec.on_halt.action, HaltAction::CancelOrders);
    assert_eq!(spec.on_halt.resume_phase, Phase::Paper);

    let tier = |sym| {
        spec.tier_for(sym)
            .map(|t| (t.tier, t.max_position_pct, t.stop_loss_pct))
    };
    for sym in ["BTCUSDT", "ETHUSDT", "BNBUSDT", "XRPUSDT", "SOLUSDT"] {
        assert_eq!(
            tier(sym),
            Some((1, Percent::whole(25), Percent::whole(3))),
            "{sym}"
        );
    }
    assert_eq!(
        tier("ADAUSDT"),
        Some((2, Percent::whole(15), Percent::whole(5)))
    );
    assert_eq!(
        tier("PEPEUSDT"),
        Some((3, Percent::whole(10), Percent::whole(7)))
    );
    assert_eq!(spec.validate(), Ok(()));
}

#[test]
fn empty_spec_is_the_default_policy() {
    let spec: RiskPolicySpec = serde_yaml::from_str("{}").unwrap();
    assert_eq!(spec, RiskPolicySpec::default());
}

#[test]
fn partial_phase_takes_that_phases_defaults() {
    let spec: RiskPolicySpec = serde_yaml::from_str(
        "limits:\n  limitedReal: {maxPositionPct: 4}\n  paper: {maxOpenPositions: 2}\ngates:\n  limitedRealToScaling: {minTrades: 200}\n",
    )
    .unwrap();
    let lr = spec.limits_for(Phase::LimitedReal);
    assert_eq!(lr.max_position_pct, Percent::whole(4));
    // Not the paper defaults: LimitedReal's own caps stay in force.
    assert_eq!(lr.max_position, amount(250));
    assert_eq!(lr.daily_loss_limit, amount(50));
    assert_eq!(spec.limits_for(Phase::Paper).max_open_positions, 2);
    assert_eq!(
        spec.limits_for(Phase::Paper).max_position_pct,
        Percent::whole(25)
    );
    assert_eq!(
        spec.limits_for(Phase::Scaling),
        &PhaseLimits::scaling_default()
    );
    assert_eq!(spec.gates.limited_real_to_scaling.min_trades, 200);
    assert_eq!(spec.gates.limited_real_to_scaling.min_days, 30);
}

#[test]
fn unknown_limit_field_is_rejected() {
    let err = serde_yaml::from_str::<RiskPolicySpec>("limits:\n  limitedReal: {maxPositon: 4}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `maxPositon`"), "{err}");
}

#[test]
fn effective_caps_take_the_smaller_of_percent_and_amount() {
    let lr = PhaseLimits::limited_real_default();
    assert_eq!(lr.max_position_for(Amount::from(2000)).value(), dec!(100)); // 5 % of 2000
    assert_eq!(lr.max_position_for(Amount::from(10000)).value(), dec!(250)); // capped at $250
    assert_eq!(
        lr.daily_loss_limit_for(Amount::from(10000)).value(),
        dec!(50)
    );
    assert_eq!(lr.max_total_loss_for(Amount::from(3000)).value(), dec!(300));
    // The order cap never exceeds the position cap.
    assert_eq!(lr.max_order_for(Amount::from(1000)).value(), dec!(50));
    assert_eq!(lr.max_order_for(Amount::from(100000)).value(), dec!(250));
    assert_eq!(
        PhaseLimits::paper_default()
            .max_order_for(Amount::from(1000))
            .value(),
        dec!(250)
    );
}

#[test]
fn limit_rules_are_reported_together() {
    let mut spec = RiskPolicySpec::default();
    let lr = &mut spec.limits.limited_real;
    lr.max_position = None;
    lr.stop_loss_pct = Percent::whole(100);
    lr.daily_loss_limit = amount(600); // above maxTotalLoss 500
    lr.max_trades_per_day = 50; // looser than scaling's 20
    let paper = &mut spec.limits.paper;
    paper.daily_loss_limit_pct = Percent::whole(40); // above total loss 30
    paper.max_position = Some(Amount::ZERO);
    paper.flash_crash.window_minutes = 0;
    let errs = errors(&spec);
    for path in [
        "spec.limits.limitedReal.maxPosition",
        "spec.limits.limitedReal.stopLossPct",
        "spec.limits.limitedReal.dailyLossLimit",
        "spec.limits.limitedReal.maxTradesPerDay",
        "spec.limits.paper.dailyLossLimitPct",
        "spec.limits.paper.maxPosition",
        "spec.limits.paper.flashCrash.windowMinutes",
    ] {
        assert!(errs.has_path(path), "missing {path} in {errs}");
    }
    assert!(errs.len() >= 7, "{errs}");
    assert!(
        errs.to_string()
            .contains("LimitedReal (50) must be no looser than Scaling (20)"),
        "{errs}"
    );
}

#[test]
fn dead_man_switch_defaults_on_in_real_phases_and_cannot_be_turned_off_there() {
    let spec = RiskPolicySpec::default();
    let minutes = |p| spec.limits_for(p).dead_man_minutes;
    assert_eq!(minutes(Phase::Paper), Minutes::ZERO, "off in Paper");
    assert_eq!(minutes(Phase::Sandbox), Minutes::ZERO, "off in Sandbox");
    assert_eq!(minutes(Phase::LimitedReal), Minutes::whole(5));
    assert_eq!(minutes(Phase::Scaling), Minutes::whole(5));

    // Fractions of a minute are fine (tests use seconds), and Sandbox may opt in.
    let spec: RiskPolicySpec = serde_yaml::from_str(
        "limits:\n  limitedReal: {deadManMinutes: 0.05}\n  sandbox: {deadManMinutes: 2}\n",
    )
    .unwrap();
    assert_eq!(
        spec.limits_for(Phase::LimitedReal)
            .dead_man_minutes
            .as_millis(),
        3_000
    );
    assert_eq!(
        spec.limits_for(Phase::Sandbox).dead_man_minutes.as_millis(),
        120_000
    );
    assert_eq!(spec.validate(), Ok(()));

    let mut spec = RiskPolicySpec::default();
    spec.limits.limited_real.dead_man_minutes = Minutes::ZERO;
    spec.limits.scaling.dead_man_minutes = Minutes::ZERO;
    spec.limits.paper.dead_man_minutes = Minutes::whole(1441);
    let errs = errors(&spec);
    for path in [
        "spec.limits.limitedReal.deadManMinutes",
        "spec.limits.scaling.deadManMinutes",
        "spec.limits.paper.deadManMinutes",
    ] {
        assert!(errs.has_path(path), "missing {path} in {errs}");
    }
    let text = errs.to_string();
    assert!(text.contains("LimitedReal trades real money"), "{text}");
    assert!(text.contains("at most 1440"), "{text}");
    let err = serde_yaml::from_str::<RiskPolicySpec>("limits:\n  paper: {deadManMinutes: -1}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("must be ≥ 0"), "{err}");
}

#[test]
fn limited_real_percentages_no_looser_than_scaling() {
    let mut spec = RiskPolicySpec::default();
    spec.limits.limited_real.max_position_pct = Percent::whole(8);
    let errs = errors(&spec);
    assert!(
        errs.has_path("spec.limits.limitedReal.maxPositionPct"),
        "{errs}"
    );
    assert_eq!(errs.len(), 1, "{errs}");
}

#[test]
fn gate_rules() {
    let mut spec = RiskPolicySpec::default();
    spec.gates.paper_to_sandbox.min_win_rate_pct = 100.0;
    spec.gates.paper_to_sandbox.min_trades = 0;
    spec.gates.sandbox_to_limited_real.max_drawdown_pct = 0.0;
    spec.gates.limited_real_to_scaling.min_return_pct = -150.0;
    spec.gates.limited_real_to_scaling.min_sharpe = f64::NAN;
    spec.gates.paper_to_sandbox.ledger_matches_venue = true;
    let errs = errors(&spec);
    assert!(
        errs.to_string().contains("paper fills never reach a venue"),
        "{errs}"
    );
    for path in [
        "spec.gates.paperToSandbox.ledgerMatchesVenue",
        "spec.gates.paperToSandbox.minWinRatePct",
        "spec.gates.paperToSandbox.minTrades",
        "spec.gates.sandboxToLimitedReal.maxDrawdownPct",
        "spec.gates.limitedRealToScaling.minReturnPct",
        "spec.gates.limitedRealToScaling.minSharpe",
    ] {
        assert!(errs.has_path(path), "missing {path} in {errs}");
    }
}

#[test]
fn tier_rules() {
    let mut spec = RiskPolicySpec::default();
    spec.tiers[1].symbols.push("btc".into()); // lower case
    spec.tiers[1].symbols.push("ETH".into()); // already tier 1
    spec.tiers[2].tier = 1; // duplicate number
    let mut extra = spec.tiers[2].clone();
    extra.tier = 4; // second catch-all
    extra.stop_loss_pct = Percent::ZERO;
    spec.tiers.push(extra);
    let errs = errors(&spec);
    for path in [
        "spec.tiers[1].symbols[10]",
        "spec.tiers[1].symbols[11]",
        "spec.tiers[2].tier",
        "spec.tiers[3].symbols",
        "spec.tiers[3].stopLossPct",
    ] {
        assert!(errs.has_path(path), "missing {path} in {errs}");
    }
    assert!(
        errs.to_string().contains("`ETH` is already in tier 1"),
        "{errs}"
    );
}

#[test]
fn capital_schedule_must_strictly_increase() {
    let mut spec = RiskPolicySpec::default();
    spec.capital.schedule = [5000u32, 10000, 10000, 8000]
        .into_iter()
        .map(Amount::from)
        .collect();
    spec.capital.step_interval_days = 0;
    let errs = errors(&spec);
    assert!(errs.has_path("spec.capital.schedule[2]"), "{errs}");
    assert!(errs.has_path("spec.capital.schedule[3]"), "{errs}");
    assert!(errs.has_path("spec.capital.stepIntervalDays"), "{errs}");
    spec.capital.schedule.clear();
    assert!(errors(&spec).has_path("spec.capital.schedule"));
}

#[test]
fn resume_phase_cannot_be_scaling() {
    let mut spec = RiskPolicySpec::default();
    spec.on_halt.resume_phase = Phase::Scaling;
    assert!(errors(&spec).has_path("spec.onHalt.resumePhase"));
}

#[test]
fn base_assets_and_symbol_limits() {
    assert_eq!(base_asset("BTCUSDT"), "BTC");
    assert_eq!(base_asset("ETHBTC"), "ETH");
    assert_eq!(base_asset("BTCFDUSD"), "BTC");
    assert_eq!(base_asset("sol/usdc"), "SOL");
    assert_eq!(base_asset("ADA-EUR"), "ADA");
    assert_eq!(base_asset("BTC"), "BTC");

    let spec = RiskPolicySpec::default();
    // Paper allows 25 %, tier 2 only 15 %: the tier lowers it.
    let ada = spec.symbol_limits(Phase::Paper, "ADAUSDT");
    assert_eq!(
        (ada.tier, ada.max_position_pct, ada.stop_loss_pct),
        (Some(2), Percent::whole(15), Percent::whole(5))
    );
    // LimitedReal allows 5 %: a tier cannot raise it; the tier stop-loss applies.
    let btc = spec.symbol_limits(Phase::LimitedReal, "BTCUSDT");
    assert_eq!(
        (btc.max_position_pct, btc.stop_loss_pct),
        (Percent::whole(5), Percent::whole(3))
    );
    let no_tiers = RiskPolicySpec {
        tiers: vec![],
        ..RiskPolicySpec::default()
    };
    let doge = no_tiers.symbol_limits(Phase::Paper, "DOGEUSDT");
    assert_eq!((doge.tier, doge.stop_loss_pct), (None, Percent::whole(5)));
}

#[test]
fn gate_evaluation_uses_strict_comparisons() {
    let gate = GateCriteria::seed(14);
    let good = GateMeasurement {
        days_in_phase: 15.0,
        trades: 120,
        win_rate_pct: Some(58.0),
        sharpe: Some(1.8),
        max_drawdown_pct: 6.0,
        return_pct: 4.2,
        error_rate_pct: Some(0.5),
        ledger: Default::default(),
    };
    assert!(gate.evaluate(&good).iter().all(|c| c.met));
    let borderline = GateMeasurement {
        win_rate_pct: Some(55.0),
        max_drawdown_pct: 10.0,
        sharpe: None,
        ..good.clone()
    };
    let rows = gate.evaluate(&borderline);
    let unmet: Vec<_> = rows
        .iter()
        .filter(|c| !c.met)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(unmet, ["minWinRatePct", "minSharpe", "maxDrawdownPct"]);
    let sharpe = rows.iter().find(|c| c.name == "minSharpe").unwrap();
    assert_eq!((sharpe.required, sharpe.measured), (1.5, None));
}

#[test]
fn capital_steps() {
    let c = RiskPolicySpec::default().capital;
    assert_eq!(c.next_step(0, 3.0, 4.0), 1);
    assert_eq!(c.next_step(4, 3.0, 4.0), 4); // top of the schedule
    assert_eq!(c.next_step(2, 3.0, 12.0), 2); // drawdown too deep to step up
    assert_eq!(c.next_step(2, 0.0, 1.0), 2); // flat: stay
    assert_eq!(c.next_step(2, -1.0, 1.0), 1); // losing: down one
    assert_eq!(c.next_step(0, -1.0, 1.0), 0);
    assert_eq!(c.amount_at(9), Some(Amount::from(50000)));
}

#[test]
fn yaml_round_trip() {
    let policy = RiskPolicy::new("seed", RiskPolicySpec::default());
    let yaml = serde_yaml::to_string(&policy).unwrap();
    assert!(yaml.contains("maxPosition: 250"), "{yaml}");
    let back: RiskPolicy = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back, policy);
    let json: RiskPolicy = serde_json::from_str(&serde_json::to_string(&policy).unwrap()).unwrap();
    assert_eq!(json, policy);
}

/// `ledgerMatchesVenue` can be turned off out of Sandbox (a policy's choice)
/// and reads from YAML; a gate that asks for it lists it last, not met
/// without a recent check.
#[test]
fn ledger_matches_venue_is_a_gate_criterion() {
    let spec: RiskPolicySpec =
        serde_yaml::from_str("gates:\n  sandboxToLimitedReal: {ledgerMatchesVenue: false}\n")
            .unwrap();
    assert!(!spec.gates.sandbox_to_limited_real.ledger_matches_venue);
    assert!(spec.gates.limited_real_to_scaling.ledger_matches_venue);
    spec.validate().unwrap();

    let gate = &RiskPolicySpec::default().gates.sandbox_to_limited_real;
    let unchecked = GateMeasurement {
        days_in_phase: 15.0,
        trades: 120,
        win_rate_pct: Some(58.0),
        sharpe: Some(1.8),
        max_drawdown_pct: 6.0,
        return_pct: 4.2,
        error_rate_pct: Some(0.5),
        ledger: Default::default(),
    };
    let rows = gate.evaluate(&unchecked);
    let last = rows.last().unwrap();
    assert_eq!(last.name, "ledgerMatchesVenue");
    assert!(!last.met && last.measured.is_none());
    let agreeing = GateMeasurement {
        ledger: botfleet_crds::LedgerEvidence {
            differences: Some(0),
            detail: "ledger matches the venue".into(),
        },
        ..unchecked
    };
    assert!(gate.evaluate(&agreeing).iter().all(|c| c.met));
}
