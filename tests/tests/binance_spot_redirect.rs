//! The signing Binance client follows no redirect: a venue (or anything in
//! front of it) answering a signed request with a redirect must not get the
//! API key header and the signed query sent to another host.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use botfleet_bot::binance::RetryPolicy;
use botfleet_bot::binance::spot::{SpotClient, SpotCredentials, SpotEndpoint, SpotOptions};
use botfleet_bot::execution::Venue;
use botfleet_crds::Phase;

const KEY: &str = "redirectTestKey123";
const SECRET: &str = "redirectTestSecret456";

/// Every request the other host got: (path and query, API key header).
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_redirected_signed_request_is_not_followed_to_another_host() {
    let seen: Seen = Arc::default();
    let other = serve(
        Router::new()
            .fallback(any(
                |State(seen): State<Seen>, uri: Uri, headers: HeaderMap| async move {
                    let key = headers
                        .get("x-mbx-apikey")
                        .and_then(|v| v.to_str().ok())
                        .map(String::from);
                    seen.lock().unwrap().push((uri.to_string(), key));
                    (StatusCode::OK, "{}")
                },
            ))
            .with_state(seen.clone()),
    )
    .await;
    // The "venue": its clock answers, everything else is redirected away.
    let venue =
        serve(
            Router::new()
                .route(
                    "/api/v3/time",
                    get(|| async {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis();
                        axum::Json(serde_json::json!({ "serverTime": now as u64 }))
                    }),
                )
                .fallback(any(move |uri: Uri| {
                    let to = format!("{other}{uri}");
                    async move {
                        (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response()
                    }
                })),
        )
        .await;

    let endpoint = SpotEndpoint::with_url(Phase::Sandbox, &venue).unwrap();
    let creds = SpotCredentials::new(KEY, SECRET).unwrap();
    let options = SpotOptions {
        timeout: Duration::from_secs(5),
        recv_window_ms: 5000,
        retry: RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
        },
        weight_limit_1m: 5000,
    };
    let mut client = SpotClient::new(endpoint, creds, "alpha", options).unwrap();
    let result = client.balances().await;
    assert!(result.is_err(), "a redirect is not an answer: {result:?}");
    let seen = seen.lock().unwrap();
    assert!(
        seen.is_empty(),
        "the signed request followed the redirect: {seen:?}"
    );
}
