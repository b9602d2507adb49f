//! The backtest report: one serializable [`BacktestReport`] written three ways —
//! a terminal summary table, `report.json`, and a self-contained `report.html`
//! (inline SVG charts, no scripts, no network).
//!
//! Files are written to a temporary name and renamed, so a failed run never
//! leaves a half-written report behind.

mod charts;
mod html;
mod monthly;
mod sampler;
mod table;

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::domain::{Money, Price};
use crate::ledger::{BalancesSnapshot, ClosedTrade, Transfer};
use crate::performance::PerformanceSummary;

pub use html::render_html;
pub use monthly::{MonthlyReturn, monthly_returns};
pub use sampler::{EquityCharts, Picks, PriceChart};
pub use table::{render_summary_table, summary_rows};

/// Points kept for charts; the full curve can hold millions.
pub const CHART_POINTS: usize = 2_000;

/// Everything a backtest produced, in the order a reader wants it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BacktestReport {
    /// `botfleet.dev/backtest-report/v1`.
    pub api_version: String,
    pub bot: String,
    pub strategy: String,
    pub risk_policy: String,
    pub phase: String,
    pub symbols: Vec<String>,
    /// Where the candles came from; says "synthetic" for generated data.
    pub data: String,
    pub synthetic_data: bool,
    pub timeframe: String,
    pub candles: u64,
    /// Unix ms of the first and last candle.
    pub from: i64,
    pub to: i64,
    /// SHA-256 of the input manifests and data, so two reports can be compared.
    pub input_hash: String,
    pub capital: Money,
    pub balances: BalancesSnapshot,
    pub performance: PerformanceSummary,
    pub risk: RiskSummary,
    pub trades: Vec<ClosedTrade>,
    /// Capital transfers (allocation changes), oldest first. A backtest runs
    /// on one capital, so it has none; the field is there for any report
    /// built from an engine whose allocation changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocations: Vec<Transfer>,
    /// Downsampled to at most [`CHART_POINTS`] points: (time ms, equity).
    pub equity_curve: Vec<(i64, Money)>,
    /// Same times as `equity_curve`: drawdown % from the running peak.
    pub drawdown_curve: Vec<(i64, f64)>,
    /// Closes of the first symbol, downsampled like `equity_curve`: the price
    /// chart and the buy-and-hold line.
    #[serde(default)]
    pub price_curve: Vec<(i64, Price)>,
    /// Decimals of the first symbol's prices in the data (its tick), for
    /// showing prices as the venue quotes them.
    #[serde(default)]
    pub price_decimals: u32,
    /// Equity at the end of each calendar month (UTC) and its return.
    #[serde(default)]
    pub monthly_returns: Vec<MonthlyReturn>,
    /// Each model member's votes, abstentions and hit rate (empty without one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub llm_members: Vec<LlmMemberReport>,
}

/// One model member over the backtest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LlmMemberReport {
    pub name: String,
    pub model: String,
    pub buy: u64,
    pub sell: u64,
    pub hold: u64,
    /// Abstentions by cause; `notRecorded` counts prompts missing from the replay cache.
    pub abstentions: std::collections::BTreeMap<String, u64>,
    /// Share of buy/sell votes followed by a close that moved their way.
    pub hit_rate: Option<f64>,
    pub scored_votes: u64,
    pub tokens: u64,
    pub cost: rust_decimal::Decimal,
}

/// What the risk engine did during the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskSummary {
    /// Entries refused, by the RiskPolicy field that refused them.
    pub refusals: Vec<LimitCount>,
    /// Exits forced by a stop (stop-loss, take-profit, trailing stop), by kind.
    pub forced_exits: Vec<LimitCount>,
    /// Pauses (daily loss, flash crash).
    pub pauses: Vec<LimitCount>,
    /// The halt that ended trading, if one tripped: `{limit, message, at}`.
    pub halt: Option<HaltRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LimitCount {
    pub limit: String,
    pub count: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HaltRecord {
    pub reason: String,
    pub at: i64,
}

pub const REPORT_API_VERSION: &str = "botfleet.dev/backtest-report/v1";

impl BacktestReport {
    /// Writes `report.json` and `report.html` into `dir` (created if missing).
    pub fn write_files(
        &self,
        dir: &Path,
    ) -> std::io::Result<(std::path::PathBuf, std::path::PathBuf)> {
        std::fs::create_dir_all(dir)?;
        Ok((self.write_json(dir)?, self.write_html(dir)?))
    }

    /// Writes `report.json` into the existing `dir`.
    pub fn write_json(&self, dir: &Path) -> std::io::Result<std::path::PathBuf> {
        let path = dir.join("report.json");
        // Streamed to the file: a year of 1m candles' trades is megabytes.
        write_atomically_with(&path, |file| {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            serde_json::to_writer_pretty(&mut out, self).map_err(std::io::Error::other)?;
            out.flush()
        })?;
        Ok(path)
    }

    /// Writes `report.html` into the existing `dir`.
    pub fn write_html(&self, dir: &Path) -> std::io::Result<std::path::PathBuf> {
        let path = dir.join("report.html");
        write_atomically(&path, render_html(self).as_bytes())?;
        Ok(path)
    }
}

/// Writes to `<path>.tmp`, syncs, then renames over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, |file| file.write_all(bytes))
}

/// As [`write_atomically`], with `write` filling the file.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        write(&mut file)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Money for people: 2 decimals (the JSON report keeps every digit).
pub fn money(m: Money) -> String {
    format!("{:.2}", m.round_dp(2).value())
}

/// A price for people: rounded to the tick (`decimals` places).
pub fn price(p: Price, decimals: u32) -> String {
    let d = decimals as usize;
    format!("{:.d$}", p.round_dp(decimals).value())
}

/// A quantity for people: at most 8 decimals, trailing zeros dropped.
pub fn quantity(q: crate::domain::Quantity) -> String {
    q.value().round_dp(8).normalize().to_string()
}

/// Keeps at most `max` evenly spaced points, always including the last.
pub fn downsample<T: Copy>(points: &[T], max: usize) -> Vec<T> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let step = (points.len() - 1) as f64 / (max - 1) as f64;
    (0..max)
        .map(|i| points[((i as f64 * step).round() as usize).min(points.len() - 1)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_keeps_ends_and_bound() {
        let v: Vec<u32> = (0..10_000).collect();
        let d = downsample(&v, 100);
        assert_eq!(d.len(), 100);
        assert_eq!(d[0], 0);
        assert_eq!(*d.last().unwrap(), 9_999);
        assert!(d.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(downsample(&v[..5], 100), vec![0, 1, 2, 3, 4]);
    }

    /// A backtest runs on one capital: no allocations, and the JSON has no
    /// such field. Given some, the table, the page and the JSON show them.
    #[test]
    fn allocations_show_where_there_are_some() {
        use crate::domain::{Symbol, Timeframe};
        use crate::market_data::{SyntheticConfig, generate};
        let text = include_str!("../../../manifests/examples/quickstart.yaml");
        let manifests = botfleet_crds::Manifests::from_yaml(text).unwrap();
        let cfg =
            crate::config::EngineConfig::from_manifests(&manifests, None, text.as_bytes()).unwrap();
        let series = generate(&SyntheticConfig::for_timeframe(3, 300, Timeframe::H1)).unwrap();
        let mut r = crate::backtest::run(
            &cfg,
            vec![(Symbol::new("BTCUSDT"), series)],
            &Default::default(),
        )
        .unwrap();
        assert!(r.allocations.is_empty());
        assert!(
            serde_json::to_value(&r)
                .unwrap()
                .get("allocations")
                .is_none()
        );
        assert!(!render_html(&r).contains("Capital allocations"));

        let mut ledger = crate::ledger::Ledger::new(Money::from(10_000)).unwrap();
        ledger
            .transfer(r.to, Money::from(10_000), Money::from(20_000))
            .unwrap();
        ledger
            .transfer(r.to, Money::from(-5_000), Money::from(12_000))
            .unwrap();
        r.allocations = ledger.transfers().to_vec();
        let rows = summary_rows(&r);
        let (_, text) = rows
            .iter()
            .find(|(k, _)| *k == "capital transfers")
            .unwrap();
        assert!(
            text.starts_with("2 transfers, net 5000.00; allocated 12000.00"),
            "{text}"
        );
        assert!(text.ends_with("(3000.00 still to move out)"), "{text}");
        let html = render_html(&r);
        assert!(html.contains("<h2>Capital allocations</h2>"));
        assert!(html.contains("<td>-5000.00</td><td>12000.00</td><td>3000.00</td>"));
        let json = serde_json::to_string(&r).unwrap();
        let back: BacktestReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back.allocations, r.allocations);
    }

    #[test]
    fn atomic_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        write_atomically(&p, b"{}").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"{}");
        assert!(!dir.path().join("x.json.tmp").exists());
        // A directory in the way makes the rename fail: no temp file remains.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("inner"), b"x").unwrap();
        assert!(write_atomically(&blocked, b"{}").is_err());
        assert!(!dir.path().join("blocked.tmp").exists());
    }
}
