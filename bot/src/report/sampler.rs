//! The report's charts built while the backtest runs, so no full-length
//! curve is ever stored: each sampler keeps the points [`super::downsample`]
//! would pick from the full series (the count is known before the run), and
//! what needs every point (the running equity peak, month ends) is
//! accumulated as the points pass.

use chrono::{DateTime, Datelike, TimeZone, Utc};

use super::{MonthlyReturn, monthly_returns};
use crate::domain::{Candle, Money, Price, cmp_approx};
use crate::performance::CurvePoint;

/// Which of `total` indices, fed in order, [`super::downsample`] keeps.
#[derive(Clone, Debug)]
pub struct Picks {
    total: usize,
    max: usize,
    k: usize,
    next: usize,
}

impl Picks {
    pub fn new(total: usize, max: usize) -> Self {
        let mut p = Self {
            total,
            max,
            k: 0,
            next: 0,
        };
        p.next = p.index(0);
        p
    }

    fn keeps_all(&self) -> bool {
        self.total <= self.max || self.max < 2
    }

    /// The same arithmetic as `downsample`, so the same points.
    fn index(&self, k: usize) -> usize {
        if self.keeps_all() {
            return k;
        }
        let step = (self.total - 1) as f64 / (self.max - 1) as f64;
        ((k as f64 * step).round() as usize).min(self.total - 1)
    }

    /// Whether index `i` (0, 1, 2, ... in order) is kept.
    #[inline]
    pub fn keep(&mut self, i: usize) -> bool {
        if i != self.next || (!self.keeps_all() && self.k >= self.max) {
            return false;
        }
        self.k += 1;
        self.next = self.index(self.k);
        true
    }
}

/// The equity chart, the drawdown chart (from the running peak of every
/// point) and the month-end equities, from a curve fed point by point.
#[derive(Clone, Debug)]
pub struct EquityCharts {
    picks: Picks,
    seen: usize,
    peak: Money,
    /// `peak`'s float view: most points are clearly below the peak, and
    /// then no exact comparison is made ([`cmp_approx`]).
    peak_f64: f64,
    pub equity: Vec<(i64, Money)>,
    pub drawdown: Vec<(i64, f64)>,
    month_ends: Vec<CurvePoint>,
    current: Option<CurvePoint>,
    /// The current point's month ends before this time (Unix ms).
    month_end: i64,
}

impl EquityCharts {
    /// For a curve of `total` points, charts of at most `max` points.
    pub fn new(total: usize, max: usize) -> Self {
        Self {
            picks: Picks::new(total, max),
            seen: 0,
            peak: Money::ZERO,
            peak_f64: 0.0,
            equity: Vec::new(),
            drawdown: Vec::new(),
            month_ends: Vec::new(),
            current: None,
            month_end: i64::MIN,
        }
    }

    /// The next point of the curve; `equity_f64` is its equity's float view.
    #[inline]
    pub fn push(&mut self, p: CurvePoint, equity_f64: f64) {
        debug_assert_eq!(equity_f64, crate::performance::approx_f64(p.equity));
        let new_peak = cmp_approx(
            p.equity.value(),
            equity_f64,
            self.peak.value(),
            self.peak_f64,
        )
        .is_gt();
        if new_peak {
            self.peak = p.equity;
            self.peak_f64 = equity_f64;
        }
        if self.picks.keep(self.seen) {
            self.equity.push((p.time, p.equity));
            self.drawdown
                .push((p.time, drawdown_pct(self.peak, p.equity)));
        }
        self.seen += 1;
        if p.time >= self.month_end || self.current.is_none() {
            if let Some(done) = self.current {
                self.month_ends.push(done);
            }
            self.month_end = next_month_start(p.time);
        }
        self.current = Some(p);
    }

    /// Points pushed.
    pub fn len(&self) -> usize {
        self.seen
    }

    pub fn is_empty(&self) -> bool {
        self.seen == 0
    }

    /// As [`monthly_returns`] over the full curve.
    pub fn monthly_returns(&self, capital: Money) -> Vec<MonthlyReturn> {
        let mut ends = self.month_ends.clone();
        ends.extend(self.current);
        monthly_returns(capital, &ends)
    }
}

/// As `EquityCurve::drawdown_series`.
fn drawdown_pct(peak: Money, equity: Money) -> f64 {
    use crate::performance::approx_f64;
    if peak > Money::ZERO {
        approx_f64(peak - equity) / approx_f64(peak) * 100.0
    } else {
        0.0
    }
}

/// Unix ms of the first instant of the month after `t`'s (UTC); `i64::MAX`
/// past chrono's range.
fn next_month_start(t: i64) -> i64 {
    let Some(d) = DateTime::<Utc>::from_timestamp_millis(t) else {
        return i64::MAX;
    };
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .map_or(i64::MAX, |s| s.timestamp_millis())
}

/// The price chart: closes at the picked candles, and the decimals of the
/// prices (the most any close of every `len / max`-th candle has, at most 8).
#[derive(Clone, Debug)]
pub struct PriceChart {
    picks: Picks,
    step: usize,
    seen: usize,
    decimals: Option<u32>,
    pub closes: Vec<(i64, Price)>,
}

impl PriceChart {
    pub fn new(total: usize, max: usize) -> Self {
        Self {
            picks: Picks::new(total, max),
            step: (total / max).max(1),
            seen: 0,
            decimals: None,
            closes: Vec::new(),
        }
    }

    #[inline]
    pub fn push(&mut self, c: &Candle) {
        if self.seen.is_multiple_of(self.step) {
            let scale = c.close.value().normalize().scale();
            self.decimals = Some(self.decimals.map_or(scale, |d| d.max(scale)));
        }
        if self.picks.keep(self.seen) {
            self.closes.push((c.open_time, c.close));
        }
        self.seen += 1;
    }

    /// The closes and the decimals (2 without candles).
    pub fn finish(self) -> (Vec<(i64, Price)>, u32) {
        (self.closes, self.decimals.unwrap_or(2).min(8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::performance::EquityCurve;
    use crate::report::downsample;

    #[test]
    fn picks_are_the_points_downsample_keeps() {
        for total in [0, 1, 2, 5, 99, 100, 101, 2_001, 9_999, 123_457] {
            for max in [0, 1, 2, 3, 100, 2_000] {
                let all: Vec<usize> = (0..total).collect();
                let mut picks = Picks::new(total, max);
                let kept: Vec<usize> = all.iter().copied().filter(|i| picks.keep(*i)).collect();
                assert_eq!(kept, downsample(&all, max), "total {total}, max {max}");
            }
        }
    }

    /// The charts built point by point equal those built from the full
    /// curve (as the report did before): equity, drawdown, monthly returns.
    #[test]
    fn equity_charts_equal_the_full_curve_ones() {
        let mut full = EquityCurve::full();
        let total = 50_000;
        let mut charts = EquityCharts::new(total, 700);
        let t0 = crate::market_data::parse_time_arg("2024-01-30").unwrap();
        for i in 0..total as i64 {
            // An equity that rises, crashes and recovers, with cents.
            let equity = Money::from(10_000)
                + Money::new(rust_decimal::Decimal::new(
                    ((i * 7_919) % 100_003) - 40_000 + (i % 977) * 13,
                    2,
                ));
            let p = CurvePoint {
                time: t0 + i * 3_600_000,
                equity,
            };
            full.push(p.time, p.equity);
            charts.push(p, crate::performance::approx_f64(p.equity));
        }
        let points = full.points();
        let equity: Vec<_> = downsample(points, 700)
            .iter()
            .map(|p| (p.time, p.equity))
            .collect();
        assert_eq!(charts.equity, equity);
        assert_eq!(charts.drawdown, downsample(&full.drawdown_series(), 700));
        let capital = Money::from(10_000);
        let months = charts.monthly_returns(capital);
        assert!(months.len() > 60);
        assert_eq!(months, monthly_returns(capital, points));
    }

    #[test]
    fn price_chart_equals_the_full_series_one() {
        let series =
            crate::market_data::generate(&crate::market_data::SyntheticConfig::new(7, 12_345))
                .unwrap();
        let mut chart = PriceChart::new(series.len(), 2_000);
        series.candles.iter().for_each(|c| chart.push(c));
        let step = (series.len() / 2_000).max(1);
        let decimals = series
            .candles
            .iter()
            .step_by(step)
            .map(|c| c.close.value().normalize().scale())
            .max()
            .unwrap()
            .min(8);
        let closes: Vec<_> = downsample(&series.candles, 2_000)
            .iter()
            .map(|c| (c.open_time, c.close))
            .collect();
        assert_eq!(chart.finish(), (closes, decimals));
    }
}
