//! TradingBot: defaults, validation, YAML round trip with status.

use botfleet_crds::{
    Amount, BotMetrics, BotState, CapitalStatus, ExchangeSpec, GateCriteria, GateMeasurement,
    GateStatus, HaltStatus, ObjectRef, PHASE_HISTORY_LIMIT, Persistence, PersistenceBackend, Phase,
    PhaseTransition, PostgresPersistence, Promotion, SecretKeyRef, SecretRef, SignedAmount,
    TradingBot, TradingBotSpec, TradingBotStatus, Venue, condition_types,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use rust_decimal_macros::dec;

fn time(s: &str) -> Time {
    Time(s.parse::<Timestamp>().unwrap())
}

const MINIMAL: &str = r#"
strategyRef: {name: sma-crossover}
riskPolicyRef: {name: seed}
exchange:
  symbols: [BTCUSDT]
capital: 1000
"#;

fn minimal() -> TradingBotSpec {
    serde_yaml::from_str(MINIMAL).unwrap()
}

#[test]
fn defaults() {
    let spec = minimal();
    assert_eq!(spec.phase, Phase::Paper);
    assert_eq!(spec.promotion, Promotion::Manual);
    assert!(!spec.halted);
    assert_eq!(spec.exchange.venue, Venue::Binance);
    assert_eq!(spec.engine.image, None);
    match spec.persistence.backend() {
        Some(PersistenceBackend::Sqlite(s)) => assert_eq!(s.storage_size.0, "1Gi"),
        other => panic!("expected sqlite, got {other:?}"),
    }
    assert_eq!(spec.validate(), Ok(()));
}

#[test]
fn capital_is_exact() {
    let spec: TradingBotSpec =
        serde_yaml::from_str(&MINIMAL.replace("capital: 1000", "capital: 1000.1")).unwrap();
    assert_eq!(spec.capital.value(), dec!(1000.1));
    let err =
        serde_yaml::from_str::<TradingBotSpec>(&MINIMAL.replace("capital: 1000", "capital: -5"))
            .unwrap_err();
    assert!(err.to_string().contains("must be ≥ 0"), "{err}");
}

#[test]
fn every_problem_at_once() {
    let spec = TradingBotSpec {
        strategy_ref: ObjectRef::new("Bad_Name"),
        exchange: ExchangeSpec {
            venue: Venue::Binance,
            symbols: vec!["btc/usdt".into(), "ETHUSDT".into(), "ETHUSDT".into()],
            sandbox_credentials_secret_ref: None,
            live_credentials_secret_ref: None,
            credentials_secret_ref: None,
        },
        phase: Phase::Sandbox,
        capital: Amount::ZERO,
        persistence: Persistence {
            sqlite: None,
            postgres: None,
        },
        ..minimal()
    };
    let errs = spec.validate().unwrap_err();
    for path in [
        "spec.strategyRef.name",
        "spec.exchange.symbols[0]",
        "spec.exchange.symbols[2]",
        "spec.exchange.sandboxCredentialsSecretRef",
        "spec.capital",
        "spec.persistence",
    ] {
        assert!(errs.has_path(path), "missing {path} in {errs}");
    }
    let text = errs.to_string();
    assert!(text.starts_with("6 problems:"), "{text}");
    assert!(text.contains("use BTCUSDT"), "{text}");
    assert!(
        text.contains(
            "spec.phase Sandbox trades in Sandbox, which needs the exchange's test network"
        ),
        "{text}"
    );
}

#[test]
fn symbols_must_not_be_empty() {
    let mut spec = minimal();
    spec.exchange.symbols.clear();
    assert!(
        spec.validate()
            .unwrap_err()
            .has_path("spec.exchange.symbols")
    );
}

#[test]
fn persistence_is_one_of() {
    let mut spec = minimal();
    let pg = PostgresPersistence {
        url_secret_ref: SecretKeyRef {
            name: "db".into(),
            key: "".into(),
        },
    };
    spec.persistence.postgres = Some(pg.clone());
    assert!(
        spec.validate()
            .unwrap_err()
            .has_path("spec.persistence.postgres")
    );
    spec.persistence.sqlite = None;
    assert!(
        spec.validate()
            .unwrap_err()
            .has_path("spec.persistence.postgres.urlSecretRef.key")
    );
    spec.persistence.postgres = Some(PostgresPersistence {
        url_secret_ref: SecretKeyRef {
            name: "db".into(),
            key: "url".into(),
        },
    });
    assert_eq!(spec.validate(), Ok(()));
    // An explicit postgres block does not pick up the sqlite default.
    let parsed: TradingBotSpec = serde_yaml::from_str(&format!(
        "{MINIMAL}persistence:\n  postgres: {{urlSecretRef: {{name: db, key: url}}}}\n"
    ))
    .unwrap();
    assert!(matches!(
        parsed.persistence.backend(),
        Some(PersistenceBackend::Postgres(_))
    ));
}

#[test]
fn unknown_field_rejected() {
    let yaml = MINIMAL.replace("symbols: [BTCUSDT]", "symbols: [BTCUSDT]\n  apiKey: oops");
    let err = serde_yaml::from_str::<TradingBotSpec>(&yaml)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `apiKey`"), "{err}");
}

#[test]
fn yaml_round_trip_with_status() {
    let mut bot = TradingBot::new(
        "btc-sma",
        TradingBotSpec {
            phase: Phase::LimitedReal,
            promotion: Promotion::Automatic,
            exchange: ExchangeSpec {
                venue: Venue::Binance,
                symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
                sandbox_credentials_secret_ref: Some(SecretRef {
                    name: "binance-testnet-keys".into(),
                }),
                live_credentials_secret_ref: Some(SecretRef {
                    name: "binance-live-keys".into(),
                }),
                credentials_secret_ref: None,
            },
            ..minimal()
        },
    );
    let gate = GateCriteria::seed(30).evaluate(&GateMeasurement {
        days_in_phase: 3.5,
        trades: 12,
        ..Default::default()
    });
    bot.status = Some(TradingBotStatus {
        observed_generation: Some(3),
        phase: Some(Phase::Sandbox),
        state: Some(BotState::Trading),
        conditions: vec![Condition {
            type_: condition_types::PROMOTION_BLOCKED.into(),
            status: "True".into(),
            reason: "GateNotMet".into(),
            message: "minTrades: 12 < 100".into(),
            observed_generation: Some(3),
            last_transition_time: time("2026-01-02T03:04:05Z"),
        }],
        metrics: Some(BotMetrics {
            equity: SignedAmount::new(dec!(1012.37)),
            return_pct: 1.24,
            drawdown_pct: 0.5,
            max_drawdown_pct: 2.1,
            win_rate_pct: Some(58.33),
            sharpe: None,
            trades: 12,
            open_positions: 1,
            daily_pnl: SignedAmount::new(dec!(-3.1)),
        }),
        gate: Some(GateStatus {
            trading_hash: None,
            target_phase: Phase::LimitedReal,
            met: false,
            criteria: gate,
        }),
        capital: Some(CapitalStatus {
            allocated: Amount::from(1000),
            step: None,
            period: None,
        }),
        halt: Some(HaltStatus {
            id: "h-1".into(),
            reason: "manual".into(),
            at: time("2026-01-03T00:00:00Z"),
        }),
        phase_history: vec![PhaseTransition {
            from: Some(Phase::Paper),
            to: Phase::Sandbox,
            at: time("2026-01-01T00:00:00Z"),
            reason: "gate met".into(),
        }],
        engine_image_id: None,
        approvals: vec![],
    });
    let yaml = serde_yaml::to_string(&bot).unwrap();
    assert!(yaml.contains("equity: 1012.37"), "{yaml}");
    assert!(yaml.contains("dailyPnl: -3.1"), "{yaml}");
    let back: TradingBot = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back, bot);
    assert_eq!(
        back.status
            .unwrap()
            .condition("PromotionBlocked")
            .unwrap()
            .reason,
        "GateNotMet"
    );
}

#[test]
fn phase_history_is_bounded() {
    let mut status = TradingBotStatus::default();
    for i in 0..(PHASE_HISTORY_LIMIT + 5) {
        status.push_phase_transition(PhaseTransition {
            from: None,
            to: Phase::Paper,
            at: time("2026-01-01T00:00:00Z"),
            reason: format!("#{i}"),
        });
    }
    assert_eq!(status.phase_history.len(), PHASE_HISTORY_LIMIT);
    assert_eq!(status.phase_history[0].reason, "#5");
    assert_eq!(
        status.phase_history.last().unwrap().reason,
        format!("#{}", PHASE_HISTORY_LIMIT + 4)
    );
}

#[test]
fn metrics_are_rounded_for_status() {
    let m = BotMetrics {
        equity: SignedAmount::new(dec!(1012.3749)),
        return_pct: 1.23456,
        sharpe: Some(1.5049),
        daily_pnl: SignedAmount::new(dec!(-0.005)),
        ..Default::default()
    }
    .rounded();
    assert_eq!(m.equity.value(), dec!(1012.37));
    assert_eq!(m.return_pct, 1.23);
    assert_eq!(m.sharpe, Some(1.5));
    assert_eq!(m.daily_pnl.value(), dec!(-0.01));
}

fn with_symbols(venue: Venue, symbols: &[&str]) -> TradingBotSpec {
    let mut spec = minimal();
    spec.exchange.venue = venue;
    spec.exchange.symbols = symbols.iter().map(|s| s.to_string()).collect();
    spec
}

#[test]
fn coinbase_takes_product_ids_and_names_the_fix_for_a_binance_symbol() {
    let spec: TradingBotSpec = serde_yaml::from_str(&MINIMAL.replace(
        "symbols: [BTCUSDT]",
        "venue: coinbase\n  symbols: [BTC-USD, ETH-USDC]",
    ))
    .unwrap();
    assert_eq!(spec.exchange.venue, Venue::Coinbase);
    assert_eq!(spec.validate(), Ok(()));

    let errs = with_symbols(
        Venue::Coinbase,
        &["BTCUSDT", "ethusd", "SOL/EUR", "BTC-USD"],
    )
    .validate()
    .unwrap_err();
    let text = errs.to_string();
    assert!(text.starts_with("3 problems:"), "{text}");
    for (path, fix) in [
        ("spec.exchange.symbols[0]", "use BTC-USDT"),
        ("spec.exchange.symbols[1]", "use ETH-USD"),
        ("spec.exchange.symbols[2]", "use SOL-EUR"),
    ] {
        assert!(errs.has_path(path), "missing {path} in {text}");
        assert!(text.contains(fix), "missing `{fix}` in {text}");
    }
    assert!(text.contains("not a Coinbase product id"), "{text}");
}

#[test]
fn binance_names_the_fix_for_a_coinbase_product_id() {
    let errs = with_symbols(Venue::Binance, &["BTC-USD", "ETHUSDT"])
        .validate()
        .unwrap_err();
    let text = errs.to_string();
    assert!(errs.has_path("spec.exchange.symbols[0]"), "{text}");
    assert!(!errs.has_path("spec.exchange.symbols[1]"), "{text}");
    assert!(text.contains("use BTCUSD"), "{text}");
    assert!(text.contains("not a Binance symbol"), "{text}");
}

fn exchange(sandbox: Option<&str>, live: Option<&str>) -> ExchangeSpec {
    let r = |n: Option<&str>| n.map(|name| SecretRef { name: name.into() });
    ExchangeSpec {
        venue: Venue::Binance,
        symbols: vec!["BTCUSDT".into()],
        sandbox_credentials_secret_ref: r(sandbox),
        live_credentials_secret_ref: r(live),
        credentials_secret_ref: None,
    }
}

/// Test-network and live keys are separate references: each phase from
/// Sandbox up needs the one of every venue phase it climbs through, the two
/// may not name one Secret, and the removed single reference is refused
/// with the fix named.
#[test]
fn credentials_are_separate_for_the_test_network_and_live() {
    let spec = |phase, ex| TradingBotSpec {
        phase,
        exchange: ex,
        ..minimal()
    };
    spec(Phase::Paper, exchange(None, None)).validate().unwrap();
    spec(Phase::Sandbox, exchange(Some("t"), None))
        .validate()
        .unwrap();
    spec(Phase::LimitedReal, exchange(Some("t"), Some("l")))
        .validate()
        .unwrap();

    let errs = spec(Phase::Sandbox, exchange(None, Some("l")))
        .validate()
        .unwrap_err();
    assert!(
        errs.has_path("spec.exchange.sandboxCredentialsSecretRef"),
        "{errs}"
    );
    assert!(
        !errs.has_path("spec.exchange.liveCredentialsSecretRef"),
        "{errs}"
    );

    let errs = spec(Phase::Scaling, exchange(Some("t"), None))
        .validate()
        .unwrap_err();
    assert!(
        errs.has_path("spec.exchange.liveCredentialsSecretRef"),
        "{errs}"
    );
    assert!(
        errs.to_string().contains("live (real-money) API key"),
        "{errs}"
    );

    let errs = spec(Phase::LimitedReal, exchange(Some("keys"), Some("keys")))
        .validate()
        .unwrap_err();
    assert!(
        errs.has_path("spec.exchange.liveCredentialsSecretRef.name"),
        "{errs}"
    );
    assert!(errs.to_string().contains("two Secrets"), "{errs}");

    let mut old = exchange(Some("t"), None);
    old.credentials_secret_ref = Some(SecretRef { name: "t".into() });
    let errs = spec(Phase::Sandbox, old).validate().unwrap_err();
    assert!(
        errs.has_path("spec.exchange.credentialsSecretRef"),
        "{errs}"
    );
    assert!(
        errs.to_string()
            .contains("move the test-network Secret to sandboxCredentialsSecretRef"),
        "{errs}"
    );
}

/// The engine of each phase gets only that phase's Secret.
#[test]
fn each_phase_uses_only_its_own_keys() {
    let ex = exchange(Some("testnet"), Some("live"));
    let name = |p| ex.credentials_for(p).map(|r| r.name.as_str());
    assert_eq!(name(Phase::Paper), None);
    assert_eq!(name(Phase::Sandbox), Some("testnet"));
    assert_eq!(name(Phase::LimitedReal), Some("live"));
    assert_eq!(name(Phase::Scaling), Some("live"));
}
