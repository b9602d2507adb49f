//! The equity curve kept for the report and charts.

use crate::domain::Money;
use serde::{Deserialize, Serialize};

/// One point of the equity curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurvePoint {
    pub time: i64,
    pub equity: Money,
}

/// Equity per candle, full or bounded.
///
/// A bounded curve keeps at most `max_points`: when full it drops every
/// other point and from then on samples every 2nd, 4th, ... candle (the
/// stride doubles each time). O(1) amortized per candle, memory bounded for
/// a long-running bot, and deterministic. The latest point is always kept
/// (`last`), so the end of the chart is exact. Statistics never come from
/// this curve: they are computed on every candle by the window stats.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EquityCurve {
    points: Vec<CurvePoint>,
    /// `None`: keep every point.
    max_points: Option<usize>,
    stride: u64,
    seen: u64,
    last: Option<CurvePoint>,
}

impl EquityCurve {
    /// Every candle (a backtest report: 1M candles ≈ 24 MB).
    pub fn full() -> Self {
        Self::with_max(None)
    }

    /// At most `max_points` sampled points (a live bot). 0 keeps only the
    /// latest point.
    pub fn bounded(max_points: usize) -> Self {
        Self::with_max(Some(max_points))
    }

    fn with_max(max_points: Option<usize>) -> Self {
        Self {
            points: Vec::new(),
            max_points,
            stride: 1,
            seen: 0,
            last: None,
        }
    }

    #[inline]
    pub fn push(&mut self, time: i64, equity: Money) {
        let point = CurvePoint { time, equity };
        self.last = Some(point);
        if self.max_points == Some(0) {
            return;
        }
        // The stride is a power of two: a mask instead of a division.
        if self.seen & (self.stride - 1) == 0 {
            self.points.push(point);
            if self.max_points.is_some_and(|max| self.points.len() > max) {
                let mut i = 0;
                self.points.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.stride *= 2;
            }
        }
        self.seen += 1;
    }

    /// The sampled points, oldest first.
    pub fn points(&self) -> &[CurvePoint] {
        &self.points
    }

    /// The latest point pushed.
    pub fn last(&self) -> Option<CurvePoint> {
        self.last
    }

    /// Candles between two sampled points (1 until the first decimation).
    pub fn stride(&self) -> u64 {
        self.stride
    }

    /// Points pushed so far.
    pub fn len_seen(&self) -> u64 {
        self.seen
    }

    /// The sampled points plus the latest one if it was not sampled: what a
    /// chart should draw.
    pub fn to_vec(&self) -> Vec<CurvePoint> {
        let mut v = self.points.clone();
        if let Some(last) = self.last
            && v.last() != Some(&last)
        {
            v.push(last);
        }
        v
    }

    /// Drawdown in % from the running peak of the drawn points, for the
    /// drawdown chart.
    pub fn drawdown_series(&self) -> Vec<(i64, f64)> {
        let mut peak = Money::ZERO;
        self.to_vec()
            .into_iter()
            .map(|p| {
                peak = peak.max(p.equity);
                let dd = if peak > Money::ZERO {
                    super::metrics::approx_f64(peak - p.equity) / super::metrics::approx_f64(peak)
                        * 100.0
                } else {
                    0.0
                };
                (p.time, dd)
            })
            .collect()
    }
}
