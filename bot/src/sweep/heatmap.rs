//! `sweep.html`: the out-of-sample score of every set as a heatmap (two
//! swept fields: rows × columns; otherwise one row per set), the walk-forward
//! steps, self-contained like `report.html`.

use std::fmt::Write;

use super::SweepResult;
use crate::market_data::format_millis;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Red for losses, green for gains, white at 0, saturating at `scale` %.
fn color(pct: f64, scale: f64) -> String {
    let f = (pct / scale.max(1e-9)).clamp(-1.0, 1.0);
    let (r, g, b) = if f >= 0.0 {
        (255.0 * (1.0 - f), 255.0 - 80.0 * f, 255.0 * (1.0 - f))
    } else {
        (255.0 + 0.0 * f, 255.0 * (1.0 + f), 255.0 * (1.0 + f))
    };
    format!("rgb({:.0},{:.0},{:.0})", r, g, b)
}

pub fn render_heatmap(r: &SweepResult, title: &str) -> String {
    let mut h = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sweep: {t}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}\
         td,th{{padding:3px 8px;border:1px solid #ddd;text-align:right}}</style></head><body>\
         <h1>Sweep: {t}</h1><p>{n} parameter sets, {w} walk-forward windows; cell = compounded return (%) \
         over the test windows (out of sample). Walk-forward (each train window's winner on the next \
         test window): <b>{wf:.2} %</b>.</p>",
        t = esc(title),
        n = r.sets.len(),
        w = r.windows.len(),
        wf = r.walk_forward_pct
    );
    let scale = r
        .sets
        .iter()
        .map(|s| s.out_of_sample_pct.abs())
        .fold(0.0, f64::max);
    let two_fields = r.sets.first().is_some_and(|s| s.params.len() == 2);
    if two_fields {
        let mut rows: Vec<String> = Vec::new();
        let mut cols: Vec<String> = Vec::new();
        for s in &r.sets {
            let (a, b) = (s.params[0].1.to_string(), s.params[1].1.to_string());
            if !rows.contains(&a) {
                rows.push(a);
            }
            if !cols.contains(&b) {
                cols.push(b);
            }
        }
        let num = |v: &String| v.parse::<f64>().unwrap_or(f64::NAN);
        rows.sort_by(|x, y| num(x).total_cmp(&num(y)));
        cols.sort_by(|x, y| num(x).total_cmp(&num(y)));
        let keys: Vec<(String, String)> = r
            .sets
            .iter()
            .map(|s| (s.params[0].1.to_string(), s.params[1].1.to_string()))
            .collect();
        let cells: std::collections::HashMap<(&str, &str), &super::SetResult> = keys
            .iter()
            .zip(&r.sets)
            .map(|((a, b), s)| ((a.as_str(), b.as_str()), s))
            .collect();
        let names = &r.sets[0].params;
        let _ = write!(
            h,
            "<table><tr><th>{} ↓ / {} →</th>",
            esc(&names[0].0),
            esc(&names[1].0)
        );
        for c in &cols {
            let _ = write!(h, "<th>{}</th>", esc(c));
        }
        h.push_str("</tr>");
        for row in &rows {
            let _ = write!(h, "<tr><th>{}</th>", esc(row));
            for c in &cols {
                match cells.get(&(row.as_str(), c.as_str())) {
                    Some(s) => {
                        let _ = write!(
                            h,
                            "<td style=\"background:{}\" title=\"{} trades, won {} train windows\">{:.2}</td>",
                            color(s.out_of_sample_pct, scale),
                            s.trades,
                            s.wins,
                            s.out_of_sample_pct
                        );
                    }
                    None => h.push_str("<td></td>"),
                }
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    } else {
        h.push_str("<table><tr><th>parameters</th><th>out of sample %</th></tr>");
        for s in &r.sets {
            let _ = write!(
                h,
                "<tr><td>{}</td><td style=\"background:{}\">{:.2}</td></tr>",
                esc(&super::label(&s.params)),
                color(s.out_of_sample_pct, scale),
                s.out_of_sample_pct
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Walk-forward steps</h2><table><tr><th>train</th><th>test</th><th>winner</th><th>test return %</th></tr>");
    for (w, (winner, ret)) in r.windows.iter().zip(&r.steps) {
        let _ = write!(
            h,
            "<tr><td>{} → {}</td><td>{} → {}</td><td>{}</td><td>{ret:.2}</td></tr>",
            format_millis(w.train.0),
            format_millis(w.train.1),
            format_millis(w.test.0),
            format_millis(w.test.1),
            esc(winner)
        );
    }
    h.push_str("</table></body></html>");
    h
}
