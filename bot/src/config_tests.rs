use super::*;

const BOT: &str = r#"
apiVersion: botfleet.dev/v1alpha1
kind: TradingBot
metadata:
  name: paper-committee
spec:
  strategyRef: {name: committee}
  riskPolicyRef: {name: seed}
  exchange: {venue: binance, symbols: [BTCUSDT]}
  phase: Paper
  capital: 5000
"#;

/// The example committee with its referenced members, an unreferenced
/// strategy, the seed policy and one bot.
fn yaml() -> String {
    [
        include_str!("../../manifests/examples/strategy-committee.yaml"),
        include_str!("../../manifests/examples/strategy-sma-crossover.yaml"),
        include_str!("../../manifests/examples/strategy-macd-trend.yaml"),
        include_str!("../../manifests/examples/strategy-rsi-reversion.yaml"),
        include_str!("../../manifests/examples/risk-policy-seed.yaml"),
        BOT,
    ]
    .join("\n---\n")
}

fn load(yaml: &str) -> EngineConfig {
    EngineConfig::from_test_yaml(yaml)
}

#[test]
fn the_trading_hash_is_the_operators_over_what_trades() {
    let text = yaml();
    let cfg = load(&text);
    // As the operator computes it: committee members by reference, in order.
    let expected = botfleet_crds::trading_hash(&botfleet_crds::WhatTrades {
        strategy: &cfg.strategy,
        members: vec![
            &cfg.strategies["sma-crossover"],
            &cfg.strategies["macd-trend"],
        ],
        policy: &cfg.risk_policy,
        symbols: &cfg.bot_spec.exchange.symbols,
        image: None,
    });
    assert_eq!(cfg.trading_hash, expected);

    let changed = |from: &str, to: &str| {
        assert!(text.contains(from), "{from}");
        load(&text.replacen(from, to, 1)).trading_hash
    };
    // What trades: a member's parameter, the policy's limits, the symbols, the image.
    assert_ne!(changed("fast: 10", "fast: 12"), cfg.trading_hash);
    assert_ne!(
        changed("maxPositionPct: 25", "maxPositionPct: 20"),
        cfg.trading_hash
    );
    assert_ne!(changed("[BTCUSDT]", "[ETHUSDT]"), cfg.trading_hash);
    assert_ne!(
        changed(
            "  capital: 5000",
            "  capital: 5000\n  engine: {image: engine:2}"
        ),
        cfg.trading_hash
    );
    // What does not: the capital, the kill switch, the phase, a strategy the bot does not use.
    assert_eq!(changed("capital: 5000", "capital: 9000"), cfg.trading_hash);
    assert_eq!(
        changed("  capital: 5000", "  capital: 5000\n  halted: true"),
        cfg.trading_hash
    );
    assert_eq!(changed("oversold: 30", "oversold: 20"), cfg.trading_hash);
    // An inline member is part of the committee's own spec.
    assert_ne!(changed("oversold: 25", "oversold: 20"), cfg.trading_hash);
}

#[test]
fn a_rendered_halt_names_the_operators_halt_id() {
    let text = yaml();
    assert_eq!(load(&text).halt_id, None);
    let annotated = text.replacen(
        "  name: paper-committee\n",
        "  name: paper-committee\n  annotations: {botfleet.dev/halt-id: h-42-abc}\n",
        1,
    );
    let cfg = load(&annotated.replacen("  capital: 5000", "  capital: 5000\n  halted: true", 1));
    assert_eq!(cfg.halt_id.as_deref(), Some("h-42-abc"));
    assert!(cfg.bot_spec.halted);
}
