//! The Binance spot adapter (`botfleet_bot::binance::spot`) against the
//! exchange simulator: orders, cancels, lookups, balances, filters, and the
//! faults a real venue produces (dropped responses, timeouts, 5xx, 429/418).

use botfleet_bot::binance::RetryPolicy;
use botfleet_bot::binance::spot::{SpotClient, SpotCredentials, SpotEndpoint, SpotOptions};
use botfleet_bot::domain::{
    OrderId, OrderKind, OrderRequest, OrderStatus, Price, Quantity, Side, Symbol,
};
use botfleet_bot::execution::{Rejection, Venue, VenueError};
use botfleet_crds::Phase;
use botfleet_tests::exchange_sim::{ExchangeSim, Faults, SimConfig};
use rust_decimal::Decimal;
use std::str::FromStr;
use std::time::{Duration, Instant};

const KEY: &str = "simKey123";
const SECRET: &str = "simSecretABCdef456";

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn options() -> SpotOptions {
    SpotOptions {
        timeout: Duration::from_millis(400),
        recv_window_ms: 5000,
        retry: RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(3),
        },
        weight_limit_1m: 5000,
    }
}

async fn setup(config: SimConfig) -> (ExchangeSim, SpotClient) {
    let sim = ExchangeSim::start(config).await;
    sim.candle("BTCUSDT", d("49900"), d("50100"), d("50000"));
    let endpoint = SpotEndpoint::with_url(Phase::Sandbox, &sim.url).unwrap();
    let creds = SpotCredentials::new(KEY, SECRET).unwrap();
    let mut client = SpotClient::new(endpoint, creds, "alpha", options()).unwrap();
    // Warm up: rules cached, clock synced, so faults hit the calls under test.
    client.symbol_rules(&btc()).await.unwrap();
    client.balances().await.unwrap();
    (sim, client)
}

fn btc() -> Symbol {
    Symbol::new("BTCUSDT")
}

fn order(id: u64, side: Side, kind: OrderKind, qty: &str) -> OrderRequest {
    OrderRequest {
        id: OrderId(id),
        symbol: btc(),
        side,
        kind,
        quantity: Quantity::new(d(qty)),
        reason: "test".into(),
        created_at: 0,
    }
}

fn limit(price: &str) -> OrderKind {
    OrderKind::Limit {
        price: Price::new(d(price)),
    }
}

fn posts(sim: &ExchangeSim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v3/order")
        .count()
}

#[tokio::test]
async fn market_buy_fills_and_balances_follow() {
    let (sim, mut client) = setup(SimConfig::btcusdt(KEY, SECRET)).await;
    let state = client
        .submit(&order(1, Side::Buy, OrderKind::Market, "0.1"))
        .await
        .unwrap();
    assert_eq!(state.status, OrderStatus::Filled);
    assert_eq!(state.filled_quantity, Quantity::new(d("0.1")));
    assert_eq!(state.filled_notional.value(), d("5000"));
    assert_eq!(state.fees.value(), d("5"));
    let orders = sim.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].client_order_id, "alpha-1");

    let fills = client.fills(&btc(), OrderId(1)).await.unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].price, Price::new(d("50000")));
    assert_eq!(fills[0].fee.value(), d("5"));
    assert_eq!(fills[0].order_id, OrderId(1));

    let looked_up = client.order(&btc(), OrderId(1)).await.unwrap().unwrap();
    assert_eq!(looked_up, state.clone());
    assert_eq!(client.order(&btc(), OrderId(99)).await.unwrap(), None);

    let b = client.balances().await.unwrap();
    assert_eq!(b.cash.free.value(), d("4995"));
    assert_eq!(b.holdings[0].free, Quantity::new(d("1.1")));
}

#[tokio::test]
async fn limit_order_rests_fills_partially_and_cancels_keeping_the_fill() {
    let (sim, mut client) = setup(SimConfig::btcusdt(KEY, SECRET)).await;
    let state = client
        .submit(&order(2, Side::Buy, limit("49000"), "0.1"))
        .await
        .unwrap();
    assert_eq!(state.status, OrderStatus::New);
    let open = client.open_orders(Some(&btc())).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, OrderId(2));
    assert_eq!(
        client.balances().await.unwrap().cash.locked.value(),
        d("4904.9")
    );

    sim.set_partial_fill_cap(Some(d("0.04")));
    sim.candle("BTCUSDT", d("48900"), d("49500"), d("49200"));
    let partial = client.order(&btc(), OrderId(2)).await.unwrap().unwrap();
    assert_eq!(partial.status, OrderStatus::PartiallyFilled);
    assert_eq!(partial.filled_quantity, Quantity::new(d("0.04")));
    assert_eq!(partial.fees.value(), d("1.96"));

    let canceled = client.cancel(&btc(), OrderId(2)).await.unwrap();
    assert_eq!(canceled.status, OrderStatus::Canceled);
    assert_eq!(canceled.filled_quantity, Quantity::new(d("0.04")));
    assert!(client.open_orders(None).await.unwrap().is_empty());
    let b = client.balances().await.unwrap();
    assert_eq!(b.cash.locked.value(), Decimal::ZERO);
    assert_eq!(b.cash.free.value(), d("10000") - d("1960") - d("1.96"));
    // Canceling again is harmless; an order that filled cannot be canceled.
    assert_eq!(
        client.cancel(&btc(), OrderId(2)).await.unwrap().status,
        OrderStatus::Canceled
    );
    client
        .submit(&order(3, Side::Sell, OrderKind::Market, "0.01"))
        .await
        .unwrap();
    assert_eq!(
        client.cancel(&btc(), OrderId(3)).await,
        Err(VenueError::NotOpen {
            id: OrderId(3),
            status: OrderStatus::Filled
        })
    );
    assert_eq!(
        client.cancel(&btc(), OrderId(77)).await,
        Err(VenueError::UnknownOrder { id: OrderId(77) })
    );
}

#[tokio::test]
async fn filters_round_before_sending_and_refuse_below_minimum_notional() {
    let (sim, mut client) = setup(SimConfig::btcusdt(KEY, SECRET)).await;
    let state = client
        .submit(&order(4, Side::Buy, limit("49000.129"), "0.0123456"))
        .await
        .unwrap();
    assert_eq!(state.quantity, Quantity::new(d("0.01234")));
    assert_eq!(state.kind, limit("49000.12"));
    let sent = sim.orders();
    assert_eq!(sent[0].orig_qty, d("0.01234"));

    let before = posts(&sim);
    let err = client
        .submit(&order(5, Side::Buy, limit("49000"), "0.0001"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            VenueError::Rejected(Rejection::BelowMinNotional { .. })
        ),
        "{err}"
    );
    assert_eq!(posts(&sim), before, "a refused order is never sent");
}

#[tokio::test]
async fn dropped_response_and_timeout_never_duplicate_an_order() {
    let (sim, mut client) = setup(SimConfig::btcusdt(KEY, SECRET)).await;
    sim.set_faults(Faults {
        dropped_submits: 1,
        ..Faults::default()
    });
    let state = client
        .submit(&order(10, Side::Buy, OrderKind::Market, "0.01"))
        .await
        .unwrap();
    assert_eq!(state.status, OrderStatus::Filled);

    sim.set_faults(Faults {
        slow_submits: 1,
        submit_delay: Duration::from_millis(800),
        ..Faults::default()
    });
    let state = client
        .submit(&order(11, Side::Buy, limit("40000"), "0.01"))
        .await
        .unwrap();
    assert_eq!(state.status, OrderStatus::New);

    // 5xx before execution: the lookup finds nothing and the order is sent again.
    sim.set_faults(Faults {
        server_errors: 1,
        ..Faults::default()
    });
    client
        .submit(&order(12, Side::Buy, limit("40000"), "0.01"))
        .await
        .unwrap();

    for cid in ["alpha-10", "alpha-11", "alpha-12"] {
        let n = sim
            .orders()
            .iter()
            .filter(|o| o.client_order_id == cid)
            .count();
        assert_eq!(n, 1, "{cid} exists exactly once");
    }
    assert_eq!(
        posts(&sim),
        4,
        "one POST each, plus one resend after the 503"
    );
    assert_eq!(sim.trades().len(), 1);
}

#[tokio::test]
async fn rate_limits_honour_retry_after_and_bans_surface() {
    let (sim, mut client) = setup(SimConfig::btcusdt(KEY, SECRET)).await;
    sim.set_faults(Faults {
        rate_limited: 1,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let started = Instant::now();
    client
        .submit(&order(20, Side::Buy, OrderKind::Market, "0.01"))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    let reqs = sim.requests();
    let limited = reqs.iter().position(|r| r.status == 429).unwrap();
    let next = &reqs[limited + 1];
    assert!(next.at.duration_since(reqs[limited].at) >= Duration::from_secs(1));
    assert_eq!(posts(&sim), 2);
    assert_eq!(sim.orders().len(), 1);

    // A ban longer than the policy accepts is returned, not waited out.
    sim.set_faults(Faults {
        rate_limited: 1,
        retry_after_secs: 120,
        banned: true,
        ..Faults::default()
    });
    let err = client.balances().await.unwrap_err();
    assert_eq!(
        err,
        VenueError::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );

    // The used-weight header at the limit holds requests back.
    sim.set_faults(Faults {
        used_weight_override: Some(6000),
        ..Faults::default()
    });
    client.balances().await.unwrap();
    assert_eq!(client.used_weight_1m(), Some(6000));
    let endpoint = SpotEndpoint::with_url(Phase::Sandbox, &sim.url).unwrap();
    let mut strict = options();
    strict.retry.max_retry_after = Duration::ZERO;
    let creds = SpotCredentials::new(KEY, SECRET).unwrap();
    let mut impatient = SpotClient::new(endpoint, creds, "alpha", strict).unwrap();
    impatient.balances().await.unwrap();
    let sent = sim.requests().len();
    let err = impatient.balances().await.unwrap_err();
    assert!(
        matches!(err, VenueError::RateLimited { retry_after: Some(w) } if w <= Duration::from_secs(61)),
        "{err:?}"
    );
    assert_eq!(
        sim.requests().len(),
        sent,
        "nothing is sent over the weight limit"
    );
}

#[tokio::test]
async fn rejections_carry_the_venue_code_and_never_the_secret() {
    let (sim, mut client) = setup(SimConfig::btcusdt(KEY, SECRET)).await;
    let err = client
        .submit(&order(30, Side::Buy, OrderKind::Market, "5"))
        .await
        .unwrap_err();
    match &err {
        VenueError::Exchange { code, message } => {
            assert_eq!(*code, -2010);
            assert!(message.contains("insufficient balance"), "{message}");
        }
        other => panic!("expected the venue's rejection, got {other:?}"),
    }
    let mut errors = vec![err.to_string(), format!("{err:?}")];

    // A wrong secret: Binance's signature error, and no secret or signature in it.
    let endpoint = SpotEndpoint::with_url(Phase::Sandbox, &sim.url).unwrap();
    let wrong = SpotCredentials::new(KEY, "wrongSecret999").unwrap();
    let mut bad = SpotClient::new(endpoint, wrong, "alpha", options()).unwrap();
    let err = bad.balances().await.unwrap_err();
    assert!(
        matches!(err, VenueError::Exchange { code: -1022, .. }),
        "{err:?}"
    );
    errors.push(err.to_string());
    errors.push(format!("{bad:?}"));
    drop(sim);
    // The venue gone: a transport error, without the signed URL.
    let err = client.balances().await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    errors.push(format!("{err:?}"));
    for text in errors {
        for secret in [SECRET, "wrongSecret999", "signature", KEY] {
            assert!(!text.contains(secret), "`{secret}` leaked into: {text}");
        }
    }
}

#[tokio::test]
async fn a_skewed_venue_clock_is_synced() {
    let mut config = SimConfig::btcusdt(KEY, SECRET);
    config.clock_skew_ms = 30_000;
    let (_sim, client) = setup(config).await;
    let offset = client.time_offset_ms().unwrap();
    assert!((29_000..=31_000).contains(&offset), "{offset}");
}

#[tokio::test]
async fn a_clock_jump_is_resynced_on_the_timestamp_error() {
    let (sim, mut client) = setup(SimConfig::btcusdt(KEY, SECRET)).await;
    sim.set_clock_skew(20_000);
    client.balances().await.unwrap();
    let offset = client.time_offset_ms().unwrap();
    assert!((19_000..=21_000).contains(&offset), "{offset}");
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert!(
        statuses.contains(&400),
        "the first attempt got -1021: {statuses:?}"
    );
}

#[tokio::test]
async fn an_unresolvable_submit_reports_unknown_fate_and_is_found_later() {
    let (sim, mut client) = setup(SimConfig::btcusdt(KEY, SECRET)).await;
    // The response is lost, and every lookup afterwards fails too.
    sim.set_faults(Faults {
        dropped_submits: 1,
        failed_lookups: 100,
        ..Faults::default()
    });
    let result = client
        .submit(&order(40, Side::Buy, limit("40000"), "0.01"))
        .await;
    let err = result.unwrap_err();
    assert!(err.is_fate_unknown(), "{err:?}");
    assert_eq!(posts(&sim), 1, "never resent while its fate is unknown");
    sim.set_faults(Faults::default());
    let found = client.order(&btc(), OrderId(40)).await.unwrap().unwrap();
    assert_eq!(found.status, OrderStatus::New);
    // It fills meanwhile; resubmitting the same engine order (Binance would
    // accept the client id again now that the first order is closed) does not
    // place a second one.
    sim.candle("BTCUSDT", d("39000"), d("41000"), d("40500"));
    let state = client
        .submit(&order(40, Side::Buy, limit("40000"), "0.01"))
        .await
        .unwrap();
    assert_eq!(state.status, OrderStatus::Filled);
    assert_eq!(sim.orders().len(), 1);
    assert_eq!(posts(&sim), 1);
}

#[tokio::test]
async fn a_cancel_racing_a_fill_reports_the_fill() {
    let (sim, mut client) = setup(SimConfig::btcusdt(KEY, SECRET)).await;
    client
        .submit(&order(50, Side::Sell, limit("50500"), "0.02"))
        .await
        .unwrap();
    sim.candle("BTCUSDT", d("50000"), d("50600"), d("50550"));
    assert_eq!(
        client.cancel(&btc(), OrderId(50)).await,
        Err(VenueError::NotOpen {
            id: OrderId(50),
            status: OrderStatus::Filled
        })
    );
    let fills = client.fills(&btc(), OrderId(50)).await.unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].price, Price::new(d("50500")));
    assert_eq!(fills[0].side, Side::Sell);
}

#[tokio::test]
async fn sandbox_never_reaches_the_live_api() {
    assert!(SpotEndpoint::with_url(Phase::Sandbox, "https://api.binance.com").is_err());
    assert!(SpotEndpoint::for_phase(Phase::Paper).is_err());
    let sandbox = SpotEndpoint::for_phase(Phase::Sandbox).unwrap();
    let client = SpotClient::new(
        sandbox,
        SpotCredentials::new(KEY, SECRET).unwrap(),
        "alpha",
        options(),
    )
    .unwrap();
    assert_eq!(client.base_url().host_str(), Some("testnet.binance.vision"));
}
