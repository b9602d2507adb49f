//! The money-critical writes: duplicates, atomicity, status rules, concurrency.

use super::{Target, client_id, fill, market, on_both_backends, q};
use crate::domain::{OrderId, OrderStatus, Side};
use crate::store::tx::Fault;
use crate::store::{Recorded, StoreError};
use std::sync::Arc;

on_both_backends!(
    duplicate_fill_is_a_noop,
    failed_fill_leaves_order_unchanged,
    fills_are_validated_against_their_order,
    status_follows_fills_and_final_states_stick,
    record_order_is_idempotent_and_refuses_reuse,
    concurrent_fills_never_lose_an_update,
);

async fn duplicate_fill_is_a_noop(target: Target) {
    let store = target.open().await;
    let order = market(1, "BTCUSDT", Side::Buy, "3");
    store.record_order(&order, &client_id(1)).await.unwrap();
    let f = fill("trade-1", &order, "1", "100", "0.1");
    assert_eq!(store.record_fill(&f).await.unwrap(), Recorded::Inserted);
    let after_first = store.order(order.id).await.unwrap().unwrap();
    assert!(store.record_fill(&f).await.unwrap().is_duplicate());
    assert!(store.record_fill(&f).await.unwrap().is_duplicate());
    assert_eq!(store.order(order.id).await.unwrap().unwrap(), after_first);
    assert_eq!(after_first.filled_quantity, q("1"));
    assert_eq!(store.fills().await.unwrap(), vec![f.clone()]);

    // The same trade id under another symbol is another trade.
    let other = market(2, "ETHUSDT", Side::Buy, "1");
    store.record_order(&other, &client_id(2)).await.unwrap();
    assert_eq!(
        store
            .record_fill(&fill("trade-1", &other, "1", "5", "0"))
            .await
            .unwrap(),
        Recorded::Inserted
    );

    // A different fill under a recorded trade id is refused, and changes nothing.
    let forged = fill("trade-1", &order, "2", "100", "0.1");
    let err = store.record_fill(&forged).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::FillConflict {
                field: "quantity",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.order(order.id).await.unwrap().unwrap(), after_first);
    assert_eq!(store.fills_for_order(order.id).await.unwrap(), vec![f]);
    store.close().await;
}

async fn failed_fill_leaves_order_unchanged(target: Target) {
    let store = target.open().await;
    let order = market(1, "BTCUSDT", Side::Sell, "1");
    store.record_order(&order, &client_id(1)).await.unwrap();
    store
        .record_fill(&fill("a", &order, "0.4", "100", "0.01"))
        .await
        .unwrap();
    let before = store.order(order.id).await.unwrap().unwrap();
    let fills_before = store.fills().await.unwrap();

    // Dies after the fill row is written, before the order update: all or nothing.
    let f = fill("b", &order, "0.6", "101", "0.01");
    let err = store
        .record_fill_inner(&f, Fault::AfterFillInsert)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InjectedFailure), "{err}");
    assert_eq!(store.order(order.id).await.unwrap().unwrap(), before);
    assert_eq!(store.fills().await.unwrap(), fills_before);

    // Overfilling is found after the insert too, and rolls it back.
    let err = store
        .record_fill(&fill("c", &order, "0.7", "101", "0.01"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Overfill { .. }), "{err}");
    assert!(err.to_string().contains("1.1"), "{err}");
    assert_eq!(store.order(order.id).await.unwrap().unwrap(), before);
    assert_eq!(store.fills().await.unwrap(), fills_before);

    // The failed fill was not half-recorded: it records cleanly now.
    assert_eq!(store.record_fill(&f).await.unwrap(), Recorded::Inserted);
    let done = store.order(order.id).await.unwrap().unwrap();
    assert_eq!(
        (done.filled_quantity, done.status),
        (q("1.0"), OrderStatus::Filled)
    );
    store.close().await;
}

async fn fills_are_validated_against_their_order(target: Target) {
    let store = target.open().await;
    let order = market(1, "BTCUSDT", Side::Buy, "1");
    store.record_order(&order, &client_id(1)).await.unwrap();

    let mut orphan = fill("x", &order, "1", "1", "0");
    orphan.order_id = OrderId(99);
    assert!(matches!(
        store.record_fill(&orphan).await,
        Err(StoreError::UnknownOrder(OrderId(99)))
    ));

    let mut wrong_symbol = fill("y", &order, "1", "1", "0");
    wrong_symbol.symbol = crate::domain::Symbol::new("ETHUSDT");
    let err = store.record_fill(&wrong_symbol).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("symbol is ETHUSDT but the order has BTCUSDT"),
        "{err}"
    );

    let mut wrong_side = fill("z", &order, "1", "1", "0");
    wrong_side.side = Side::Sell;
    assert!(matches!(
        store.record_fill(&wrong_side).await,
        Err(StoreError::FillMismatch { field: "side", .. })
    ));

    let zero = fill("w", &order, "0", "1", "0");
    assert!(matches!(
        store.record_fill(&zero).await,
        Err(StoreError::NotPositive { .. })
    ));

    assert!(store.fills().await.unwrap().is_empty());
    assert_eq!(
        store.order(order.id).await.unwrap().unwrap().status,
        OrderStatus::New
    );
    store.close().await;
}

async fn status_follows_fills_and_final_states_stick(target: Target) {
    let store = target.open().await;
    let a = market(1, "BTCUSDT", Side::Buy, "2");
    store.record_order(&a, &client_id(1)).await.unwrap();
    store
        .record_fill(&fill("a1", &a, "0.5", "10", "0"))
        .await
        .unwrap();
    assert_eq!(
        store.order(a.id).await.unwrap().unwrap().status,
        OrderStatus::PartiallyFilled
    );

    let refused = store
        .update_order_status(a.id, OrderStatus::Filled, None, 5)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StoreError::InvalidTransition { .. }),
        "{refused}"
    );
    let refused = store
        .update_order_status(a.id, OrderStatus::New, None, 5)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("never goes back to new"),
        "{refused}"
    );

    store
        .update_order_status(a.id, OrderStatus::Canceled, Some("halt: cancelOrders"), 7)
        .await
        .unwrap();
    let canceled = store.order(a.id).await.unwrap().unwrap();
    assert_eq!(canceled.status, OrderStatus::Canceled);
    assert_eq!(
        canceled.status_reason.as_deref(),
        Some("halt: cancelOrders")
    );
    assert_eq!(canceled.updated_at, 7);
    assert!(store.open_orders().await.unwrap().is_empty());
    // Same status again is a no-op; another final status is refused.
    store
        .update_order_status(a.id, OrderStatus::Canceled, Some("again"), 8)
        .await
        .unwrap();
    assert_eq!(store.order(a.id).await.unwrap().unwrap(), canceled);
    let refused = store
        .update_order_status(a.id, OrderStatus::Rejected, None, 9)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("already final"), "{refused}");

    // A fill racing the cancel is still recorded; the order stays canceled
    // until a fill completes it.
    store
        .record_fill(&fill("a2", &a, "0.5", "10", "0"))
        .await
        .unwrap();
    let late = store.order(a.id).await.unwrap().unwrap();
    assert_eq!(
        (late.filled_quantity, late.status),
        (q("1"), OrderStatus::Canceled)
    );
    store
        .record_fill(&fill("a3", &a, "1", "10", "0"))
        .await
        .unwrap();
    assert_eq!(
        store.order(a.id).await.unwrap().unwrap().status,
        OrderStatus::Filled
    );

    let b = market(2, "BTCUSDT", Side::Sell, "1");
    store.record_order(&b, &client_id(2)).await.unwrap();
    store
        .update_order_status(
            b.id,
            OrderStatus::Rejected,
            Some("-2010 insufficient balance"),
            3,
        )
        .await
        .unwrap();
    assert_eq!(
        store.order(b.id).await.unwrap().unwrap().status,
        OrderStatus::Rejected
    );
    let missing = store
        .update_order_status(OrderId(77), OrderStatus::Canceled, None, 1)
        .await;
    assert!(matches!(
        missing,
        Err(StoreError::UnknownOrder(OrderId(77)))
    ));
    store.close().await;
}

async fn record_order_is_idempotent_and_refuses_reuse(target: Target) {
    let store = target.open().await;
    let order = market(5, "BTCUSDT", Side::Buy, "1");
    assert_eq!(
        store.record_order(&order, &client_id(5)).await.unwrap(),
        Recorded::Inserted
    );
    assert_eq!(
        store.record_order(&order, &client_id(5)).await.unwrap(),
        Recorded::Duplicate
    );

    let bigger = market(5, "BTCUSDT", Side::Buy, "2");
    let err = store
        .record_order(&bigger, &client_id(5))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::OrderConflict(OrderId(5), "quantity")),
        "{err}"
    );
    let err = store
        .record_order(&market(6, "BTCUSDT", Side::Buy, "1"), &client_id(5))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("client order id"), "{err}");
    let err = store
        .record_order(&market(8, "BTCUSDT", Side::Buy, "0"), &client_id(8))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotPositive {
                field: "quantity",
                ..
            }
        ),
        "{err}"
    );
    let err = store
        .record_order(&market(u64::MAX, "BTCUSDT", Side::Buy, "1"), "huge")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OrderIdTooLarge(_)), "{err}");
    assert_eq!(store.open_orders().await.unwrap().len(), 1);
    store.close().await;
}

/// Fills for one order arriving from several tasks at once (and some of them
/// twice) all count exactly once: no lost update, no double count.
async fn concurrent_fills_never_lose_an_update(target: Target) {
    let store = Arc::new(target.open().await);
    let order = market(1, "BTCUSDT", Side::Buy, "12");
    store.record_order(&order, &client_id(1)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (store, order) = (store.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            // Trade ids 0..12, each sent twice.
            let f = fill(&format!("t{}", i % 12), &order, "1", "100.01", "0.001");
            store.record_fill(&f).await.unwrap()
        }));
    }
    let mut inserted = 0;
    for task in tasks {
        if task.await.unwrap() == Recorded::Inserted {
            inserted += 1;
        }
    }
    assert_eq!(inserted, 12);
    let done = store.order(order.id).await.unwrap().unwrap();
    assert_eq!(
        (done.filled_quantity, done.status),
        (q("12"), OrderStatus::Filled)
    );
    assert_eq!(store.fills().await.unwrap().len(), 12);
    Arc::try_unwrap(store)
        .ok()
        .expect("sole owner")
        .close()
        .await;
}
