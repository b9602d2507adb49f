//! Blueprints: reference resolution, errors naming the field, one fresh
//! instance per symbol, determinism; plus the hold-path micro-benchmark.

use std::collections::HashMap;

use botfleet_crds::{
    BollingerReversion, CommitteeMember, InlineStrategy, MacdTrend, ObjectRef, RsiReversion,
    SmaCrossover, StrategySpec, Timeframe,
};

use super::committee::{committee_spec, sma_member};
use super::*;
use crate::market_data::{SyntheticConfig, generate};

fn ref_member(name: &str, weight: f64, target: &str) -> CommitteeMember {
    CommitteeMember {
        name: name.into(),
        strategy_ref: Some(ObjectRef::new(target)),
        inline: None,
        weight,
    }
}

fn sma_spec(fast: u32, slow: u32) -> StrategySpec {
    StrategySpec {
        sma_crossover: Some(SmaCrossover { fast, slow }),
        ..Default::default()
    }
}

/// A lookup over named specs, as the engine builds from the manifests.
fn library(specs: &[(&str, StrategySpec)]) -> HashMap<String, StrategySpec> {
    specs
        .iter()
        .map(|(n, s)| (n.to_string(), s.clone()))
        .collect()
}

#[test]
fn referenced_members_behave_like_inline_ones() {
    let lib = library(&[
        ("fast-trend", sma_spec(1, 2)),
        ("slow-trend", sma_spec(2, 3)),
    ]);
    let lookup = |name: &str| lib.get(name).cloned();
    let by_ref = committee_spec(
        vec![
            ref_member("fast", 3.0, "fast-trend"),
            ref_member("slow", 1.0, "slow-trend"),
        ],
        0.7,
        Some("slow"),
    );
    let inline = committee_spec(
        vec![sma_member("fast", 3.0, 1, 2), sma_member("slow", 1.0, 2, 3)],
        0.7,
        Some("slow"),
    );
    let closes: Vec<f64> = (0..300)
        .map(|i| 100.0 + (i as f64 * 0.37).sin() * 5.0)
        .collect();
    let a = run(
        build_strategy("council", &by_ref, &lookup)
            .unwrap()
            .as_mut(),
        &closes,
    );
    let b = run(
        build_strategy("council", &inline, &|_| None)
            .unwrap()
            .as_mut(),
        &closes,
    );
    assert!(
        signals(&a).len() >= 10,
        "the series should make the committee act"
    );
    assert_eq!(a, b);
}

#[test]
fn unknown_reference_names_the_member_field() {
    let spec = committee_spec(vec![ref_member("a", 1.0, "missing")], 0.5, None);
    let e = StrategyBlueprint::resolve("council", &spec, &|_| None).unwrap_err();
    assert_eq!(
        e,
        StrategyError::NotFound {
            path: "Strategy/council: spec.committee.members[0].strategyRef.name".into(),
            name: "missing".into()
        }
    );
    assert!(
        e.to_string().contains("Strategy `missing` was not found"),
        "{e}"
    );
}

#[test]
fn a_committee_that_contains_itself_is_a_cycle() {
    // Directly.
    let me = committee_spec(
        vec![sma_member("a", 1.0, 2, 5), ref_member("me", 1.0, "council")],
        0.5,
        None,
    );
    let lookup = |name: &str| (name == "council").then(|| me.clone());
    let e = StrategyBlueprint::resolve("council", &me, &lookup).unwrap_err();
    assert_eq!(
        e,
        StrategyError::Cycle {
            path: "Strategy/council: spec.committee.members[1].strategyRef.name".into(),
            chain: "council → council".into()
        }
    );
    // Through another committee: council → other → council.
    let council = committee_spec(vec![ref_member("o", 1.0, "other")], 0.5, None);
    let other = committee_spec(vec![ref_member("back", 1.0, "council")], 0.5, None);
    let lib = library(&[("council", council.clone()), ("other", other)]);
    let e = StrategyBlueprint::resolve("council", &council, &|n| lib.get(n).cloned()).unwrap_err();
    assert!(
        matches!(&e, StrategyError::Cycle { chain, .. } if chain == "council → other → council"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("reference cycle council → other → council"),
        "{e}"
    );
}

#[test]
fn members_must_be_single_strategies_of_the_same_timeframe() {
    let inner = committee_spec(vec![sma_member("x", 1.0, 2, 5)], 0.5, None);
    let mut hourly = sma_spec(2, 5);
    hourly.timeframe = Timeframe::H1;
    let mut daily = sma_spec(2, 5);
    daily.timeframe = Timeframe::D1;
    let lib = library(&[("inner", inner), ("hourly", hourly), ("daily", daily)]);
    let lookup = |n: &str| lib.get(n).cloned();

    let spec = committee_spec(vec![ref_member("i", 1.0, "inner")], 0.5, None);
    let e = StrategyBlueprint::resolve("c", &spec, &lookup).unwrap_err();
    assert!(
        matches!(&e, StrategyError::NestedCommittee { name, .. } if name == "inner"),
        "{e}"
    );
    assert_eq!(
        e.path(),
        "Strategy/c: spec.committee.members[0].strategyRef.name"
    );

    let mut spec = committee_spec(
        vec![
            ref_member("h", 1.0, "hourly"),
            ref_member("d", 1.0, "daily"),
        ],
        0.5,
        None,
    );
    spec.timeframe = Timeframe::H1;
    let e = StrategyBlueprint::resolve("c", &spec, &lookup).unwrap_err();
    assert_eq!(
        e.path(),
        "Strategy/c: spec.committee.members[1].strategyRef.name"
    );
    assert!(
        e.to_string()
            .contains("`daily` trades 1d candles but the committee trades 1h"),
        "{e}"
    );
}

#[test]
fn invalid_specs_name_the_field_to_fix() {
    // The root.
    let e = StrategyBlueprint::resolve("t", &sma_spec(30, 10), &|_| None).unwrap_err();
    assert_eq!(e.path(), "Strategy/t: spec.smaCrossover.fast");
    assert!(
        e.to_string()
            .contains("fast (30) must be less than slow (10)"),
        "{e}"
    );
    // No kind at all.
    let e = StrategyBlueprint::resolve("t", &StrategySpec::default(), &|_| None).unwrap_err();
    assert_eq!(e.path(), "Strategy/t: spec");
    // A referenced strategy, reported through the reference.
    let lib = library(&[("broken", sma_spec(5, 5))]);
    let spec = committee_spec(vec![ref_member("b", 1.0, "broken")], 0.5, None);
    let e = StrategyBlueprint::resolve("c", &spec, &|n| lib.get(n).cloned()).unwrap_err();
    assert_eq!(
        e.path(),
        "Strategy/c: spec.committee.members[0].strategyRef → Strategy/broken: spec.smaCrossover.fast"
    );
    // An inline member whose bands can never be reached (engine-only check).
    let member = CommitteeMember {
        name: "bands".into(),
        strategy_ref: None,
        inline: Some(InlineStrategy {
            bollinger_reversion: Some(BollingerReversion {
                period: 4,
                std_devs: 2.0,
            }),
            ..Default::default()
        }),
        weight: 1.0,
    };
    let spec = committee_spec(vec![sma_member("a", 1.0, 2, 5), member], 0.5, None);
    let e = StrategyBlueprint::resolve("c", &spec, &|_| None).unwrap_err();
    assert_eq!(
        e.path(),
        "Strategy/c: spec.committee.members[1].inline.bollingerReversion.period"
    );
    // Committee rules from the CRD: minAgreement in (0, 1], vetoBy a member.
    let spec = committee_spec(vec![sma_member("a", 1.0, 2, 5)], 50.0, Some("nobody"));
    let StrategyError::Invalid(errs) =
        StrategyBlueprint::resolve("c", &spec, &|_| None).unwrap_err()
    else {
        panic!("expected validation errors");
    };
    assert!(
        errs.has_path("Strategy/c: spec.committee.minAgreement"),
        "{errs}"
    );
    assert!(errs.has_path("Strategy/c: spec.committee.vetoBy"), "{errs}");
}

fn every_kind() -> Vec<StrategySpec> {
    let committee = committee_spec(
        vec![sma_member("a", 2.0, 5, 20), sma_member("b", 1.0, 10, 40)],
        0.6,
        Some("b"),
    );
    vec![
        sma_spec(10, 30),
        StrategySpec {
            rsi_reversion: Some(RsiReversion::default()),
            ..Default::default()
        },
        StrategySpec {
            bollinger_reversion: Some(BollingerReversion::default()),
            ..Default::default()
        },
        StrategySpec {
            macd_trend: Some(MacdTrend::default()),
            ..Default::default()
        },
        committee,
    ]
}

#[test]
fn same_candles_same_decisions_and_instances_are_independent() {
    let series = generate(&SyntheticConfig::new(7, 5_000)).unwrap().candles;
    for spec in every_kind() {
        let blueprint = StrategyBlueprint::resolve("s", &spec, &|_| None).unwrap();
        let feed = |s: &mut dyn Strategy| -> Vec<Advice> {
            series.iter().map(|c| s.on_candle(c)).collect()
        };
        let first = feed(blueprint.build().as_mut());
        assert!(!signals(&first).is_empty(), "{spec:?} never signalled");
        // A second symbol's instance, after another instance saw other data.
        let mut busy = blueprint.build();
        feed(busy.as_mut());
        assert_eq!(feed(blueprint.build().as_mut()), first);
        // Static dispatch gives the very same decisions.
        let mut any = blueprint.instantiate();
        assert_eq!(feed(&mut any), first);
        assert_eq!(blueprint.warmup_candles(), any.warmup_candles());
    }
}

/// Release-build timing of the SMA-crossover hold path (not an assertion):
/// `cargo test --release -p botfleet-bot --lib strategy::tests::build::bench -- --ignored --nocapture`
#[test]
#[ignore = "timing; run in release with --nocapture"]
fn bench_sma_crossover_per_candle() {
    let series = generate(&SyntheticConfig::new(1, 1_000_000))
        .unwrap()
        .candles;
    for (label, spec) in [("smaCrossover(10,30)", sma_spec(10, 30))]
        .into_iter()
        .chain(every_kind().into_iter().skip(1).map(|s| ("other kinds", s)))
    {
        let kind = spec.kind().map_or("?", |k| k.name());
        let blueprint = StrategyBlueprint::resolve("bench", &spec, &|_| None).unwrap();
        let mut best = f64::MAX;
        let mut holds = 0;
        for _ in 0..5 {
            let mut s = blueprint.build();
            let start = std::time::Instant::now();
            holds = 0;
            for c in &series {
                let d = s.on_candle(std::hint::black_box(c));
                holds += usize::from(d.signal == Signal::Hold);
            }
            best = best.min(start.elapsed().as_nanos() as f64 / series.len() as f64);
        }
        println!(
            "{label:>20} {kind:>20}: {best:6.1} ns/candle ({holds} of {} candles hold)",
            series.len()
        );
    }
}
