//! Seeded synthetic candles with market regimes (trend, range, crash), for
//! tests, benchmarks and the quickstart. Always labelled "synthetic".
//!
//! Deterministic: the same config gives the same candles, bit for bit, on
//! every platform. The random stream is ChaCha8 (`rand_chacha`, stable per
//! seed) and the price path uses only IEEE-754 basic operations (+ − × ÷,
//! sqrt, floor/round), never libm's `exp`/`ln`, whose last bits differ
//! between platforms.
//!
//! The model, per candle: `close = open × (1 + r)` with `r = drift + σ·z`
//! (plus the volatility-drag correction, so drift is the log-return trend),
//! `z` roughly normal (Irwin–Hall sum of 12 uniforms) with a fat tail (1 in
//! 50 candles ×3). Wicks extend beyond the body by `σ·|z|/2`; volume grows
//! with the size of the move and in crashes. Prices are rounded to the tick
//! (highs up, lows down, so OHLC stays consistent) and never below 100 ticks.

use super::MarketDataError;
use super::series::{CandleSeries, CandleSource, DataOrigin};
use crate::domain::{Candle, Price, Quantity, Timeframe};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// How prices behave during one span of the schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Regime {
    /// Trend per candle as a log return (0.001 ≈ +0.1 % per candle, so 500
    /// candles ≈ ×e^0.5); negative for a downtrend. Must be within ±0.1.
    Trend { drift: f64 },
    /// Mean reversion towards the price where the span starts: each candle's
    /// expected return is `−reversion × (price/anchor − 1)`. `reversion` in [0, 1].
    Range { reversion: f64 },
    /// The first fifth of the span (at least one candle) falls by `depth`
    /// (0.3 = −30 %) with triple volatility, the rest climbs back `recovery`
    /// of the fall (0.5 = half) with 1.5× volatility. `depth` in (0, 0.95).
    Crash { depth: f64, recovery: f64 },
}

impl Regime {
    fn short(&self) -> String {
        match *self {
            Regime::Trend { drift } if drift > 0.0 => "trend↑".into(),
            Regime::Trend { drift } if drift < 0.0 => "trend↓".into(),
            Regime::Trend { .. } => "drift".into(),
            Regime::Range { .. } => "range".into(),
            Regime::Crash { depth, .. } => format!("crash −{}%", (depth * 100.0).round()),
        }
    }
}

/// A regime held for a number of candles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegimeSpan {
    pub regime: Regime,
    pub candles: usize,
}

/// Everything that determines a synthetic series.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticConfig {
    pub seed: u64,
    pub timeframe: Timeframe,
    /// Open time of the first candle, Unix ms.
    pub start_time: i64,
    pub start_price: Price,
    /// Price increment; every price is a multiple of it.
    pub tick: Price,
    /// Standard deviation of one candle's return (0.005 = 0.5 %).
    pub volatility: f64,
    /// Mean volume of a quiet candle, in base units.
    pub base_volume: f64,
    pub schedule: Vec<RegimeSpan>,
}

impl SyntheticConfig {
    /// `candles` hourly candles from 2024-01-01, starting at 30000.00 with a
    /// 0.01 tick and 0.5 % volatility, on the default regime cycle.
    pub fn new(seed: u64, candles: usize) -> Self {
        Self::for_timeframe(seed, candles, Timeframe::H1)
    }

    /// Like [`SyntheticConfig::new`] for another timeframe, with volatility
    /// scaled by √(interval / 1h) (0.065 % for 1m, 2.4 % for 1d, as random
    /// walks scale) and volume in proportion to the interval.
    pub fn for_timeframe(seed: u64, candles: usize, timeframe: Timeframe) -> Self {
        let hours = timeframe.millis() as f64 / 3_600_000.0;
        Self {
            seed,
            timeframe,
            start_time: 1_704_067_200_000,
            start_price: Price::from(30_000),
            tick: Price::from_scaled(1, 2),
            volatility: 0.005 * hours.sqrt(),
            base_volume: 50.0 * hours,
            schedule: Self::default_schedule(candles),
        }
    }

    /// Cycles of up to 2000 candles: trend↑ 25 %, range 20 %, trend↓ 20 %,
    /// crash −30 % (half recovered) 10 %, range 25 %. The trends are sized so
    /// that a cycle's expected log return is zero (+0.30 − 0.1375 + ln 0.85),
    /// keeping long series around the start price. The spans add up to
    /// exactly `candles`.
    pub fn default_schedule(candles: usize) -> Vec<RegimeSpan> {
        const PARTS: [(u32, u8); 5] = [(25, 0), (20, 1), (20, 2), (10, 3), (25, 1)];
        let mut schedule = Vec::new();
        let mut left = candles;
        while left > 0 {
            let cycle = left.min(2000);
            let mut used = 0;
            for (i, &(pct, kind)) in PARTS.iter().enumerate() {
                let len = if i == PARTS.len() - 1 {
                    cycle - used
                } else {
                    cycle * pct as usize / 100
                };
                used += len;
                if len == 0 {
                    continue;
                }
                let n = len as f64;
                let regime = match kind {
                    0 => Regime::Trend { drift: 0.30 / n },
                    1 => Regime::Range { reversion: 0.05 },
                    2 => Regime::Trend { drift: -0.1375 / n },
                    _ => Regime::Crash {
                        depth: 0.30,
                        recovery: 0.5,
                    },
                };
                schedule.push(RegimeSpan {
                    regime,
                    candles: len,
                });
            }
            left -= cycle;
        }
        schedule
    }

    pub fn total_candles(&self) -> usize {
        self.schedule.iter().map(|s| s.candles).sum()
    }

    /// E.g. `synthetic (seed 42, 1h: trend↑ 500 → range 400 → …)`; the first
    /// eight spans, then the number left.
    pub fn description(&self) -> String {
        let mut parts: Vec<String> = self
            .schedule
            .iter()
            .take(8)
            .map(|s| format!("{} {}", s.regime.short(), s.candles))
            .collect();
        if self.schedule.len() > 8 {
            parts.push(format!("… {} more spans", self.schedule.len() - 8));
        }
        format!(
            "synthetic (seed {}, {}: {})",
            self.seed,
            self.timeframe.as_str(),
            parts.join(" → ")
        )
    }

    /// Checks every field; the error names the field and the allowed range.
    pub fn validate(&self) -> Result<(), MarketDataError> {
        fn bad(field: &str, problem: impl Into<String>) -> MarketDataError {
            MarketDataError::synthetic(field, problem)
        }
        if self.tick.0 <= rust_decimal::Decimal::ZERO {
            return Err(bad("tick", format!("{} must be greater than 0", self.tick)));
        }
        if self.start_price.0 < self.tick.0 * rust_decimal::Decimal::from(MIN_TICKS) {
            return Err(bad(
                "startPrice",
                format!(
                    "{} must be at least {MIN_TICKS} ticks of {}",
                    self.start_price, self.tick
                ),
            ));
        }
        if self.start_time < 0 {
            return Err(bad("startTime", "must be a Unix time in ms, not negative"));
        }
        if !(0.0..=0.2).contains(&self.volatility) {
            return Err(bad(
                "volatility",
                format!("{} must be between 0 and 0.2", self.volatility),
            ));
        }
        if !(self.base_volume.is_finite() && self.base_volume >= 0.0) {
            return Err(bad(
                "baseVolume",
                format!("{} must be 0 or more", self.base_volume),
            ));
        }
        if self.schedule.is_empty() {
            return Err(bad("schedule", "needs at least one regime span"));
        }
        for (i, span) in self.schedule.iter().enumerate() {
            let field = |f: &str| format!("schedule[{i}].{f}");
            if span.candles == 0 {
                return Err(bad(&field("candles"), "must be at least 1"));
            }
            match span.regime {
                Regime::Trend { drift } if !(-0.1..=0.1).contains(&drift) => {
                    return Err(bad(
                        &field("drift"),
                        format!("{drift} must be between -0.1 and 0.1"),
                    ));
                }
                Regime::Range { reversion } if !(0.0..=1.0).contains(&reversion) => {
                    return Err(bad(
                        &field("reversion"),
                        format!("{reversion} must be between 0 and 1"),
                    ));
                }
                Regime::Crash { depth, .. } if !(depth > 0.0 && depth < 0.95) => {
                    return Err(bad(
                        &field("depth"),
                        format!("{depth} must be above 0 and below 0.95"),
                    ));
                }
                Regime::Crash { recovery, .. } if !(0.0..=1.0).contains(&recovery) => {
                    return Err(bad(
                        &field("recovery"),
                        format!("{recovery} must be between 0 and 1"),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Prices never fall below this many ticks, so they stay positive and meaningful.
const MIN_TICKS: i64 = 100;
/// Variance of `SyntheticSource::normal`: 0.98 × 1 + 0.02 × 3².
const NORMAL_VARIANCE: f64 = 1.16;

/// Generates the whole series in memory.
pub fn generate(config: &SyntheticConfig) -> Result<CandleSeries, MarketDataError> {
    let source = SyntheticSource::new(config.clone())?;
    let description = config.description();
    let mut candles = Vec::with_capacity(config.total_candles());
    candles.extend(source);
    Ok(CandleSeries::new(
        DataOrigin::Synthetic { description },
        candles,
    ))
}

/// Streams synthetic candles one by one (no allocation per candle); a
/// `CandleSource` and an `Iterator<Item = Candle>`.
#[derive(Clone, Debug)]
pub struct SyntheticSource {
    config: SyntheticConfig,
    rng: ChaCha8Rng,
    tick_f: f64,
    /// Current price (the last close) in ticks.
    price: i64,
    emitted: usize,
    span: usize,
    in_span: usize,
    /// The price where the current span started (range anchor, crash start).
    anchor: f64,
}

impl SyntheticSource {
    pub fn new(config: SyntheticConfig) -> Result<Self, MarketDataError> {
        config.validate()?;
        let tick_f = config.tick.to_f64();
        let ticks = (config.start_price.0 / config.tick.0).round();
        let price = i64::try_from(ticks).map_err(|_| {
            MarketDataError::synthetic("startPrice", "is too many ticks; use a larger tick")
        })?;
        Ok(Self {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            tick_f,
            price,
            emitted: 0,
            span: 0,
            in_span: 0,
            anchor: 0.0,
        })
    }

    /// Uniform in [0, 1) from the top 53 bits.
    fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Approximately standard normal: Irwin–Hall (sum of 12 uniforms − 6),
    /// with a fat tail (×3 on 1 candle in 50) as crypto returns have.
    fn normal(&mut self) -> f64 {
        let z: f64 = (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0;
        if self.uniform() < 0.02 { 3.0 * z } else { z }
    }

    fn price_of(&self, ticks: i64) -> Price {
        Price(self.config.tick.0 * rust_decimal::Decimal::from(ticks))
    }

    fn step(&mut self) -> Candle {
        let span = self.config.schedule[self.span];
        let sigma = self.config.volatility;
        let open_t = self.price;
        let p = open_t as f64 * self.tick_f;
        if self.in_span == 0 {
            self.anchor = p;
        }
        // Expected return and volatility multiplier for this candle.
        let (drift, vol_mult, volume_mult) = match span.regime {
            Regime::Trend { drift } => (drift, 1.0, 1.0),
            Regime::Range { reversion } => (-reversion * (p / self.anchor - 1.0), 1.0, 0.8),
            Regime::Crash { depth, recovery } => {
                let drop_len = (span.candles / 5).max(1);
                if self.in_span < drop_len {
                    let target = self.anchor * (1.0 - depth);
                    let left = (drop_len - self.in_span) as f64;
                    ((target - p) / left / p, 3.0, 3.0)
                } else {
                    let bottom = self.anchor * (1.0 - depth);
                    let target = bottom + recovery * (self.anchor - bottom);
                    let left = (span.candles - self.in_span) as f64;
                    ((target - p) / left / p, 1.5, 1.8)
                }
            }
        };
        // Volatility drag: E[ln(1 + r)] ≈ E[r] − Var(r)/2, so without the
        // correction a driftless series would sink over long runs.
        let s = sigma * vol_mult;
        let z = self.normal();
        let r = drift + 0.5 * NORMAL_VARIANCE * s * s + s * z;
        let min_price = MIN_TICKS as f64 * self.tick_f;
        let close_f = (p * (1.0 + r)).max(min_price);
        let close_t = ((close_f / self.tick_f).round() as i64).max(MIN_TICKS);
        let body_hi = open_t.max(close_t) as f64 * self.tick_f;
        let body_lo = open_t.min(close_t) as f64 * self.tick_f;
        let up = (s * self.normal().abs() * 0.5).min(0.5);
        let down = (s * self.normal().abs() * 0.5).min(0.5);
        let high_t = ((body_hi * (1.0 + up) / self.tick_f).ceil() as i64).max(open_t.max(close_t));
        let low_t = ((body_lo * (1.0 - down) / self.tick_f).floor() as i64)
            .min(open_t.min(close_t))
            .max(MIN_TICKS);
        let move_size = if sigma > 0.0 {
            (r.abs() / sigma).min(10.0)
        } else {
            0.0
        };
        let volume = self.config.base_volume
            * volume_mult
            * (0.5 + self.uniform())
            * (1.0 + 0.5 * move_size);
        let candle = Candle {
            open_time: self.config.start_time
                + self.emitted as i64 * self.config.timeframe.millis(),
            open: self.price_of(open_t),
            high: self.price_of(high_t),
            low: self.price_of(low_t),
            close: self.price_of(close_t),
            volume: Quantity::from_scaled((volume * 10_000.0).round() as i64, 4),
        };
        self.price = close_t;
        self.emitted += 1;
        self.in_span += 1;
        if self.in_span == span.candles {
            self.span += 1;
            self.in_span = 0;
        }
        candle
    }
}

impl Iterator for SyntheticSource {
    type Item = Candle;
    fn next(&mut self) -> Option<Candle> {
        (self.span < self.config.schedule.len()).then(|| self.step())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.config.total_candles() - self.emitted;
        (n, Some(n))
    }
}

impl CandleSource for SyntheticSource {
    fn next_candle(&mut self) -> Result<Option<Candle>, MarketDataError> {
        Ok(self.next())
    }
    fn label(&self) -> String {
        self.config.description()
    }
    fn remaining(&self) -> Option<usize> {
        Some(self.config.total_candles() - self.emitted)
    }
}
