//! Restart: what `restore` returns, after reopening; one engine per store.

use super::{Target, client_id, fill, limit, m, market, on_both_backends, p, q};
use crate::domain::{OrderStatus, Side, Symbol};
use crate::store::{
    EngineState, EquitySnapshot, HaltLatch, PhaseEvent, PositionRecord, Restored, Store, StoreError,
};

on_both_backends!(restore_after_reopen_is_identical, second_engine_is_refused);

/// Writes a small trading history and returns what `restore` must give back.
async fn write_history(store: &Store) -> Restored {
    let a = market(1, "BTCUSDT", Side::Buy, "0.3");
    let b = limit(2, "ETHUSDT", Side::Sell, "2.5", "3000.5");
    let c = limit(3, "BTCUSDT", Side::Sell, "0.1", "70000");
    let d = market(4, "SOLUSDT", Side::Buy, "10");
    for (order, id) in [(&a, 1), (&b, 2), (&c, 3), (&d, 4)] {
        store.record_order(order, &client_id(id)).await.unwrap();
    }
    let fills = vec![
        fill("1001", &a, "0.1", "64000.1", "0.0064"),
        fill("2001", &b, "1.25", "3000.5", "0.375"),
        fill("1002", &a, "0.2", "64000.2", "0.0128"),
        fill("4001", &d, "3", "150", "0.45"),
    ];
    for f in &fills {
        store.record_fill(f).await.unwrap();
    }
    store
        .update_order_status(d.id, OrderStatus::Expired, Some("volume cap"), 9)
        .await
        .unwrap();
    let positions = vec![PositionRecord {
        symbol: Symbol::new("BTCUSDT"),
        quantity: q("0.3"),
        average_price: p("64000.16666666666666666666667"),
        realized_pnl: m("0"),
        updated_at: 10,
    }];
    store.save_positions(&positions).await.unwrap();
    let equity = EquitySnapshot {
        at: 60_000,
        equity: m("10000.02"),
        cash: m("-9200.0522"),
    };
    store
        .record_equity(&EquitySnapshot {
            at: 0,
            equity: m("10000"),
            cash: m("10000"),
        })
        .await
        .unwrap();
    store.record_equity(&equity).await.unwrap();
    let phase = PhaseEvent {
        from: Some("Paper".into()),
        to: "Sandbox".into(),
        at: 5,
        reason: "promoted".into(),
    };
    store.record_phase_event(&phase).await.unwrap();
    let state = EngineState {
        next_order_id: 3, // behind the recorded ids on purpose
        halt: Some(HaltLatch {
            id: "h1".into(),
            reason: "manual".into(),
            at: 11,
        }),
        pause: None,
        phase: Some("Sandbox".into()),
        phase_started_at: Some(5),
        last_candle_time: Some(60_000),
    };
    store.save_state(&state).await.unwrap();

    let open_b = store.order(b.id).await.unwrap().unwrap();
    let open_c = store.order(c.id).await.unwrap().unwrap();
    assert_eq!(open_b.status, OrderStatus::PartiallyFilled);
    Restored {
        state: EngineState {
            next_order_id: 5,
            ..state
        },
        fills,
        open_orders: vec![open_b, open_c],
        positions,
        last_equity: Some(equity),
        last_phase_event: Some(phase),
    }
}

async fn restore_after_reopen_is_identical(target: Target) {
    let store = target.open().await;
    assert_eq!(
        store.restore().await.unwrap(),
        Restored {
            state: EngineState::default(),
            fills: vec![],
            open_orders: vec![],
            positions: vec![],
            last_equity: None,
            last_phase_event: None,
        }
    );
    let expected = write_history(&store).await;
    let before = store.restore().await.unwrap();
    assert_eq!(before, expected);
    assert_eq!(before.open_orders[0].client_order_id, client_id(2));
    assert_eq!(before.open_orders[0].remaining(), q("1.25"));
    store.close().await;

    let reopened = target.open().await;
    let after = reopened.restore().await.unwrap();
    assert_eq!(after, expected);
    // Replaying every restored fill after the restart changes nothing.
    for f in &after.fills {
        assert!(reopened.record_fill(f).await.unwrap().is_duplicate());
    }
    assert_eq!(reopened.restore().await.unwrap(), expected);
    reopened.close().await;
}

async fn second_engine_is_refused(target: Target) {
    let first = target.open().await;
    let err = target
        .try_open_now()
        .await
        .err()
        .expect("a second engine must be refused");
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("in use by another engine"),
        "{err}"
    );
    // The first engine is unaffected.
    first
        .record_order(&market(1, "BTCUSDT", Side::Buy, "1"), &client_id(1))
        .await
        .unwrap();
    first.close().await;

    let second = target
        .try_open_now()
        .await
        .expect("free once the first engine closed");
    assert_eq!(second.open_orders().await.unwrap().len(), 1);
    drop(second); // dropping without close() releases the lock too
    let third = target.open().await;
    third.close().await;
}
