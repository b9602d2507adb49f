//! `report.html`: one self-contained page (inline CSS and SVG, no scripts),
//! so it opens from disk, from CI artifacts, or attached to an email.

use std::fmt::Write;

use super::BacktestReport;
use crate::market_data::format_millis;

/// Trades listed in the page; the JSON report always has all of them.
const MAX_TRADE_ROWS: usize = 1_000;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG polyline chart of `(time, value)` points, with min/max labels.
fn line_chart(points: &[(i64, f64)], title: &str, color: &str, invert: bool) -> String {
    const W: f64 = 900.0;
    const H: f64 = 220.0;
    const PAD: f64 = 40.0;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title)
    );
    let finite: Vec<(i64, f64)> = points
        .iter()
        .copied()
        .filter(|(_, v)| v.is_finite())
        .collect();
    if finite.len() < 2 {
        svg.push_str("<text x=\"10\" y=\"20\">not enough data</text></svg></figure>");
        return svg;
    }
    let (t0, t1) = (finite[0].0 as f64, finite[finite.len() - 1].0 as f64);
    let lo = finite.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = finite.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let span_t = (t1 - t0).max(1.0);
    let span_v = if hi > lo { hi - lo } else { 1.0 };
    let x = |t: i64| PAD + (t as f64 - t0) / span_t * (W - 2.0 * PAD);
    let y = |v: f64| {
        let f = (v - lo) / span_v;
        let f = if invert { f } else { 1.0 - f };
        10.0 + f * (H - 40.0)
    };
    let mut path = String::new();
    for (i, (t, v)) in finite.iter().enumerate() {
        let _ = write!(
            path,
            "{}{:.1},{:.1}",
            if i == 0 { "" } else { " " },
            x(*t),
            y(*v)
        );
    }
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{path}\"/>\
         <text x=\"2\" y=\"{:.1}\" class=\"axis\">{hi:.2}</text>\
         <text x=\"2\" y=\"{:.1}\" class=\"axis\">{lo:.2}</text>\
         <text x=\"{PAD}\" y=\"{:.1}\" class=\"axis\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{}</text></svg></figure>",
        y(if invert { lo } else { hi }) + 4.0,
        y(if invert { hi } else { lo }) + 4.0,
        H - 8.0,
        format_millis(finite[0].0),
        W - PAD,
        H - 8.0,
        format_millis(finite[finite.len() - 1].0),
    );
    svg
}

/// Renders the whole page.
pub fn render_html(r: &BacktestReport) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Backtest: {bot}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse}}td,th{{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}}\
         td:first-child,th:first-child{{text-align:left}}.axis{{font-size:11px;fill:#666}}\
         .warn{{background:#fff3cd;padding:6px 10px;border:1px solid #e0c060}}\
         figure{{margin:1em 0}}svg{{width:100%;max-width:900px;border:1px solid #eee}}\
         </style></head><body><h1>Backtest: {bot}</h1>",
        bot = esc(&r.bot)
    );
    if r.synthetic_data {
        let _ = write!(
            h,
            "<p class=\"warn\">Synthetic data: {}. Results say nothing about real markets.</p>",
            esc(&r.data)
        );
    }
    let rows = super::table::summary_rows(r);
    h.push_str("<h2>Summary</h2><table>");
    for (k, v) in rows {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(&v));
    }
    h.push_str("</table>");

    let equity: Vec<(i64, f64)> = r
        .equity_curve
        .iter()
        .map(|(t, m)| (*t, m.to_f64()))
        .collect();
    h.push_str("<h2>Equity</h2>");
    h.push_str(&line_chart(
        &equity,
        "Equity (quote currency)",
        "#1f77b4",
        false,
    ));
    h.push_str("<h2>Drawdown</h2>");
    h.push_str(&line_chart(
        &r.drawdown_curve,
        "Drawdown from peak (%)",
        "#d62728",
        true,
    ));

    if !r.allocations.is_empty() {
        // Transfers are not P&L: the return above is time-weighted across them.
        h.push_str(
            "<h2>Capital allocations</h2><table><tr><th>At</th><th>Amount</th>\
             <th>Capital after</th><th>Still to move out</th></tr>",
        );
        for t in &r.allocations {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                format_millis(t.at),
                super::money(t.amount),
                super::money(t.capital_after),
                super::money(t.shortfall)
            );
        }
        h.push_str("</table>");
    }
    if !r.llm_members.is_empty() {
        h.push_str(
            "<h2>Model members</h2><table><tr><th>Member</th><th>Model</th><th>Buy</th>\
             <th>Sell</th><th>Hold</th><th>Abstained</th><th>Hit rate</th><th>Tokens</th></tr>",
        );
        for m in &r.llm_members {
            let abstained: Vec<String> = m
                .abstentions
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m.name),
                esc(&m.model),
                m.buy,
                m.sell,
                m.hold,
                esc(&if abstained.is_empty() {
                    "0".to_string()
                } else {
                    abstained.join(", ")
                }),
                m.hit_rate.map_or("n/a".to_string(), |r| format!(
                    "{:.1}% of {}",
                    r * 100.0,
                    m.scored_votes
                )),
                m.tokens
            );
        }
        h.push_str("</table>");
    }
    let _ = write!(h, "<h2>Trades ({})</h2>", r.trades.len());
    if r.trades.len() > MAX_TRADE_ROWS {
        let _ = write!(
            h,
            "<p>The first {MAX_TRADE_ROWS} are listed; report.json has all.</p>"
        );
    }
    h.push_str(
        "<table><tr><th>#</th><th>Symbol</th><th>Opened</th><th>Closed</th><th>Quantity</th>\
         <th>Entry</th><th>Exit</th><th>Fees</th><th>P&amp;L</th></tr>",
    );
    for (i, t) in r.trades.iter().take(MAX_TRADE_ROWS).enumerate() {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            esc(t.symbol.as_str()),
            format_millis(t.opened_at),
            format_millis(t.closed_at),
            t.quantity,
            t.entry_price,
            t.exit_price,
            t.fees,
            t.pnl
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<p><small>input hash {}</small></p></body></html>",
        esc(&r.input_hash)
    );
    h
}
