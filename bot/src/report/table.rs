//! The summary printed to the terminal after a backtest.

use std::fmt::Write;

use super::{BacktestReport, money};
use crate::market_data::format_millis;

fn opt(v: Option<f64>, dp: usize) -> String {
    v.map_or_else(|| "n/a".to_string(), |x| format!("{x:.dp$}"))
}

/// The summary rows shared by the terminal table and the HTML page: the run,
/// then overall results, then risk.
pub fn summary_rows(r: &BacktestReport) -> Vec<(&'static str, String)> {
    let o = &r.performance.overall;
    let counts = |c: &[super::LimitCount]| {
        c.iter()
            .map(|c| format!("{} {}", c.limit, c.count))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let refusals: u64 = r.risk.refusals.iter().map(|c| c.count).sum();
    let mut refused = refusals.to_string();
    if !r.risk.refusals.is_empty() {
        let _ = write!(refused, " ({})", counts(&r.risk.refusals));
    }
    let mut rows = vec![
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
        ("entries refused", refused),
    ];
    if let Some(last) = r.allocations.last() {
        let net: crate::domain::Money = r.allocations.iter().map(|t| t.amount).sum();
        let mut text = format!(
            "{} transfers, net {}; allocated {} since {}",
            r.allocations.len(),
            money(net),
            money(last.capital_after),
            format_millis(last.at)
        );
        if !last.shortfall.is_zero() {
            let _ = write!(text, " ({} still to move out)", money(last.shortfall));
        }
        rows.insert(7, ("capital transfers", text));
    }
    if !r.risk.forced_exits.is_empty() {
        rows.push(("stops hit", counts(&r.risk.forced_exits)));
    }
    if !r.risk.pauses.is_empty() {
        rows.push(("pauses", counts(&r.risk.pauses)));
    }
    rows.push((
        "halted",
        r.risk.halt.as_ref().map_or_else(
            || "no".to_string(),
            |h| format!("at {}: {}", format_millis(h.at), h.reason),
        ),
    ));
    rows
}

/// The summary as a two-column terminal table.
pub fn render_summary_table(r: &BacktestReport) -> String {
    let rows = summary_rows(r);
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
