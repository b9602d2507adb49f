//! The real-engine tier on Coinbase Advanced Trade: a Coinbase bot climbs
//! under the operator as a Binance bot does (`real_engine_live.rs`). Every
//! engine, Paper included, reads the simulator's Coinbase market data (REST
//! candles, the `market_trades` WebSocket announcing each close); from
//! Sandbox up it trades on the simulator's Coinbase API with an ES256 JWT
//! per request. Every wait is a bounded poll; durations are printed, never
//! asserted.

mod common;

use std::time::Instant;

use botfleet_crds::Phase;
use botfleet_crds::condition_types as ct;
use botfleet_tests::venue_kind::VenueKind;
use common::climb::*;
use common::*;
use serde_json::json;

/// A Coinbase bot asking for LimitedReal with automatic promotion earns
/// Paper → Sandbox → LimitedReal, each gate met by the real engine's trades
/// on Coinbase candles, the real-money step approved by a person. It
/// trades in LimitedReal on the venue, is never halted or restarted, and
/// at the end the engine's books equal the venue's (USD, BTC, every
/// Coinbase fill and order once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coinbase_bot_climbs_to_limited_real_on_coinbase_data_and_its_books_equal_the_venue() {
    let kind = VenueKind::Coinbase;
    let (rw, op) = world(
        kind,
        "cb-climb",
        json!({
            "limits": every_phase(wide_limits()),
            "gates": {
                "paperToSandbox": low_gate(),
                "sandboxToLimitedReal": low_gate(),
            },
        }),
    )
    .await;
    let started = Instant::now();
    let market = climbing_bot(&rw, kind, "cbbot", Phase::LimitedReal).await;
    let sim = market.sim.clone();
    let bot = wait_climbed(&rw, "cbbot", Phase::LimitedReal).await;
    let last = bot.status.as_ref().unwrap().phase_history.last().unwrap();
    assert!(
        last.reason.contains("approved by risk-manager@test"),
        "{}",
        last.reason
    );

    // It trades with real money (on the simulator's Coinbase API).
    rw.kubelet
        .wait_engine("cbbot", "two trades in LimitedReal", |s| {
            s.phase == Phase::LimitedReal && s.window.trades >= 2 && s.open_orders == 0
        })
        .await
        .unwrap();
    assert_every_phase_ran_on(&rw, "cbbot", &market, Phase::LimitedReal);
    let requests = sim.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "SUBSCRIBE" && r.query == "market_trades"),
        "the engines subscribed to Coinbase trades"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.method == "POST" && r.path == "/api/v3/brokerage/orders" && r.status == 200),
        "orders went to the Coinbase API"
    );
    let orders = sim.orders();
    assert!(orders.len() >= 4, "{} orders at the venue", orders.len());
    for o in &orders {
        assert!(o.client_order_id.starts_with("cbbot-"), "{o:?}");
    }
    let bot = rw.get("cbbot").await.unwrap();
    assert!(condition_is(&bot, ct::HALTED, "False"));
    assert_eq!(rw.kubelet.restarts("cbbot"), 0, "{}", rw.kubelet.journal());

    stop_and_assert_books_equal(&rw, op, &market, "cbbot").await;
    took("Coinbase climb to LimitedReal", started);
}
