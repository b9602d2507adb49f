//! Multi-document manifests: parsing, error locations, cross-references.

use botfleet_crds::manifests::DocumentError;
use botfleet_crds::{ManifestError, Manifests, Phase};

const BUNDLE: &str = r#"# a bot as a user would kubectl apply it
apiVersion: v1
kind: Secret
metadata: {name: binance-keys}
stringData: {apiKey: x, apiSecret: y}
---
apiVersion: botfleet.dev/v1alpha1
kind: Strategy
metadata:
  name: sma
spec:
  smaCrossover: {fast: 5, slow: 20}
---
apiVersion: botfleet.dev/v1alpha1
kind: RiskPolicy
metadata:
  name: careful
spec:
  limits:
    limitedReal: {maxPosition: 100}
---
apiVersion: botfleet.dev/v1alpha1
kind: TradingBot
metadata:
  name: bot-1
spec:
  strategyRef: {name: sma}
  riskPolicyRef: {name: careful}
  exchange:
    symbols: [BTCUSDT]
    sandboxCredentialsSecretRef: {name: binance-testnet-keys}
  phase: Sandbox
  capital: 0.1
"#;

fn document_errors(yaml: &str) -> Vec<DocumentError> {
    match Manifests::from_yaml(yaml) {
        Err(ManifestError::Documents(errors)) => errors,
        other => panic!("expected document errors, got {other:?}"),
    }
}

#[test]
fn parses_a_multi_document_bundle() {
    let m = Manifests::from_yaml(BUNDLE).unwrap();
    assert_eq!(
        (
            m.strategies.len(),
            m.risk_policies.len(),
            m.trading_bots.len()
        ),
        (1, 1, 1)
    );
    assert_eq!(m.skipped.len(), 1);
    assert_eq!(
        (m.skipped[0].document, m.skipped[0].kind.as_str()),
        (1, "Secret")
    );
    m.validate().unwrap();
    let bundle = m.bundle(None).unwrap();
    assert_eq!(bundle.bot.spec.phase, Phase::Sandbox);
    assert_eq!(bundle.bot.spec.capital.to_string(), "0.1");
    assert_eq!(bundle.strategy.metadata.name.as_deref(), Some("sma"));
    let lr = bundle.risk_policy.spec.limits_for(Phase::LimitedReal);
    assert_eq!(lr.max_position.unwrap().to_string(), "100");
    assert_eq!(lr.daily_loss_limit.unwrap().to_string(), "50");
}

#[test]
fn unknown_field_is_named_with_document_and_line() {
    let yaml = BUNDLE.replace(
        "    symbols: [BTCUSDT]\n",
        "    symbols: [BTCUSDT]\n    sandbox: true\n",
    );
    let errors = document_errors(&yaml);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(e.document, 4);
    assert_eq!(e.kind.as_deref(), Some("TradingBot"));
    assert_eq!(e.name.as_deref(), Some("bot-1"));
    assert_eq!(e.field.as_deref(), Some("spec.exchange.sandbox"));
    assert!(e.message.contains("unknown field `sandbox`"), "{e}");
    let line_of = yaml
        .lines()
        .position(|l| l.contains("sandbox: true"))
        .unwrap()
        + 1;
    assert_eq!(e.line, Some(line_of), "{e}");
    let text = ManifestError::Documents(errors.clone()).to_string();
    assert!(text.contains(&format!("document 4 (TradingBot bot-1), line {line_of}: spec.exchange.sandbox: unknown field `sandbox`")), "{text}");
}

#[test]
fn unknown_field_in_phase_limits_is_named() {
    let yaml = BUNDLE.replace("{maxPosition: 100}", "{maxPosition: 100, maxLeverage: 3}");
    let errors = document_errors(&yaml);
    assert_eq!(
        errors[0].field.as_deref(),
        Some("spec.limits.limitedReal.maxLeverage"),
        "{:?}",
        errors[0]
    );
    assert_eq!(errors[0].document, 3);
}

#[test]
fn every_bad_document_is_reported() {
    let yaml = BUNDLE
        .replace("kind: Strategy", "kind: Stratgey")
        .replace("capital: 0.1", "capital: -1")
        .replace("name: careful", "name: Careful");
    let errors = document_errors(&yaml);
    let summary: Vec<_> = errors
        .iter()
        .map(|e| (e.document, e.field.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (2, Some("kind".to_string())),
            (3, Some("metadata.name".to_string())),
            (4, Some("spec.capital".to_string()))
        ],
        "{errors:?}"
    );
    assert!(
        errors[0]
            .message
            .contains("use one of Strategy, RiskPolicy, TradingBot")
    );
    assert!(errors[2].message.contains("must be ≥ 0"), "{}", errors[2]);
}

#[test]
fn wrong_version_syntax_and_extra_top_level_keys() {
    let errors = document_errors(
        "apiVersion: botfleet.dev/v1\nkind: Strategy\nmetadata: {name: a}\nspec: {}\n",
    );
    assert_eq!(errors[0].field.as_deref(), Some("apiVersion"));
    assert!(errors[0].message.contains("use `botfleet.dev/v1alpha1`"));

    let errors = document_errors(
        "apiVersion: botfleet.dev/v1alpha1\nkind: Strategy\nmetadata: {name: a}\nspecs: {}\n",
    );
    assert_eq!(errors[0].field.as_deref(), Some("specs"));

    let errors = document_errors("---\nkind: [unclosed\n");
    assert_eq!(
        (errors[0].document, errors[0].line),
        (1, Some(3)),
        "{:?}",
        errors[0]
    );
}

#[test]
fn cross_references_are_checked() {
    let yaml = BUNDLE.replace("strategyRef: {name: sma}", "strategyRef: {name: ema}");
    let m = Manifests::from_yaml(&yaml).unwrap();
    let errs = m.validate().unwrap_err();
    assert!(
        errs.has_path("TradingBot/bot-1: spec.strategyRef.name"),
        "{errs}"
    );
    assert!(matches!(m.bundle(None), Err(ManifestError::Missing(msg)) if msg.contains("`ema`")));

    let yaml = format!(
        "{BUNDLE}---\n{}",
        &BUNDLE[BUNDLE
            .find("apiVersion: botfleet.dev/v1alpha1\nkind: Strategy")
            .unwrap()
            ..BUNDLE
                .find("---\napiVersion: botfleet.dev/v1alpha1\nkind: RiskPolicy")
                .unwrap()]
    );
    let errs = Manifests::from_yaml(&yaml).unwrap().validate().unwrap_err();
    assert!(errs.has_path("Strategy/sma"), "{errs}");
}

#[test]
fn spec_problems_are_prefixed_with_the_resource() {
    let yaml = BUNDLE
        .replace("{fast: 5, slow: 20}", "{fast: 50, slow: 20}")
        .replace("phase: Sandbox", "phase: Sandbox\n  halted: true");
    let errs = Manifests::from_yaml(&yaml).unwrap().validate().unwrap_err();
    assert!(
        errs.has_path("Strategy/sma: spec.smaCrossover.fast"),
        "{errs}"
    );
}

#[test]
fn committee_members_must_resolve_to_single_strategies() {
    let committee = r#"
---
apiVersion: botfleet.dev/v1alpha1
kind: Strategy
metadata: {name: council}
spec:
  timeframe: 4h
  committee:
    members:
      - {name: a, strategyRef: {name: sma}}
      - {name: b, strategyRef: {name: missing}}
      - {name: c, strategyRef: {name: council}}
"#;
    let errs = Manifests::from_yaml(&format!("{BUNDLE}{committee}"))
        .unwrap()
        .validate()
        .unwrap_err();
    let text = errs.to_string();
    assert!(
        errs.has_path("Strategy/council: spec.committee.members[0].strategyRef.name"),
        "{text}"
    );
    assert!(
        text.contains("`sma` trades 1h but the committee trades 4h"),
        "{text}"
    );
    assert!(
        text.contains("Strategy `missing` is not in the file"),
        "{text}"
    );
    assert!(text.contains("`council` is a committee"), "{text}");
}
