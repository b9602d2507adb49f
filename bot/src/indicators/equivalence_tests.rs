//! The incremental indicators agree with a naive recompute at every step of
//! a long random series (so running sums do not drift).

use super::*;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

const N: usize = 200_000;

/// A random walk on a 0.01 tick around 30000, with flat stretches (repeated
/// closes) and a tenfold level jump halfway, the hard cases for running sums.
fn series(seed: u64) -> Vec<Hlc> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut u = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut price: f64 = 30_000.0;
    let mut out = Vec::with_capacity(N);
    let mut flat = 0;
    for i in 0..N {
        if i == N / 2 {
            price *= 10.0;
        }
        if flat > 0 {
            flat -= 1;
        } else if u() < 0.01 {
            flat = 1 + (u() * 40.0) as usize;
        } else {
            price = (price * (1.0 + (u() - 0.5) * 0.01)).max(1.0);
        }
        let close = (price * 100.0).round() / 100.0;
        let high = close + (u() * 20.0).round() / 100.0;
        let low = close - (u() * 20.0).round() / 100.0;
        out.push(Hlc { high, low, close });
    }
    out
}

fn closes(hlc: &[Hlc]) -> Vec<f64> {
    hlc.iter().map(|c| c.close).collect()
}

fn naive_window(xs: &[f64], i: usize, n: usize) -> Option<&[f64]> {
    (i + 1 >= n).then(|| &xs[i + 1 - n..=i])
}

fn naive_sma(xs: &[f64], n: usize) -> Vec<Option<f64>> {
    (0..xs.len())
        .map(|i| naive_window(xs, i, n).map(|w| w.iter().sum::<f64>() / n as f64))
        .collect()
}

/// Seeded exponential smoothing written the textbook way: `α·x + (1 − α)·prev`.
fn naive_smooth(xs: &[f64], n: usize, alpha: f64) -> Vec<Option<f64>> {
    let mut out = vec![None; xs.len()];
    if xs.len() < n {
        return out;
    }
    let mut v = xs[..n].iter().sum::<f64>() / n as f64;
    out[n - 1] = Some(v);
    for i in n..xs.len() {
        v = alpha * xs[i] + (1.0 - alpha) * v;
        out[i] = Some(v);
    }
    out
}

fn naive_ema(xs: &[f64], n: usize) -> Vec<Option<f64>> {
    naive_smooth(xs, n, 2.0 / (n as f64 + 1.0))
}

fn assert_close(what: &str, i: usize, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what} #{i}: got {got}, want {want} (tol {tol})"
    );
}

fn compare(what: &str, got: &[Option<f64>], want: &[Option<f64>], rel: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match (g, w) {
            (Some(g), Some(w)) => assert_close(what, i, *g, *w, rel * w.abs().max(1.0)),
            (None, None) => {}
            _ => panic!("{what} #{i}: got {g:?}, want {w:?}"),
        }
    }
}

fn run<I: Indicator>(mut ind: I, xs: &[I::Input]) -> Vec<Option<I::Output>> {
    xs.iter().map(|&x| ind.update(x)).collect()
}

#[test]
fn sma_and_ema_match_naive() {
    let xs = closes(&series(1));
    for n in [1, 2, 20, 200] {
        compare(
            &format!("sma({n})"),
            &run(Sma::new(n).unwrap(), &xs),
            &naive_sma(&xs, n),
            1e-12,
        );
        compare(
            &format!("ema({n})"),
            &run(Ema::new(n).unwrap(), &xs),
            &naive_ema(&xs, n),
            1e-10,
        );
    }
}

#[test]
fn bollinger_matches_naive_two_pass() {
    let xs = closes(&series(2));
    for (n, k) in [(2, 1.0), (20, 2.0), (100, 2.5)] {
        let got = run(Bollinger::new(n, k).unwrap(), &xs);
        for (i, g) in got.iter().enumerate() {
            let Some(w) = naive_window(&xs, i, n) else {
                assert!(g.is_none(), "#{i} warmed up early");
                continue;
            };
            let g = g.expect("warmed up");
            let mean = w.iter().sum::<f64>() / n as f64;
            let sd = (w.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64).sqrt();
            // Errors are relative to the price level, not to σ.
            let tol = 1e-9 * mean;
            assert_close("middle", i, g.middle, mean, tol);
            assert_close("stdev", i, g.stdev, sd, tol);
            assert_close("upper", i, g.upper, mean + k * sd, tol);
            assert_close("lower", i, g.lower, mean - k * sd, tol);
            if sd == 0.0 {
                assert_eq!((g.stdev, g.percent_b), (0.0, 0.5), "flat window #{i}");
            } else {
                let b = (xs[i] - (mean - k * sd)) / (2.0 * k * sd);
                assert_close(
                    "%b",
                    i,
                    g.percent_b,
                    b,
                    4.0 * tol / (2.0 * k * sd) * (1.0 + b.abs()),
                );
            }
        }
    }
}

#[test]
fn rsi_matches_naive() {
    let xs = closes(&series(3));
    for n in [2, 14, 50] {
        let changes: Vec<f64> = xs.windows(2).map(|w| w[1] - w[0]).collect();
        let gains: Vec<f64> = changes.iter().map(|c| c.max(0.0)).collect();
        let losses: Vec<f64> = changes.iter().map(|c| (-c).max(0.0)).collect();
        let (g, l) = (
            naive_smooth(&gains, n, 1.0 / n as f64),
            naive_smooth(&losses, n, 1.0 / n as f64),
        );
        let mut want = vec![None];
        want.extend(g.iter().zip(&l).map(|(g, l)| match (g, l) {
            (Some(g), Some(l)) if *l == 0.0 => Some(if *g == 0.0 { 50.0 } else { 100.0 }),
            (Some(g), Some(l)) => Some(100.0 - 100.0 / (1.0 + g / l)),
            _ => None,
        }));
        compare(
            &format!("rsi({n})"),
            &run(Rsi::new(n).unwrap(), &xs),
            &want,
            1e-9,
        );
    }
}

#[test]
fn macd_matches_naive() {
    let xs = closes(&series(4));
    let (fast, slow, signal) = (12, 26, 9);
    // TA-Lib's alignment: the fast EMA starts `slow − fast` closes late, so
    // both are seeded on close #slow.
    let mut f = vec![None; slow - fast];
    f.extend(naive_ema(&xs[slow - fast..], fast));
    let s = naive_ema(&xs, slow);
    let line: Vec<f64> = f
        .iter()
        .zip(&s)
        .filter_map(|(f, s)| Some((*f)? - (*s)?))
        .collect();
    let sig = naive_ema(&line, signal);
    let got = run(Macd::new(fast, slow, signal).unwrap(), &xs);
    let offset = slow - 1; // line[j] belongs to close #(j + slow − 1)
    for (i, g) in got.iter().enumerate() {
        let want = i
            .checked_sub(offset)
            .and_then(|j| sig[j].map(|sg| (line[j], sg)));
        match (g, want) {
            (Some(g), Some((m, sg))) => {
                // The line is a small difference of two large EMAs: tolerance by price level.
                let tol = 1e-10 * xs[i];
                assert_close("macd", i, g.macd, m, tol);
                assert_close("signal", i, g.signal, sg, tol);
                assert_close("histogram", i, g.histogram, m - sg, 2.0 * tol);
            }
            (None, None) => {}
            _ => panic!("macd #{i}: got {g:?}, want {want:?}"),
        }
    }
}

#[test]
fn atr_matches_naive() {
    let hlc = series(5);
    // True ranges from the second candle (TA-Lib): the first has no previous close.
    let trs: Vec<f64> = (1..hlc.len())
        .map(|i| {
            let (c, pc) = (hlc[i], hlc[i - 1].close);
            (c.high - c.low)
                .max((c.high - pc).abs())
                .max((c.low - pc).abs())
        })
        .collect();
    for n in [1, 14, 100] {
        let mut want = vec![None];
        want.extend(naive_smooth(&trs, n, 1.0 / n as f64));
        compare(
            &format!("atr({n})"),
            &run(Atr::new(n).unwrap(), &hlc),
            &want,
            1e-9,
        );
    }
}
