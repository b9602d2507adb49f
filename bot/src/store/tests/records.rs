//! Round trips of every record type, with exact decimals.

use super::{Target, client_id, fill, limit, m, market, on_both_backends, p, q};
use crate::domain::{OrderStatus, Side, Symbol};
use crate::engine::AuditRecord;
use crate::store::{
    Backend, Db, EngineState, EquitySnapshot, HaltLatch, OrderRecord, Pause, PhaseEvent,
    PositionRecord, Recorded,
};
use serde_json::json;

on_both_backends!(
    orders_round_trip_exactly,
    fills_keep_exact_sums,
    decimals_are_stored_as_text_or_numeric,
    equity_round_trips_and_replaces_same_time,
    decisions_and_phase_events_round_trip,
    positions_snapshot_is_replaced,
    engine_state_round_trips,
);

async fn orders_round_trip_exactly(target: Target) {
    let store = target.open().await;
    let buy = market(1, "BTCUSDT", Side::Buy, "0.00000001");
    let sell = limit(2, "ETHUSDT", Side::Sell, "123.45678901", "98765.43210987");
    assert_eq!(
        store.record_order(&buy, &client_id(1)).await.unwrap(),
        Recorded::Inserted
    );
    assert_eq!(
        store.record_order(&sell, &client_id(2)).await.unwrap(),
        Recorded::Inserted
    );

    let expected_sell = OrderRecord {
        id: sell.id,
        client_order_id: client_id(2),
        symbol: Symbol::new("ETHUSDT"),
        side: Side::Sell,
        kind: sell.kind,
        quantity: q("123.45678901"),
        filled_quantity: q("0"),
        status: OrderStatus::New,
        reason: sell.reason.clone(),
        status_reason: None,
        created_at: sell.created_at,
        updated_at: sell.created_at,
    };
    let got = store.order(sell.id).await.unwrap().expect("recorded");
    assert_eq!(got, expected_sell);
    assert_eq!(got.quantity.to_string(), "123.45678901");
    assert_eq!(got.request(), sell);
    assert_eq!(
        store.order_by_client_id(&client_id(2)).await.unwrap(),
        Some(expected_sell.clone())
    );
    assert_eq!(store.order_by_client_id("nobody").await.unwrap(), None);

    let open = store.open_orders().await.unwrap();
    assert_eq!(open.iter().map(|o| o.id.0).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(open[0].request(), buy);
    assert_eq!(open[0].quantity.to_string(), "0.00000001");
    assert_eq!(open[1], expected_sell);
    store.close().await;
}

async fn fills_keep_exact_sums(target: Target) {
    let store = target.open().await;
    let order = market(7, "BTCUSDT", Side::Buy, "0.3");
    store.record_order(&order, &client_id(7)).await.unwrap();
    let first = fill("t-1", &order, "0.1", "64123.12345678", "0.00000001");
    let second = fill("t-2", &order, "0.2", "0.1", "0.2");
    store.record_fill(&first).await.unwrap();
    assert_eq!(
        store.order(order.id).await.unwrap().unwrap().status,
        OrderStatus::PartiallyFilled
    );
    store.record_fill(&second).await.unwrap();

    let stored = store.order(order.id).await.unwrap().unwrap();
    // 0.1 + 0.2 is exactly 0.3 (in f64 it is 0.30000000000000004 and would not equal).
    assert_eq!(stored.filled_quantity, q("0.3"));
    assert_eq!(stored.filled_quantity.to_string(), "0.3");
    assert_eq!(stored.status, OrderStatus::Filled);
    assert_eq!(stored.updated_at, second.time);

    let fills = store.fills().await.unwrap();
    assert_eq!(fills, vec![first.clone(), second.clone()]);
    let fees: crate::domain::Money = fills.iter().map(|f| f.fee).sum();
    assert_eq!(fees, m("0.20000001"));
    assert_eq!(store.fills_for_order(order.id).await.unwrap().len(), 2);
    assert_eq!(store.fills_since(second.time + 1).await.unwrap(), vec![]);
    assert!(store.open_orders().await.unwrap().is_empty());
    store.close().await;
}

/// Money columns are never floats: TEXT in SQLite, NUMERIC in PostgreSQL.
async fn decimals_are_stored_as_text_or_numeric(target: Target) {
    let store = target.open().await;
    let order = limit(1, "BTCUSDT", Side::Buy, "1.5", "0.1");
    store.record_order(&order, &client_id(1)).await.unwrap();
    store
        .record_fill(&fill("t", &order, "0.5", "0.1", "0.0001"))
        .await
        .unwrap();
    store
        .record_equity(&EquitySnapshot {
            at: 1,
            equity: m("10.1"),
            cash: m("0.2"),
        })
        .await
        .unwrap();
    let types: Vec<String> = match (&store.db, store.backend()) {
        (Db::Sqlite(pool), Backend::Sqlite) => {
            let row: (String, String, String, String, String) = sqlx::query_as(
                "SELECT typeof(o.limit_price), typeof(o.filled_quantity), typeof(f.price), typeof(f.fee), \
                 (SELECT typeof(equity) FROM equity_snapshots) FROM orders o JOIN fills f ON f.order_id = o.id",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            vec![row.0, row.1, row.2, row.3, row.4]
        }
        (Db::Postgres(pool), Backend::Postgres) => {
            let row: (String, String, String, String, String) = sqlx::query_as(
                "SELECT pg_typeof(o.limit_price)::text, pg_typeof(o.filled_quantity)::text, \
                 pg_typeof(f.price)::text, pg_typeof(f.fee)::text, \
                 (SELECT pg_typeof(equity)::text FROM equity_snapshots) \
                 FROM orders o JOIN fills f ON f.order_id = o.id",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            vec![row.0, row.1, row.2, row.3, row.4]
        }
        _ => unreachable!(),
    };
    let want = if store.backend() == Backend::Sqlite {
        "text"
    } else {
        "numeric"
    };
    assert!(types.iter().all(|t| t == want), "{types:?}");
    store.close().await;
}

async fn equity_round_trips_and_replaces_same_time(target: Target) {
    let store = target.open().await;
    assert_eq!(store.last_equity().await.unwrap(), None);
    let a = EquitySnapshot {
        at: 1_000,
        equity: m("0.1") + m("0.2"),
        cash: m("10000.00000001"),
    };
    let b = EquitySnapshot {
        at: 2_000,
        equity: m("9999.99999999"),
        cash: m("-0.5"),
    };
    store.record_equity(&a).await.unwrap();
    store.record_equity(&b).await.unwrap();
    let b2 = EquitySnapshot {
        equity: m("10001.25"),
        ..b
    };
    store.record_equity(&b2).await.unwrap();

    let curve = store.equity_since(0).await.unwrap();
    assert_eq!(curve, vec![a, b2]);
    assert_eq!(curve[0].equity, m("0.3"));
    assert_eq!(store.equity_since(1_500).await.unwrap(), vec![b2]);
    assert_eq!(store.last_equity().await.unwrap(), Some(b2));
    store.close().await;
}

async fn decisions_and_phase_events_round_trip(target: Target) {
    let store = target.open().await;
    let refused = AuditRecord {
        at: 5_000,
        symbol: Symbol::new("BTCUSDT"),
        signal: "buy".into(),
        verdict: "refused".into(),
        reason: json!({"limit": "maxOrderNotional", "value": "1500.10", "threshold": "1000", "nested": [1, {"x": null}]}),
    };
    let accepted = AuditRecord {
        at: 6_000,
        signal: "sell".into(),
        verdict: "accepted".into(),
        reason: json!({"indicator": "rsi", "value": 71.5}),
        ..refused.clone()
    };
    store.record_audit(&refused).await.unwrap();
    store
        .record_audits(&[accepted.clone(), refused.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.audit_since(0, 100).await.unwrap(),
        vec![refused.clone(), accepted.clone(), refused.clone()]
    );
    assert_eq!(
        store.audit_since(5_500, 100).await.unwrap(),
        vec![accepted.clone()]
    );
    assert_eq!(
        store.audit_since(0, 1).await.unwrap(),
        vec![refused.clone()]
    );

    let first = PhaseEvent {
        from: None,
        to: "Paper".into(),
        at: 1,
        reason: "created".into(),
    };
    let promoted = PhaseEvent {
        from: Some("Paper".into()),
        to: "Sandbox".into(),
        at: 2,
        reason: "gate met: 120 trades".into(),
    };
    store.record_phase_event(&first).await.unwrap();
    store.record_phase_event(&promoted).await.unwrap();
    assert_eq!(
        store.phase_events().await.unwrap(),
        vec![first, promoted.clone()]
    );
    assert_eq!(
        store.restore().await.unwrap().last_phase_event,
        Some(promoted)
    );
    store.close().await;
}

async fn positions_snapshot_is_replaced(target: Target) {
    let store = target.open().await;
    let btc = PositionRecord {
        symbol: Symbol::new("BTCUSDT"),
        quantity: q("0.12345678"),
        average_price: p("64000.01"),
        realized_pnl: m("-12.34"),
        updated_at: 10,
    };
    let eth = PositionRecord {
        symbol: Symbol::new("ETHUSDT"),
        quantity: q("-2"),
        average_price: p("3000"),
        realized_pnl: m("0.1"),
        updated_at: 10,
    };
    store
        .save_positions(&[eth.clone(), btc.clone()])
        .await
        .unwrap();
    assert_eq!(store.positions().await.unwrap(), vec![btc.clone(), eth]);
    let btc2 = PositionRecord {
        quantity: q("0.2"),
        updated_at: 11,
        ..btc
    };
    store
        .save_positions(std::slice::from_ref(&btc2))
        .await
        .unwrap();
    assert_eq!(store.positions().await.unwrap(), vec![btc2]);
    store.close().await;
}

async fn engine_state_round_trips(target: Target) {
    let store = target.open().await;
    assert_eq!(store.load_state().await.unwrap(), EngineState::default());
    let state = EngineState {
        next_order_id: 42,
        halt: Some(HaltLatch {
            id: "halt-7".into(),
            reason: "max drawdown 10.2% > 10%".into(),
            at: 99,
        }),
        pause: Some(Pause {
            reason: "daily loss".into(),
            until: 86_400_000,
        }),
        phase: Some("LimitedReal".into()),
        phase_started_at: Some(1_700_000_000_000),
        last_candle_time: Some(1_700_000_060_000),
    };
    store.save_state(&state).await.unwrap();
    assert_eq!(store.load_state().await.unwrap(), state);

    // Clearing the halt latch and pause removes them.
    let resumed = EngineState {
        halt: None,
        pause: None,
        ..state.clone()
    };
    store.save_state(&resumed).await.unwrap();
    assert_eq!(store.load_state().await.unwrap(), resumed);

    // An order id recorded past the saved counter is never handed out again.
    store
        .record_order(&market(100, "BTCUSDT", Side::Buy, "1"), &client_id(100))
        .await
        .unwrap();
    assert_eq!(store.load_state().await.unwrap().next_order_id, 101);

    store
        .put_value("strategy_warmup", &json!({"sma": ["1.5", "2.5"]}))
        .await
        .unwrap();
    let back: Option<serde_json::Value> = store.get_value("strategy_warmup").await.unwrap();
    assert_eq!(back, Some(json!({"sma": ["1.5", "2.5"]})));
    assert_eq!(store.get_value::<u64>("absent").await.unwrap(), None);
    // Other keys survive a save_state.
    store.save_state(&resumed).await.unwrap();
    assert!(
        store
            .get_value::<serde_json::Value>("strategy_warmup")
            .await
            .unwrap()
            .is_some()
    );
    store.close().await;
}
