//! Parameter sets of a sweep: `--param PATH=VALUES` per strategy field,
//! expanded into their cartesian product (a grid) or a seeded random sample
//! of it. Pure: no I/O.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde_json::Value;

/// One swept field: `smaCrossover.fast=5,10,20` or `smaCrossover.fast=5:30:5`
/// (from `lo` to `hi` inclusive, by `step`).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// The field under the Strategy's `spec`, dot-separated (`smaCrossover.fast`).
    pub path: String,
    pub values: Vec<Value>,
}

/// One parameter set: a value per swept field, in `--param` order.
pub type ParamSet = Vec<(String, Value)>;

impl std::str::FromStr for ParamSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = "write PATH=VALUES, e.g. smaCrossover.fast=5,10,20 or smaCrossover.fast=5:30:5";
        let (path, values) = s
            .split_once('=')
            .ok_or_else(|| format!("--param {s}: no `=`; {usage}"))?;
        let path = path.trim();
        if path.is_empty() {
            return Err(format!("--param {s}: no field before `=`; {usage}"));
        }
        let values = if let Some((lo, rest)) = values.split_once(':') {
            let (hi, step) = rest.split_once(':').unwrap_or((rest, "1"));
            let num = |v: &str, what: &str| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("--param {s}: {what} `{v}` is not a number; {usage}"))
            };
            let (lo, hi, step) = (num(lo, "start")?, num(hi, "end")?, num(step, "step")?);
            if step <= 0.0 || hi < lo {
                return Err(format!(
                    "--param {s}: the range must go up (start ≤ end) by a positive step; {usage}"
                ));
            }
            let count = ((hi - lo) / step + 1e-9).floor() as usize + 1;
            if count > 100_000 {
                return Err(format!("--param {s}: {count} values; use a larger step"));
            }
            (0..count).map(|i| number(lo + step * i as f64)).collect()
        } else {
            values.split(',').map(|v| scalar(v.trim())).collect()
        };
        Ok(Self {
            path: path.to_string(),
            values,
        })
    }
}

/// Integers stay integers (periods are `u32` in the Strategy).
fn number(x: f64) -> Value {
    let rounded = (x * 1e9).round() / 1e9;
    if rounded.fract() == 0.0 && rounded.abs() < 1e15 {
        Value::from(rounded as i64)
    } else {
        Value::from(rounded)
    }
}

fn scalar(v: &str) -> Value {
    match v.parse::<f64>() {
        Ok(x) => number(x),
        Err(_) => match v {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(v.to_string()),
        },
    }
}

/// Every combination, the last field varying fastest.
pub fn expand(specs: &[ParamSpec]) -> Vec<ParamSet> {
    let mut sets: Vec<ParamSet> = vec![Vec::new()];
    for spec in specs {
        sets = sets
            .into_iter()
            .flat_map(|set| {
                spec.values.iter().map(move |v| {
                    let mut next = set.clone();
                    next.push((spec.path.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    if specs.is_empty() { Vec::new() } else { sets }
}

/// `n` distinct sets drawn from the grid with `seed` (all of it when `n` is
/// at least its size), in grid order.
pub fn sample(grid: Vec<ParamSet>, n: usize, seed: u64) -> Vec<ParamSet> {
    if n >= grid.len() {
        return grid;
    }
    // A partial Fisher–Yates shuffle of the indexes, then back to grid order.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..grid.len()).collect();
    for i in 0..n {
        let j = i + (rng.next_u64() % (idx.len() - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut chosen = idx[..n].to_vec();
    chosen.sort_unstable();
    let mut grid: Vec<Option<ParamSet>> = grid.into_iter().map(Some).collect();
    chosen.into_iter().filter_map(|i| grid[i].take()).collect()
}

/// `fast=10 slow=30` for tables.
pub fn label(set: &ParamSet) -> String {
    set.iter()
        .map(|(path, v)| format!("{}={v}", path.rsplit('.').next().unwrap_or(path)))
        .collect::<Vec<_>>()
        .join(" ")
}
