//! Strategy: validation rules, YAML round trip, unknown fields.

use botfleet_crds::{
    Committee, CommitteeMember, InlineStrategy, MacdTrend, ObjectRef, RsiReversion, SmaCrossover,
    Strategy, StrategyKind, StrategySpec, Timeframe, ValidationErrors,
};

fn sma(fast: u32, slow: u32) -> StrategySpec {
    StrategySpec {
        sma_crossover: Some(SmaCrossover { fast, slow }),
        ..Default::default()
    }
}

fn errors(spec: &StrategySpec) -> ValidationErrors {
    spec.validate().expect_err("expected validation errors")
}

fn inline_member(name: &str, weight: f64) -> CommitteeMember {
    CommitteeMember {
        name: name.into(),
        strategy_ref: None,
        inline: Some(InlineStrategy {
            rsi_reversion: Some(RsiReversion::default()),
            ..Default::default()
        }),
        weight,
    }
}

#[test]
fn valid_kinds_pass() {
    assert_eq!(sma(10, 30).validate(), Ok(()));
    let macd = StrategySpec {
        macd_trend: Some(MacdTrend::default()),
        ..Default::default()
    };
    assert_eq!(macd.validate(), Ok(()));
    assert!(matches!(macd.kind(), Some(StrategyKind::MacdTrend(_))));
}

#[test]
fn sma_fast_must_be_below_slow() {
    let errs = errors(&sma(30, 10));
    assert!(errs.has_path("spec.smaCrossover.fast"), "{errs}");
    assert!(
        errs.to_string()
            .contains("fast (30) must be less than slow (10)"),
        "{errs}"
    );
    assert!(sma(20, 20).validate().is_err());
}

#[test]
fn macd_fast_must_be_below_slow_and_periods_at_least_one() {
    let spec = StrategySpec {
        macd_trend: Some(MacdTrend {
            fast: 26,
            slow: 12,
            signal: 0,
        }),
        ..Default::default()
    };
    let errs = errors(&spec);
    assert!(errs.has_path("spec.macdTrend.fast"), "{errs}");
    assert!(errs.has_path("spec.macdTrend.signal"), "{errs}");
}

#[test]
fn rsi_oversold_below_overbought() {
    let spec = StrategySpec {
        rsi_reversion: Some(RsiReversion {
            period: 14,
            oversold: 70.0,
            overbought: 30.0,
        }),
        ..Default::default()
    };
    let errs = errors(&spec);
    assert!(errs.has_path("spec.rsiReversion.oversold"), "{errs}");
    assert_eq!(errs.len(), 1, "{errs}");
}

#[test]
fn exactly_one_kind() {
    let none = StrategySpec::default();
    let errs = errors(&none);
    assert!(errs.has_path("spec"), "{errs}");
    assert!(
        errs.to_string().contains("set exactly one of smaCrossover"),
        "{errs}"
    );
    assert!(none.kind().is_none());

    let two = StrategySpec {
        macd_trend: Some(MacdTrend::default()),
        ..sma(10, 30)
    };
    let errs = errors(&two);
    assert!(errs.has_path("spec.macdTrend"), "{errs}");
    assert!(
        errs.to_string().contains("found smaCrossover, macdTrend"),
        "{errs}"
    );
    assert!(two.kind().is_none());
}

#[test]
fn committee_rules_reported_together() {
    let committee = Committee {
        members: vec![
            inline_member("a", 1.0),
            inline_member("a", 0.0),
            CommitteeMember {
                name: "empty".into(),
                strategy_ref: None,
                inline: None,
                weight: 1.0,
            },
            CommitteeMember {
                name: "both".into(),
                strategy_ref: Some(ObjectRef::new("sma")),
                inline: Some(InlineStrategy {
                    sma_crossover: Some(SmaCrossover { fast: 5, slow: 3 }),
                    ..Default::default()
                }),
                weight: 1.0,
            },
            CommitteeMember {
                name: "bad-inline".into(),
                strategy_ref: None,
                inline: Some(InlineStrategy {
                    sma_crossover: Some(SmaCrossover { fast: 5, slow: 3 }),
                    ..Default::default()
                }),
                weight: 1.0,
            },
        ],
        min_agreement: 1.5,
        veto_by: Some("nobody".into()),
    };
    let spec = StrategySpec {
        committee: Some(committee),
        ..Default::default()
    };
    let errs = errors(&spec);
    for path in [
        "spec.committee.members[1].name",
        "spec.committee.members[1].weight",
        "spec.committee.members[2]",
        "spec.committee.members[3].inline",
        "spec.committee.members[4].inline.smaCrossover.fast",
        "spec.committee.minAgreement",
        "spec.committee.vetoBy",
    ] {
        assert!(errs.has_path(path), "missing {path} in {errs}");
    }
    assert!(
        errs.to_string()
            .contains("use one of: a, a, empty, both, bad-inline"),
        "{errs}"
    );
}

#[test]
fn committee_needs_members_and_zero_agreement_is_rejected() {
    let spec = StrategySpec {
        committee: Some(Committee {
            members: vec![],
            min_agreement: 0.0,
            veto_by: None,
        }),
        ..Default::default()
    };
    let errs = errors(&spec);
    assert!(errs.has_path("spec.committee.members"), "{errs}");
    assert!(errs.has_path("spec.committee.minAgreement"), "{errs}");
}

#[test]
fn yaml_round_trip_of_a_full_committee() {
    let yaml = r#"
apiVersion: botfleet.dev/v1alpha1
kind: Strategy
metadata:
  name: council
  namespace: bots
spec:
  timeframe: 4h
  committee:
    minAgreement: 0.6
    vetoBy: risk-guard
    members:
      - name: trend
        strategyRef: {name: sma-crossover}
        weight: 2
      - name: risk-guard
        inline:
          rsiReversion: {period: 14, oversold: 25, overbought: 75}
        weight: 1.5
"#;
    let s: Strategy = serde_yaml::from_str(yaml).unwrap();
    assert_eq!(s.spec.timeframe, Timeframe::H4);
    let c = s.spec.committee.as_ref().unwrap();
    assert_eq!(c.members[0].weight, 2.0);
    assert_eq!(
        c.members[1]
            .inline
            .as_ref()
            .unwrap()
            .rsi_reversion
            .as_ref()
            .unwrap()
            .oversold,
        25.0
    );
    assert_eq!(s.spec.validate(), Ok(()));
    let again: Strategy = serde_yaml::from_str(&serde_yaml::to_string(&s).unwrap()).unwrap();
    assert_eq!(again, s);
}

#[test]
fn parameters_default_when_omitted() {
    let spec: StrategySpec = serde_yaml::from_str("bollingerReversion: {}").unwrap();
    let b = spec.bollinger_reversion.unwrap();
    assert_eq!((b.period, b.std_devs), (20, 2.0));
    assert_eq!(spec.timeframe, Timeframe::H1);
}

#[test]
fn unknown_field_rejected_with_its_name() {
    let err = serde_yaml::from_str::<StrategySpec>("smaCrossover: {fast: 5, slwo: 20}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `slwo`"), "{err}");
    let err = serde_yaml::from_str::<StrategySpec>("smaCrosover: {fast: 5}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `smaCrosover`"), "{err}");
}
