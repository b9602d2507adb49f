//! `backtest`: the engine's own backtest (`botfleet_bot::backtest`), run
//! in-process on the same manifests a user applies — the same code as
//! `botfleet-bot backtest`, so both print the same report.

use botfleet_bot::backtest::BacktestArgs;

use crate::Output;
use crate::error::PluginError;

pub fn run(args: BacktestArgs, output: Output) -> Result<(), PluginError> {
    let outcome = args.execute(output == Output::Table)?;
    match output {
        Output::Json => {
            let text =
                serde_json::to_string_pretty(&outcome.report).map_err(anyhow::Error::from)?;
            println!("{text}");
        }
        Output::Table => {
            print!(
                "{}",
                botfleet_bot::report::render_summary_table(&outcome.report)
            );
            println!(
                "report: {} and {}",
                outcome.json_path.display(),
                outcome.html_path.display()
            );
        }
    }
    Ok(())
}
