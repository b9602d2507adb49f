//! The real-engine tier with a model member: the operator renders a Paper
//! bot whose strategy is an `llm` model, the kubelet stand-in runs the REAL
//! engine with the pod's env (the API key read from the user's Secret by
//! `secretKeyRef`), and the engine's real client asks the Chat Completions
//! stand-in (`botfleet_tests::llm_sim`) on every candle. The bot
//! paper-trades on the model's votes; the key reaches only the request
//! header, never the rendered config.

mod common;

use std::time::Instant;

use botfleet_crds::Phase;
use botfleet_tests::llm_sim::{LlmSim, Reply};
use common::real_engine::*;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use rust_decimal::Decimal;
use serde_json::json;

const LLM_KEY: &str = "sk-llmRealEngine9Qw3Zt7Hk";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paper_bot_trades_on_a_models_votes_through_the_operator_with_the_key_from_its_secret() {
    let sim = LlmSim::start();
    // Long for 6 candles, flat for 6, over and over: round trips to count.
    sim.push((0..400).map(|i| Reply::vote(if (i / 6) % 2 == 0 { "buy" } else { "sell" }, 0.9)));

    let rw = RealWorld::new("real-llm").await.unwrap();
    let op = rw.start_operator(rw.config());
    let started = Instant::now();
    rw.credentials("keys", "unusedKey", "unusedSecret")
        .await
        .unwrap();
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "llm-key"},
        "stringData": {"api-key": LLM_KEY},
    }))
    .unwrap();
    Api::<Secret>::namespaced(rw.admin.clone(), &rw.ns)
        .create(&Default::default(), &secret)
        .await
        .unwrap();
    rw.apply_yaml(&format!(
        "apiVersion: botfleet.dev/v1alpha1
kind: Strategy
metadata: {{name: model}}
spec:
  timeframe: 1h
  llm:
    endpoint: {}
    model: sim-model
    lookbackCandles: 10
    timeoutSeconds: 30
    apiKeySecretRef: {{name: llm-key, key: api-key}}
",
        sim.endpoint()
    ))
    .await
    .unwrap();
    rw.policy(
        "policy",
        json!({"limits": {"paper": {
            "maxPositionPct": 25,
            "stopLossPct": 20,
            "maxTradesPerDay": 1000,
            "dailyLossLimitPct": 90,
            "maxDrawdownPct": 90,
            "maxTotalLossPct": 90,
            "maxLosingDaysInRow": 1000,
            "symbolCooldownMinutes": 0,
            "flashCrash": {"movePct": 90},
        }}}),
    )
    .await
    .unwrap();

    let data = tempfile::Builder::new()
        .prefix("real-llm-data-")
        .tempdir()
        .unwrap();
    let mid = Decimal::from(30_000);
    let candles = bars(FIRST_CANDLE, mid, &wave(120, mid, 3.0, 24.0, 0));
    let end = candles.last().unwrap().time;
    let feed = data.path().join("waves.csv");
    write_csv(&feed, &candles).unwrap();
    rw.bot("llm", "model", "policy", json!({}), move |_| {
        replay(&feed, None)
    })
    .await
    .unwrap();

    let engine = rw.kubelet.wait_replayed("llm", end).await.unwrap();
    assert_eq!(engine.phase, Phase::Paper);
    assert!(
        engine.window.trades >= 3,
        "the model's votes became paper trades: {:?}",
        engine.window
    );
    assert!(engine.halt.is_none(), "{:?}", engine.halt);

    let seen = sim.requests();
    // Warm-up is 21 candles; every later candle is asked (a restarted
    // engine replays history without asking, then asks again from there).
    assert!(seen.len() >= candles.len() - 21, "{} requests", seen.len());
    let bearer = format!("Bearer {LLM_KEY}");
    assert!(
        seen.iter()
            .all(|r| r.authorization.as_deref() == Some(bearer.as_str())),
        "every request carries the key from the Secret"
    );
    assert_eq!(seen[0].body["model"], "sim-model");

    let decisions = rw
        .kubelet
        .metric("llm", "botfleet_engine_llm_decisions_total")
        .await
        .unwrap();
    assert!(decisions >= 1.0, "the engine counts its model's decisions");
    assert!(
        !rw.kubelet
            .rendered_config("llm")
            .await
            .unwrap()
            .contains(LLM_KEY),
        "the key is not in the rendered config"
    );
    op.stop().await;
    eprintln!(
        "SCENARIO llm paper: {:.1?} (after the control plane and the engine binary were ready)",
        started.elapsed()
    );
}
