//! The summary printed to the terminal after a backtest.

use std::fmt::Write;

use super::{BacktestReport, money};
use crate::market_data::format_millis;

fn opt(v: Option<f64>, dp: usize) -> String {
    v.map_or_else(|| "n/a".to_string(), |x| format!("{x:.dp$}"))
}

/// A two-column table: the run, then overall results, then risk.
pub fn render_summary_table(r: &BacktestReport) -> String {
    let o = &r.performance.overall;
    let mut rows: Vec<(&str, String)> = vec![
        ("bot", r.bot.clone()),
        ("strategy", r.strategy.clone()),
        (
            "risk policy",
            format!("{} (limits of phase {})", r.risk_policy, r.phase),
        ),
        ("symbols", r.symbols.join(", ")),
        ("data", r.data.clone()),
        (
            "period",
            format!(
                "{} → {} ({} candles, {})",
                format_millis(r.from),
                format_millis(r.to),
                r.candles,
                r.timeframe
            ),
        ),
        ("capital", money(r.capital)),
        ("final equity", money(o.equity)),
        (
            "net P&L",
            format!(
                "{} (fees {})",
                money(o.net_pnl),
                money(r.balances.fees_paid)
            ),
        ),
        ("return", format!("{:.2} %", o.return_pct)),
        ("max drawdown", format!("{:.2} %", o.max_drawdown_pct)),
        (
            "sharpe / sortino",
            format!("{} / {}", opt(o.sharpe, 2), opt(o.sortino, 2)),
        ),
        (
            "trades",
            format!("{} ({} won, {} lost)", o.trades, o.wins, o.losses),
        ),
        (
            "win rate",
            o.win_rate_pct
                .map_or_else(|| "n/a (no trades)".to_string(), |w| format!("{w:.1} %")),
        ),
        ("profit factor", opt(o.profit_factor, 2)),
        ("exposure", format!("{:.1} %", o.exposure_pct)),
        ("open positions", r.balances.open_positions.to_string()),
    ];
    let refusals: u64 = r.risk.refusals.iter().map(|c| c.count).sum();
    let mut refused = format!("{refusals}");
    if !r.risk.refusals.is_empty() {
        let parts: Vec<String> = r
            .risk
            .refusals
            .iter()
            .map(|c| format!("{} {}", c.limit, c.count))
            .collect();
        let _ = write!(refused, " ({})", parts.join(", "));
    }
    rows.push(("entries refused", refused));
    if !r.risk.forced_exits.is_empty() {
        let parts: Vec<String> = r
            .risk
            .forced_exits
            .iter()
            .map(|c| format!("{} {}", c.limit, c.count))
            .collect();
        rows.push(("stops hit", parts.join(", ")));
    }
    if !r.risk.pauses.is_empty() {
        let parts: Vec<String> = r
            .risk
            .pauses
            .iter()
            .map(|c| format!("{} {}", c.limit, c.count))
            .collect();
        rows.push(("pauses", parts.join(", ")));
    }
    rows.push((
        "halted",
        r.risk.halt.as_ref().map_or_else(
            || "no".to_string(),
            |h| format!("at {}: {}", format_millis(h.at), h.reason),
        ),
    ));

    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(out, "Backtest of {}", r.bot);
    let _ = writeln!(out, "{}", "─".repeat(width + 40));
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<width$}  {v}");
    }
    out
}
