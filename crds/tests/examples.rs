//! Every file in manifests/examples/ parses and validates, alone and together.

use std::path::PathBuf;

use botfleet_crds::{Manifests, Phase, RiskPolicySpec};

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples")
}

/// The example set this crate ships (other files, e.g. quickstart.yaml, are
/// self-contained and only checked one by one).
const SET: [&str; 7] = [
    "risk-policy-seed.yaml",
    "strategy-bollinger-reversion.yaml",
    "strategy-committee.yaml",
    "strategy-macd-trend.yaml",
    "strategy-rsi-reversion.yaml",
    "strategy-sma-crossover.yaml",
    "trading-bot.yaml",
];

fn example_set() -> String {
    SET.iter()
        .map(|f| std::fs::read_to_string(examples_dir().join(f)).unwrap() + "\n---\n")
        .collect()
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("manifests/examples exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_parses_and_validates() {
    let files = example_files();
    assert!(
        files.len() >= 7,
        "expected the example set, found {files:?}"
    );
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let m = Manifests::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            !(m.strategies.is_empty() && m.risk_policies.is_empty() && m.trading_bots.is_empty()),
            "{} holds no Botfleet resource",
            path.display()
        );
        for s in &m.strategies {
            s.spec
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        for p in &m.risk_policies {
            p.spec
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        for b in &m.trading_bots {
            b.spec
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    // As `kubectl apply -f` of the set would see them: references resolve.
    let m = Manifests::from_yaml(&example_set()).unwrap();
    m.validate()
        .unwrap_or_else(|e| panic!("examples together: {e}"));
}

#[test]
fn one_strategy_example_per_kind() {
    let mut kinds: Vec<&str> = Vec::new();
    let m = Manifests::from_yaml(&example_set()).unwrap();
    for s in &m.strategies {
        kinds.push(s.spec.kind().expect("one kind").name());
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "bollingerReversion",
            "committee",
            "macdTrend",
            "rsiReversion",
            "smaCrossover"
        ]
    );
}

#[test]
fn seed_policy_example_spells_out_the_defaults() {
    let m = Manifests::from_file(examples_dir().join("risk-policy-seed.yaml")).unwrap();
    let spec = &m.risk_policies[0].spec;
    assert_eq!(spec, &RiskPolicySpec::default());
    // Explicit, not just defaulted: the seed caps are written in the file.
    let text = std::fs::read_to_string(examples_dir().join("risk-policy-seed.yaml")).unwrap();
    for needle in [
        "maxPosition: 250",
        "dailyLossLimit: 50",
        "maxTotalLoss: 500",
        "minWinRatePct: 55",
        "minSharpe: 1.5",
    ] {
        assert!(
            text.contains(needle),
            "risk-policy-seed.yaml should state {needle}"
        );
    }
    assert_eq!(spec.limits_for(Phase::LimitedReal).max_trades_per_day, 10);
}

#[test]
fn bot_example_runs_with_the_example_strategy_and_policy() {
    let m = Manifests::from_yaml(&example_set()).unwrap();
    let bundle = m.bundle(Some("btc-sma")).unwrap();
    assert_eq!(
        bundle.strategy.metadata.name.as_deref(),
        Some("sma-crossover")
    );
    assert_eq!(bundle.risk_policy.metadata.name.as_deref(), Some("seed"));
}
