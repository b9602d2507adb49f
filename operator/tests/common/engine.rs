//! A stand-in for one bot's engine: serves the `/status` contract and the
//! control endpoints on its own loopback address, checks the operator's
//! signature (`botfleet_crds::control_signature`, replays included),
//! and records every control call. The real engine joins in the end-to-end
//! tests; this one lets a test set exactly the numbers it needs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use botfleet_crds::Phase;
use botfleet_crds::control_signature::{NonceCache, Presented, PublicKey, RequestParts, verify};
use botfleet_crds::engine_api::{
    ENGINE_STATUS_API_VERSION, EngineState, EngineStatus, HaltInfo, HaltRequest, ResumeRequest,
    WindowMetrics,
};
use k8s_openapi::jiff::Timestamp;
use rust_decimal::Decimal;

/// One recorded control call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub path: String,
    pub body: serde_json::Value,
}

/// A `/status` answer no well-behaved engine gives.
#[derive(Clone, Debug)]
pub enum Misbehavior {
    /// This body, as JSON, whatever it holds.
    Body(Vec<u8>),
    /// A redirect to this URL.
    Redirect(String),
}

#[derive(Default)]
struct Inner {
    misbehavior: Option<Misbehavior>,
    status: Option<EngineStatus>,
    calls: Vec<Call>,
    /// The operator's public keys and the bot UID signatures must match.
    signed_for: Option<(Vec<PublicKey>, String)>,
    nonces: NonceCache,
    halts: u32,
}

/// A running stand-in engine.
#[derive(Clone)]
pub struct FakeEngine {
    pub ip: IpAddr,
    inner: Arc<Mutex<Inner>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

/// A distinct loopback address per engine in this test process (all of
/// 127.0.0.0/8 reaches `lo` on Linux).
pub fn next_ip() -> IpAddr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let a = (std::process::id() % 200 + 20) as u8;
    IpAddr::V4(Ipv4Addr::new(127, a, (n / 250) as u8, (n % 250 + 2) as u8))
}

/// A free TCP port (for the operator's `--engine-port`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A window that passes the seed gates with margin.
pub fn good_window() -> WindowMetrics {
    WindowMetrics {
        start_equity: Decimal::from(1000),
        money_base: None,
        equity: Decimal::from(1100),
        return_pct: 10.0,
        drawdown_pct: 1.0,
        max_drawdown_pct: 4.0,
        trades: 150,
        wins: 90,
        win_rate_pct: 60.0,
        sharpe: 2.0,
        sortino: 2.5,
        profit_factor: 1.8,
        daily_pnl: Decimal::from(3),
        losing_days_in_a_row: 0,
        orders: 300,
        order_errors: 0,
    }
}

fn authorized(inner: &mut Inner, path: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some((keys, uid)) = &inner.signed_for else {
        return false;
    };
    let presented = Presented::from_headers(|name| headers.get(name).and_then(|v| v.to_str().ok()));
    let request = RequestParts {
        method: "POST",
        path,
        uid,
        body,
    };
    let now = Timestamp::now().as_second();
    match verify(keys, &request, &presented, now) {
        Ok(v) => inner.nonces.admit(&v, now).is_ok(),
        Err(_) => false,
    }
}

async fn status(State(inner): State<Arc<Mutex<Inner>>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let inner = inner.lock().unwrap();
    match &inner.misbehavior {
        Some(Misbehavior::Body(body)) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body.clone(),
        )
            .into_response(),
        Some(Misbehavior::Redirect(to)) => (
            StatusCode::TEMPORARY_REDIRECT,
            [(axum::http::header::LOCATION, to.clone())],
        )
            .into_response(),
        None => match inner.status.clone() {
            Some(mut s) => {
                // Like the real engine in Sandbox and up, the stand-in
                // reports a ledger check, fresh and agreeing unless a test
                // set one.
                if s.phase != Phase::Paper && s.ledger_check.is_none() {
                    s.ledger_check = Some(agreeing_ledger_check(s.window.trades));
                }
                axum::Json(s).into_response()
            }
            None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        },
    }
}

async fn halt(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut inner = inner.lock().unwrap();
    if !authorized(&mut inner, "/v1/halt", &headers, &body) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(req) = serde_json::from_slice::<HaltRequest>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    inner.calls.push(Call {
        path: "/v1/halt".into(),
        body: serde_json::to_value(&req).unwrap(),
    });
    inner.halts += 1;
    let n = inner.halts;
    if let Some(s) = inner.status.as_mut()
        && s.halt.is_none()
    {
        s.halt = Some(HaltInfo {
            id: req.halt_id.clone().unwrap_or_else(|| format!("engine-{n}")),
            reason: req.reason.clone(),
            at: Timestamp::now().to_string(),
        });
        s.state = EngineState::Halted;
    }
    StatusCode::OK
}

async fn resume(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut inner = inner.lock().unwrap();
    if !authorized(&mut inner, "/v1/resume", &headers, &body) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(req) = serde_json::from_slice::<ResumeRequest>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    inner.calls.push(Call {
        path: "/v1/resume".into(),
        body: serde_json::to_value(&req).unwrap(),
    });
    let Some(s) = inner.status.as_mut() else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    match &s.halt {
        Some(h) if h.id == req.halt_id => {
            // A resume starts a new phase window (the contract).
            s.halt = None;
            s.state = EngineState::Trading;
            s.window = good_window();
            s.window.drawdown_pct = 0.0;
            s.phase_started_at = Timestamp::now().to_string();
            StatusCode::OK
        }
        _ => StatusCode::CONFLICT,
    }
}

async fn cancel_all(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut inner = inner.lock().unwrap();
    if !authorized(&mut inner, "/v1/cancel-all", &headers, &body) {
        return StatusCode::UNAUTHORIZED;
    }
    inner.calls.push(Call {
        path: "/v1/cancel-all".into(),
        body: serde_json::json!({}),
    });
    StatusCode::OK
}

/// A ledger check made now that found the books equal.
pub fn agreeing_ledger_check(trades: u64) -> botfleet_crds::engine_api::LedgerCheck {
    botfleet_crds::engine_api::LedgerCheck {
        at: Timestamp::now().to_string(),
        venue_trades: trades,
        ledger_trades: trades,
        matched_trades: trades,
        missing_in_ledger: vec![],
        missing_at_venue: vec![],
        mismatched: vec![],
        fee_difference: Default::default(),
        assets: vec![],
        balance_shortfalls: vec![],
    }
}

impl FakeEngine {
    /// Starts serving on a new loopback address and `port`, reporting a
    /// healthy Paper engine whose phase began long ago.
    pub async fn start(bot: &str, port: u16) -> Self {
        let ip = next_ip();
        let long_ago = Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_hours(24 * 365);
        let status = EngineStatus {
            api_version: ENGINE_STATUS_API_VERSION.into(),
            bot: bot.into(),
            uid: None,
            phase: Phase::Paper,
            state: EngineState::Trading,
            config_hash: String::new(),
            trading_hash: None,
            engine_started_at: long_ago.to_string(),
            phase_started_at: long_ago.to_string(),
            halt: None,
            pause: None,
            window: good_window(),
            open_positions: vec![],
            open_orders: 0,
            limits_hit: vec![],
            allocations: vec![],
            flatten_pending: false,
            ledger_check: None,
        };
        let inner = Arc::new(Mutex::new(Inner {
            status: Some(status),
            ..Default::default()
        }));
        let app = Router::new()
            .route("/status", get(self::status))
            .route("/v1/halt", post(halt))
            .route("/v1/resume", post(resume))
            .route("/v1/cancel-all", post(cancel_all))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, port))
            .await
            .unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            ip,
            inner,
            task: Arc::new(task),
        }
    }

    /// From now on `/status` answers with `m` instead of the status.
    pub fn misbehave(&self, m: Misbehavior) {
        self.inner.lock().unwrap().misbehavior = Some(m);
    }

    /// Control calls must be signed by one of `keys` for the bot `uid`.
    pub fn expect_signed(&self, keys: Vec<PublicKey>, uid: String) {
        self.inner.lock().unwrap().signed_for = Some((keys, uid));
    }

    /// Changes what `/status` reports.
    pub fn update(&self, f: impl FnOnce(&mut EngineStatus)) {
        let mut inner = self.inner.lock().unwrap();
        f(inner.status.as_mut().expect("status set"));
    }

    /// Makes `/status` fail (503).
    pub fn go_dark(&self) {
        self.inner.lock().unwrap().status = None;
    }

    /// The current status.
    pub fn status(&self) -> EngineStatus {
        self.inner
            .lock()
            .unwrap()
            .status
            .clone()
            .expect("status set")
    }

    /// Control calls to `path`.
    pub fn calls(&self, path: &str) -> Vec<Call> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.path == path)
            .cloned()
            .collect()
    }

    /// Stops serving (the address refuses connections).
    pub fn stop(&self) {
        self.task.abort();
    }
}
