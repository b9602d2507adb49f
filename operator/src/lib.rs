//! The Botfleet operator: reconciles each `TradingBot` into its engine's
//! workload (ConfigMap, StatefulSet, Service, ServiceAccount),
//! polls the engine's `/status`, enforces the phase gates, halts on breaches,
//! steps capital in Scaling, and reports everything in the bot's status.
//!
//! Reading order, from the entry point down:
//! - [`start`] starts the operator (with [`leader`] election when configured);
//!   [`controller`] runs the watches and calls [`reconcile`] per bot.
//! - [`reconcile`] does I/O only: read the bot, [`resolve`] its references,
//!   poll the engine ([`context`], [`engine_client`]), call [`decide`], then
//!   act: tell the engine, write the status ([`status`]), apply the children
//!   ([`children`], built by [`render`]), [`announce`] the transitions.
//! - [`decide`] is pure: [`halt`] → [`gate`] (the phase) → [`capital`] →
//!   [`conditions`] (the new status), over the types in [`decisions`].
//! - [`finalizer`] stops a deleted bot's engine; [`metrics`] and
//!   [`telemetry`] are what the operator exports.
//!
//! Names shared with the engine and the plugin (labels, annotations,
//! condition types and reasons, the halting limits) live in `botfleet_crds`.

pub mod admission;
pub mod announce;
pub mod approver;
pub mod capital;
pub mod child_conflict;
pub mod children;
pub mod conditions;
pub mod config;
pub mod context;
pub mod controller;
pub mod decide;
pub mod decisions;
pub mod endpoints;
pub mod engine_client;
pub mod engine_peers;
pub mod error;
pub mod finalizer;
pub mod fresh;
pub mod gate;
pub mod halt;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod network_policy;
pub mod pod_security;
pub mod reconcile;
pub mod render;
pub mod resolve;
pub mod signing;
pub mod start;
pub mod status;
pub mod telemetry;
pub mod webhook;
pub mod webhook_tls;

pub use config::OperatorConfig;
pub use error::{Error, Result};
pub use metrics::Metrics;
pub use start::run;

/// Selects rustls' ring provider for the whole process. Both ring (kube)
/// and aws-lc-rs (reqwest) may be compiled in, and rustls then refuses to
/// guess; call this before creating any client. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = botfleet_crds::labels::MANAGED_BY;
