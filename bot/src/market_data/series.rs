//! A loaded run of candles with its origin, the pull-based `CandleSource`
//! abstraction, and `--from/--to` filtering.

use super::MarketDataError;
use super::format::CsvFormat;
use super::time::format_millis;
use crate::domain::{Candle, Timeframe};
use std::path::PathBuf;

/// Where candles came from; reports show it so synthetic data is never
/// mistaken for market history.
#[derive(Clone, Debug, PartialEq)]
pub enum DataOrigin {
    /// Loaded from a CSV file.
    File { path: PathBuf, format: CsvFormat },
    /// Made by the seeded generator; `description` names the seed and regimes.
    Synthetic { description: String },
    /// Anything else (a live feed, a test fixture), described in words.
    Other { description: String },
}

impl DataOrigin {
    pub fn is_synthetic(&self) -> bool {
        matches!(self, DataOrigin::Synthetic { .. })
    }

    /// Short description without candle count or time span.
    pub fn describe(&self) -> String {
        match self {
            DataOrigin::File { path, format } => {
                format!("{} ({})", path.display(), format.describe())
            }
            DataOrigin::Synthetic { description } | DataOrigin::Other { description } => {
                description.clone()
            }
        }
    }
}

/// Candles in strictly increasing `open_time` order, plus where they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct CandleSeries {
    pub origin: DataOrigin,
    pub candles: Vec<Candle>,
}

impl CandleSeries {
    pub fn new(origin: DataOrigin, candles: Vec<Candle>) -> Self {
        Self { origin, candles }
    }

    pub fn len(&self) -> usize {
        self.candles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.candles.is_empty()
    }

    pub fn is_synthetic(&self) -> bool {
        self.origin.is_synthetic()
    }

    /// One line for reports, e.g. `synthetic (seed 42, 1h, trend↑ → range → crash), 10000 candles,
    /// 2024-01-01T00:00:00Z → 2025-02-20T15:00:00Z`.
    pub fn label(&self) -> String {
        match (self.candles.first(), self.candles.last()) {
            (Some(first), Some(last)) => format!(
                "{}, {} candles, {} → {}",
                self.origin.describe(),
                self.candles.len(),
                format_millis(first.open_time),
                format_millis(last.open_time)
            ),
            _ => format!("{}, no candles", self.origin.describe()),
        }
    }

    /// The smallest gap between consecutive open times: the candle interval
    /// (gaps from exchange outages are larger, never smaller). `None` below 2 candles.
    pub fn interval_ms(&self) -> Option<i64> {
        self.candles
            .windows(2)
            .map(|w| w[1].open_time - w[0].open_time)
            .min()
    }

    /// The data's timeframe when its interval is one the engine supports, so a
    /// backtest can refuse 1m data for a 1h strategy.
    pub fn timeframe(&self) -> Option<Timeframe> {
        timeframe_of(self.interval_ms()?)
    }

    /// Keeps the candles with `from <= open_time < to` (each bound optional,
    /// Unix ms). Errors, naming the data's span, when the range is reversed or
    /// selects nothing, so `--from/--to` typos do not produce an empty report.
    pub fn restrict(mut self, from: Option<i64>, to: Option<i64>) -> Result<Self, MarketDataError> {
        let range = time_range(&self.candles, from, to);
        if from.zip(to).is_some_and(|(f, t)| f >= t) || range.is_empty() {
            let span = self
                .candles
                .first()
                .zip(self.candles.last())
                .map(|(a, b)| (a.open_time, b.open_time));
            return Err(range_error(from, to, span));
        }
        let (start, end) = (range.start, range.end);
        self.candles.truncate(end);
        self.candles.drain(..start);
        Ok(self)
    }

    /// A `CandleSource` replaying this series from the start.
    pub fn into_source(self) -> SeriesSource {
        SeriesSource {
            series: self,
            pos: 0,
        }
    }
}

/// The supported timeframe whose length is `interval` ms.
pub(super) fn timeframe_of(interval: i64) -> Option<Timeframe> {
    Timeframe::ALL
        .into_iter()
        .find(|tf| tf.millis() == interval)
}

/// Why `--from/--to` selects nothing, naming the data's span (first and
/// last open time), so typos do not produce an empty report.
pub(super) fn range_error(
    from: Option<i64>,
    to: Option<i64>,
    span: Option<(i64, i64)>,
) -> MarketDataError {
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return MarketDataError::Range(format!(
            "--from {} is not before --to {} (fix: swap them or widen the range)",
            format_millis(f),
            format_millis(t)
        ));
    }
    let span = match span {
        Some((a, b)) => format!(
            "the data covers {} → {}",
            format_millis(a),
            format_millis(b)
        ),
        None => "the data has no candles".to_string(),
    };
    let bound = |b: Option<i64>| b.map(format_millis).unwrap_or_else(|| "…".to_string());
    MarketDataError::Range(format!(
        "no candles between {} and {}; {span} (fix: choose --from/--to inside that span)",
        bound(from),
        bound(to)
    ))
}

/// Index range of the candles with `from <= open_time < to` in a sorted slice,
/// found by binary search (O(log n)).
pub fn time_range(
    candles: &[Candle],
    from: Option<i64>,
    to: Option<i64>,
) -> std::ops::Range<usize> {
    let start = from.map_or(0, |f| candles.partition_point(|c| c.open_time < f));
    let end = to.map_or(candles.len(), |t| {
        candles.partition_point(|c| c.open_time < t)
    });
    start..end.max(start)
}

/// A pull-based, synchronous stream of candles, oldest first.
///
/// Backtests pull from it in a tight loop, so implementations keep per-candle
/// work to a copy; sources that can fail mid-stream (files read lazily, live
/// feeds) report errors through the `Result`. `Ok(None)` means the end.
pub trait CandleSource {
    fn next_candle(&mut self) -> Result<Option<Candle>, MarketDataError>;

    /// What the data is, for reports (says "synthetic" for generated data).
    fn label(&self) -> String;

    /// How many candles remain, when known (for progress bars).
    fn remaining(&self) -> Option<usize> {
        None
    }
}

impl<S: CandleSource + ?Sized> CandleSource for Box<S> {
    fn next_candle(&mut self) -> Result<Option<Candle>, MarketDataError> {
        (**self).next_candle()
    }
    fn label(&self) -> String {
        (**self).label()
    }
    fn remaining(&self) -> Option<usize> {
        (**self).remaining()
    }
}

/// Replays an in-memory `CandleSeries`; never fails. Also an `Iterator<Item = Candle>`.
#[derive(Clone, Debug)]
pub struct SeriesSource {
    series: CandleSeries,
    pos: usize,
}

impl SeriesSource {
    pub fn series(&self) -> &CandleSeries {
        &self.series
    }
}

impl CandleSource for SeriesSource {
    #[inline]
    fn next_candle(&mut self) -> Result<Option<Candle>, MarketDataError> {
        Ok(self.next())
    }
    fn label(&self) -> String {
        self.series.label()
    }
    fn remaining(&self) -> Option<usize> {
        Some(self.series.candles.len() - self.pos)
    }
}

impl Iterator for SeriesSource {
    type Item = Candle;
    #[inline]
    fn next(&mut self) -> Option<Candle> {
        let candle = self.series.candles.get(self.pos).copied();
        self.pos += usize::from(candle.is_some());
        candle
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.series.candles.len() - self.pos;
        (n, Some(n))
    }
}

impl ExactSizeIterator for SeriesSource {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Price, Quantity};

    fn candle(t: i64) -> Candle {
        let p = Price::from(100);
        Candle {
            open_time: t,
            open: p,
            high: p,
            low: p,
            close: p,
            volume: Quantity::from(1),
        }
    }

    fn series(times: &[i64]) -> CandleSeries {
        CandleSeries::new(
            DataOrigin::Other {
                description: "test".into(),
            },
            times.iter().map(|&t| candle(t)).collect(),
        )
    }

    const H: i64 = 3_600_000;

    #[test]
    fn restrict_is_half_open_and_explains_empty_ranges() {
        let s = series(&[0, H, 2 * H, 3 * H, 4 * H]);
        let times = |s: &CandleSeries| {
            s.candles
                .iter()
                .map(|c| c.open_time / H)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            times(&s.clone().restrict(Some(H), Some(3 * H)).unwrap()),
            vec![1, 2]
        );
        assert_eq!(
            times(&s.clone().restrict(Some(H + 1), None).unwrap()),
            vec![2, 3, 4]
        );
        assert_eq!(times(&s.clone().restrict(None, Some(1)).unwrap()), vec![0]);
        assert_eq!(
            times(&s.clone().restrict(None, None).unwrap()),
            vec![0, 1, 2, 3, 4]
        );
        let e = s
            .clone()
            .restrict(Some(10 * H), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no candles") && e.contains("1970-01-01T04:00:00Z"),
            "{e}"
        );
        let e = s.restrict(Some(2 * H), Some(H)).unwrap_err().to_string();
        assert!(e.contains("not before"), "{e}");
    }

    #[test]
    fn infers_timeframe_from_smallest_gap() {
        // A gap (outage) between 2h and 5h does not change the interval.
        assert_eq!(
            series(&[0, H, 2 * H, 5 * H]).timeframe(),
            Some(Timeframe::H1)
        );
        assert_eq!(
            series(&[0, 180_000]).timeframe(),
            None,
            "3m is not a supported timeframe"
        );
        assert_eq!(series(&[0]).timeframe(), None);
    }

    #[test]
    fn series_source_replays_in_order_then_ends() {
        let mut src = series(&[0, H, 2 * H]).into_source();
        assert_eq!(src.remaining(), Some(3));
        assert_eq!(src.next_candle().unwrap().unwrap().open_time, 0);
        let rest: Vec<i64> = src.by_ref().map(|c| c.open_time).collect();
        assert_eq!(rest, vec![H, 2 * H]);
        assert_eq!(src.next_candle().unwrap(), None);
        assert_eq!(src.remaining(), Some(0));
        let mut boxed: Box<dyn CandleSource> = Box::new(series(&[7]).into_source());
        assert!(boxed.label().contains("test, 1 candles"));
        assert_eq!(boxed.next_candle().unwrap().unwrap().open_time, 7);
    }
}
