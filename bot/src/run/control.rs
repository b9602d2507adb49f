//! Control actions (halt, resume, cancel-all). HTTP handlers send them over a
//! channel into the trading loop, which applies them *between* candles,
//! stores the result (canceled orders, the audit record, the halt latch in
//! the engine snapshot) in one step, and only then answers: a 200 means the
//! action is durable.

use botfleet_crds::engine_api::{HaltRequest, ResumeRequest};
use serde_json::json;
use tokio::sync::oneshot;

use super::persist::StepBuilder;
use crate::domain::OrderStatus;
use crate::engine::{Engine, EngineEvent};
use crate::store::PhaseEvent;

/// What a caller asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Halt(HaltRequest),
    Resume(ResumeRequest),
    CancelAll,
}

impl Command {
    /// For metrics and logs.
    pub fn action(&self) -> &'static str {
        match self {
            Command::Halt(_) => "halt",
            Command::Resume(_) => "resume",
            Command::CancelAll => "cancel-all",
        }
    }
}

/// The loop's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Applied and stored; the JSON body.
    Done(serde_json::Value),
    /// Refused as asked (a stale halt id, nothing halted): 409.
    Conflict(String),
    /// Could not be applied or stored (shutting down, store down): 503.
    Unavailable(String),
}

/// A command with where to answer.
pub struct Request {
    pub command: Command,
    pub reply: oneshot::Sender<Reply>,
}

/// What applying a command came to.
pub enum Applied {
    /// The engine changed: commit the step, then answer with this body.
    Commit(serde_json::Value),
    /// Refused as asked, nothing changed: answer 409 at once.
    Refused(String),
    /// The engine could not apply it: answer 503.
    Failed(String),
}

/// Applies `command` to the engine at `now`, recording its events and the
/// audit record in `step`.
pub fn apply(engine: &mut Engine, command: &Command, now: i64, step: &mut StepBuilder) -> Applied {
    match command {
        Command::Halt(request) => {
            let already = engine.risk().halted().cloned();
            let halt = match engine.halt_with_id(
                now,
                &request.reason,
                request.flatten,
                request.halt_id.as_deref(),
            ) {
                Ok(h) => h,
                Err(e) => return Applied::Failed(format!("could not halt: {e}")),
            };
            if request.flatten {
                // Stored with the latch (also onto an existing halt), so the
                // flatten is retried until the book is flat, across restarts
                // (`super::flatten`).
                engine.risk.flatten_on_halt();
                // A halt in force already acted (it only canceled): close now.
                super::flatten::retry(engine, now);
            }
            let flatten_pending = super::flatten::pending(engine);
            let events = engine.drain_events();
            let canceled = canceled(&events);
            let exits = events
                .iter()
                .filter(|e| matches!(e, EngineEvent::OrderSubmitted { .. }))
                .count();
            step.events(events, now);
            let body = json!({
                "haltId": halt.id,
                "reason": halt.reason,
                "at": super::status::rfc3339(halt.at),
                "alreadyHalted": already.is_some(),
                "canceledOrders": canceled,
                "flattenOrders": exits,
                "flattenPending": flatten_pending,
            });
            let mut audit = body.clone();
            audit["requestedReason"] = json!(request.reason);
            audit["flatten"] = json!(request.flatten);
            step.control(now, "halt", audit);
            Applied::Commit(body)
        }
        Command::Resume(request) => match engine.resume(&request.halt_id) {
            Ok(halt) => {
                // The contract: a resume starts a new phase window, so the
                // gates measure only what happened since.
                if let Err(e) = engine.start_phase(now) {
                    tracing::error!(error = %e, "resumed, but the new phase window could not start");
                }
                step.events(engine.drain_events(), now);
                let phase = engine.config().phase.as_str().to_string();
                step.phase_event(PhaseEvent {
                    from: Some(phase.clone()),
                    to: phase,
                    at: now,
                    reason: format!("resumed from halt {}: a new phase window starts", halt.id),
                });
                let body = json!({
                    "haltId": halt.id,
                    "resumed": true,
                    "phaseStartedAt": super::status::rfc3339(now),
                });
                step.control(
                    now,
                    "resume",
                    json!({"haltId": halt.id, "reason": halt.reason}),
                );
                Applied::Commit(body)
            }
            Err(e) => Applied::Refused(e.to_string()),
        },
        Command::CancelAll => {
            let n = engine.cancel_all();
            step.events(engine.drain_events(), now);
            step.control(now, "cancel-all", json!({"canceledOrders": n}));
            Applied::Commit(json!({"canceledOrders": n}))
        }
    }
}

fn canceled(events: &[EngineEvent]) -> usize {
    events
        .iter()
        .filter(|e| {
            matches!(
                e,
                EngineEvent::OrderClosed {
                    status: OrderStatus::Canceled,
                    ..
                }
            )
        })
        .count()
}
