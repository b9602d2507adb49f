//! What the real-engine scenarios share: wide limits, a low gate, the
//! candle feeds, and the duration line each scenario prints.

use std::path::PathBuf;
use std::time::Instant;

use botfleet_crds::{Phase, TradingBot};
use rust_decimal::Decimal;
use serde_json::json;

use super::real_engine::{Bar, FIRST_CANDLE, bars, wave, write_csv};

/// API key and secret of the exchange simulator's account.
pub const API_KEY: &str = "realEngKey4Tq8WmZ2xHc";
pub const API_SECRET: &str = "realEngSecret7Jd3Lp9Vb1Nf";
/// The bot's capital (the default of `RealWorld::bot`).
pub const CAPITAL: i64 = 1000;

/// Limits opened wide: the replay's clock is 2024 while the venue stamps
/// fills with today's, so limits counting days or cooldowns would behave
/// oddly on a venue.
pub fn wide_limits() -> serde_json::Value {
    json!({
        "maxPositionPct": 25,
        "stopLossPct": 5,
        "maxTradesPerDay": 1000,
        "dailyLossLimitPct": 90,
        "maxDrawdownPct": 90,
        "maxTotalLossPct": 90,
        "maxLosingDaysInRow": 1000,
        "symbolCooldownMinutes": 0,
        "flashCrash": {"movePct": 90},
    })
}

/// A gate any bot that traded a little meets (one-second days: 0 days).
pub fn low_gate() -> serde_json::Value {
    json!({
        "minDays": 0,
        "minTrades": 3,
        "minWinRatePct": 0,
        "minSharpe": -1000,
        "maxDrawdownPct": 100,
        "minReturnPct": -99,
        "maxErrorRatePct": 100,
    })
}

pub fn phase(b: &TradingBot) -> Option<Phase> {
    b.status.as_ref().and_then(|s| s.phase)
}

/// A directory for the test's candle files.
pub fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("real-engine-data-")
        .tempdir()
        .unwrap()
}

pub fn csv(dir: &tempfile::TempDir, name: &str, bars: &[Bar]) -> PathBuf {
    let path = dir.path().join(name);
    write_csv(&path, bars).unwrap();
    path
}

/// 30 000 ± 3 % on a 24-candle wave: an SMA(2, 5) crossover trades it
/// every half wave.
pub fn waves(n: usize) -> Vec<Bar> {
    let mid = Decimal::from(30_000);
    bars(FIRST_CANDLE, mid, &wave(n, mid, 3.0, 24.0, 0))
}

/// Prints how long a scenario took (measured, never asserted).
pub fn took(name: &str, started: Instant) {
    eprintln!(
        "SCENARIO {name}: {:.1?} (after the control plane and the engine binary were ready)",
        started.elapsed()
    );
}
