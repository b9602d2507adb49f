//! Shared building blocks: a rolling window with O(1) mean and variance, and
//! the seeded exponential smoother behind EMA, RSI and ATR.

/// The last `n` values in a ring buffer, with running sum and (optionally)
/// running sum of squared deviations `m2`, both updated in O(1).
///
/// Float drift: each update adds rounding error to the running sums, so
/// whenever the ring wraps (every `n` updates) they are recomputed exactly
/// from the buffer — amortized O(1), and the error never spans more than one
/// window. `m2` uses the sliding-window Welford update (differences from the
/// mean, not a raw sum of squares, which would cancel catastrophically at
/// prices like 30000 with a stdev of 5). A window whose values are all equal
/// reports exactly that value and exactly zero variance (tracked by the run
/// of equal inputs), so flat markets give flat bands, not rounding noise.
#[derive(Clone, Debug)]
pub(crate) struct RollingWindow {
    buf: Box<[f64]>,
    next: usize,
    len: usize,
    sum: f64,
    m2: f64,
    track_variance: bool,
    last: f64,
    equal_run: usize,
}

impl RollingWindow {
    pub(crate) fn new(period: usize, track_variance: bool) -> Self {
        debug_assert!(period > 0);
        Self {
            buf: vec![0.0; period].into_boxed_slice(),
            next: 0,
            len: 0,
            sum: 0.0,
            m2: 0.0,
            track_variance,
            last: f64::NAN,
            equal_run: 0,
        }
    }

    pub(crate) fn period(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    pub(crate) fn push(&mut self, x: f64) {
        let n = self.buf.len();
        self.equal_run = if x == self.last {
            self.equal_run + 1
        } else {
            1
        };
        self.last = x;
        if self.len < n {
            // Growing: the plain Welford step.
            let mean_old = if self.len == 0 {
                x
            } else {
                self.sum / self.len as f64
            };
            self.len += 1;
            self.sum += x;
            if self.track_variance {
                let mean_new = self.sum / self.len as f64;
                self.m2 += (x - mean_old) * (x - mean_new);
            }
        } else {
            // Sliding: replace the oldest value.
            let old = self.buf[self.next];
            let mean_old = self.sum / n as f64;
            self.sum += x - old;
            if self.track_variance {
                let mean_new = self.sum / n as f64;
                self.m2 += (x - old) * (x - mean_new + old - mean_old);
            }
        }
        self.buf[self.next] = x;
        self.next += 1;
        if self.next == n {
            self.next = 0;
            self.resync();
        }
    }

    /// Recomputes the running sums exactly (two-pass) from the buffer.
    fn resync(&mut self) {
        self.sum = self.buf.iter().sum();
        if self.track_variance {
            let mean = self.sum / self.buf.len() as f64;
            self.m2 = self.buf.iter().map(|v| (v - mean) * (v - mean)).sum();
        }
    }

    fn all_equal(&self) -> bool {
        self.equal_run >= self.len
    }

    pub(crate) fn mean(&self) -> f64 {
        if self.all_equal() {
            self.last
        } else {
            self.sum / self.len as f64
        }
    }

    /// Population variance (divides by the window length).
    pub(crate) fn population_variance(&self) -> f64 {
        if self.all_equal() {
            0.0
        } else {
            (self.m2 / self.len as f64).max(0.0)
        }
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::new(self.buf.len(), self.track_variance);
    }
}

/// An exponential smoother seeded with the simple average of its first
/// `period` inputs (the TA-Lib / TradingView convention), then
/// `value += alpha × (x − value)`. EMA uses `alpha = 2/(n+1)`; Wilder's
/// smoothing (RSI, ATR) uses `alpha = 1/n`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Smoother {
    period: usize,
    alpha: f64,
    count: usize,
    seed_sum: f64,
    value: Option<f64>,
}

impl Smoother {
    pub(crate) fn ema(period: usize) -> Self {
        Self::with_alpha(period, 2.0 / (period as f64 + 1.0))
    }

    pub(crate) fn wilder(period: usize) -> Self {
        Self::with_alpha(period, 1.0 / period as f64)
    }

    fn with_alpha(period: usize, alpha: f64) -> Self {
        debug_assert!(period > 0);
        Self {
            period,
            alpha,
            count: 0,
            seed_sum: 0.0,
            value: None,
        }
    }

    pub(crate) fn period(&self) -> usize {
        self.period
    }

    #[inline]
    pub(crate) fn update(&mut self, x: f64) -> Option<f64> {
        match self.value {
            Some(v) => self.value = Some(v + self.alpha * (x - v)),
            None => {
                self.count += 1;
                self.seed_sum += x;
                if self.count == self.period {
                    self.value = Some(self.seed_sum / self.period as f64);
                }
            }
        }
        self.value
    }

    pub(crate) fn value(&self) -> Option<f64> {
        self.value
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::with_alpha(self.period, self.alpha);
    }
}
