use super::*;
use crate::binance::test_support::{FakeBinance, arb_json, kline_at, kline_event, minutes_ago};
use proptest::prelude::*;

const DOC_EVENT: &str = include_str!("../../tests/fixtures/binance/kline_event.json");

fn kline_of(msg: StreamMessage) -> KlineEvent {
    match msg {
        StreamMessage::Kline { event, .. } => event,
        other => panic!("expected a kline event, got {other:?}"),
    }
}

#[test]
fn parses_the_documented_kline_event() {
    let e = kline_of(parse_stream_message(DOC_EVENT).unwrap());
    assert_eq!(e.event_time, 1_672_515_782_136);
    assert_eq!(e.symbol, Symbol::new("BNBBTC"));
    assert_eq!(e.interval, "1m");
    assert_eq!((e.first_trade_id, e.last_trade_id), (100, 200));
    assert!(!e.is_closed);
    let k = &e.kline;
    assert_eq!(
        (k.open_time, k.close_time),
        (1_672_515_780_000, 1_672_515_839_999)
    );
    assert_eq!(k.open, "0.0010".parse().unwrap());
    assert_eq!(k.close, "0.0020".parse().unwrap());
    assert_eq!(k.high, "0.0025".parse().unwrap());
    assert_eq!(k.low, "0.0015".parse().unwrap());
    assert_eq!(k.volume, "1000".parse().unwrap());
    assert_eq!(k.trades, 100);
    assert_eq!(k.quote_volume, "1.0000".parse().unwrap());
    assert_eq!(k.taker_buy_base_volume, "500".parse().unwrap());
    assert_eq!(k.taker_buy_quote_volume, "0.500".parse().unwrap());
    // Open klines are progress, not candles.
    assert_eq!(e.closed_candle(), None);
    let closed = KlineEvent {
        is_closed: true,
        ..e.clone()
    };
    assert_eq!(closed.closed_candle(), Some(e.kline.candle()));
}

#[test]
fn unwraps_combined_stream_messages() {
    let wrapped = format!(r#"{{"stream":"bnbbtc@kline_1m","data":{DOC_EVENT}}}"#);
    match parse_stream_message(&wrapped).unwrap() {
        StreamMessage::Kline { stream, event } => {
            assert_eq!(stream.as_deref(), Some("bnbbtc@kline_1m"));
            assert_eq!(event, kline_of(parse_stream_message(DOC_EVENT).unwrap()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn classifies_other_documented_messages() {
    assert_eq!(
        parse_stream_message(r#"{"result": null, "id": 1}"#).unwrap(),
        StreamMessage::Reply {
            id: 1.into(),
            result: Value::Null
        }
    );
    assert_eq!(
        parse_stream_message(r#"{"code": 2, "msg": "Invalid request: too many parameters"}"#)
            .unwrap(),
        StreamMessage::Error(ApiErrorBody {
            code: 2,
            msg: "Invalid request: too many parameters".into()
        })
    );
    assert_eq!(
        parse_stream_message(r#"{"e":"serverShutdown","E":1770123456789}"#).unwrap(),
        StreamMessage::ServerShutdown {
            event_time: Some(1_770_123_456_789)
        }
    );
    assert_eq!(
        parse_stream_message(r#"{"event":{"e":"serverShutdown","E":5}}"#).unwrap(),
        StreamMessage::ServerShutdown {
            event_time: Some(5)
        }
    );
    assert_eq!(
        parse_stream_message(r#"{"e":"aggTrade","E":1,"s":"BNBBTC"}"#).unwrap(),
        StreamMessage::OtherEvent {
            event_type: "aggTrade".into()
        }
    );
}

#[test]
fn malformed_events_name_the_field() {
    let doc: Value = serde_json::from_str(DOC_EVENT).unwrap();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = doc.clone();
        f(&mut v);
        parse_stream_message(&v.to_string()).unwrap_err()
    };
    let e = with(&|v| v["k"]["o"] = json!(0.001));
    assert_eq!(e.context, "kline event `k` field `o` (open price)");
    assert!(e.problem.contains("decimal string"), "{e}");
    let e = with(&|v| {
        v["k"].as_object_mut().unwrap().remove("x");
    });
    assert_eq!(
        e.to_string(),
        "kline event `k` field `x` (is this kline closed): missing"
    );
    let e = with(&|v| v["k"]["x"] = json!("true"));
    assert!(e.problem.contains("true or false"), "{e}");
    let e = with(&|v| v["k"] = json!([1, 2]));
    assert_eq!(e.context, "kline event field `k` (kline)");
    let e = with(&|v| v["k"]["s"] = json!("ETHBTC"));
    assert!(e.problem.contains("differs"), "{e}");
    let e = with(&|v| v["k"]["T"] = json!(1));
    assert!(e.problem.contains("before the start time"), "{e}");
    let e = with(&|v| v["E"] = json!("soon"));
    assert_eq!(e.context, "kline event field `E` (event time)");

    for (text, problem) in [
        ("not json", "not valid JSON"),
        ("[1,2]", "expected a JSON object"),
        (r#"{"hello":1}"#, "keys: hello"),
        (r#"{"e":5}"#, "expected a string"),
        (r#"{"stream":"x","data":7}"#, "expected the event object"),
    ] {
        let e = parse_stream_message(text).unwrap_err();
        assert!(e.problem.contains(problem), "{text}: {e}");
    }
}

#[test]
fn stream_names_and_urls() {
    let btc = Symbol::new("BTCUSDT");
    let eth = Symbol::new("ethusdt");
    assert_eq!(kline_stream_name(&btc, Timeframe::M1), "btcusdt@kline_1m");
    let one = |base| kline_stream_url(base, std::slice::from_ref(&btc), Timeframe::H4).unwrap();
    let expected = "wss://stream.binance.com:9443/ws/btcusdt@kline_4h";
    assert_eq!(one(BINANCE_WS_URL), expected);
    assert_eq!(one("wss://stream.binance.com:9443/"), expected);
    assert_eq!(one("wss://stream.binance.com:9443/ws"), expected);
    assert_eq!(
        one(BINANCE_TESTNET_WS_URL),
        "wss://stream.testnet.binance.vision/ws/btcusdt@kline_4h"
    );
    assert_eq!(
        kline_stream_url("ws://127.0.0.1:9", &[btc.clone(), eth], Timeframe::M5).unwrap(),
        "ws://127.0.0.1:9/stream?streams=btcusdt@kline_5m/ethusdt@kline_5m"
    );
    for bad in [
        "https://stream.binance.com",
        "stream.binance.com",
        "wss://x/?a=1",
    ] {
        let err = kline_stream_url(bad, std::slice::from_ref(&btc), Timeframe::M1).unwrap_err();
        assert!(err.to_string().contains(bad), "{err}");
    }
    assert!(kline_stream_url(BINANCE_WS_URL, &[], Timeframe::M1).is_err());
}

#[test]
fn a_price_at_or_below_zero_is_refused_naming_symbol_field_and_time() {
    let doc: Value = serde_json::from_str(DOC_EVENT).unwrap();
    for (key, name) in [("o", "open"), ("h", "high"), ("l", "low"), ("c", "close")] {
        let mut v = doc.clone();
        v["k"][key] = json!("0.00000000");
        let e = parse_stream_message(&v.to_string()).unwrap_err();
        assert_eq!(
            e.context,
            format!("BNBBTC kline event `k` field `{key}` ({name} price)")
        );
        assert!(
            e.problem.starts_with(
                "price 0 at open time 2022-12-31T19:43:00Z (1672515780000) is not positive"
            ),
            "{e}"
        );
    }
    let mut v = doc.clone();
    v["k"]["l"] = json!("-1");
    let e = parse_stream_message(&v.to_string()).unwrap_err();
    assert!(e.problem.contains("negative"), "{e}");
}

#[test]
fn encoded_events_parse_back() {
    let k = kline_at(minutes_ago(10), 3);
    let e = kline_of(parse_stream_message(&kline_event("BTCUSDT", &k, true).to_string()).unwrap());
    assert_eq!(e.kline, k);
    assert!(e.is_closed);
    assert_eq!(e.interval, "1m");
}

proptest! {
    #[test]
    fn arbitrary_messages_never_panic(v in arb_json()) {
        let _ = parse_stream_message(&v.to_string());
        let _ = parse_stream_message(&json!({"e": "kline", "E": 1, "s": "X", "k": v}).to_string());
        let _ = parse_stream_message(&json!({"stream": "s", "data": v}).to_string());
    }
}

#[tokio::test]
async fn connection_answers_pings_and_survives_bad_frames() {
    let mut server = FakeBinance::start().await;
    let url = kline_stream_url(&server.ws_url, &[Symbol::new("BTCUSDT")], Timeframe::M1).unwrap();
    let mut client = KlineStreamConnection::connect(&url, Duration::from_secs(5))
        .await
        .unwrap();
    let mut conn = server.next_connection().await;
    assert_eq!(conn.path, "/ws/btcusdt@kline_1m");

    conn.ws
        .send(Message::Ping(b"heartbeat".to_vec().into()))
        .await
        .unwrap();
    conn.send_text("{broken").await;
    conn.ws
        .send(Message::Binary(vec![1, 2].into()))
        .await
        .unwrap();
    let k = kline_at(minutes_ago(5), 0);
    conn.send_kline("BTCUSDT", &k, true).await;

    assert!(matches!(client.next_item().await, StreamItem::Ping));
    // The pong carries the ping's payload, as Binance requires.
    match conn.ws.next().await {
        Some(Ok(Message::Pong(p))) => assert_eq!(&p[..], b"heartbeat"),
        other => panic!("expected a pong, got {other:?}"),
    }
    assert!(matches!(
        client.next_item().await,
        StreamItem::Malformed { .. }
    ));
    assert!(matches!(
        client.next_item().await,
        StreamItem::Malformed { .. }
    ));
    match client.next_item().await {
        StreamItem::Message(StreamMessage::Kline { event, .. }) => assert_eq!(event.kline, k),
        other => panic!("{other:?}"),
    }
    drop(conn);
    assert!(matches!(
        client.next_item().await,
        StreamItem::Closed { .. }
    ));
}

#[tokio::test]
async fn connecting_to_nothing_is_an_error_not_a_hang() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("ws://{addr}/ws/btcusdt@kline_1m");
    let err = KlineStreamConnection::connect(&url, Duration::from_secs(5))
        .await
        .err()
        .expect("nothing listens there");
    assert!(matches!(err, StreamError::Connect { .. }), "{err}");
}

#[test]
fn a_tls_provider_is_installed_for_wss() {
    ensure_tls_provider();
    assert!(rustls::crypto::CryptoProvider::get_default().is_some());
}
