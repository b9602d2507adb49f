//! Invalid objects are refused by the apiserver itself, with the field named, and
//! nothing is stored.

use serde_json::{Value, json};

use crate::{api, cp, example, names_field, rejection, renamed, set, strip_indexes};

/// Asserts that `object` is refused with a cause naming `field` that says `says`, and
/// that it was not stored.
async fn assert_refused(ns: &str, object: &Value, field: &str, says: &str) {
    let status = rejection(ns, object).await;
    assert!(
        names_field(&status, field, says),
        "the rejection does not name {field} with {says:?}: {}",
        status.message
    );
    // The message a kubectl user reads names the field too.
    let named = status.message.contains(field) || status.message.contains(&strip_indexes(field));
    assert!(named, "{}", status.message);
    let kind = object["kind"].as_str().unwrap();
    let name = object["metadata"]["name"].as_str().unwrap();
    assert!(
        api(kind, ns).await.get_opt(name).await.unwrap().is_none(),
        "{name} was stored"
    );
}

fn bot(name: &str) -> Value {
    renamed(example("TradingBot", |_| true), name)
}

#[tokio::test]
async fn a_negative_capital_is_refused() {
    let ns = cp().await.namespace("negative-capital").await.unwrap();
    let mut bot = bot("negative-capital");
    set(&mut bot, "spec.capital", json!(-100));
    assert_refused(
        &ns,
        &bot,
        "spec.capital",
        "should be greater than or equal to 0",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_phase_is_refused_with_the_supported_ones() {
    let ns = cp().await.namespace("unknown-phase").await.unwrap();
    let mut bot = bot("unknown-phase");
    set(&mut bot, "spec.phase", json!("Live"));
    assert_refused(&ns, &bot, "spec.phase", "Unsupported value: \"Live\"").await;
    let status = rejection(&ns, &bot).await;
    for phase in ["Paper", "Sandbox", "LimitedReal", "Scaling"] {
        assert!(
            status.message.contains(&format!("\"{phase}\"")),
            "{}",
            status.message
        );
    }
    // Phases are CamelCase: the lower-case spelling is not a phase.
    set(&mut bot, "spec.phase", json!("paper"));
    assert_refused(&ns, &bot, "spec.phase", "Unsupported value").await;
}

#[tokio::test]
async fn a_percentage_over_100_is_refused() {
    let ns = cp().await.namespace("percent").await.unwrap();
    let mut policy = renamed(example("RiskPolicy", |_| true), "percent");
    set(
        &mut policy,
        "spec.limits.limitedReal.maxPositionPct",
        json!(150),
    );
    assert_refused(
        &ns,
        &policy,
        "spec.limits.limitedReal.maxPositionPct",
        "should be less than or equal to 100",
    )
    .await;
}

#[tokio::test]
async fn a_period_of_0_is_refused() {
    let ns = cp().await.namespace("period").await.unwrap();
    let mut strategy = renamed(
        example("Strategy", |s| s["spec"]["rsiReversion"].is_object()),
        "period",
    );
    set(&mut strategy, "spec.rsiReversion.period", json!(0));
    assert_refused(
        &ns,
        &strategy,
        "spec.rsiReversion.period",
        "should be greater than or equal to 1",
    )
    .await;
}

#[tokio::test]
async fn a_malformed_symbol_and_an_empty_symbol_list_are_refused() {
    let ns = cp().await.namespace("symbols").await.unwrap();
    let mut bot = bot("symbols");
    set(
        &mut bot,
        "spec.exchange.symbols",
        json!(["BTCUSDT", "eth/usdt"]),
    );
    assert_refused(&ns, &bot, "spec.exchange.symbols[1]", "should match").await;
    set(&mut bot, "spec.exchange.symbols", json!([]));
    assert_refused(
        &ns,
        &bot,
        "spec.exchange.symbols",
        "should have at least 1 items",
    )
    .await;
}

#[tokio::test]
async fn a_missing_reference_is_refused() {
    let ns = cp().await.namespace("missing-ref").await.unwrap();
    let mut bot = bot("missing-ref");
    bot["spec"].as_object_mut().unwrap().remove("riskPolicyRef");
    assert_refused(&ns, &bot, "spec.riskPolicyRef", "Required value").await;
}

#[tokio::test]
async fn every_problem_is_reported_at_once() {
    let ns = cp().await.namespace("all-at-once").await.unwrap();
    let mut bot = bot("all-at-once");
    set(&mut bot, "spec.capital", json!(-1));
    set(&mut bot, "spec.phase", json!("Gold"));
    set(&mut bot, "spec.promotion", json!("Sometimes"));
    let status = rejection(&ns, &bot).await;
    for (field, says) in [
        ("spec.capital", "greater than or equal to 0"),
        ("spec.phase", "Unsupported value"),
        ("spec.promotion", "Unsupported value"),
    ] {
        assert!(
            names_field(&status, field, says),
            "{field} missing: {}",
            status.message
        );
    }
}
