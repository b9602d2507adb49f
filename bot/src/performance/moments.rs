//! The moments of a window's per-candle returns (count, mean, M2, downside
//! sum) for its Sharpe and Sortino ratios, in O(1) per candle.
//!
//! Welford's update divides by the count on every return, and each division
//! waits for the one before (the mean carries over): a chain of ~20 cycles
//! per candle on the engine's hot path. Here the returns are summed in
//! blocks of up to [`BLOCK`], each shifted by the mean at the block's start
//! so the sums stay the size of a return, and a full block is merged into
//! the running mean and M2 with Chan, Golub and LeVeque's pairwise formula:
//! two divisions per block instead of one per candle. Reads merge the block
//! in progress without changing anything, so the figures never depend on
//! where a block ends. The result equals a two-pass mean and variance to
//! rounding (test: `return_moments_match_a_two_pass_reference`).

use serde::{Deserialize, Serialize};

/// Returns summed before a merge.
const BLOCK: u32 = 64;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReturnMoments {
    /// Every return, the block in progress included.
    returns: u64,
    /// Mean and M2 (Σ squared deviations from the mean) of the merged
    /// returns (all but the block in progress).
    mean: f64,
    m2: f64,
    /// Σ min(r, 0)² over every return.
    downside_sq: f64,
    /// The block in progress: its count, and the sums of its returns and
    /// their squares, each return less `mean`. Absent in a state persisted
    /// before blocks existed (an empty block).
    #[serde(default)]
    block_returns: u32,
    #[serde(default)]
    block_sum: f64,
    #[serde(default)]
    block_sum_sq: f64,
}

impl ReturnMoments {
    #[inline]
    pub(super) fn push(&mut self, r: f64) {
        self.returns += 1;
        let x = r - self.mean;
        self.block_returns += 1;
        self.block_sum += x;
        self.block_sum_sq += x * x;
        if r < 0.0 {
            self.downside_sq += r * r;
        }
        if self.block_returns == BLOCK {
            (self.mean, self.m2) = self.merged();
            self.block_returns = 0;
            self.block_sum = 0.0;
            self.block_sum_sq = 0.0;
        }
    }

    /// Returns pushed.
    pub(super) fn count(&self) -> u64 {
        self.returns
    }

    /// Mean of every return.
    pub(super) fn mean(&self) -> f64 {
        self.merged().0
    }

    /// Σ (r − mean)² over every return.
    pub(super) fn m2(&self) -> f64 {
        self.merged().1
    }

    pub(super) fn downside_sq(&self) -> f64 {
        self.downside_sq
    }

    /// `(mean, M2)` of the merged returns and the block in progress.
    fn merged(&self) -> (f64, f64) {
        if self.block_returns == 0 {
            return (self.mean, self.m2);
        }
        let nb = f64::from(self.block_returns);
        let na = (self.returns - u64::from(self.block_returns)) as f64;
        let n = na + nb;
        // The block's mean less the merged mean (its returns were shifted
        // by that mean), and its own M2 about its own mean.
        let delta = self.block_sum / nb;
        let block_m2 = (self.block_sum_sq - self.block_sum * delta).max(0.0);
        (
            self.mean + delta * nb / n,
            self.m2 + block_m2 + delta * delta * na * nb / n,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ReturnMoments;

    /// Two-pass mean and M2 (the textbook reference).
    fn two_pass(rs: &[f64]) -> (f64, f64) {
        let mean = rs.iter().sum::<f64>() / rs.len() as f64;
        (mean, rs.iter().map(|r| (r - mean) * (r - mean)).sum())
    }

    fn close(a: f64, b: f64, scale: f64) -> bool {
        (a - b).abs() <= 1e-12 * scale.max(b.abs())
    }

    #[test]
    fn return_moments_match_a_two_pass_reference() {
        // Returns as a backtest makes them: small, signed, with flat runs
        // (exact zeros) and a few large moves; read at every length so a
        // block in progress is merged at every position.
        let mut seed = 42u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let rs: Vec<f64> = (0..1000)
            .map(|i| match i % 97 {
                0 => next() * 0.2,
                10..=40 => 0.0,
                _ => next() * 2e-3 + 1e-5,
            })
            .collect();
        let mut m = ReturnMoments::default();
        for (i, r) in rs.iter().enumerate() {
            m.push(*r);
            let seen = &rs[..=i];
            let (mean, m2) = two_pass(seen);
            assert_eq!(m.count(), seen.len() as u64);
            let spread = (m2 / seen.len() as f64).sqrt();
            assert!(
                close(m.mean(), mean, spread),
                "mean at {i}: {} vs {mean}",
                m.mean()
            );
            assert!(close(m.m2(), m2, m2), "m2 at {i}: {} vs {m2}", m.m2());
            let downside: f64 = seen.iter().map(|r| r.min(0.0).powi(2)).sum();
            assert!(close(m.downside_sq(), downside, downside));
        }
    }

    #[test]
    fn constant_returns_have_no_variance() {
        let mut m = ReturnMoments::default();
        for _ in 0..200 {
            m.push(0.0);
        }
        assert_eq!((m.mean(), m.m2()), (0.0, 0.0));
        let mut m = ReturnMoments::default();
        for _ in 0..200 {
            m.push(1e-3);
        }
        assert!((m.mean() - 1e-3).abs() < 1e-18);
        assert!(m.m2() < 1e-20, "m2 {}", m.m2());
    }

    #[test]
    fn a_restored_block_in_progress_goes_on_as_the_original() {
        let mut a = ReturnMoments::default();
        for i in 0..100 {
            a.push(f64::from(i % 7) * 1e-4 - 2e-4);
        }
        let mut b: ReturnMoments =
            serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(a, b);
        for i in 0..100 {
            a.push(f64::from(i % 5) * 1e-4);
            b.push(f64::from(i % 5) * 1e-4);
        }
        assert_eq!(a, b);
        // A state written before blocks existed reads as an empty block.
        let old: ReturnMoments =
            serde_json::from_str(r#"{"returns":3,"mean":0.5,"m2":2.0,"downsideSq":0.0}"#).unwrap();
        assert_eq!((old.count(), old.mean(), old.m2()), (3, 0.5, 2.0));
    }
}
