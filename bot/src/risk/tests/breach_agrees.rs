//! The engine's per-tick halting limits (exact floors on the fast path) and
//! `botfleet_crds::breach` (the one rule the operator and the plugin call)
//! give the same verdict on the same numbers, on both sides of every
//! boundary, the LimitedReal hard caps included.

use super::*;
use botfleet_crds::engine_api::WindowMetrics;

/// A window as the engine reports it: start equity = capital, drawdown from `peak`.
fn window(capital: &str, peak: &str, equity: &str) -> WindowMetrics {
    let (peak, equity) = (d(peak), d(equity));
    let dd = ((peak - equity) / peak * Decimal::ONE_HUNDRED)
        .to_string()
        .parse::<f64>()
        .unwrap();
    WindowMetrics {
        start_equity: d(capital),
        money_base: None,
        equity,
        return_pct: 0.0,
        drawdown_pct: dd,
        max_drawdown_pct: dd,
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
    }
}

fn engine_halts(
    policy: &RiskPolicySpec,
    phase: Phase,
    capital: &str,
    peak: &str,
    equity: &str,
) -> bool {
    let config = RiskConfig::from_policy(policy, phase, m(capital), Timeframe::M1);
    let mut e = RiskEngine::new(config, T0, m(capital)).unwrap();
    e.on_equity(T0 + MIN, m(peak));
    e.on_equity(T0 + 2 * MIN, m(equity));
    e.halted().is_some()
}

#[test]
fn engine_and_contract_agree_on_every_halting_boundary() {
    let seed = RiskPolicySpec::default();
    // LimitedReal without absolute caps and with a 50 % loss limit: only the
    // hard caps ($500 total loss) stand between it and a large loss.
    let loose: RiskPolicySpec = serde_json::from_value(serde_json::json!({
        "limits": {"limitedReal": {"maxTotalLossPct": 50, "maxDrawdownPct": 60}}}))
    .unwrap();
    let cases = [
        // (policy, phase, capital, peak, equity)
        (&seed, Phase::Paper, "10000", "10000", "8000.01"), // dd just under 20 %
        (&seed, Phase::Paper, "10000", "10000", "8000"),    // dd at 20 %
        (&seed, Phase::Paper, "10000", "12500", "10000.01"), // from a higher peak
        (&seed, Phase::Paper, "10000", "12500", "10000"),
        (&seed, Phase::Sandbox, "10000", "10000", "8500.01"),
        (&seed, Phase::Sandbox, "10000", "10000", "8500"),
        (&seed, Phase::LimitedReal, "1000", "1000", "900.01"), // 10 % total loss
        (&seed, Phase::LimitedReal, "1000", "1000", "900"),
        (&loose, Phase::LimitedReal, "10000", "10000", "9500.01"), // the $500 hard cap
        (&loose, Phase::LimitedReal, "10000", "10000", "9500"),
        (&seed, Phase::Scaling, "10000", "10000", "8500.01"),
        (&seed, Phase::Scaling, "10000", "10000", "8500"),
    ];
    for (policy, phase, capital, peak, equity) in cases {
        let w = window(capital, peak, equity);
        let contract = botfleet_crds::breach(&w, &policy.effective_limits(phase), phase);
        let engine = engine_halts(policy, phase, capital, peak, equity);
        assert_eq!(
            engine,
            contract.is_some(),
            "{phase} capital {capital} peak {peak} equity {equity}: engine halts {engine}, contract says {contract:?}"
        );
    }
}
