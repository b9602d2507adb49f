//! The performance tracker: the whole run plus the current phase window.

use std::borrow::Cow;

use super::curve::{CurvePoint, EquityCurve};
use super::metrics::{WindowStats, WindowSummary, approx_f64};
use crate::domain::{Money, Timeframe};
use crate::ledger::ClosedTrade;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Label of the window that covers the whole run.
pub const OVERALL: &str = "overall";

/// Tracks the equity curve and every statistic twice: over the whole run
/// (`overall`) and over the current window (`window`), which
/// [`Performance::start_window`] restarts when the phase changes. The
/// operator's gates read the window; the report reads both.
///
/// Until the first [`Performance::start_window`] the window is the whole
/// run under another label, so only `overall` is updated (a backtest never
/// starts one: half the statistics work per candle).
///
/// Serializable so a live bot persists it and resumes its statistics after a
/// restart (enable serde_json's `float_roundtrip` so floats come back exact);
/// the form always holds both series.
#[derive(Clone, Debug)]
pub struct Performance {
    periods_per_year: f64,
    prev_equity_f64: f64,
    overall: WindowStats,
    window: Window,
    curve: EquityCurve,
    /// The float view of the curve's latest point (not persisted: read
    /// back from the point).
    curve_last_f64: f64,
}

/// The current window of a [`Performance`].
// Inline, not boxed: a started window is updated every candle, and there
// is one per tracker.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Window {
    /// No window started yet: the window is `overall` under this label.
    WholeRun(String),
    Started(WindowStats),
}

/// The serialized form of [`Performance`].
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PerformanceState<'a> {
    periods_per_year: f64,
    prev_equity_f64: f64,
    overall: Cow<'a, WindowStats>,
    window: Cow<'a, WindowStats>,
    curve: Cow<'a, EquityCurve>,
}

impl Serialize for Performance {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PerformanceState {
            periods_per_year: self.periods_per_year,
            prev_equity_f64: self.prev_equity_f64,
            overall: Cow::Borrowed(&self.overall),
            window: self.window(),
            curve: Cow::Borrowed(&self.curve),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Performance {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = PerformanceState::deserialize(deserializer)?;
        let curve = s.curve.into_owned();
        Ok(Self {
            periods_per_year: s.periods_per_year,
            prev_equity_f64: s.prev_equity_f64,
            overall: s.overall.into_owned(),
            window: Window::Started(s.window.into_owned()),
            curve_last_f64: curve.last().map_or(0.0, |p| approx_f64(p.equity)),
            curve,
        })
    }
}

impl Performance {
    /// Starts tracking at `start_time` with `start_equity`; the first window
    /// is called `window_label` (the phase, e.g. `Paper`). Returns are
    /// annualized with `timeframe.periods_per_year()` (365-day year).
    pub fn new(
        timeframe: Timeframe,
        window_label: impl Into<String>,
        start_time: i64,
        start_equity: Money,
        curve: EquityCurve,
    ) -> Self {
        Self {
            periods_per_year: timeframe.periods_per_year(),
            prev_equity_f64: approx_f64(start_equity),
            overall: WindowStats::new(OVERALL.to_string(), start_time, start_equity),
            window: Window::WholeRun(window_label.into()),
            curve_last_f64: curve.last().map_or(0.0, |p| approx_f64(p.equity)),
            curve,
        }
    }

    /// One candle: the account's equity at its close and whether a position
    /// was open. Pass the candle's open time consistently (it decides the
    /// UTC day the candle belongs to). O(1), allocation-free (a full curve
    /// grows its `Vec` amortized).
    #[inline]
    pub fn on_candle(&mut self, time: i64, equity: Money, in_position: bool) {
        self.on_viewed_candle(time, equity, approx_f64(equity), in_position);
    }

    /// [`Self::on_candle`] with `equity`'s float view, worked out once per
    /// candle by the engine for every part that reads it.
    #[inline]
    pub fn on_viewed_candle(
        &mut self,
        time: i64,
        equity: Money,
        equity_f64: f64,
        in_position: bool,
    ) {
        debug_assert_eq!(equity_f64, approx_f64(equity));
        let ret = (self.prev_equity_f64 > 0.0).then(|| equity_f64 / self.prev_equity_f64 - 1.0);
        self.prev_equity_f64 = equity_f64;
        for series in self.series_mut() {
            series.update(time, equity, equity_f64, ret, in_position);
        }
        self.curve.push(time, equity);
        self.curve_last_f64 = equity_f64;
    }

    /// The equity after a fill between candles (a venue fill, a flatten):
    /// `/status`, drawdown and a window started next see it at once instead
    /// of at the next candle's mark.
    pub fn mark(&mut self, equity: Money) {
        let equity_f64 = approx_f64(equity);
        for series in self.series_mut() {
            series.mark(equity, equity_f64);
        }
    }

    /// A completed round trip; counted in the window where it closes.
    pub fn record_trade(&mut self, trade: &ClosedTrade) {
        for series in self.series_mut() {
            series.record_trade(trade.pnl);
        }
    }

    /// An order sent (`accepted`) or refused by the broker (an order error).
    pub fn record_order(&mut self, accepted: bool) {
        for series in self.series_mut() {
            series.record_order(accepted);
        }
    }

    /// A capital transfer of `amount` after the last candle: both series
    /// re-base on it (see `WindowStats::transfer`), and the next candle's
    /// return is measured from the equity after it.
    pub fn transfer(&mut self, amount: Money) {
        for series in self.series_mut() {
            series.transfer(amount);
        }
        self.prev_equity_f64 = approx_f64(self.overall.equity());
    }

    /// Starts a new window at `time` from the current equity (the phase
    /// changed). The overall series is untouched.
    pub fn start_window(&mut self, label: impl Into<String>, time: i64) {
        self.window = Window::Started(WindowStats::new(label.into(), time, self.overall.equity()));
    }

    pub fn overall(&self) -> &WindowStats {
        &self.overall
    }

    /// The current window (a copy of `overall` under the first window's
    /// label until a window is started).
    pub fn window(&self) -> Cow<'_, WindowStats> {
        match &self.window {
            Window::Started(window) => Cow::Borrowed(window),
            Window::WholeRun(label) => Cow::Owned(self.overall.relabelled(label)),
        }
    }

    /// The series every update goes to: the whole run, and the window once
    /// one has started.
    fn series_mut(&mut self) -> impl Iterator<Item = &mut WindowStats> {
        let window = match &mut self.window {
            Window::Started(window) => Some(window),
            Window::WholeRun(_) => None,
        };
        std::iter::once(&mut self.overall).chain(window)
    }

    pub fn curve(&self) -> &EquityCurve {
        &self.curve
    }

    /// The curve's latest point and its equity's float view.
    pub fn last_point(&self) -> Option<(CurvePoint, f64)> {
        self.curve.last().map(|p| (p, self.curve_last_f64))
    }

    pub fn periods_per_year(&self) -> f64 {
        self.periods_per_year
    }

    pub fn summary(&self) -> PerformanceSummary {
        PerformanceSummary {
            periods_per_year: self.periods_per_year,
            overall: self.overall.summary(self.periods_per_year),
            window: self.window().summary(self.periods_per_year),
        }
    }
}

/// Overall and current-window figures, serializable (money as decimal
/// strings). Sharpe/Sortino are annualized from per-candle simple returns,
/// risk-free 0, with `periodsPerYear` (365-day year).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceSummary {
    pub periods_per_year: f64,
    pub overall: WindowSummary,
    pub window: WindowSummary,
}
