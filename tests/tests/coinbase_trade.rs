//! The Coinbase Advanced Trade adapter (`botfleet_bot::coinbase::trade`)
//! against the exchange simulator's Coinbase API: JWT authentication,
//! product rules, orders, partial fills, cancels, look-ups after a lost
//! answer or a restart, balances, and the faults a real venue produces.

use botfleet_bot::binance::RetryPolicy;
use botfleet_bot::coinbase::trade::{
    CoinbaseClient, CoinbaseCredentials, CoinbaseEndpoint, CoinbaseOptions,
};
use botfleet_bot::domain::{
    Money, OrderId, OrderKind, OrderRequest, OrderStatus, Price, Quantity, Side, Symbol,
};
use botfleet_bot::execution::{Rejection, Venue, VenueError};
use botfleet_crds::Phase;
use botfleet_tests::exchange_sim::{ExchangeSim, Faults, SimConfig};
use p256::pkcs8::LineEnding;
use rust_decimal::Decimal;
use std::str::FromStr;
use std::time::Duration;

const KEY_NAME: &str = "organizations/sim-org/apiKeys/sim-key";

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn secret(byte: u8) -> p256::SecretKey {
    p256::SecretKey::from_slice(&[byte; 32]).unwrap()
}

fn pem(byte: u8) -> String {
    secret(byte)
        .to_sec1_pem(LineEnding::LF)
        .unwrap()
        .to_string()
}

fn options() -> CoinbaseOptions {
    CoinbaseOptions {
        timeout: Duration::from_millis(400),
        retry: RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(3),
        },
        min_request_interval: Duration::ZERO,
        ..CoinbaseOptions::default()
    }
}

fn client(sim: &ExchangeSim, key_byte: u8, bot: &str) -> CoinbaseClient {
    let endpoint = CoinbaseEndpoint::with_url(Phase::Sandbox, &sim.url).unwrap();
    let creds = CoinbaseCredentials::new(KEY_NAME, &pem(key_byte)).unwrap();
    CoinbaseClient::new(endpoint, creds, bot, options()).unwrap()
}

async fn setup() -> (ExchangeSim, CoinbaseClient) {
    let sim = ExchangeSim::start(SimConfig::btc_usd()).await;
    sim.set_coinbase_key(
        KEY_NAME,
        p256::ecdsa::VerifyingKey::from(secret(7).public_key()),
    );
    sim.candle("BTC-USD", d("49900"), d("50100"), d("50000"));
    let mut c = client(&sim, 7, "alpha");
    c.sync_time().await.unwrap();
    c.symbol_rules(&btc()).await.unwrap();
    (sim, c)
}

fn btc() -> Symbol {
    Symbol::new("BTC-USD")
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

fn creates(sim: &ExchangeSim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v3/brokerage/orders")
        .count()
}

#[tokio::test]
async fn market_buy_fills_exactly_and_balances_match_the_venue() {
    let (sim, mut c) = setup().await;
    let state = c
        .submit(&order(1, Side::Buy, OrderKind::Market, "0.1234567891"))
        .await
        .unwrap();
    // Rounded down to the base increment before sending.
    assert_eq!(state.quantity, Quantity::new(d("0.12345678")));
    assert_eq!(state.status, OrderStatus::Filled);
    assert_eq!(state.filled_notional, Money::new(d("6172.839")));
    let fills = c.order_fills(&state).await.unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].price, Price::new(d("50000")));
    // 0.1 % of 6172.839, as the venue charged it.
    assert_eq!(fills[0].fee, Money::new(d("6.172839")));
    assert_eq!(state.fees, fills[0].fee);
    let venue = c.balances().await.unwrap();
    assert_eq!(venue.cash.free.value(), sim.balance("USD").free);
    assert_eq!(venue.holdings[0].free.value(), sim.balance("BTC").free);
    assert_eq!(sim.balance("BTC").free, d("1.12345678"));
    let tier = c.load_fee_tier().await.unwrap();
    assert_eq!(tier.taker_rate, d("0.001"));
}

#[tokio::test]
async fn limit_order_fills_partly_then_cancel_keeps_what_filled() {
    let (sim, mut c) = setup().await;
    sim.set_partial_fill_cap(Some(d("0.03")));
    let limit = OrderKind::Limit {
        price: Price::new(d("49000.009")),
    };
    let state = c.submit(&order(2, Side::Buy, limit, "0.1")).await.unwrap();
    assert_eq!(state.status, OrderStatus::New);
    assert_eq!(
        state.kind,
        OrderKind::Limit {
            price: Price::new(d("49000.00"))
        }
    );
    sim.candle("BTC-USD", d("48900"), d("49500"), d("49200"));
    let partly = c.order(&btc(), OrderId(2)).await.unwrap().unwrap();
    assert_eq!(partly.status, OrderStatus::PartiallyFilled);
    assert_eq!(partly.filled_quantity, Quantity::new(d("0.03")));
    let canceled = c.cancel(&btc(), OrderId(2)).await.unwrap();
    assert_eq!(canceled.status, OrderStatus::Canceled);
    assert_eq!(canceled.filled_quantity, Quantity::new(d("0.03")));
    let fills = c.fills(&btc(), OrderId(2)).await.unwrap();
    assert_eq!(
        fills.iter().map(|f| f.quantity).sum::<Quantity>(),
        Quantity::new(d("0.03"))
    );
    // Canceling again: the order is no longer open.
    let again = c.cancel(&btc(), OrderId(2)).await.unwrap();
    assert_eq!(again.status, OrderStatus::Canceled);
    assert!(c.open_orders(Some(&btc())).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_lost_create_answer_is_looked_up_and_never_duplicated() {
    let (sim, mut c) = setup().await;
    sim.set_faults(Faults {
        dropped_submits: 1,
        ..Faults::default()
    });
    let state = c
        .submit(&order(3, Side::Buy, OrderKind::Market, "0.01"))
        .await
        .unwrap();
    assert_eq!(state.status, OrderStatus::Filled);
    assert_eq!(sim.faults_fired().dropped_submits, 1);
    assert_eq!(sim.orders().len(), 1, "placed once");
    assert_eq!(creates(&sim), 1, "found by the look-up, not resent");
    // A restarted process (no venue ids in memory) finds it by client id
    // and does not place it again.
    let mut restarted = client(&sim, 7, "alpha");
    let found = restarted.order(&btc(), OrderId(3)).await.unwrap().unwrap();
    assert_eq!(found.filled_quantity, Quantity::new(d("0.01")));
    let resent = restarted
        .submit(&order(3, Side::Buy, OrderKind::Market, "0.01"))
        .await
        .unwrap();
    assert_eq!(resent.filled_quantity, Quantity::new(d("0.01")));
    assert_eq!(
        sim.orders().len(),
        1,
        "the same client order id is one order"
    );
    // Another bot on the account does not see alpha's orders as its own.
    let mut beta = client(&sim, 7, "beta");
    assert_eq!(beta.order(&btc(), OrderId(3)).await.unwrap(), None);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_refusals_are_not() {
    let (sim, mut c) = setup().await;
    sim.set_faults(Faults {
        rate_limited: 2,
        retry_after_secs: 0,
        ..Faults::default()
    });
    c.balances().await.unwrap();
    assert_eq!(sim.faults_fired().rate_limited, 2);
    sim.set_faults(Faults {
        server_errors: 2,
        ..Faults::default()
    });
    c.open_orders(None).await.unwrap();
    assert_eq!(sim.faults_fired().server_errors, 2);
    sim.set_faults(Faults {
        rejected_submits: 1,
        ..Faults::default()
    });
    let err = c
        .submit(&order(4, Side::Buy, OrderKind::Market, "0.01"))
        .await
        .unwrap_err();
    assert!(matches!(err, VenueError::Exchange { .. }), "{err}");
    assert!(err.to_string().contains("Market is closed"), "{err}");
    // Product rules refuse before anything is sent.
    let before = creates(&sim);
    let err = c
        .submit(&order(5, Side::Buy, OrderKind::Market, "0.000000001"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            VenueError::Rejected(Rejection::BelowMinQuantity { .. })
        ),
        "{err}"
    );
    let err = c
        .submit(&order(6, Side::Sell, OrderKind::Market, "5000"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            VenueError::Rejected(Rejection::AboveMaxQuantity { .. })
        ),
        "{err}"
    );
    assert_eq!(creates(&sim), before);
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_the_error_shows_no_secret() {
    let (sim, _) = setup().await;
    let mut wrong = client(&sim, 9, "alpha");
    let err = wrong.balances().await.unwrap_err();
    let text = format!("{err} {err:?} {wrong:?}");
    assert!(
        matches!(err, VenueError::Exchange { code: 401, .. }),
        "{text}"
    );
    assert!(text.contains("API key was refused"), "{text}");
    assert!(!text.contains("sim-org"), "{text}");
    for line in pem(9).lines().filter(|l| !l.starts_with("-----")) {
        assert!(!text.contains(line), "{text}");
    }
    assert!(!text.contains("Bearer"), "{text}");
}

#[tokio::test]
async fn a_redirect_is_not_followed_so_the_jwt_stays_with_the_venue() {
    let (sim, _) = setup().await;
    // A server in front of the venue that redirects every request to it.
    let target = sim.url.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let to = format!("{target}{uri}");
        async move { axum::response::Redirect::temporary(&to) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let endpoint = CoinbaseEndpoint::with_url(Phase::Sandbox, &front).unwrap();
    let creds = CoinbaseCredentials::new(KEY_NAME, &pem(7)).unwrap();
    let mut c = CoinbaseClient::new(endpoint, creds, "alpha", options()).unwrap();
    let before = sim.requests().len();
    let err = c.balances().await.unwrap_err();
    assert!(!matches!(err, VenueError::RateLimited { .. }), "{err}");
    assert_eq!(sim.requests().len(), before, "the redirect was followed");
    server.abort();
}

#[tokio::test]
async fn the_trade_history_holds_this_bots_fills_only_under_the_engines_ids() {
    let (sim, mut alpha) = setup().await;
    let bought = alpha
        .submit(&order(10, Side::Buy, OrderKind::Market, "0.02"))
        .await
        .unwrap();
    let sold = alpha
        .submit(&order(11, Side::Sell, OrderKind::Market, "0.01"))
        .await
        .unwrap();
    // Another bot on the same account trades too: not alpha's history.
    let mut beta = client(&sim, 7, "beta");
    beta.sync_time().await.unwrap();
    beta.symbol_rules(&btc()).await.unwrap();
    beta.submit(&order(10, Side::Buy, OrderKind::Market, "0.03"))
        .await
        .unwrap();
    // A fresh client (a restarted engine: no venue ids in memory) reads it.
    let mut restarted = client(&sim, 7, "alpha");
    let history = restarted.trade_history(&btc(), 0).await.unwrap();
    let ids: Vec<OrderId> = history.iter().map(|f| f.order_id).collect();
    assert_eq!(ids, [OrderId(10), OrderId(11)], "{history:?}");
    let mut expected = alpha.order_fills(&bought).await.unwrap();
    expected.extend(alpha.order_fills(&sold).await.unwrap());
    assert_eq!(history, expected);
    // Nothing at or after a time past the last trade.
    let later = history.last().unwrap().time + 1;
    assert!(
        restarted
            .trade_history(&btc(), later)
            .await
            .unwrap()
            .is_empty()
    );
}
