use super::*;
use reqwest::header::HeaderValue;

#[test]
fn base_url_must_be_http() {
    for bad in [
        "api.binance.com",
        "wss://stream.binance.com:9443",
        "https://x/?a=b",
    ] {
        let err = MarketDataClient::new(bad).unwrap_err();
        assert!(
            matches!(err, RestError::InvalidBaseUrl { .. }),
            "{bad}: {err}"
        );
        assert!(err.to_string().contains(bad), "{err}");
    }
    assert!(MarketDataClient::new(BINANCE_API_URL).is_ok());
    assert!(MarketDataClient::new(BINANCE_TESTNET_API_URL).is_ok());
}

#[test]
fn retry_after_reads_whole_seconds() {
    let mut h = HeaderMap::new();
    assert_eq!(retry_after(&h), None);
    h.insert(RETRY_AFTER, HeaderValue::from_static(" 7 "));
    assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    h.insert(
        RETRY_AFTER,
        HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
    );
    assert_eq!(retry_after(&h), None);
}

#[test]
fn permanence_follows_the_status() {
    let api = |status| RestError::Api {
        status,
        code: -1,
        msg: String::new(),
    };
    assert!(api(400).is_permanent());
    assert!(!api(429).is_permanent());
    assert!(!api(418).is_permanent());
    assert!(!api(503).is_permanent());
    let body = include_str!("../../tests/fixtures/binance/error_body.json");
    let e = status_error(StatusCode::BAD_REQUEST, body);
    assert!(
        matches!(&e, RestError::Api { status: 400, code: -1121, msg } if msg == "Invalid symbol."),
        "{e}"
    );
    let e = status_error(StatusCode::BAD_GATEWAY, "<html>bad gateway</html>");
    assert!(matches!(&e, RestError::Http { status: 502, body } if body.contains("bad gateway")));
}

mod against_a_local_server {
    use super::*;
    use crate::binance::test_support::{Canned, FakeBinance, MINUTE, kline_at, minutes_ago};
    use std::time::Instant;

    const SYMBOL: &str = "BTCUSDT";

    fn client(server: &FakeBinance, retry: RetryPolicy) -> MarketDataClient {
        MarketDataClient::with_options(&server.rest_url, Duration::from_secs(5), retry).unwrap()
    }

    fn quick_retry() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            ..RetryPolicy::default()
        }
    }

    async fn server_with_history(n: i64) -> (FakeBinance, i64) {
        let server = FakeBinance::start().await;
        let base = minutes_ago(n + 10);
        server.add_klines(SYMBOL, (0..n).map(|i| kline_at(base, i)));
        (server, base)
    }

    fn assert_contiguous(klines: &[Kline], base: i64, first: i64, count: usize) {
        assert_eq!(klines.len(), count);
        for (i, k) in klines.iter().enumerate() {
            assert_eq!(*k, kline_at(base, first + i as i64), "kline {i}");
        }
    }

    #[tokio::test]
    async fn a_range_over_1000_klines_is_fetched_in_pages() {
        let (server, base) = server_with_history(2500).await;
        let c = client(&server, quick_retry());
        let sym = Symbol::new(SYMBOL);
        let end = base + 2499 * MINUTE;
        let all = c
            .fetch_klines(&sym, Timeframe::M1, base, end, 10_000)
            .await
            .unwrap();
        assert_contiguous(&all, base, 0, 2500);
        let reqs = server.requests();
        let pages: Vec<(Option<i64>, Option<i64>)> = reqs
            .iter()
            .map(|r| (r.param("startTime"), r.param("limit")))
            .collect();
        assert_eq!(
            pages,
            vec![
                (Some(base), Some(1000)),
                (Some(base + 1000 * MINUTE), Some(1000)),
                (Some(base + 2000 * MINUTE), Some(1000)),
            ]
        );
        assert!(reqs.iter().all(|r| r.param("endTime") == Some(end)
            && r.params["interval"] == "1m"
            && r.params["symbol"] == SYMBOL));

        // A limit below the range: exactly that many, the last page asking only for the rest.
        let some = c
            .fetch_klines(&sym, Timeframe::M1, base + 10 * MINUTE, end, 1500)
            .await
            .unwrap();
        assert_contiguous(&some, base, 10, 1500);
        let limits: Vec<_> = server.requests()[3..]
            .iter()
            .map(|r| r.param("limit"))
            .collect();
        assert_eq!(limits, vec![Some(1000), Some(500)]);

        // A range inside the history ends at `end`, inclusive.
        let few = c
            .fetch_klines(
                &sym,
                Timeframe::M1,
                base + 5 * MINUTE,
                base + 7 * MINUTE,
                100,
            )
            .await
            .unwrap();
        assert_contiguous(&few, base, 5, 3);
    }

    #[tokio::test]
    async fn the_most_recent_klines_span_pages_too() {
        let (server, base) = server_with_history(2500).await;
        let c = client(&server, quick_retry());
        let recent = c
            .fetch_recent_klines(&Symbol::new(SYMBOL), Timeframe::M1, 1500)
            .await
            .unwrap();
        assert_contiguous(&recent, base, 1000, 1500);
        let few = c
            .fetch_recent_klines(&Symbol::new(SYMBOL), Timeframe::M1, 3)
            .await
            .unwrap();
        assert_contiguous(&few, base, 2497, 3);
    }

    #[tokio::test]
    async fn rate_limit_waits_at_least_retry_after() {
        let (server, base) = server_with_history(3).await;
        server.push_canned(Canned {
            status: 429,
            headers: vec![("retry-after", "1".into())],
            body: r#"{"code":-1003,"msg":"Too many requests."}"#.into(),
        });
        let c = client(&server, quick_retry());
        let got = c
            .fetch_klines(
                &Symbol::new(SYMBOL),
                Timeframe::M1,
                base,
                base + 2 * MINUTE,
                10,
            )
            .await
            .unwrap();
        assert_contiguous(&got, base, 0, 3);
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2);
        let gap = reqs[1].at.duration_since(reqs[0].at);
        // The 10 ms backoff would have retried far sooner; Retry-After wins.
        assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
    }

    #[tokio::test]
    async fn a_ban_longer_than_allowed_is_returned_not_waited_out() {
        let (server, base) = server_with_history(3).await;
        server.push_canned(Canned {
            status: 418,
            headers: vec![("retry-after", "600".into())],
            body: r#"{"code":-1003,"msg":"Way too many requests; IP banned until 1700000000000."}"#
                .into(),
        });
        let c = client(&server, quick_retry());
        let started = Instant::now();
        let err = c
            .fetch_klines(&Symbol::new(SYMBOL), Timeframe::M1, base, base + MINUTE, 10)
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            matches!(err, RestError::RateLimited { status: 418, retry_after: Some(d) } if d == Duration::from_secs(600)),
            "{err}"
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn server_errors_are_retried_and_client_errors_are_not() {
        let (server, base) = server_with_history(3).await;
        let c = client(&server, quick_retry());
        let sym = Symbol::new(SYMBOL);
        server.push_canned(Canned {
            status: 502,
            headers: vec![],
            body: "<html>bad gateway</html>".into(),
        });
        server.push_canned(Canned {
            status: 500,
            headers: vec![],
            body: String::new(),
        });
        let got = c
            .fetch_klines(&sym, Timeframe::M1, base, base + MINUTE, 10)
            .await
            .unwrap();
        assert_contiguous(&got, base, 0, 2);
        assert_eq!(server.requests().len(), 3);

        let err = c
            .fetch_klines(&Symbol::new("NOPE"), Timeframe::M1, base, base + MINUTE, 10)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RestError::Api { status: 400, code: -1121, msg } if msg == "Invalid symbol."),
            "{err}"
        );
        assert!(
            err.to_string().contains("code -1121: Invalid symbol."),
            "{err}"
        );
        assert_eq!(server.requests().len(), 4, "a 400 is not retried");

        // Retries run out: the last error is returned.
        for _ in 0..4 {
            server.push_canned(Canned {
                status: 503,
                headers: vec![],
                body: r#"{"code":-1008,"msg":"Server is currently overloaded."}"#.into(),
            });
        }
        let err = c
            .fetch_klines(&sym, Timeframe::M1, base, base + MINUTE, 10)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                RestError::Api {
                    status: 503,
                    code: -1008,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(server.requests().len(), 8);
    }

    #[tokio::test]
    async fn a_malformed_body_is_a_decode_error_naming_the_row() {
        let (server, base) = server_with_history(3).await;
        server.push_canned(Canned {
            status: 200,
            headers: vec![],
            body: r#"[[1,"1","1","1","1","1",2,"1",3,"1","1","0"],[2,"x"]]"#.into(),
        });
        let c = client(&server, quick_retry());
        let err = c
            .fetch_klines(&Symbol::new(SYMBOL), Timeframe::M1, base, base + MINUTE, 10)
            .await
            .unwrap_err();
        match err {
            RestError::Decode(e) => assert!(e.context.starts_with("BTCUSDT klines row 1"), "{e}"),
            other => panic!("{other}"),
        }
    }

    #[tokio::test]
    async fn a_zero_price_is_refused_naming_symbol_row_column_and_time() {
        let (server, base) = server_with_history(3).await;
        let mut zero = kline_at(base, 1);
        zero.low = crate::domain::Price::ZERO;
        server.push_canned(Canned {
            status: 200,
            headers: vec![],
            body: klines::encode_klines(&[kline_at(base, 0), zero.clone()]),
        });
        let c = client(&server, quick_retry());
        let err = c
            .fetch_klines(&Symbol::new(SYMBOL), Timeframe::M1, base, base + MINUTE, 10)
            .await
            .unwrap_err();
        assert!(!err.is_permanent(), "a bad answer is retried later: {err}");
        let RestError::Decode(e) = err else {
            panic!("{err}")
        };
        assert_eq!(e.context, "BTCUSDT klines row 1, column 3 (low price)");
        let when = crate::market_data::format_millis(zero.open_time);
        assert!(
            e.problem.contains("price 0 at open time") && e.problem.contains(&when),
            "{e}"
        );
    }

    #[tokio::test]
    async fn out_of_order_pages_are_refused() {
        let (server, base) = server_with_history(3).await;
        let rows = klines::encode_klines(&[kline_at(base, 1), kline_at(base, 0)]);
        server.push_canned(Canned {
            status: 200,
            headers: vec![],
            body: rows,
        });
        let c = client(&server, quick_retry());
        let err = c
            .fetch_klines(&Symbol::new(SYMBOL), Timeframe::M1, base, base + MINUTE, 10)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("ascending"), "{err}");
    }

    #[tokio::test]
    async fn a_slow_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        // Accepts, never answers.
        let _hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let retry = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        let c = MarketDataClient::with_options(&url, Duration::from_millis(200), retry).unwrap();
        let err = c
            .klines_page(&Symbol::new(SYMBOL), Timeframe::M1, None, None, 5)
            .await
            .unwrap_err();
        match err {
            RestError::Transport { source, .. } => assert!(source.is_timeout(), "{source}"),
            other => panic!("{other}"),
        }
    }

    #[tokio::test]
    async fn invalid_arguments_are_refused_without_a_request() {
        let (server, base) = server_with_history(1).await;
        let c = client(&server, quick_retry());
        let sym = Symbol::new(SYMBOL);
        assert!(matches!(
            c.fetch_klines(&sym, Timeframe::M1, base + 1, base, 10)
                .await,
            Err(RestError::InvalidRequest(_))
        ));
        assert!(matches!(
            c.fetch_klines(&sym, Timeframe::M1, base, base, 0).await,
            Err(RestError::InvalidRequest(_))
        ));
        assert!(matches!(
            c.klines_page(&sym, Timeframe::M1, None, None, 1001).await,
            Err(RestError::InvalidRequest(_))
        ));
        assert!(server.requests().is_empty());
    }
}
