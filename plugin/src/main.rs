//! `kubectl-botfleet`: the kubectl plugin of Botfleet (`kubectl botfleet ...`).
//!
//! Reads a bot's status as a table (gate, limits, capital, halt) and changes
//! a bot only the way the operator documents: promotion and demotion edit
//! `spec.phase`, halt sets `spec.halted`, resume sets the
//! `botfleet.dev/resume` annotation to the current halt id. `backtest` runs
//! the engine's backtest in-process, no cluster needed.

mod approve;
mod backtest;
mod cluster;
mod commands;
mod error;
mod status_view;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::PluginError;

#[derive(Parser)]
#[command(
    name = "kubectl-botfleet",
    bin_name = "kubectl botfleet",
    version,
    about = "Inspect and steer Botfleet trading bots (TradingBot resources)"
)]
struct Cli {
    /// Namespace of the bot (default: the kubeconfig context's namespace).
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, global = true, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Table)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Readable terminal tables.
    Table,
    /// One JSON document on stdout (errors stay on stderr).
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Phase, target, state, the gate table, limits used vs allowed, capital and halt.
    Status {
        /// TradingBot name.
        name: String,
    },
    /// Request the next phase (spec.phase = effective phase + 1). Refused
    /// without patching when the measured gate is not met.
    Promote {
        /// TradingBot name.
        name: String,
        /// Request the promotion even though the gate is not met yet (the
        /// operator keeps the bot where it is until it is, and reports
        /// PromotionBlocked).
        #[arg(long)]
        force: bool,
    },
    /// Lower spec.phase to PHASE (immediate).
    Demote {
        /// TradingBot name.
        name: String,
        /// Paper, Sandbox or LimitedReal (below the effective phase).
        phase: botfleet_crds::Phase,
    },
    /// Pull the kill switch: spec.halted = true.
    Halt {
        /// TradingBot name.
        name: String,
    },
    /// Resume a halted bot with its current halt id (and release the kill switch).
    Resume {
        /// TradingBot name.
        name: String,
    },
    /// Approve the bot's entry into a real-money phase: shows the gate
    /// table, config hash and limits it approves, then creates a
    /// PhaseApproval (after `y` at the prompt, or with --yes).
    Approve {
        /// TradingBot name.
        name: String,
        /// LimitedReal or Scaling (default: the bot's next phase).
        #[arg(long)]
        phase: Option<botfleet_crds::Phase>,
        /// How long the approval stays valid, e.g. 30m, 24h.
        #[arg(long, default_value = "24h", value_parser = parse_valid_for)]
        expires: std::time::Duration,
        /// Create without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Backtest the manifests locally with the engine (no cluster needed).
    Backtest(Box<botfleet_bot::backtest::BacktestArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = cli.output;
    let result = match cli.command {
        Command::Backtest(args) => backtest::run(*args, output),
        command => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(run_cluster(command, cli.namespace, cli.kubeconfig, output)),
            Err(e) => Err(PluginError::Other(e.into())),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

async fn run_cluster(
    command: Command,
    namespace: Option<String>,
    kubeconfig: Option<PathBuf>,
    output: Output,
) -> Result<(), PluginError> {
    // Both ring (kube) and aws-lc-rs (the engine's reqwest) are linked; rustls
    // refuses to guess, so pick ring before any client exists.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ctx = cluster::Cluster::connect(kubeconfig.as_deref(), namespace).await?;
    match command {
        Command::Status { name } => commands::status(&ctx, &name, output).await,
        Command::Promote { name, force } => commands::promote(&ctx, &name, force, output).await,
        Command::Demote { name, phase } => commands::demote(&ctx, &name, phase, output).await,
        Command::Halt { name } => commands::halt(&ctx, &name, output).await,
        Command::Resume { name } => commands::resume(&ctx, &name, output).await,
        Command::Approve {
            name,
            phase,
            expires,
            yes,
        } => approve::approve(&ctx, &name, phase, expires, yes, output).await,
        Command::Backtest(_) => unreachable!("handled without a cluster"),
    }
}

/// `30m`, `24h`, `7d`: how long an approval stays valid.
fn parse_valid_for(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 30m, 24h or 7d"))?;
    let secs = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: use a unit of m, h or d, e.g. 24h")),
    };
    if n == 0 {
        return Err("an approval must stay valid for some time, e.g. 24h".into());
    }
    Ok(std::time::Duration::from_secs(n * secs))
}
