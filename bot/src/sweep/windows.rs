//! Walk-forward windows: a train window followed by the test window right
//! after it, rolled forward by the test length. Pure: no I/O.

/// One walk-forward step, Unix ms, each range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub train: (i64, i64),
    pub test: (i64, i64),
}

/// The windows fitting in `[from, to)`: train `[from + k·test, +train)`,
/// test right after it; the last test window ends at or before `to`.
/// Empty when not even one train + test fits.
pub fn walk_forward(from: i64, to: i64, train_ms: i64, test_ms: i64) -> Vec<Window> {
    let mut out = Vec::new();
    if train_ms <= 0 || test_ms <= 0 {
        return out;
    }
    let mut start = from;
    while start + train_ms + test_ms <= to {
        let split = start + train_ms;
        out.push(Window {
            train: (start, split),
            test: (split, split + test_ms),
        });
        start += test_ms;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn windows_roll_by_the_test_length_and_never_pass_the_end() {
        // 100 days, train 30, test 10: tests start on days 30, 40, ..., 90.
        let w = walk_forward(0, 100 * DAY, 30 * DAY, 10 * DAY);
        assert_eq!(w.len(), 7);
        assert_eq!(
            w[0],
            Window {
                train: (0, 30 * DAY),
                test: (30 * DAY, 40 * DAY)
            }
        );
        assert_eq!(w[6].test, (90 * DAY, 100 * DAY));
        for pair in w.windows(2) {
            // Each test window follows its train window, and the next test
            // window follows this one: the test windows tile the tail.
            assert_eq!(pair[0].train.1, pair[0].test.0);
            assert_eq!(pair[1].test.0, pair[0].test.1);
        }
    }

    #[test]
    fn too_short_a_span_has_no_window() {
        assert!(walk_forward(0, 39 * DAY, 30 * DAY, 10 * DAY).is_empty());
        assert_eq!(walk_forward(0, 40 * DAY, 30 * DAY, 10 * DAY).len(), 1);
        assert!(walk_forward(0, 100 * DAY, 0, 10 * DAY).is_empty());
    }
}
