//! The pure parts: the prompt is deterministic and numbers only, the reply
//! contract, the budget's day and limits.

use std::collections::VecDeque;

use botfleet_crds::LlmBudget;
use rust_decimal::Decimal;

use super::AbstainCause;
use super::budget::{Budget, Exhausted};
use super::prompt::{DEFAULT_TEMPLATE, PromptIndicators, render};
use super::reply::{Usage, parse_completion, parse_vote};
use crate::domain::Candle;
use crate::market_data::{SyntheticConfig, generate};
use crate::strategy::{DecisionContext, Signal};

fn window(n: usize) -> VecDeque<Candle> {
    generate(&SyntheticConfig::for_timeframe(
        5,
        n,
        botfleet_crds::Timeframe::H1,
    ))
    .unwrap()
    .candles
    .into()
}

fn context() -> DecisionContext {
    DecisionContext {
        symbol: "BTCUSDT".into(),
        position_quantity: Decimal::new(5, 1),
        avg_entry_price: Some(Decimal::new(4200050, 2)),
        cash: Decimal::new(5000, 0),
        equity: Decimal::new(10000, 0),
        max_position_pct: Decimal::new(25, 0),
        max_position: None,
        stop_loss_pct: Decimal::new(5, 0),
        halted: false,
    }
}

#[test]
fn the_same_inputs_give_the_same_prompt_and_hash_and_any_change_another() {
    let (w, ind) = (
        window(20),
        PromptIndicators {
            rsi14: Some(55.5),
            sma20: Some(100.25),
        },
    );
    let a = render(None, "m", 0.0, "1h", &w, ind, &context());
    let b = render(None, "m", 0.0, "1h", &w, ind, &context());
    assert_eq!(a, b);
    assert_eq!(a.hash.len(), 64);
    let other_model = render(None, "m2", 0.0, "1h", &w, ind, &context());
    let halted = render(
        None,
        "m",
        0.0,
        "1h",
        &w,
        ind,
        &DecisionContext {
            halted: true,
            ..context()
        },
    );
    let warmer = render(None, "m", 0.7, "1h", &w, ind, &context());
    for other in [other_model, halted, warmer] {
        assert_ne!(a.hash, other.hash);
    }
    // Numbers only: the candles, indicators, position and limits, in order.
    let u = &a.user;
    let at = |s: &str| {
        u.find(s)
            .unwrap_or_else(|| panic!("`{s}` missing from {u}"))
    };
    assert!(
        at("symbol: BTCUSDT") < at("candles (")
            && at("candles (") < at("indicators: rsi14=55.500000 sma20=100.250000")
    );
    assert!(
        at("position: quantity=0.5 avgEntryPrice=42000.5 cash=5000 equity=10000")
            < at("limits: maxPositionPct=25 maxPosition=null stopLossPct=5 halted=false")
    );
    assert_eq!(
        u.lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            .count(),
        20
    );
}

#[test]
fn a_user_template_fills_named_fields_and_keeps_literal_braces() {
    let w = window(3);
    let p = render(
        Some("{{\"for\": \"{symbol}\"}} {timeframe} {limits}"),
        "m",
        0.0,
        "4h",
        &w,
        PromptIndicators::default(),
        &context(),
    );
    assert_eq!(
        p.user,
        "{\"for\": \"BTCUSDT\"} 4h maxPositionPct=25 maxPosition=null stopLossPct=5 halted=false"
    );
    assert!(DEFAULT_TEMPLATE.contains("{candles}"));
}

#[test]
fn only_the_contracts_json_is_a_vote() {
    let v = parse_vote(r#"{"signal":"sell","confidence":0.25,"reason":"overbought"}"#).unwrap();
    assert_eq!(
        (v.signal, v.confidence, v.reason.as_str()),
        (Signal::Sell, 0.25, "overbought")
    );
    let fenced =
        parse_vote("```json\n{\"signal\":\"hold\",\"confidence\":0,\"reason\":\"\"}\n```").unwrap();
    assert_eq!(fenced.signal, Signal::Hold);
    let long = format!(
        r#"{{"signal":"buy","confidence":1,"reason":"{}"}}"#,
        "x".repeat(201)
    );
    for (text, cause) in [
        ("buy", AbstainCause::Malformed),
        (
            r#"{"signal":"buy","confidence":1}"#,
            AbstainCause::Malformed,
        ),
        (
            r#"{"signal":"buy","confidence":1,"reason":"","size":5}"#,
            AbstainCause::Malformed,
        ),
        (
            r#"{"signal":"BUY","confidence":1,"reason":""}"#,
            AbstainCause::OutOfSchema,
        ),
        (
            r#"{"signal":"buy","confidence":-0.1,"reason":""}"#,
            AbstainCause::OutOfSchema,
        ),
        (long.as_str(), AbstainCause::OutOfSchema),
    ] {
        assert_eq!(parse_vote(text), Err(cause), "{text}");
    }
}

#[test]
fn usage_and_cost_are_read_exactly_from_the_completion() {
    let body = r#"{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":7,"completion_tokens":3,"cost":0.000123}}"#;
    let (content, usage) = parse_completion(body).unwrap();
    assert_eq!(content, "x");
    assert_eq!(
        usage.total_tokens, 10,
        "total = prompt + completion when not given"
    );
    assert_eq!(usage.cost, Some(Decimal::new(123, 6)));
    assert_eq!(
        parse_completion("{\"choices\": []}"),
        Err(AbstainCause::Malformed)
    );
}

#[test]
fn a_budget_refuses_at_its_first_limit_and_resets_on_the_next_utc_day() {
    const DAY: i64 = 86_400_000;
    let mut b = Budget::new(LlmBudget {
        requests: Some(10),
        tokens: Some(100),
        cost: Some("0.01".parse().unwrap()),
    });
    b.admit(DAY + 1).unwrap();
    b.charge(&Usage {
        total_tokens: 60,
        cost: Some(Decimal::new(4, 3)),
        ..Default::default()
    });
    b.admit(DAY + 2).unwrap();
    b.charge(&Usage {
        total_tokens: 40,
        ..Default::default()
    });
    assert_eq!(b.admit(DAY + 3), Err(Exhausted::Tokens));
    assert_eq!(b.used_share(), 1.0);
    b.admit(2 * DAY).unwrap();
    assert_eq!((b.requests, b.tokens, b.cost), (1, 0, Decimal::ZERO));
    b.charge(&Usage {
        total_tokens: 1,
        cost: Some(Decimal::new(1, 2)),
        ..Default::default()
    });
    assert_eq!(b.admit(2 * DAY + 5), Err(Exhausted::Cost));
}
