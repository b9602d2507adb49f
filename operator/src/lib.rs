//! The Botfleet operator: reconciles each `TradingBot` into its engine's
//! workload (ConfigMap, StatefulSet, Service, ServiceAccount, token Secret),
//! polls the engine's `/status`, enforces the phase gates, halts on breaches,
//! steps capital in Scaling, and reports everything in the bot's status.
//!
//! The pure decisions live in [`gate`], [`halt`] and [`capital`]; [`render`]
//! builds the child objects; [`reconcile`] ties them to the cluster;
//! [`run`] starts the whole controller (with leader election).

pub mod announce;
pub mod capital;
pub mod children;
pub mod conditions;
pub mod config;
pub mod context;
pub mod controller;
pub mod engine_client;
pub mod error;
pub mod finalizer;
pub mod gate;
pub mod halt;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod render;
pub mod resolve;
pub mod status;
pub mod telemetry;
pub mod token;

pub use config::OperatorConfig;
pub use controller::run;
pub use error::{Error, Result};
pub use metrics::Metrics;

/// Selects rustls' ring provider for the whole process. Both ring (kube)
/// and aws-lc-rs (reqwest) may be compiled in, and rustls then refuses to
/// guess; call this before creating any client. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "botfleet-operator";
/// The finalizer the operator puts on every TradingBot.
pub const FINALIZER: &str = "botfleet.dev/engine-shutdown";
/// Annotation a user sets to the current halt id to resume a halted bot.
pub const RESUME_ANNOTATION: &str = "botfleet.dev/resume";
/// Annotation holding the Scaling capital period the operator measures.
pub const CAPITAL_PERIOD_ANNOTATION: &str = "botfleet.dev/capital-period";
/// Pod-template annotation: hash of the rendered engine config.
pub const CONFIG_HASH_ANNOTATION: &str = "botfleet.dev/config-hash";
/// Label naming the bot a child object belongs to.
pub const BOT_LABEL: &str = "botfleet.dev/bot";
