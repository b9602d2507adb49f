use super::*;

#[test]
fn base_url_must_be_http_without_query() {
    for bad in [
        "api.coinbase.com",
        "wss://advanced-trade-ws.coinbase.com",
        "https://x/?a=b",
    ] {
        let err = CandlesClient::new(bad).unwrap_err();
        assert!(
            matches!(err, CoinbaseRestError::InvalidBaseUrl { .. }),
            "{bad}: {err}"
        );
        assert!(err.to_string().contains(bad), "{err}");
    }
    assert!(CandlesClient::new(COINBASE_API_URL).is_ok());
}

#[test]
fn coinbase_error_bodies_are_read_and_classified() {
    let body = r#"{"error":"INVALID_ARGUMENT","error_details":"number of candles requested should be less than 350","message":"number of candles requested should be less than 350"}"#;
    let err = status_error(StatusCode::BAD_REQUEST, body);
    match &err {
        CoinbaseRestError::Api {
            status,
            error,
            message,
        } => {
            assert_eq!((*status, error.as_str()), (400, "INVALID_ARGUMENT"));
            assert!(message.contains("350"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_permanent());
    let html = status_error(StatusCode::BAD_GATEWAY, "<html>bad gateway</html>");
    assert!(matches!(html, CoinbaseRestError::Http { status: 502, .. }));
    assert!(!html.is_permanent());
    assert!(!CoinbaseRestError::RateLimited { retry_after: None }.is_permanent());
    let not_found = status_error(
        StatusCode::NOT_FOUND,
        r#"{"error":"NOT_FOUND","message":"product not found"}"#,
    );
    assert!(not_found.is_permanent());
    assert!(
        not_found.to_string().contains("product not found"),
        "{not_found}"
    );
}
