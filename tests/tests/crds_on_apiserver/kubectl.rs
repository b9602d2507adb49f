//! What a user sees with kubectl (v1.33 against the 1.20 apiserver): printer
//! columns, short names, the `botfleet` category, and `kubectl explain` doc text.

use std::process::Output;

use botfleet_tests::control_plane::{default_crd_dir, read_crds};

use crate::status::bot_with_status;
use crate::{cp, create, example, renamed};

async fn run(args: &[&str]) -> String {
    let output: Output = cp().await.kubectl().unwrap().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "kubectl {args:?} failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

fn columns(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[tokio::test]
async fn kubectl_get_tbot_shows_the_printer_columns() {
    let ns = cp().await.namespace("columns").await.unwrap();
    bot_with_status(&ns, "btc-columns").await;

    let out = run(&["get", "tbot", "-n", &ns]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        columns(lines[0]),
        [
            "NAME", "PHASE", "TARGET", "STATE", "EQUITY", "DRAWDOWN", "TRADES", "AGE"
        ]
    );
    let row = columns(lines[1]);
    assert_eq!(
        row[..7],
        [
            "btc-columns",
            "Paper",
            "Paper",
            "Trading",
            "5123.45",
            "1.5",
            "42"
        ],
        "{out}"
    );
    // AGE is a duration such as `0s` or `3s`.
    assert!(row[7].ends_with('s') || row[7].ends_with('m'), "{out}");

    // `-o wide` adds columns, never removes the default ones.
    let wide = run(&["get", "tbot", "-n", &ns, "-o", "wide"]).await;
    let header = columns(wide.lines().next().unwrap());
    assert_eq!(header[..8], columns(lines[0])[..]);
}

#[tokio::test]
async fn short_names_and_the_botfleet_category_work() {
    let ns = cp().await.namespace("names").await.unwrap();
    let strategy = renamed(example("Strategy", |_| true), "s1");
    let policy = renamed(example("RiskPolicy", |_| true), "p1");
    let bot = renamed(example("TradingBot", |_| true), "b1");
    for object in [&strategy, &policy, &bot] {
        create(&ns, object, false).await.unwrap();
    }
    let expected = [
        "riskpolicy.botfleet.dev/p1",
        "strategy.botfleet.dev/s1",
        "tradingbot.botfleet.dev/b1",
    ];
    let mut by_short_names: Vec<String> = run(&["get", "strat,risk,tbot", "-n", &ns, "-o", "name"])
        .await
        .lines()
        .map(String::from)
        .collect();
    by_short_names.sort();
    assert_eq!(by_short_names, expected);
    let mut by_category: Vec<String> = run(&["get", "botfleet", "-n", &ns, "-o", "name"])
        .await
        .lines()
        .map(String::from)
        .collect();
    by_category.sort();
    assert_eq!(by_category, expected);
}

/// The description of `spec.<field>` in the chart's TradingBot CRD.
fn spec_description(field: &str) -> String {
    let crd = read_crds(&default_crd_dir())
        .unwrap()
        .into_iter()
        .find(|c| c.spec.names.kind == "TradingBot")
        .unwrap();
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .unwrap()
        .open_api_v3_schema
        .as_ref()
        .unwrap();
    let spec = &schema.properties.as_ref().unwrap()["spec"];
    spec.properties.as_ref().unwrap()[field]
        .description
        .clone()
        .unwrap()
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn kubectl_explain_shows_the_doc_text() {
    cp().await;
    // A 1.20 apiserver serves no OpenAPI v3; kubectl 1.33 falls back to v2 by itself.
    for resource in ["tradingbot.spec.phase", "tbot.spec.phase"] {
        let out = run(&["explain", resource]).await;
        assert!(out.contains("KIND:") && out.contains("TradingBot"), "{out}");
        assert!(
            out.contains("FIELD:") && out.contains("phase <string>"),
            "{out}"
        );
        let doc = spec_description("phase");
        assert!(
            words(&out).contains(&words(&doc)),
            "doc text {doc:?} not in:\n{out}"
        );
    }
    let out = run(&["explain", "tradingbot.spec"]).await;
    for field in [
        "strategyRef",
        "riskPolicyRef",
        "exchange",
        "phase",
        "promotion",
        "capital",
        "halted",
    ] {
        assert!(out.contains(field), "{field} not listed:\n{out}");
    }
}
