//! `commit_step`: a whole engine step in one transaction.

use super::{Target, client_id, fill, m, market, on_both_backends, p, q};
use crate::domain::{Candle, OrderStatus, Side, Symbol};
use crate::engine::AuditRecord;
use crate::store::{
    EngineState, EquitySnapshot, HaltLatch, PhaseEvent, PositionRecord, Step, StepReport,
    StepWrite, StoreError,
};
use serde_json::json;

on_both_backends!(
    a_step_stores_everything_in_order,
    a_failing_step_stores_nothing,
    a_replayed_step_is_a_no_op,
    candles_round_trip_exactly,
);

fn candle(open_time: i64, close: &str) -> Candle {
    Candle {
        open_time,
        open: p("100.5"),
        high: p("101.25"),
        low: p("99.00000001"),
        close: p(close),
        volume: q("12.345"),
    }
}

/// An order submitted on one candle, filled and closed on the next, with
/// its audit records, equity, positions, state and a snapshot value.
fn two_steps() -> (Step, Step) {
    let buy = market(1, "BTCUSDT", Side::Buy, "0.3");
    let rejected = market(2, "BTCUSDT", Side::Sell, "5");
    let first = Step {
        writes: vec![
            StepWrite::Candle {
                symbol: Symbol::new("BTCUSDT"),
                candle: candle(1_000, "100.75"),
                warmup: false,
            },
            StepWrite::Audit(AuditRecord {
                at: 1_000,
                symbol: Symbol::new("BTCUSDT"),
                signal: "buy".into(),
                verdict: "accepted".into(),
                reason: json!({"strategy": "sma 10 crossed above sma 30"}),
            }),
            StepWrite::Order {
                request: buy.clone(),
                client_order_id: client_id(1),
            },
            StepWrite::Order {
                request: rejected.clone(),
                client_order_id: client_id(2),
            },
            StepWrite::OrderStatus {
                id: rejected.id,
                status: OrderStatus::Rejected,
                reason: Some("insufficient position".into()),
                at: 1_000,
            },
            StepWrite::PhaseEvent(PhaseEvent {
                from: None,
                to: "Paper".into(),
                at: 1_000,
                reason: "first start".into(),
            }),
        ],
        equity: vec![EquitySnapshot {
            at: 1_000,
            equity: m("10000"),
            cash: m("10000"),
        }],
        positions: Some(vec![]),
        state: Some(EngineState {
            next_order_id: 3,
            phase: Some("Paper".into()),
            phase_started_at: Some(1_000),
            last_candle_time: Some(1_000),
            ..EngineState::default()
        }),
        values: vec![("engine_snapshot".into(), json!({"candles": 1}))],
    };
    let f1 = fill("paper-1-1", &buy, "0.1", "100.5", "0.01005");
    let f2 = fill("paper-1-2", &buy, "0.2", "100.6", "0.02012");
    let second = Step {
        writes: vec![
            StepWrite::Candle {
                symbol: Symbol::new("BTCUSDT"),
                candle: candle(2_000, "101"),
                warmup: false,
            },
            StepWrite::Fill(f1),
            StepWrite::Fill(f2),
        ],
        equity: vec![EquitySnapshot {
            at: 2_000,
            equity: m("10000.1"),
            cash: m("9969.83"),
        }],
        positions: Some(vec![PositionRecord {
            symbol: Symbol::new("BTCUSDT"),
            quantity: q("0.3"),
            average_price: p("100.56666666"),
            realized_pnl: m("0"),
            updated_at: 2_000,
        }]),
        state: Some(EngineState {
            next_order_id: 3,
            halt: Some(HaltLatch {
                id: "halt-2000-1".into(),
                reason: "manual".into(),
                at: 2_000,
            }),
            phase: Some("Paper".into()),
            phase_started_at: Some(1_000),
            last_candle_time: Some(2_000),
            ..EngineState::default()
        }),
        values: vec![("engine_snapshot".into(), json!({"candles": 2}))],
    };
    (first, second)
}

async fn a_step_stores_everything_in_order(target: Target) {
    let store = target.open().await;
    let (first, second) = two_steps();
    let r1 = store.commit_step(&first).await.unwrap();
    assert_eq!(
        r1,
        StepReport {
            orders: 2,
            fills: 0,
            duplicates: 0
        }
    );
    let r2 = store.commit_step(&second).await.unwrap();
    assert_eq!(r2.fills, 2);

    let buy = store
        .order(crate::domain::OrderId(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buy.status, OrderStatus::Filled);
    assert_eq!(buy.filled_quantity, q("0.3"));
    let rejected = store
        .order(crate::domain::OrderId(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rejected.status, OrderStatus::Rejected);
    assert_eq!(
        rejected.status_reason.as_deref(),
        Some("insufficient position")
    );
    assert_eq!(store.fills().await.unwrap().len(), 2);
    assert_eq!(store.audit_since(0, 10).await.unwrap().len(), 1);
    assert_eq!(store.phase_events().await.unwrap().len(), 1);
    assert_eq!(store.equity_since(0).await.unwrap().len(), 2);
    assert_eq!(store.positions().await.unwrap()[0].quantity, q("0.3"));
    let state = store.load_state().await.unwrap();
    assert_eq!(state.last_candle_time, Some(2_000));
    assert_eq!(
        state.halt.as_ref().map(|h| h.id.as_str()),
        Some("halt-2000-1")
    );
    let snapshot: serde_json::Value = store.get_value("engine_snapshot").await.unwrap().unwrap();
    assert_eq!(snapshot, json!({"candles": 2}));
    assert_eq!(store.candles().await.unwrap().len(), 2);
    store.close().await;
}

async fn a_failing_step_stores_nothing(target: Target) {
    let store = target.open().await;
    let (first, mut second) = two_steps();
    store.commit_step(&first).await.unwrap();
    // The last write fails (a fill of an order never recorded): the candle,
    // the two good fills, equity, positions, state and snapshot before it
    // must all be rolled back.
    let stray = market(9, "BTCUSDT", Side::Buy, "1");
    second.writes.push(StepWrite::Fill(fill(
        "paper-9-1",
        &stray,
        "1",
        "100",
        "0.1",
    )));
    let err = store.commit_step(&second).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownOrder(_)), "{err}");

    assert!(store.fills().await.unwrap().is_empty());
    let buy = store
        .order(crate::domain::OrderId(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buy.status, OrderStatus::New);
    assert_eq!(buy.filled_quantity, q("0"));
    assert_eq!(store.candles().await.unwrap().len(), 1);
    assert_eq!(store.equity_since(0).await.unwrap().len(), 1);
    assert!(store.positions().await.unwrap().is_empty());
    let state = store.load_state().await.unwrap();
    assert_eq!(state.last_candle_time, Some(1_000));
    assert_eq!(state.halt, None);
    let snapshot: serde_json::Value = store.get_value("engine_snapshot").await.unwrap().unwrap();
    assert_eq!(snapshot, json!({"candles": 1}));
    store.close().await;
}

async fn a_replayed_step_is_a_no_op(target: Target) {
    let store = target.open().await;
    let (first, second) = two_steps();
    store.commit_step(&first).await.unwrap();
    store.commit_step(&second).await.unwrap();
    let again = Step {
        writes: second
            .writes
            .iter()
            .filter(|w| matches!(w, StepWrite::Fill(_) | StepWrite::Candle { .. }))
            .cloned()
            .collect(),
        ..Step::default()
    };
    let report = store.commit_step(&again).await.unwrap();
    assert_eq!(report.fills, 0);
    assert_eq!(report.duplicates, 2);
    assert_eq!(store.fills().await.unwrap().len(), 2);
    assert_eq!(store.candles().await.unwrap().len(), 2);
    store.close().await;
}

async fn candles_round_trip_exactly(target: Target) {
    let store = target.open().await;
    let writes = vec![
        StepWrite::Candle {
            symbol: Symbol::new("ETHUSDT"),
            candle: candle(5_000, "0.00000001"),
            warmup: true,
        },
        StepWrite::Candle {
            symbol: Symbol::new("BTCUSDT"),
            candle: candle(5_000, "64000.12345678"),
            warmup: false,
        },
        StepWrite::Candle {
            symbol: Symbol::new("BTCUSDT"),
            candle: candle(4_000, "63000"),
            warmup: true,
        },
    ];
    store
        .commit_step(&Step {
            writes,
            ..Step::default()
        })
        .await
        .unwrap();
    let got = store.candles().await.unwrap();
    let order: Vec<(i64, &str, bool)> = got
        .iter()
        .map(|c| (c.candle.open_time, c.symbol.as_str(), c.warmup))
        .collect();
    assert_eq!(
        order,
        vec![
            (4_000, "BTCUSDT", true),
            (5_000, "BTCUSDT", false),
            (5_000, "ETHUSDT", true)
        ]
    );
    assert_eq!(got[1].candle, candle(5_000, "64000.12345678"));
    assert_eq!(got[2].candle.close.to_string(), "0.00000001");
    assert_eq!(got[2].candle.low.to_string(), "99.00000001");
    let last = store.last_candle_times().await.unwrap();
    assert_eq!(
        last,
        vec![
            (Symbol::new("BTCUSDT"), 5_000),
            (Symbol::new("ETHUSDT"), 5_000)
        ]
    );
    store.close().await;
}
