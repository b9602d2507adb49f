//! Inline SVG charts for `report.html`: lines over time, with a legend and
//! optional markers (trade entries and exits on the price chart).

use std::fmt::Write;

use crate::market_data::format_millis;

const W: f64 = 900.0;
const H: f64 = 240.0;
const PAD: f64 = 40.0;

/// One line of a chart.
pub(super) struct Line<'a> {
    pub label: &'a str,
    pub color: &'a str,
    pub points: Vec<(i64, f64)>,
}

/// A point marked on a chart: a triangle up (entry) or down (exit).
pub(super) struct Marker {
    pub time: i64,
    pub value: f64,
    pub up: bool,
}

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG chart of `lines` sharing one time and value axis, min/max labels
/// with `decimals` places; `invert` puts low values on top (drawdown).
pub(super) fn chart(
    title: &str,
    lines: &[Line],
    markers: &[Marker],
    decimals: usize,
    invert: bool,
) -> String {
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title)
    );
    let finite = |l: &Line| -> Vec<(i64, f64)> {
        l.points
            .iter()
            .copied()
            .filter(|(_, v)| v.is_finite())
            .collect()
    };
    let all: Vec<(i64, f64)> = lines.iter().flat_map(finite).collect();
    if all.len() < 2 {
        svg.push_str("<text x=\"10\" y=\"20\">not enough data</text></svg></figure>");
        return svg;
    }
    let t0 = all.iter().map(|p| p.0).min().unwrap_or(0) as f64;
    let t1 = all.iter().map(|p| p.0).max().unwrap_or(0) as f64;
    let lo = all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = all.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let span_t = (t1 - t0).max(1.0);
    let span_v = if hi > lo { hi - lo } else { 1.0 };
    let x = |t: i64| PAD + (t as f64 - t0) / span_t * (W - 2.0 * PAD);
    let y = |v: f64| {
        let f = (v - lo) / span_v;
        let f = if invert { f } else { 1.0 - f };
        24.0 + f * (H - 54.0)
    };
    for (n, line) in lines.iter().enumerate() {
        let mut path = String::new();
        for (i, (t, v)) in finite(line).iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            let _ = write!(path, "{sep}{:.1},{:.1}", x(*t), y(*v));
        }
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\" points=\"{path}\"/>\
             <rect x=\"{lx:.0}\" y=\"6\" width=\"12\" height=\"3\" fill=\"{c}\"/>\
             <text x=\"{tx:.0}\" y=\"12\" class=\"axis\">{label}</text>",
            c = line.color,
            lx = PAD + n as f64 * 220.0,
            tx = PAD + 16.0 + n as f64 * 220.0,
            label = esc(line.label),
        );
    }
    for m in markers {
        let (cx, cy) = (x(m.time), y(m.value));
        let (points, color) = if m.up {
            (
                format!(
                    "{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                    cx,
                    cy,
                    cx - 4.0,
                    cy + 7.0,
                    cx + 4.0,
                    cy + 7.0
                ),
                "#2ca02c",
            )
        } else {
            (
                format!(
                    "{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                    cx,
                    cy,
                    cx - 4.0,
                    cy - 7.0,
                    cx + 4.0,
                    cy - 7.0
                ),
                "#d62728",
            )
        };
        let _ = write!(
            svg,
            "<polygon points=\"{points}\" fill=\"{color}\" opacity=\"0.8\"/>"
        );
    }
    let _ = write!(
        svg,
        "<text x=\"2\" y=\"{:.1}\" class=\"axis\">{hi:.decimals$}</text>\
         <text x=\"2\" y=\"{:.1}\" class=\"axis\">{lo:.decimals$}</text>\
         <text x=\"{PAD}\" y=\"{:.1}\" class=\"axis\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{}</text></svg></figure>",
        y(if invert { lo } else { hi }) + 4.0,
        y(if invert { hi } else { lo }) + 4.0,
        H - 8.0,
        format_millis(t0 as i64),
        W - PAD,
        H - 8.0,
        format_millis(t1 as i64),
    );
    svg
}
