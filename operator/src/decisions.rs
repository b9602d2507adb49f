//! The data of one reconcile: what it observed ([`Observed`]) and what it
//! decided ([`Decisions`]). Types only, so the pure deciding modules and the
//! modules that act on a decision all stand on this one.

use botfleet_crds::engine_api::{EngineStatus, HaltRequest};
use botfleet_crds::phase_approval::ApproverRefusal;
use botfleet_crds::{
    HaltStatus, PhaseApproval, PhaseTransition, RiskPolicySpec, TradingBot, TradingBotStatus,
};
use k8s_openapi::jiff::Timestamp;

use crate::capital::CapitalOutcome;
use crate::config::OperatorConfig;
use crate::engine_client::EngineAddress;
use crate::gate::GateOutcome;
use crate::halt::HaltSource;

/// What happened to the engine this reconcile.
#[derive(Clone, Debug, Default)]
pub struct EngineView {
    /// Its `/status`, when it answered.
    pub status: Option<EngineStatus>,
    /// Why it did not answer.
    pub error: Option<String>,
    /// Polls failed in a row.
    pub failures: u32,
    /// Where it is (its pod's IP), once known.
    pub address: Option<EngineAddress>,
    /// The image its pod runs, by digest (`containerStatuses[].imageID`).
    pub image_id: Option<String>,
}

/// Everything one reconcile decides from.
pub struct Observed<'a> {
    /// The bot, read fresh.
    pub bot: &'a TradingBot,
    /// Its status before this reconcile.
    pub old: &'a TradingBotStatus,
    /// Its resolved RiskPolicy.
    pub policy: &'a RiskPolicySpec,
    /// The engine's answer.
    pub engine: &'a EngineView,
    /// The time of this reconcile.
    pub now: Timestamp,
    /// The operator's settings (the length of a day, the failure threshold).
    pub config: &'a OperatorConfig,
    /// The hash of what this bot should trade now (`crds::trading_hash`):
    /// a window measured under another hash earns no gate.
    pub trading_hash: &'a str,
    /// The PhaseApprovals in the bot's namespace that name it.
    pub approvals: &'a [std::sync::Arc<PhaseApproval>],
    /// Those whose approver, asked again just before the approval would be
    /// used ([`crate::decide::approvals_to_recheck`]), may no longer approve.
    pub approver_refusals: &'a [ApproverRefusal],
}

/// What the operator tells the engine, in order, before the status is written.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineCommand {
    /// Stop trading (a halt the engine does not report yet). A failure is
    /// logged and the next poll sends it again.
    Halt(HaltRequest),
    /// Lift the engine's halt `halt_id`. When `required`, a failure fails the
    /// reconcile before the status says resumed.
    Resume { halt_id: String, required: bool },
}

/// Everything one reconcile decided, for the engine, the status and the Events.
#[derive(Clone, Debug)]
pub struct Decisions {
    /// The halt latch after this reconcile.
    pub halt_status: Option<HaltStatus>,
    /// A halt latched by this reconcile.
    pub new_halt: Option<(HaltSource, HaltStatus)>,
    /// The halt id lifted by this reconcile.
    pub resumed: Option<String>,
    /// Why a resume annotation did nothing.
    pub stay_note: Option<String>,
    /// The phase decision.
    pub outcome: GateOutcome,
    /// The capital decision.
    pub cap: CapitalOutcome,
    /// Phase changes made.
    pub history: Vec<PhaseTransition>,
    /// The policy flattens on halt.
    pub flatten: bool,
    /// What to tell the engine, in order.
    pub engine_commands: Vec<EngineCommand>,
    /// The status to write.
    pub status: TradingBotStatus,
}
