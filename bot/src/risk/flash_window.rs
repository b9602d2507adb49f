//! The flash-crash breaker's window: the highest high and the lowest low of
//! the last `windowMinutes`, and whether the new candle moved further than
//! the breaker's % from either.
//!
//! Two forms, one answer. A window of a few candles (the usual: 5 minutes
//! of 1m candles) is a small ring scanned on float views every candle, with
//! no data-dependent branch on the common path; the exact comparison runs
//! only when a candle comes near the limit. A window that outgrows the ring
//! moves, for good, to two monotonic queues (O(1) amortized per candle,
//! however long the window). `tests` replays random series through both.

use super::level::{CandleF, Factor, Level, cmp_approx};
use crate::domain::{Candle, Price, cmp_exact};

/// A move that trips the breaker: from `from` to `to` within the window.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct FlashMove {
    pub from: Price,
    pub to: Price,
    pub from_time: i64,
}

/// See the module docs.
// The ring is the common form and read every candle: kept inline, not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(super) enum FlashWindow {
    Ring(Ring),
    Queues(Queues),
}

impl Default for FlashWindow {
    fn default() -> Self {
        FlashWindow::Ring(Ring::default())
    }
}

impl FlashWindow {
    /// Adds `candle` and returns the move of more than the breaker's % within
    /// the window ending at it, if any (a candle's own range counts).
    /// `down`/`up` are `1 ∓ movePct/100`: the move trips when the low is
    /// below `highest × down` or the high above `lowest × up`.
    #[inline]
    pub fn update(
        &mut self,
        candle: &Candle,
        cf: &CandleF,
        window_ms: i64,
        factors: &(Factor, Factor),
    ) -> Option<FlashMove> {
        if let FlashWindow::Ring(ring) = self {
            ring.evict(candle.open_time - window_ms);
            if ring.len < RING {
                return ring.update(candle, cf, factors);
            }
            // Full, and its oldest candle is still in the window.
            *self = FlashWindow::Queues(ring.to_queues());
        }
        match self {
            FlashWindow::Queues(q) => q.update(candle, cf, window_ms, factors),
            FlashWindow::Ring(_) => unreachable!("moved to queues above"),
        }
    }
}

/// Candles a ring holds; a window with more moves to the queues.
const RING: usize = 8;

/// One candle in the ring: its time, high and low, with float views.
#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    time: i64,
    high: Price,
    low: Price,
    high_f: f64,
    low_f: f64,
}

/// The window's candles, oldest first, in a ring of [`RING`].
#[derive(Clone, Debug, Default)]
pub(super) struct Ring {
    entries: [Entry; RING],
    head: usize,
    len: usize,
}

impl Ring {
    #[inline]
    fn at(&self, i: usize) -> &Entry {
        &self.entries[(self.head + i) % RING]
    }

    /// Drops the candles at or before `oldest` (out of the window).
    #[inline]
    fn evict(&mut self, oldest: i64) {
        while self.len > 0 && self.entries[self.head].time <= oldest {
            self.head = (self.head + 1) % RING;
            self.len -= 1;
        }
    }

    #[inline]
    fn update(
        &mut self,
        candle: &Candle,
        cf: &CandleF,
        (down, up): &(Factor, Factor),
    ) -> Option<FlashMove> {
        self.entries[(self.head + self.len) % RING] = Entry {
            time: candle.open_time,
            high: candle.high,
            low: candle.low,
            high_f: cf.high,
            low_f: cf.low,
        };
        self.len += 1;
        let (mut top, mut bottom) = (f64::MIN, f64::MAX);
        for i in 0..self.len {
            let e = self.at(i);
            top = top.max(e.high_f);
            bottom = bottom.min(e.low_f);
        }
        // Clearly inside both limits (the float views are within ~1e-15 of
        // the exact prices, the margin is 1e-9): no exact work.
        let floor = top * down.f;
        let ceiling = bottom * up.f;
        if cf.low > floor + floor.abs() * 1e-9 && cf.high < ceiling - ceiling.abs() * 1e-9 {
            return None;
        }
        self.exact_move(candle, cf, down, up)
    }

    /// The queues' answer, exactly: the highest high (the latest of equal
    /// ones) against the low, then the lowest low against the high.
    #[cold]
    fn exact_move(
        &self,
        candle: &Candle,
        cf: &CandleF,
        down: &Factor,
        up: &Factor,
    ) -> Option<FlashMove> {
        let pick = |better: &dyn Fn(&Entry, &Entry) -> bool| {
            (1..self.len).fold(self.at(0), |best, i| {
                let e = self.at(i);
                if better(e, best) { e } else { best }
            })
        };
        let top = pick(&|e, best| cmp_exact(e.high.value(), best.high.value()).is_ge());
        let floor = Level::new(top.high.value(), top.high_f, *down);
        if floor.cmp(candle.low.value(), cf.low).is_lt() {
            return Some(FlashMove {
                from: top.high,
                to: candle.low,
                from_time: top.time,
            });
        }
        let bottom = pick(&|e, best| cmp_exact(e.low.value(), best.low.value()).is_le());
        let ceiling = Level::new(bottom.low.value(), bottom.low_f, *up);
        ceiling
            .cmp(candle.high.value(), cf.high)
            .is_gt()
            .then_some(FlashMove {
                from: bottom.low,
                to: candle.high,
                from_time: bottom.time,
            })
    }

    /// The same window as monotonic queues.
    fn to_queues(&self) -> Queues {
        let mut q = Queues::default();
        for i in 0..self.len {
            let e = self.at(i);
            q.push(e.time, (e.high, e.high_f), (e.low, e.low_f));
        }
        q
    }
}

/// One price in the queues, with its float view.
#[derive(Clone, Copy, Debug)]
struct Mark {
    time: i64,
    price: Price,
    approx: f64,
}

/// A queue of marks, oldest first, popped at both ends: a `Vec` plus a
/// head index (cheaper per candle than `VecDeque`'s wrap-around). The dead
/// prefix is dropped only when the `Vec` is full, so a warm queue neither
/// allocates nor shifts often.
#[derive(Clone, Debug, Default)]
struct Marks {
    items: Vec<Mark>,
    head: usize,
}

impl Marks {
    #[inline]
    fn front(&self) -> Option<&Mark> {
        self.items.get(self.head)
    }

    #[inline]
    fn back(&self) -> Option<&Mark> {
        self.items.last().filter(|_| self.items.len() > self.head)
    }

    #[inline]
    fn pop_front(&mut self) {
        self.head += 1;
        if self.head >= self.items.len() {
            self.items.clear();
            self.head = 0;
        }
    }

    #[inline]
    fn pop_back(&mut self) {
        self.items.pop();
        if self.head >= self.items.len() {
            self.items.clear();
            self.head = 0;
        }
    }

    #[inline]
    fn push_back(&mut self, mark: Mark) {
        if self.items.len() == self.items.capacity() && self.head > 0 {
            self.items.drain(..self.head);
            self.head = 0;
        }
        self.items.push(mark);
    }
}

/// The highs and lows of the window as two monotonic queues: the front of
/// `highs` is the highest high in the window, the front of `lows` the
/// lowest low. A warm window does not allocate.
#[derive(Clone, Debug, Default)]
pub(super) struct Queues {
    highs: Marks,
    lows: Marks,
}

impl Queues {
    #[inline]
    fn update(
        &mut self,
        candle: &Candle,
        cf: &CandleF,
        window_ms: i64,
        (down, up): &(Factor, Factor),
    ) -> Option<FlashMove> {
        let oldest = candle.open_time - window_ms;
        while self.highs.front().is_some_and(|m| m.time <= oldest) {
            self.highs.pop_front();
        }
        while self.lows.front().is_some_and(|m| m.time <= oldest) {
            self.lows.pop_front();
        }
        self.push(
            candle.open_time,
            (candle.high, cf.high),
            (candle.low, cf.low),
        );
        let (high, low) = (candle.high.value(), candle.low.value());
        let top = self.highs.front()?;
        let floor = Level::new(top.price.value(), top.approx, *down);
        if floor.cmp(low, cf.low).is_lt() {
            return Some(FlashMove {
                from: top.price,
                to: candle.low,
                from_time: top.time,
            });
        }
        let bottom = self.lows.front()?;
        let ceiling = Level::new(bottom.price.value(), bottom.approx, *up);
        ceiling.cmp(high, cf.high).is_gt().then_some(FlashMove {
            from: bottom.price,
            to: candle.high,
            from_time: bottom.time,
        })
    }

    /// Appends a candle's high and low; the marks they dominate go (ties:
    /// the later stays).
    #[inline]
    fn push(&mut self, time: i64, (high, high_f): (Price, f64), (low, low_f): (Price, f64)) {
        while let Some(m) = self.highs.back()
            && cmp_approx(m.price.value(), m.approx, high.value(), high_f).is_le()
        {
            self.highs.pop_back();
        }
        while let Some(m) = self.lows.back()
            && cmp_approx(m.price.value(), m.approx, low.value(), low_f).is_ge()
        {
            self.lows.pop_back();
        }
        self.highs.push_back(Mark {
            time,
            price: high,
            approx: high_f,
        });
        self.lows.push_back(Mark {
            time,
            price: low,
            approx: low_f,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Quantity;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn candle(time: i64, high: i64, low: i64) -> Candle {
        let p = |cents: i64| Price::new(Decimal::new(cents, 2));
        Candle {
            open_time: time,
            open: p(low),
            high: p(high),
            low: p(low),
            close: p(low),
            volume: Quantity::new(Decimal::ONE),
        }
    }

    proptest! {
        /// Ring and queues give the same verdicts, move for move (prices,
        /// times), over random walks with gaps, bursts of candles closer
        /// than a minute (a ring outgrown mid-run), exact ties and moves
        /// right at the limit, for windows of 1 to 30 minutes.
        #[test]
        fn the_ring_answers_as_the_queues(
            window_min in 1i64..30,
            move_pct in prop_oneof![Just(1u32), Just(5), Just(10), 1u32..50],
            steps in prop::collection::vec((0i64..4, -300i64..300, 0i64..400, 0u8..6), 1..400),
        ) {
            let pct = Decimal::from(move_pct);
            let factors = (Factor::pct(pct, false), Factor::pct(pct, true));
            let window_ms = window_min * 60_000;
            let (mut ring, mut queues) = (FlashWindow::default(), Queues::default());
            let (mut time, mut mid) = (0i64, 100_000i64);
            for (gap, drift, range, kind) in steps {
                // gap 0: 10 s later (denser than 1m candles), else whole minutes.
                time += if gap == 0 { 10_000 } else { gap * 60_000 };
                mid = (mid + drift).max(1_000);
                let (high, low) = match kind {
                    // A low exactly `move_pct` % under the last high.
                    0 => (mid, mid * (100 - i64::from(move_pct)) / 100),
                    1 => (mid, mid),
                    _ => (mid + range, (mid - range).max(1)),
                };
                let c = candle(time, high, low);
                let cf = CandleF::new(&c);
                let want = queues.update(&c, &cf, window_ms, &factors);
                prop_assert_eq!(ring.update(&c, &cf, window_ms, &factors), want);
            }
        }
    }

    #[test]
    fn a_window_longer_than_the_ring_moves_to_the_queues() {
        let factors = (
            Factor::pct(Decimal::from(50), false),
            Factor::pct(Decimal::from(50), true),
        );
        let mut w = FlashWindow::default();
        for i in 0..RING as i64 {
            let c = candle(i * 60_000, 100, 100);
            assert_eq!(w.update(&c, &CandleF::new(&c), 60 * 60_000, &factors), None);
            assert!(matches!(w, FlashWindow::Ring(_)), "{i}");
        }
        let c = candle(RING as i64 * 60_000, 100, 40);
        let mv = w.update(&c, &CandleF::new(&c), 60 * 60_000, &factors);
        assert!(matches!(w, FlashWindow::Queues(_)));
        assert_eq!(
            mv,
            Some(FlashMove {
                from: Price::new(Decimal::ONE),
                to: Price::new(Decimal::new(40, 2)),
                from_time: RING as i64 * 60_000,
            })
        );
    }
}
