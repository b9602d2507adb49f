//! `report.html`: one self-contained page (inline CSS and SVG, no scripts),
//! so it opens from disk, from CI artifacts, or attached to an email.

use std::fmt::Write;

use super::charts::{Line, Marker, chart, esc};
use super::{BacktestReport, money, price, quantity};
use crate::market_data::format_millis;

/// Trades listed in the page; the JSON report always has all of them.
const MAX_TRADE_ROWS: usize = 5_000;
/// Trades per page of the trade list (a `<details>` each: no scripts).
const TRADES_PER_PAGE: usize = 100;
/// Entries and exits marked on the price chart (beyond this, the marks
/// would cover the line; the trade list has every one).
const MAX_MARKED_TRADES: usize = 300;

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
         .neg{{color:#b00020}}.pos{{color:#1b5e20}}summary{{cursor:pointer;margin:.3em 0}}\
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

    h.push_str(&equity_chart(r));
    h.push_str("<h2>Drawdown</h2>");
    h.push_str(&chart(
        "Drawdown from peak (%)",
        &[Line {
            label: "drawdown %",
            color: "#d62728",
            points: r.drawdown_curve.clone(),
        }],
        &[],
        2,
        true,
    ));
    h.push_str(&price_chart(r));
    h.push_str(&monthly_table(r));

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
    h.push_str(&trade_list(r));
    let _ = write!(
        h,
        "<p><small>input hash {}</small></p></body></html>",
        esc(&r.input_hash)
    );
    h
}

/// Equity and, on the same axis, buying the first symbol with the whole
/// capital at the first close and holding it.
fn equity_chart(r: &BacktestReport) -> String {
    let equity: Vec<(i64, f64)> = r
        .equity_curve
        .iter()
        .map(|(t, m)| (*t, m.to_f64()))
        .collect();
    let mut lines = vec![Line {
        label: "equity",
        color: "#1f77b4",
        points: equity,
    }];
    let hold_label = format!(
        "buy & hold {}",
        r.symbols.first().map_or("", String::as_str)
    );
    if let Some((_, first)) = r.price_curve.first()
        && !first.is_zero()
    {
        let (capital, first) = (r.capital.to_f64(), first.to_f64());
        lines.push(Line {
            label: &hold_label,
            color: "#999999",
            points: r
                .price_curve
                .iter()
                .map(|(t, p)| (*t, capital * p.to_f64() / first))
                .collect(),
        });
    }
    format!(
        "<h2>Equity</h2>{}",
        chart("Equity (quote currency)", &lines, &[], 2, false)
    )
}

/// The first symbol's closes with each trade's entry (▲) and exit (▼).
fn price_chart(r: &BacktestReport) -> String {
    let Some(symbol) = r.symbols.first() else {
        return String::new();
    };
    let trades: Vec<_> = r
        .trades
        .iter()
        .filter(|t| t.symbol.as_str() == symbol)
        .collect();
    let mut markers = Vec::new();
    if trades.len() <= MAX_MARKED_TRADES {
        for t in &trades {
            markers.push(Marker {
                time: t.opened_at,
                value: t.entry_price.to_f64(),
                up: true,
            });
            markers.push(Marker {
                time: t.closed_at,
                value: t.exit_price.to_f64(),
                up: false,
            });
        }
    }
    let mut h = format!("<h2>Price: {}</h2>", esc(symbol));
    if trades.len() > MAX_MARKED_TRADES {
        let _ = write!(
            h,
            "<p>{} trades are too many to mark; the trade list has each entry and exit.</p>",
            trades.len()
        );
    }
    h.push_str(&chart(
        &format!("{symbol} close, entries ▲ and exits ▼"),
        &[Line {
            label: "close",
            color: "#444444",
            points: r
                .price_curve
                .iter()
                .map(|(t, p)| (*t, p.to_f64()))
                .collect(),
        }],
        &markers,
        r.price_decimals as usize,
        false,
    ));
    h
}

/// Years down, months across, and the year's compounded return.
fn monthly_table(r: &BacktestReport) -> String {
    if r.monthly_returns.is_empty() {
        return String::new();
    }
    let mut h = String::from("<h2>Monthly returns (%)</h2><table><tr><th>Year</th>");
    for m in [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ] {
        let _ = write!(h, "<th>{m}</th>");
    }
    h.push_str("<th>Year</th></tr>");
    let mut years: Vec<i32> = r.monthly_returns.iter().map(|m| m.year).collect();
    years.dedup();
    for year in years {
        let _ = write!(h, "<tr><td>{year}</td>");
        let mut compounded = 1.0;
        for month in 1..=12 {
            match r
                .monthly_returns
                .iter()
                .find(|m| m.year == year && m.month == month)
            {
                Some(m) => {
                    compounded *= 1.0 + m.return_pct / 100.0;
                    let class = if m.return_pct < 0.0 { "neg" } else { "pos" };
                    let _ = write!(h, "<td class=\"{class}\">{:.2}</td>", m.return_pct);
                }
                None => h.push_str("<td></td>"),
            }
        }
        let _ = write!(h, "<td><b>{:.2}</b></td></tr>", (compounded - 1.0) * 100.0);
    }
    h.push_str("</table>");
    h
}

/// The trades in pages of [`TRADES_PER_PAGE`], money to the cent and prices
/// to the tick.
fn trade_list(r: &BacktestReport) -> String {
    let mut h = format!("<h2>Trades ({})</h2>", r.trades.len());
    if r.trades.len() > MAX_TRADE_ROWS {
        let _ = write!(
            h,
            "<p>The first {MAX_TRADE_ROWS} are listed; report.json has all.</p>"
        );
    }
    let shown = &r.trades[..r.trades.len().min(MAX_TRADE_ROWS)];
    for (page, chunk) in shown.chunks(TRADES_PER_PAGE).enumerate() {
        let first = page * TRADES_PER_PAGE;
        let _ = write!(
            h,
            "<details{}><summary>Trades {}–{}</summary>",
            if page == 0 { " open" } else { "" },
            first + 1,
            first + chunk.len()
        );
        h.push_str(
            "<table><tr><th>#</th><th>Symbol</th><th>Opened</th><th>Closed</th><th>Quantity</th>\
             <th>Entry</th><th>Exit</th><th>Fees</th><th>P&amp;L</th></tr>",
        );
        for (i, t) in chunk.iter().enumerate() {
            let class = if t.pnl.is_sign_negative() {
                "neg"
            } else {
                "pos"
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td></tr>",
                first + i + 1,
                esc(t.symbol.as_str()),
                format_millis(t.opened_at),
                format_millis(t.closed_at),
                quantity(t.quantity),
                price(t.entry_price, r.price_decimals),
                price(t.exit_price, r.price_decimals),
                money(t.fees),
                money(t.pnl)
            );
        }
        h.push_str("</table></details>");
    }
    h
}
