//! The cost of one model decision, without a real model: prints the prompt
//! size for the default lookback and the latency of one decision through
//! the Chat Completions stand-in on loopback
//! (`cargo bench -p botfleet-bot --bench llm`). This is the engine's own
//! overhead (prompt, HTTP, parsing, the client thread hop, budget and
//! audit bookkeeping); a hosted model adds its inference time on top.

use std::collections::VecDeque;
use std::time::Duration;

use botfleet_bot::market_data::{SyntheticConfig, generate};
use botfleet_bot::strategy::DecisionContext;
use botfleet_bot::strategy::llm::prompt::{self, PromptIndicators};
use botfleet_bot::strategy::llm::{LlmBackend, LlmMemberConfig};
use botfleet_crds::{LlmStrategy, Timeframe};
use botfleet_tests::llm_sim::{LlmSim, Reply};
use rust_decimal::Decimal;

const RUNS: usize = 25;

fn main() {
    let sim = LlmSim::start();
    sim.set_default(Reply::vote("buy", 0.8));
    let spec = LlmStrategy {
        endpoint: sim.endpoint(),
        model: "sim-model".into(),
        ..Default::default()
    };
    let candles: VecDeque<_> = generate(&SyntheticConfig::for_timeframe(3, 200, Timeframe::H1))
        .unwrap()
        .candles
        .into_iter()
        .rev()
        .take(spec.lookback_candles as usize)
        .rev()
        .collect();
    let context = DecisionContext {
        symbol: "BTCUSDT".into(),
        position_quantity: Decimal::new(12345, 5),
        avg_entry_price: Some(Decimal::new(4321012, 2)),
        cash: Decimal::new(750000, 2),
        equity: Decimal::new(1002345, 2),
        max_position_pct: Decimal::new(25, 0),
        max_position: None,
        stop_loss_pct: Decimal::new(5, 0),
        halted: false,
    };
    let indicators = PromptIndicators {
        rsi14: Some(48.123456),
        sma20: Some(43210.5),
    };
    let p = prompt::render(None, &spec.model, 0.0, "1h", &candles, indicators, &context);
    println!(
        "prompt for lookbackCandles={}: {} bytes (system {} + user {})",
        spec.lookback_candles,
        p.len(),
        p.system.len(),
        p.user.len()
    );

    let member = LlmMemberConfig {
        name: "bench".into(),
        spec,
        timeframe: Timeframe::H1,
        key_env: None,
    };
    let backend = LlmBackend::live();
    // One warm-up decision opens the connection and starts the client thread.
    let _ = backend.decide(&member, &p, 0);
    let mut latencies: Vec<Duration> = (0..RUNS)
        .map(|i| {
            let started = std::time::Instant::now();
            let d = backend.decide(&member, &p, i as i64);
            assert!(d.vote.is_ok(), "{:?}", d.vote);
            started.elapsed()
        })
        .collect();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "one decision through the stand-in ({RUNS} runs): median {:.2} ms, range {:.2}–{:.2} ms",
        ms(latencies[RUNS / 2]),
        ms(latencies[0]),
        ms(latencies[RUNS - 1])
    );
}
