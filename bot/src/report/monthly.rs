//! Monthly returns: the equity at each calendar month's last candle (UTC)
//! against the month before (the capital for the first month).

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Money;
use crate::performance::CurvePoint;

/// One calendar month of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthlyReturn {
    pub year: i32,
    /// 1–12.
    pub month: u32,
    /// Equity at the month's last candle.
    pub equity: Money,
    /// Change against the previous month's closing equity (the capital for
    /// the first month), in percent. A statistic: `f64`.
    pub return_pct: f64,
}

/// The months the curve spans, in order (months without a point are absent).
pub fn monthly_returns(capital: Money, points: &[CurvePoint]) -> Vec<MonthlyReturn> {
    let month_of =
        |t: i64| DateTime::<Utc>::from_timestamp_millis(t).map(|d| (d.year(), d.month()));
    let mut out: Vec<MonthlyReturn> = Vec::new();
    let mut previous = capital;
    for (i, p) in points.iter().enumerate() {
        let Some(month) = month_of(p.time) else {
            continue;
        };
        let last_of_month = points
            .get(i + 1)
            .and_then(|n| month_of(n.time))
            .is_none_or(|next| next != month);
        if !last_of_month {
            continue;
        }
        let return_pct = if previous.is_zero() {
            0.0
        } else {
            ((p.equity - previous).value() / previous.value() * rust_decimal::Decimal::ONE_HUNDRED)
                .try_into()
                .unwrap_or(0.0)
        };
        out.push(MonthlyReturn {
            year: month.0,
            month: month.1,
            equity: p.equity,
            return_pct,
        });
        previous = p.equity;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(date: &str, equity: i64) -> CurvePoint {
        CurvePoint {
            time: crate::market_data::parse_time_arg(date).unwrap(),
            equity: Money::from(equity),
        }
    }

    #[test]
    fn each_month_is_its_last_equity_against_the_previous_months() {
        let points = [
            point("2024-01-01", 1_000),
            point("2024-01-31", 1_100),
            point("2024-02-15", 1_000),
            point("2024-02-29", 990),
            // March has no candle; April compares with February.
            point("2024-04-02", 1_089),
        ];
        let months = monthly_returns(Money::from(1_000), &points);
        let got: Vec<(i32, u32, i64)> = months
            .iter()
            .map(|m| (m.year, m.month, (m.return_pct * 100.0).round() as i64))
            .collect();
        assert_eq!(
            got,
            vec![(2024, 1, 1000), (2024, 2, -1000), (2024, 4, 1000)]
        );
        assert_eq!(months[1].equity, Money::from(990));
        assert!(monthly_returns(Money::from(1_000), &[]).is_empty());
    }
}
