//! A model on the committee, through the engine, against the Chat
//! Completions stand-in (`botfleet_tests::llm_sim`): the real client is
//! what runs. The model only votes: it never sizes above the policy nor
//! trades through a halt; a garbage, slow or over-budget model abstains;
//! every prompt and reply reaches the audit log; backtests replay offline.

use std::time::Duration;

use botfleet_bot::config::EngineConfig;
use botfleet_bot::domain::{Candle, Side};
use botfleet_bot::engine::{AuditRecord, Engine, EngineEvent, EventMode};
use botfleet_bot::market_data::{SyntheticConfig, generate};
use botfleet_bot::performance::EquityCurve;
use botfleet_bot::strategy::llm::LlmBackend;
use botfleet_tests::llm_sim::{LlmSim, Reply};
use rust_decimal::Decimal;

const KEY: &str = "sk-test-do-not-log-0123456789";
const KEY_ENV: &str = "BOTFLEET_LLM_KEY_LLM_API_KEY_API_KEY";

/// One paper bot, 25 % max position, whose strategy is `strategy` (YAML
/// under `spec:`).
fn manifests(strategy: &str) -> String {
    format!(
        "apiVersion: botfleet.dev/v1alpha1
kind: Strategy
metadata: {{name: model}}
spec:
  timeframe: 1h
{strategy}
---
apiVersion: botfleet.dev/v1alpha1
kind: RiskPolicy
metadata: {{name: policy}}
spec:
  limits:
    paper:
      maxPositionPct: 25
      stopLossPct: 5
      maxDrawdownPct: 50
      maxLosingDaysInRow: 100
---
apiVersion: botfleet.dev/v1alpha1
kind: TradingBot
metadata: {{name: llm-bot}}
spec:
  strategyRef: {{name: model}}
  riskPolicyRef: {{name: policy}}
  exchange: {{venue: binance, symbols: [BTCUSDT]}}
  phase: Paper
  capital: 10000
"
    )
}

fn llm_only(endpoint: &str, extra: &str) -> String {
    manifests(&format!(
        "  llm:
    endpoint: {endpoint}
    model: sim-model
    timeoutSeconds: 5
    maxRetries: 1
    lookbackCandles: 10
    apiKeySecretRef: {{name: llm-api-key, key: api-key}}
{extra}"
    ))
}

fn config(yaml: &str, backend: LlmBackend) -> EngineConfig {
    let m = botfleet_crds::Manifests::from_yaml(yaml).unwrap();
    m.validate().unwrap();
    let mut cfg = EngineConfig::from_manifests(&m, None, yaml.as_bytes()).unwrap();
    cfg.llm = backend;
    cfg
}

fn live() -> LlmBackend {
    LlmBackend::live_with_keys(|name| (name == KEY_ENV).then(|| KEY.to_string()))
}

fn candles(n: usize) -> Vec<Candle> {
    generate(&SyntheticConfig::for_timeframe(
        11,
        n,
        botfleet_crds::Timeframe::H1,
    ))
    .unwrap()
    .candles
}

fn engine(cfg: EngineConfig, start: i64) -> Engine {
    Engine::new(
        cfg,
        Default::default(),
        EquityCurve::bounded(0),
        start,
        EventMode::Record,
    )
    .unwrap()
}

fn llm_records(events: &[EngineEvent]) -> Vec<&AuditRecord> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Audit(a) if a.verdict == "llm" => Some(a),
            _ => None,
        })
        .collect()
}

fn buys(events: &[EngineEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, EngineEvent::OrderSubmitted { order } if order.side == Side::Buy))
        .count()
}

#[test]
fn a_model_voting_buy_with_full_confidence_every_candle_stays_within_the_policy_and_halts() {
    let sim = LlmSim::start();
    sim.set_default(Reply::vote("buy", 1.0));
    let data = candles(200);
    let mut e = engine(
        config(&llm_only(&sim.endpoint(), ""), live()),
        data[0].open_time,
    );
    let mut events = Vec::new();
    for c in &data[..120] {
        e.on_candle(0, c).unwrap();
        for ev in e.drain_events() {
            if let EngineEvent::OrderSubmitted { order } = &ev
                && order.side == Side::Buy
            {
                // Sized by the risk engine at this candle's close.
                let notional = order.quantity.value() * c.close.value();
                let cap = e.equity().value() * Decimal::new(25, 2);
                assert!(
                    notional <= cap,
                    "buy of {notional} above 25% of equity ({cap})"
                );
            }
            events.push(ev);
        }
        let held = e
            .ledger()
            .positions()
            .map(|p| p.cost_basis().value())
            .sum::<Decimal>();
        // Entry at the next open may slip; 2 % covers slippage and fees.
        assert!(
            held <= e.equity().value() * Decimal::new(25, 2) * Decimal::new(102, 2),
            "position {held} above the policy's 25% of {}",
            e.equity().value()
        );
    }
    assert!(
        buys(&events) >= 1,
        "the model's buy was acted on at least once"
    );
    let asked = sim.requests().len();
    assert!(
        asked >= 90,
        "the model was asked each candle past warm-up ({asked})"
    );

    e.halt(data[120].open_time, "operator test halt", true);
    let mut after = Vec::new();
    for c in &data[120..] {
        e.on_candle(0, c).unwrap();
        after.extend(e.drain_events());
    }
    assert_eq!(
        buys(&after),
        0,
        "no buy while halted, whatever the model says"
    );
    assert!(
        sim.requests().len() > asked,
        "the model kept voting during the halt"
    );
    assert!(
        after.iter().any(
            |ev| matches!(ev, EngineEvent::Audit(a) if a.verdict == "refused" && a.signal == "buy")
        ),
        "the halted buy is audited as refused"
    );
}

#[test]
fn every_prompt_and_reply_is_audited_and_the_key_goes_only_in_the_header() {
    let sim = LlmSim::start();
    sim.set_usage(120, 15, Some("0.0003"));
    sim.push([
        Reply::vote("buy", 0.8),
        Reply::Body("{\"choices\": [".into()),
        Reply::Content("{\"signal\": \"short\", \"confidence\": 0.9, \"reason\": \"x\"}".into()),
        Reply::Content("{\"signal\": \"sell\", \"confidence\": 1.5, \"reason\": \"x\"}".into()),
    ]);
    let data = candles(25);
    let cfg = config(&llm_only(&sim.endpoint(), ""), live());
    let backend = cfg.llm.clone();
    let mut e = engine(cfg, data[0].open_time);
    let mut events = Vec::new();
    for c in &data {
        e.on_candle(0, c).unwrap();
        events.extend(e.drain_events());
    }
    let records = llm_records(&events);
    // Warm-up is 21 candles (RSI 14 / SMA 20); candles 21..25 are asked.
    assert_eq!(records.len(), 4, "{records:#?}");
    let r0 = &records[0].reason;
    assert_eq!(records[0].signal, "buy");
    assert_eq!(r0["model"], "sim-model");
    assert_eq!(r0["promptHash"].as_str().unwrap().len(), 64);
    assert!(
        r0["prompt"]
            .as_str()
            .unwrap()
            .contains("candles (oldest first")
    );
    assert!(r0["reply"].as_str().unwrap().contains("\"buy\""));
    assert_eq!(r0["usage"]["totalTokens"], 135);
    assert_eq!(r0["usage"]["cost"], "0.0003");
    assert!(r0["latencyMs"].is_u64());
    let causes: Vec<_> = records[1..]
        .iter()
        .map(|r| r.reason["abstained"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(causes, ["malformed", "outOfSchema", "outOfSchema"]);
    assert!(records[1..].iter().all(|r| r.signal == "abstain"));
    let stats = backend.stats();
    assert_eq!(stats["model"].abstentions["outOfSchema"], 2);
    assert_eq!(stats["model"].abstentions["malformed"], 1);
    assert_eq!(stats["model"].buy, 1);

    let seen = sim.requests();
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = &seen[0].body;
    assert_eq!(body["model"], "sim-model");
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["messages"][0]["role"], "system");
    let audit = serde_json::to_string(
        &events
            .iter()
            .filter_map(|e| match e {
                EngineEvent::Audit(a) => Some(a),
                _ => None,
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(
        !audit.contains(KEY),
        "the API key never reaches the audit log"
    );
    assert!(!body.to_string().contains(KEY), "nor the request body");
}

#[test]
fn a_slow_model_abstains_at_the_deadline_and_the_bot_does_not_trade_on_it() {
    let sim = LlmSim::start();
    sim.set_default(Reply::Slow(
        Duration::from_secs(30),
        Box::new(Reply::vote("buy", 1.0)),
    ));
    let yaml = llm_only(&sim.endpoint(), "").replace("timeoutSeconds: 5", "timeoutSeconds: 1");
    let data = candles(23);
    let cfg = config(&yaml, live());
    let backend = cfg.llm.clone();
    let mut e = engine(cfg, data[0].open_time);
    let mut events = Vec::new();
    for c in &data {
        e.on_candle(0, c).unwrap();
        events.extend(e.drain_events());
    }
    assert_eq!(buys(&events), 0);
    assert_eq!(backend.stats()["model"].abstentions["timeout"], 2);
}

#[test]
fn rate_limits_and_server_errors_are_retried_then_abstain() {
    let sim = LlmSim::start();
    sim.push([
        Reply::Status {
            code: 429,
            retry_after: Some(1),
        },
        Reply::vote("buy", 0.9),
        Reply::Status {
            code: 500,
            retry_after: None,
        },
        Reply::Status {
            code: 503,
            retry_after: None,
        },
        Reply::Status {
            code: 401,
            retry_after: None,
        },
    ]);
    let data = candles(24);
    let cfg = config(&llm_only(&sim.endpoint(), ""), live());
    let backend = cfg.llm.clone();
    let mut e = engine(cfg, data[0].open_time);
    let mut events = Vec::new();
    for c in &data {
        e.on_candle(0, c).unwrap();
        events.extend(e.drain_events());
    }
    let records = llm_records(&events);
    assert_eq!(
        records[0].signal, "buy",
        "the 429 was retried after Retry-After"
    );
    assert_eq!(records[0].reason["attempts"], 2);
    assert_eq!(records[1].reason["abstained"], "serverError");
    assert_eq!(
        records[1].reason["attempts"], 2,
        "maxRetries 1: two requests"
    );
    assert_eq!(records[2].reason["abstained"], "refused");
    assert_eq!(records[2].reason["attempts"], 1, "a 401 is not retried");
    assert_eq!(sim.requests().len(), 5);
    assert_eq!(backend.stats()["model"].buy, 1);
}

#[test]
fn a_member_over_its_daily_budget_abstains_until_the_next_utc_day() {
    let sim = LlmSim::start();
    sim.set_default(Reply::vote("buy", 1.0));
    let yaml = llm_only(&sim.endpoint(), "    dailyBudget: {requests: 3}\n");
    // 1h candles: 21 of warm-up, then 3 asked per day at most.
    let data = candles(24 * 3);
    let cfg = config(&yaml, live());
    let backend = cfg.llm.clone();
    let mut e = engine(cfg, data[0].open_time);
    for c in &data {
        e.on_candle(0, c).unwrap();
        e.drain_events();
    }
    let days: std::collections::BTreeSet<i64> = data[21..]
        .iter()
        .map(|c| c.open_time.div_euclid(86_400_000))
        .collect();
    assert_eq!(
        sim.requests().len(),
        3 * days.len(),
        "3 requests per UTC day"
    );
    let s = &backend.stats()["model"];
    assert_eq!(
        s.abstentions["budgetExhausted"],
        (data.len() - 21 - 3 * days.len()) as u64
    );
    assert_eq!(backend.budget("model").unwrap().requests, 3);
}

#[test]
fn a_missing_api_key_is_an_abstention_not_an_unauthenticated_request() {
    let sim = LlmSim::start();
    let data = candles(22);
    let cfg = config(
        &llm_only(&sim.endpoint(), ""),
        LlmBackend::live_with_keys(|_| None),
    );
    let backend = cfg.llm.clone();
    let mut e = engine(cfg, data[0].open_time);
    for c in &data {
        e.on_candle(0, c).unwrap();
    }
    assert!(sim.requests().is_empty());
    assert_eq!(backend.stats()["model"].abstentions["noApiKey"], 1);
}

fn committee(endpoint: &str) -> String {
    committee_keyed(
        endpoint,
        ", apiKeySecretRef: {name: llm-api-key, key: api-key}",
    )
}

fn committee_keyed(endpoint: &str, key: &str) -> String {
    manifests(&format!(
        "  committee:
    minAgreement: 0.5
    members:
      - {{name: sma, inline: {{smaCrossover: {{fast: 3, slow: 8}}}}}}
      - {{name: rsi, inline: {{rsiReversion: {{period: 5, oversold: 45, overbought: 55}}}}}}
      - name: gpt
        weight: 2
        inline:
          llm: {{endpoint: '{endpoint}', model: sim-model, lookbackCandles: 10{key}}}
"
    ))
}

#[test]
fn a_committee_decision_lists_every_members_vote_including_the_model() {
    let sim = LlmSim::start();
    sim.set_default(Reply::vote("buy", 0.7));
    let data = candles(300);
    let mut e = engine(
        config(&committee(&sim.endpoint()), live()),
        data[0].open_time,
    );
    let mut events = Vec::new();
    for c in &data {
        e.on_candle(0, c).unwrap();
        events.extend(e.drain_events());
    }
    let decided: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Audit(a) if a.verdict != "llm" && a.signal == "buy" => Some(a),
            _ => None,
        })
        .collect();
    assert!(
        !decided.is_empty(),
        "the committee bought with the model's weight"
    );
    let why = decided[0].reason["strategy"].as_str().unwrap();
    for member in [
        "sma (weight 1)",
        "rsi (weight 1)",
        "gpt (weight 2)",
        "model voted buy",
    ] {
        assert!(why.contains(member), "`{member}` missing from: {why}");
    }
}

/// Backtest runs: record against the stand-in, then replay offline twice.
#[test]
fn a_committee_backtest_replays_recorded_replies_deterministically_and_offline() {
    use botfleet_bot::backtest::{BacktestArgs, LlmFlag};
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("replies.jsonl");
    let data_path = dir.path().join("candles.csv");
    std::fs::write(&data_path, csv(&candles(400))).unwrap();
    let run = |endpoint: &str, llm: LlmFlag, out: &str| {
        let file = dir.path().join(format!("{out}.yaml"));
        // A local server without authentication: no key to look up.
        std::fs::write(&file, committee_keyed(endpoint, "")).unwrap();
        let args = BacktestArgs {
            file,
            bot: None,
            data: vec![botfleet_bot::backtest::DataArg {
                symbol: None,
                path: data_path.clone(),
            }],
            from: None,
            to: None,
            seed: 1,
            candles: 0,
            out: dir.path().join(out),
            taker_fee_bps: Decimal::TEN,
            maker_fee_bps: Decimal::TEN,
            slippage_bps: Decimal::new(5, 0),
            max_volume_participation_pct: Decimal::TEN,
            no_volume_cap: false,
            llm,
            llm_cache: cache.clone(),
            candle_cache: Some(dir.path().join("candle-cache")),
            no_candle_cache: false,
            timings: false,
        };
        std::fs::create_dir_all(dir.path().join(out)).unwrap();
        args.execute(false).unwrap().report
    };
    let sim = LlmSim::start();
    // A model whose mind changes with the data: buy on odd requests, sell on even.
    sim.push((0..400).map(|i| Reply::vote(if i % 3 == 0 { "sell" } else { "buy" }, 0.6)));
    let endpoint = sim.endpoint();
    let recorded = run(&endpoint, LlmFlag::Record, "record");
    let asked = sim.requests().len();
    drop(sim); // replay must not need the endpoint
    let a = run(&endpoint, LlmFlag::Replay, "replay-a");
    let b = run(&endpoint, LlmFlag::Replay, "replay-b");
    assert!(asked > 300);
    assert_eq!(
        serde_json::to_value(&a.trades).unwrap(),
        serde_json::to_value(&b.trades).unwrap()
    );
    assert_eq!(
        serde_json::to_value(&a.trades).unwrap(),
        serde_json::to_value(&recorded.trades).unwrap()
    );
    assert_eq!(
        serde_json::to_value(&a.balances).unwrap(),
        serde_json::to_value(&recorded.balances).unwrap()
    );
    let m = &a.llm_members[0];
    assert_eq!(m.name, "gpt");
    assert_eq!(
        m.buy + m.sell,
        asked as u64,
        "every recorded reply replayed"
    );
    assert!(m.abstentions.is_empty(), "{:?}", m.abstentions);
    assert!(m.hit_rate.is_some());
    let html = std::fs::read_to_string(dir.path().join("replay-a/report.html")).unwrap();
    assert!(html.contains("Model members") && html.contains("gpt"));

    // Without recordings, every prompt is an abstention the report counts.
    std::fs::remove_file(&cache).unwrap();
    let empty = run(&endpoint, LlmFlag::Replay, "replay-empty");
    assert_eq!(
        empty.llm_members[0].abstentions["notRecorded"],
        asked as u64
    );
    assert_eq!(empty.llm_members[0].buy, 0);
}

fn csv(candles: &[Candle]) -> String {
    let mut s = String::from("timestamp,open,high,low,close,volume\n");
    for c in candles {
        s.push_str(&format!(
            "{},{},{},{},{},{}\n",
            c.open_time,
            c.open.value(),
            c.high.value(),
            c.low.value(),
            c.close.value(),
            c.volume.value()
        ));
    }
    s
}
