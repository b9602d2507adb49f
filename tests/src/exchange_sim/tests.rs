//! The simulator refuses prices ≤ 0 the way Binance does: an order's price
//! over HTTP (`-1013 Invalid price.`, `-1100` for a negative number) and a
//! price a test injects with a candle.

use super::{ExchangeSim, SimConfig, SimReject};
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "k3y";
const SECRET: &str = "s3cret";

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// A signed `POST /api/v3/order` over a plain TCP connection; the status
/// and the JSON body.
async fn post_order(sim: &ExchangeSim, params: &str) -> (u16, serde_json::Value) {
    let now = super::server::now_ms(0);
    let query = format!("{params}&timestamp={now}");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(query.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let host = sim.url.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "POST /api/v3/order?{query}&signature={signature} HTTP/1.1\r\nHost: {host}\r\n\
         X-MBX-APIKEY: {KEY}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap())
}

#[tokio::test]
async fn an_order_price_at_or_below_zero_is_refused_as_binance_does() {
    let sim = ExchangeSim::start(SimConfig::btcusdt(KEY, SECRET)).await;
    sim.candle("BTCUSDT", d("49900"), d("50100"), d("50000"));
    let limit = |price: &str| {
        format!(
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price={price}&newClientOrderId=t{price}"
        )
    };
    let (status, body) = post_order(&sim, &limit("0")).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        serde_json::json!({"code": -1013, "msg": "Invalid price."})
    );
    let (status, body) = post_order(&sim, &limit("0.00000000")).await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(-1013)));
    let (status, body) = post_order(&sim, &limit("-50000")).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], -1100);
    assert!(
        body["msg"]
            .as_str()
            .unwrap()
            .starts_with("Illegal characters found in parameter 'price'"),
        "{body}"
    );
    assert!(sim.orders().is_empty(), "a refused order is not placed");
    // A positive price on the tick is placed.
    let (status, body) = post_order(&sim, &limit("49000.00")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sim.orders().len(), 1);
}

#[tokio::test]
async fn an_injected_price_at_or_below_zero_is_refused_and_changes_nothing() {
    let sim = ExchangeSim::start(SimConfig::btcusdt(KEY, SECRET)).await;
    let err = sim
        .try_candle("BTCUSDT", d("0"), d("50100"), d("50000"))
        .unwrap_err();
    assert_eq!(
        err,
        SimReject {
            code: -1013,
            msg: "Invalid price. (injected BTCUSDT candle: low 0)".into()
        }
    );
    assert_eq!(
        err.to_json(),
        serde_json::json!({"code": -1013, "msg": "Invalid price. (injected BTCUSDT candle: low 0)"})
    );
    let err = sim
        .try_candle("BTCUSDT", d("49900"), d("50100"), d("-1"))
        .unwrap_err();
    assert_eq!(err.code, -1100);
    assert!(err.msg.contains("close -1"), "{err}");
    let err = sim
        .try_candle("ETHUSDT", d("1"), d("1"), d("1"))
        .unwrap_err();
    assert_eq!(err.code, -1121);
    // Nothing was applied: the symbol still has no price to fill at.
    let (status, body) = post_order(
        &sim,
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=m1",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["msg"].as_str().unwrap().contains("No price yet"),
        "{body}"
    );
    sim.try_candle("BTCUSDT", d("49900"), d("50100"), d("50000"))
        .unwrap();
}

#[tokio::test]
#[should_panic(expected = "the exchange simulator refused the candle")]
async fn candle_panics_on_a_price_of_zero() {
    let sim = ExchangeSim::start(SimConfig::btcusdt(KEY, SECRET)).await;
    sim.candle("BTCUSDT", d("0"), d("0"), d("0"));
}

#[tokio::test]
async fn rejected_submits_refuse_orders_without_placing_them() {
    let sim = ExchangeSim::start(SimConfig::btcusdt(KEY, SECRET)).await;
    sim.candle("BTCUSDT", d("49900"), d("50100"), d("50000"));
    sim.set_faults(super::Faults {
        rejected_submits: 1,
        ..super::Faults::default()
    });
    let market = "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.001&newClientOrderId=s1";
    let (status, body) = post_order(&sim, market).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        serde_json::json!({"code": -2010, "msg": "Market is closed."})
    );
    assert!(sim.orders().is_empty());
    let (status, body) = post_order(&sim, market).await;
    assert_eq!(status, 200, "{body}");
}
