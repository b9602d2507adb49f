//! A stand-in for an OpenAI-compatible Chat Completions endpoint
//! (`POST /v1/chat/completions`), so the engine's real LLM client is what
//! the tests exercise. Replies are scripted in order (then a default):
//! a vote, raw message content, a raw body (malformed JSON), an HTTP status
//! with `Retry-After`, or any of these after a delay. Every request is kept
//! (the bearer token and the JSON body) for assertions.
//!
//! The server runs on its own thread and runtime, so synchronous tests
//! (backtests) and async tests use it alike.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One scripted reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// A well-formed vote: `{"signal", "confidence", "reason"}` as the content.
    Vote {
        signal: &'static str,
        confidence: f64,
        reason: String,
    },
    /// This text as the message content (e.g. not JSON, or outside the schema).
    Content(String),
    /// This text as the whole HTTP body, status 200 (e.g. truncated JSON).
    Body(String),
    /// An error status, with an optional `Retry-After` in seconds.
    Status { code: u16, retry_after: Option<u64> },
    /// Waits, then replies.
    Slow(Duration, Box<Reply>),
}

impl Reply {
    pub fn vote(signal: &'static str, confidence: f64) -> Self {
        Reply::Vote {
            signal,
            confidence,
            reason: format!("scripted {signal}"),
        }
    }
}

/// One request as received.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenRequest {
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    pub body: Value,
}

struct SimState {
    script: VecDeque<Reply>,
    default: Reply,
    requests: Vec<SeenRequest>,
    prompt_tokens: u64,
    completion_tokens: u64,
    /// Reported as `usage.cost` when set (some providers do).
    cost: Option<String>,
}

/// The running stand-in; stops when dropped.
pub struct LlmSim {
    addr: SocketAddr,
    state: Arc<Mutex<SimState>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LlmSim {
    /// Starts on a loopback port; replies `hold` unless scripted otherwise.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(SimState {
            script: VecDeque::new(),
            default: Reply::vote("hold", 0.5),
            requests: Vec::new(),
            prompt_tokens: 100,
            completion_tokens: 20,
            cost: None,
        }));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(state.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the LLM stand-in");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind a loopback port");
                addr_tx
                    .send(listener.local_addr().expect("local address"))
                    .expect("report the address");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop.await;
                    })
                    .await;
            });
        });
        let addr = addr_rx.recv().expect("the LLM stand-in started");
        Self {
            addr,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The base URL to put in `spec.llm.endpoint` (`http://127.0.0.1:PORT/v1`).
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues replies, used in order before the default.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// The reply once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        self.state.lock().unwrap().default = reply;
    }

    /// `usage` of every reply: prompt and completion tokens, and `cost` when `Some`.
    pub fn set_usage(&self, prompt_tokens: u64, completion_tokens: u64, cost: Option<&str>) {
        let mut s = self.state.lock().unwrap();
        (s.prompt_tokens, s.completion_tokens) = (prompt_tokens, completion_tokens);
        s.cost = cost.map(str::to_string);
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for LlmSim {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn completions(
    State(state): State<Arc<Mutex<SimState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let (reply, usage, model) = {
        let mut s = state.lock().unwrap();
        s.requests.push(SeenRequest {
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: body.clone(),
        });
        let reply = s.script.pop_front().unwrap_or_else(|| s.default.clone());
        let mut usage = json!({
            "prompt_tokens": s.prompt_tokens,
            "completion_tokens": s.completion_tokens,
            "total_tokens": s.prompt_tokens + s.completion_tokens,
        });
        if let Some(c) = &s.cost {
            usage["cost"] = serde_json::from_str(c).unwrap_or(Value::Null);
        }
        (reply, usage, body["model"].clone())
    };
    respond(reply, usage, model).await
}

async fn respond(mut reply: Reply, usage: Value, model: Value) -> Response {
    while let Reply::Slow(delay, then) = reply {
        tokio::time::sleep(delay).await;
        reply = *then;
    }
    let content = match reply {
        Reply::Vote {
            signal,
            confidence,
            reason,
        } => json!({"signal": signal, "confidence": confidence, "reason": reason}).to_string(),
        Reply::Content(c) => c,
        Reply::Body(b) => {
            return ([(header::CONTENT_TYPE, "application/json")], b).into_response();
        }
        Reply::Status { code, retry_after } => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({"error": {"message": "scripted error", "type": "server_error"}});
            let mut resp = (status, axum::Json(body)).into_response();
            if let Some(s) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, s.to_string().parse().unwrap());
            }
            return resp;
        }
        Reply::Slow(..) => unreachable!("unwrapped above"),
    };
    axum::Json(json!({
        "id": "chatcmpl-sim",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": usage,
    }))
    .into_response()
}
