//! The engine's HTTP server (axum):
//! - `GET /status` — the contract document (`EngineStatus`), 503 while
//!   restoring; unauthenticated. Every request counts as the operator's poll
//!   for the dead-man switch (`super::dead_man`);
//! - `GET /metrics` — Prometheus text;
//! - `GET /healthz` — the process answers;
//! - `GET /readyz` — restored and the feed delivers;
//! - `POST /v1/halt`, `/v1/resume`, `/v1/cancel-all` — signed by the
//!   operator (`super::control_auth`; unsigned, stale, replayed, another
//!   bot's or badly signed is a 401 with the reason, never echoing what was
//!   sent), applied by the trading loop between candles and answered once
//!   stored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Json, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use botfleet_crds::engine_api::{
    CANCEL_ALL_PATH, EngineStatus, HALT_PATH, HaltRequest, RESUME_PATH, ResumeRequest, STATUS_PATH,
};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::control::{Command, Reply, Request};
use super::control_auth::Auth;
use super::dead_man::PollClock;
use super::metrics::Metrics;

/// How long a control call waits for the trading loop (a step in progress,
/// a slow store) before answering 503.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// State shared by the handlers and the trading loop.
pub struct Shared {
    /// `None` until the engine is restored.
    pub status: RwLock<Option<EngineStatus>>,
    pub ready: AtomicBool,
    /// Why the engine is not ready, for `/readyz`.
    pub not_ready_reason: RwLock<String>,
    pub metrics: Metrics,
    pub control: mpsc::Sender<Request>,
    pub auth: Auth,
    /// When `/status` was last polled (the dead-man switch).
    pub polls: PollClock,
}

impl Shared {
    pub fn publish(&self, status: EngineStatus) {
        self.metrics.observe(&status);
        if let Ok(mut s) = self.status.write() {
            *s = Some(status);
        }
    }

    pub fn set_ready(&self, ready: bool, reason: &str) {
        self.ready.store(ready, Ordering::Relaxed);
        self.metrics.ready.set(i64::from(ready));
        if let Ok(mut r) = self.not_ready_reason.write() {
            reason.clone_into(&mut r);
        }
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(STATUS_PATH, get(status))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route(HALT_PATH, post(halt))
        .route(RESUME_PATH, post(resume))
        .route(CANCEL_ALL_PATH, post(cancel_all))
        .with_state(shared)
}

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(json!({ "error": message.into() }))).into_response()
}

async fn status(State(s): State<Arc<Shared>>) -> Response {
    s.polls.touch();
    let current = s.status.read().ok().and_then(|g| g.clone());
    match current {
        Some(status) => Json(status).into_response(),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: the engine is restoring its state from the store",
        ),
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    match s.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("metrics: {e}")),
    }
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let reason = s
            .not_ready_reason
            .read()
            .map(|r| r.clone())
            .unwrap_or_default();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response()
    }
}

/// The signature check: `Some(401 response)` when refused, with the
/// reason. The answer never contains what was sent.
fn unauthorized(
    s: &Shared,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    action: &str,
) -> Option<Response> {
    let Auth::Signed(auth) = &s.auth else {
        return None;
    };
    let reason = auth.check("POST", path, headers, body).err()?;
    s.metrics
        .control_requests
        .with_label_values(&[action, "unauthorized"])
        .inc();
    tracing::warn!(action, reason = %reason, "control request refused");
    let mut response = error(StatusCode::UNAUTHORIZED, reason);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Botfleet-Signature"),
    );
    Some(response)
}

/// The JSON body, or the reason it is not one.
fn parse<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("{what} body: {e}"))
}

fn invalid(s: &Shared, action: &str, message: String) -> Response {
    s.metrics
        .control_requests
        .with_label_values(&[action, "invalid"])
        .inc();
    error(StatusCode::BAD_REQUEST, message)
}

async fn halt(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = unauthorized(&s, HALT_PATH, &headers, &body, "halt") {
        return r;
    }
    let request: HaltRequest = match parse("halt", &body) {
        Ok(r) => r,
        Err(e) => return invalid(&s, "halt", e),
    };
    if request.reason.trim().is_empty() {
        return invalid(
            &s,
            "halt",
            "halt body: `reason` must say why (it is shown in /status and the audit log)".into(),
        );
    }
    send(&s, Command::Halt(request)).await
}

async fn resume(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = unauthorized(&s, RESUME_PATH, &headers, &body, "resume") {
        return r;
    }
    match parse::<ResumeRequest>("resume", &body) {
        Ok(r) if !r.halt_id.trim().is_empty() => send(&s, Command::Resume(r)).await,
        Ok(_) => invalid(
            &s,
            "resume",
            "resume body: `haltId` must name the halt to lift (see /status halt.id)".into(),
        ),
        Err(e) => invalid(&s, "resume", e),
    }
}

async fn cancel_all(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = unauthorized(&s, CANCEL_ALL_PATH, &headers, &body, "cancel-all") {
        return r;
    }
    send(&s, Command::CancelAll).await
}

/// Hands a command to the trading loop and waits for it to be stored.
async fn send(s: &Shared, command: Command) -> Response {
    let action = command.action();
    let (reply, answer) = oneshot::channel();
    let count = |outcome: &str| {
        s.metrics
            .control_requests
            .with_label_values(&[action, outcome])
            .inc();
    };
    if s.control.send(Request { command, reply }).await.is_err() {
        count("unavailable");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine is shutting down",
        );
    }
    match tokio::time::timeout(CONTROL_TIMEOUT, answer).await {
        Ok(Ok(Reply::Done(body))) => {
            count("ok");
            Json(body).into_response()
        }
        Ok(Ok(Reply::Conflict(message))) => {
            count("conflict");
            error(StatusCode::CONFLICT, message)
        }
        Ok(Ok(Reply::Unavailable(message))) => {
            count("unavailable");
            error(StatusCode::SERVICE_UNAVAILABLE, message)
        }
        Ok(Err(_)) => {
            count("unavailable");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the engine stopped before applying the request",
            )
        }
        Err(_) => {
            count("unavailable");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the engine did not apply the request within {}s (still restoring, or the store is down); retry",
                    CONTROL_TIMEOUT.as_secs()
                ),
            )
        }
    }
}
