//! The alerts (`charts/botfleet/files/alerts.yaml`), their promtool unit tests and
//! runbooks, and the Grafana dashboard (`charts/botfleet/files/dashboard.json`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value as Json;
use serde_yaml::Value;

use crate::metrics::{exported, referenced};
use crate::{chart_dir, repo, run};

/// The alerts issue 5 asks for, and issue 15's model-member alerts, by name.
const ALERTS: [&str; 12] = [
    "BotfleetBotHalted",
    "BotfleetHaltUnconfirmed",
    "BotfleetBotDrawdownNearLimit",
    "BotfleetEngineStatusStale",
    "BotfleetPromotionBlocked",
    "BotfleetEngineDown",
    "BotfleetOperatorDown",
    "BotfleetReconcileErrors",
    "BotfleetVenueErrors",
    "BotfleetOrderFateUnknown",
    "BotfleetLlmBudgetExhausted",
    "BotfleetLlmAbstentionsHigh",
];

fn promtool() -> PathBuf {
    let path = botfleet_tests::tools::tools_bin_dir().join("promtool");
    assert!(
        path.is_file(),
        "promtool not found at {}: run `scripts/install-tools.sh` to install it \
         (or set BOTFLEET_TOOLS_DIR to the directory that holds bin/promtool)",
        path.display()
    );
    path
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(chart_dir().join(path))
        .unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every alerting rule of files/alerts.yaml.
fn alert_rules() -> Vec<Value> {
    let file = yaml("files/alerts.yaml");
    file["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules").clone())
        .filter(|r| r.get("alert").is_some())
        .collect()
}

#[test]
fn promtool_checks_the_rules_and_passes_their_unit_tests() {
    let promtool = promtool();
    let mut check = Command::new(&promtool);
    check
        .args(["check", "rules"])
        .arg(chart_dir().join("files/alerts.yaml"));
    let out = run(check, None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("SUCCESS: {} rules found", ALERTS.len())),
        "{text}"
    );

    let mut test = Command::new(&promtool);
    test.args(["test", "rules"])
        .arg(chart_dir().join("tests/alerts_test.yaml"));
    let out = run(test, None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("SUCCESS"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_unit_tests_see_every_alert_fire_and_stay_silent() {
    let tests = yaml("tests/alerts_test.yaml");
    let mut fired = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for t in tests["tests"].as_sequence().expect("tests") {
        for case in t["alert_rule_test"].as_sequence().expect("alert_rule_test") {
            let name = case["alertname"].as_str().expect("alertname").to_string();
            match case["exp_alerts"].as_sequence() {
                Some(a) if !a.is_empty() => fired.insert(name),
                _ => silent.insert(name),
            };
        }
    }
    for alert in ALERTS {
        assert!(fired.contains(alert), "no unit test sees {alert} fire");
        assert!(
            silent.contains(alert),
            "no unit test sees {alert} stay silent"
        );
    }
}

#[test]
fn every_alert_has_severity_for_summary_description_and_a_runbook_page() {
    let rules = alert_rules();
    let names: BTreeSet<_> = rules
        .iter()
        .map(|r| r["alert"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ALERTS
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    for rule in &rules {
        let alert = rule["alert"].as_str().unwrap();
        let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{alert}: severity `{severity}`"
        );
        assert!(rule["for"].as_str().is_some(), "{alert}: no `for`");
        for key in ["summary", "description"] {
            let text = rule["annotations"][key].as_str().unwrap_or_default();
            assert!(text.len() > 20, "{alert}: {key} missing or too short");
        }
        let url = rule["annotations"]["runbook_url"]
            .as_str()
            .unwrap_or_default();
        let page = format!("docs/runbooks/{alert}.md");
        assert!(
            url.ends_with(&page),
            "{alert}: runbook_url {url} is not …/{page}"
        );
        let text = std::fs::read_to_string(repo().join(&page))
            .unwrap_or_else(|e| panic!("{alert}: runbook {page}: {e}"));
        assert!(text.starts_with(&format!("# {alert}\n")), "{page}: title");
        for section in ["## What happened", "## What to do"] {
            assert!(text.contains(section), "{page}: no `{section}` section");
        }
    }
}

#[test]
fn every_alert_queries_only_metrics_the_code_exports() {
    let exported = exported();
    for rule in alert_rules() {
        let alert = rule["alert"].as_str().unwrap();
        let expr = rule["expr"].as_str().unwrap();
        let used = referenced(expr);
        assert!(
            !used.is_empty(),
            "{alert}: `{expr}` queries no botfleet metric"
        );
        for name in used {
            assert!(
                exported.contains(&name),
                "{alert}: `{name}` is not exported by operator/src/metrics.rs or bot/src/run/metrics.rs"
            );
        }
    }
}

fn dashboard() -> Json {
    let path = chart_dir().join("files/dashboard.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("files/dashboard.json: {e}"))
}

#[test]
fn the_dashboard_is_valid_with_a_fleet_overview_and_a_per_bot_drill_down() {
    let d = dashboard();
    assert_eq!(d["uid"], "botfleet-overview");
    assert!(d["title"].is_string() && d["schemaVersion"].is_u64());
    let panels = d["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for p in panels {
        let title = p["title"].as_str().expect("every panel has a title");
        assert!(
            ids.insert(p["id"].as_u64().expect("id")),
            "duplicate id at {title}"
        );
        let g = &p["gridPos"];
        for k in ["h", "w", "x", "y"] {
            assert!(g[k].is_u64(), "{title}: gridPos.{k}");
        }
        assert!(
            g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24,
            "{title}: wider than the grid"
        );
        if p["type"] != "row" {
            let targets = p["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{title}: no query");
        }
    }
    let rows: Vec<_> = panels
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert!(rows.contains(&"Fleet overview"), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("$bot")), "{rows:?}");

    let vars = d["templating"]["list"].as_array().expect("templating");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name} variable"))
    };
    assert_eq!(var("datasource")["query"], "prometheus");
    assert!(
        var("bot")["definition"]
            .as_str()
            .unwrap()
            .contains(r#"namespace="$namespace""#)
    );
    // The drill-down panels are filtered by the variable.
    let drill = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter(|t| {
            t["expr"]
                .as_str()
                .unwrap_or_default()
                .contains(r#"bot="$bot""#)
        })
        .count();
    assert!(drill >= 10, "only {drill} queries use $bot");
}

#[test]
fn every_dashboard_query_uses_only_metrics_the_code_exports() {
    let exported = exported();
    let d = dashboard();
    let mut exprs = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().cloned().unwrap_or_default() {
            exprs.push((
                p["title"].as_str().unwrap().to_string(),
                t["expr"].as_str().expect("expr").to_string(),
            ));
        }
    }
    for v in d["templating"]["list"].as_array().unwrap() {
        if let Some(def) = v["definition"].as_str() {
            exprs.push((format!("variable {}", v["name"]), def.to_string()));
        }
    }
    assert!(exprs.len() > 20, "{} queries", exprs.len());
    let mut used_everywhere = BTreeSet::new();
    for (title, expr) in exprs {
        let used = referenced(&expr);
        assert!(
            !used.is_empty(),
            "{title}: `{expr}` queries no botfleet metric"
        );
        for name in used {
            assert!(
                exported.contains(&name),
                "{title}: `{name}` is not exported by operator/src/metrics.rs or bot/src/run/metrics.rs"
            );
            used_everywhere.insert(name);
        }
    }
    // The fleet overview shows what issue 5 asks for.
    for name in [
        "botfleet_bot_phase",
        "botfleet_bot_state",
        "botfleet_bot_equity",
        "botfleet_bot_drawdown_percent",
        "botfleet_bot_drawdown_limit_percent",
        "botfleet_bot_halts_total",
        "botfleet_bot_promotions_total",
    ] {
        assert!(used_everywhere.contains(name), "no panel shows {name}");
    }
}
