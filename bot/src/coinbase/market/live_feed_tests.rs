use super::*;

fn cfg() -> CoinbaseFeedConfig {
    CoinbaseFeedConfig::new([Symbol::new("BTC-USD")], Timeframe::H1)
}

#[test]
fn defaults_are_valid_and_point_at_production() {
    let c = cfg();
    c.validate().unwrap();
    assert_eq!(c.rest_base_url, "https://api.coinbase.com");
    assert_eq!(c.ws_url, "wss://advanced-trade-ws.coinbase.com");
}

#[test]
fn invalid_settings_name_their_field() {
    type Change = Box<dyn Fn(&mut CoinbaseFeedConfig)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|c| c.products.clear()), "products"),
        (
            Box::new(|c| c.products.push(Symbol::new("BTCUSD"))),
            "products",
        ),
        (
            Box::new(|c| c.products.push(Symbol::new("BTC-"))),
            "products",
        ),
        (
            Box::new(|c| c.products.push(Symbol::new("btc-usd"))),
            "products",
        ),
        (Box::new(|c| c.channel_capacity = 0), "channel_capacity"),
        (Box::new(|c| c.stale_after = Duration::ZERO), "stale_after"),
        (Box::new(|c| c.ws_url = "https://x".into()), "ws_url"),
        (
            Box::new(|c| c.rest_retry.max_attempts = 0),
            "rest_retry.max_attempts",
        ),
    ];
    for (change, field) in cases {
        let mut c = cfg();
        change(&mut c);
        match c.validate() {
            Err(FeedError::Config { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected a config error, got {other:?}"),
        }
    }
}
