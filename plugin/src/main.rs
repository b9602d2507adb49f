//! `kubectl-botfleet`: the kubectl plugin of Botfleet (`kubectl botfleet ...`).
//!
//! Reads a bot's status as a table (gate, limits, capital, halt) and changes
//! a bot only the way the operator documents: promotion and demotion edit
//! `spec.phase`, halt sets `spec.halted`, resume sets the
//! `botfleet.dev/resume` annotation to the current halt id. `backtest` runs
//! the engine's backtest in-process, no cluster needed.

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
    /// Backtest the manifests locally with the engine (no cluster needed).
    Backtest(botfleet_bot::backtest::BacktestArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = cli.output;
    let result = match cli.command {
        Command::Backtest(args) => backtest::run(args, output),
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
        Command::Backtest(_) => unreachable!("handled without a cluster"),
    }
}
