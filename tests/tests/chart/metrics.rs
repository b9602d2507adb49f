//! The metric names the code exports, parsed from its source (nothing is started):
//! the operator registers full names as string literals in `operator/src/metrics.rs`;
//! the engine registers short names under the registry prefix of
//! `bot/src/run/metrics.rs`.

use std::collections::BTreeSet;

use crate::repo;

/// The string literal right after each occurrence of `marker` (whitespace skipped).
fn literals_after(source: &str, marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(marker) {
        rest = &rest[at + marker.len()..];
        let trimmed = rest.trim_start();
        if let Some(body) = trimmed.strip_prefix('"')
            && let Some(end) = body.find('"')
        {
            found.push(body[..end].to_string());
        }
    }
    found
}

fn is_metric_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Every series name the operator and the engine export, histogram series included.
pub fn exported() -> BTreeSet<String> {
    let read = |p: &str| {
        std::fs::read_to_string(repo().join(p)).unwrap_or_else(|e| panic!("reading {p}: {e}"))
    };
    let mut names = BTreeSet::new();

    let operator = read("operator/src/metrics.rs");
    let histograms = literals_after(&operator, "HistogramOpts::new(");
    for marker in [
        "IntCounter::new(",
        "IntGauge::new(",
        "HistogramOpts::new(",
        "&r,",
    ] {
        for name in literals_after(&operator, marker) {
            assert!(
                name.starts_with("botfleet_") && is_metric_name(&name),
                "operator/src/metrics.rs: `{name}` after `{marker}` is not a botfleet_ metric name"
            );
            names.insert(name);
        }
    }
    for h in histograms {
        for suffix in ["_bucket", "_sum", "_count"] {
            names.insert(format!("{h}{suffix}"));
        }
    }

    let engine = read("bot/src/run/metrics.rs");
    let prefix = literals_after(&engine, "Registry::new_custom(Some(");
    assert_eq!(
        prefix,
        ["botfleet_engine"],
        "bot/src/run/metrics.rs: expected one registry prefix"
    );
    for marker in ["gauge(", "int_gauge(", "counter(", "Opts::new("] {
        for name in literals_after(&engine, marker) {
            // `gauge(name, help)` closures take `name: &str`; only literals count.
            assert!(
                is_metric_name(&name),
                "bot/src/run/metrics.rs: `{name}` after `{marker}` is not a metric name"
            );
            names.insert(format!("{}_{name}", prefix[0]));
        }
    }
    for h in literals_after(&engine, "HistogramOpts::new(") {
        for suffix in ["_bucket", "_sum", "_count"] {
            names.insert(format!("{}_{h}{suffix}", prefix[0]));
        }
    }
    names
}

/// The `botfleet_…` metric names a PromQL expression refers to.
pub fn referenced(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            // Skip label values and other strings.
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let preceded_by_dollar = start > 0 && chars[start - 1] == '$';
            if word.starts_with("botfleet_") && !preceded_by_dollar {
                names.insert(word);
            }
            continue;
        }
        i += 1;
    }
    names
}

#[test]
fn the_source_parser_finds_every_metric_both_processes_export() {
    let names = exported();
    for expected in [
        "botfleet_operator_reconciles_total",
        "botfleet_operator_reconcile_errors_total",
        "botfleet_operator_reconcile_duration_seconds_bucket",
        "botfleet_operator_leader",
        "botfleet_engine_poll_failures_total",
        "botfleet_bot_phase",
        "botfleet_bot_halted",
        "botfleet_bot_drawdown_limit_percent",
        "botfleet_bot_capital_steps_total",
        "botfleet_engine_equity",
        "botfleet_engine_last_candle_time_seconds",
        "botfleet_engine_control_requests_total",
    ] {
        assert!(
            names.contains(expected),
            "{expected} not found in {names:?}"
        );
    }
    // 18 operator metrics (+2 histogram series) and 19 engine metrics at the time of writing;
    // a parser that silently lost its markers would find far fewer.
    assert!(names.len() >= 37, "only {} names: {names:?}", names.len());
    assert!(!names.contains("botfleet_engine_name"), "{names:?}");
}

#[test]
fn referenced_names_skip_strings_and_variables() {
    let got = referenced(
        r#"100 * botfleet_bot_drawdown_percent{bot="botfleet_x"} / on(bot) rate(botfleet_engine_trades[$__rate_interval]) + $botfleet_var"#,
    );
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        ["botfleet_bot_drawdown_percent", "botfleet_engine_trades"]
    );
}
