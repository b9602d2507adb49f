//! `RiskPolicy.spec.sizing`: how big an entry is before the caps apply.
//!
//! The method only proposes a size; the engine then lowers it to every cap
//! of the phase (position %, position amount, order notional, cash). The
//! default, `fixedFraction: {pct: 100}`, proposes the whole equity, so the
//! position cap alone decides — the behaviour of a policy without sizing.
//!
//! Like the strategy kinds, the method is a set of optional fields rather
//! than a Rust enum (an enum becomes `oneOf`, which a structural schema
//! cannot carry); "exactly one" is checked by [`Sizing::check`].

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::amount::Percent;
use crate::validation::ValidationErrors;

/// Position sizing: set exactly one of `fixedFraction`, `atr`, `kelly`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sizing {
    /// A fixed % of equity per entry (100 = as much as the caps allow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_fraction: Option<FixedFraction>,
    /// Volatility sizing: risk `riskPct` % of equity on a stop `atrMultiple` × ATR away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atr: Option<AtrSizing>,
    /// A fraction of the Kelly bet computed from the bot's own closed trades, capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kelly: Option<KellySizing>,
}

impl Default for Sizing {
    /// `fixedFraction: {pct: 100}`: the caps decide.
    fn default() -> Self {
        Self {
            fixed_fraction: Some(FixedFraction::default()),
            atr: None,
            kelly: None,
        }
    }
}

/// Fixed-fraction sizing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FixedFraction {
    /// Notional of each entry as % of current equity (above 0; 100 leaves the size to the caps).
    pub pct: Percent,
}

impl Default for FixedFraction {
    fn default() -> Self {
        Self {
            pct: Percent::whole(100),
        }
    }
}

/// ATR (volatility) sizing: quantity = riskPct % of equity ÷ (atrMultiple × ATR).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AtrSizing {
    /// Equity lost, in %, if the price falls by the stop distance (above 0; seed guidance 1–2 %).
    pub risk_pct: Percent,
    /// ATR lookback in candles (≥ 1); no entry until the ATR has warmed up.
    #[schemars(range(min = 1))]
    pub atr_period: u32,
    /// Stop distance in ATRs (above 0, at most 20).
    #[schemars(range(min = 0, max = 20))]
    pub atr_multiple: f64,
}

impl Default for AtrSizing {
    fn default() -> Self {
        Self {
            risk_pct: Percent::whole(1),
            atr_period: 14,
            atr_multiple: 2.0,
        }
    }
}

/// Capped Kelly sizing from the bot's own closed trades.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct KellySizing {
    /// Part of the full Kelly bet to take (above 0, at most 1; 0.5 = half Kelly).
    #[schemars(range(min = 0, max = 1))]
    pub fraction: f64,
    /// Largest entry as % of equity, whatever Kelly says (above 0).
    pub cap_pct: Percent,
    /// Closed trades needed before Kelly is trusted (≥ 1); until then `fallbackPct` applies.
    #[schemars(range(min = 1))]
    pub min_trades: u32,
    /// Entry size as % of equity until `minTrades` trades have closed (above 0, at most capPct).
    pub fallback_pct: Percent,
}

impl Default for KellySizing {
    fn default() -> Self {
        Self {
            fraction: 0.5,
            cap_pct: Percent::whole(20),
            min_trades: 30,
            fallback_pct: Percent::whole(5),
        }
    }
}

impl Sizing {
    /// Every problem the schema cannot catch, at paths under `path`.
    pub(crate) fn check(&self, path: &str, errs: &mut ValidationErrors) {
        let set = usize::from(self.fixed_fraction.is_some())
            + usize::from(self.atr.is_some())
            + usize::from(self.kelly.is_some());
        errs.check(set == 1, path, || {
            format!(
                "set exactly one of fixedFraction, atr, kelly (found {set}); e.g. `fixedFraction: {{pct: 100}}`"
            )
        });
        let zero = Decimal::ZERO;
        if let Some(f) = &self.fixed_fraction {
            errs.check(
                f.pct.value() > zero,
                format!("{path}.fixedFraction.pct"),
                || "must be above 0; to stop trading set the bot's `halted: true` instead".into(),
            );
        }
        if let Some(a) = &self.atr {
            let at = format!("{path}.atr");
            errs.check(a.risk_pct.value() > zero, format!("{at}.riskPct"), || {
                "must be above 0 (e.g. 1 risks 1 % of equity per trade)".into()
            });
            errs.check(a.atr_period >= 1, format!("{at}.atrPeriod"), || {
                "must be at least 1 (14 is the usual ATR period)".into()
            });
            let k = a.atr_multiple;
            errs.check(
                k.is_finite() && k > 0.0 && k <= 20.0,
                format!("{at}.atrMultiple"),
                || format!("must be above 0 and at most 20, got {k}"),
            );
        }
        if let Some(k) = &self.kelly {
            let at = format!("{path}.kelly");
            let f = k.fraction;
            errs.check(
                f.is_finite() && f > 0.0 && f <= 1.0,
                format!("{at}.fraction"),
                || format!("must be above 0 and at most 1 (0.5 = half Kelly), got {f}"),
            );
            errs.check(k.cap_pct.value() > zero, format!("{at}.capPct"), || {
                "must be above 0".into()
            });
            errs.check(k.min_trades >= 1, format!("{at}.minTrades"), || {
                "must be at least 1: Kelly needs closed trades to estimate the edge".into()
            });
            errs.check(
                k.fallback_pct.value() > zero,
                format!("{at}.fallbackPct"),
                || "must be above 0, or the bot never trades and never gathers minTrades".into(),
            );
            errs.check(
                k.fallback_pct <= k.cap_pct,
                format!("{at}.fallbackPct"),
                || {
                    format!(
                        "fallback ({} %) is above capPct ({} %); lower it",
                        k.fallback_pct, k.cap_pct
                    )
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::RiskPolicySpec;

    fn spec(yaml: &str) -> RiskPolicySpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn problems(spec: &RiskPolicySpec) -> Vec<String> {
        spec.validate()
            .err()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn missing_sizing_is_fixed_fraction_of_everything() {
        let s = spec("{}");
        let f = s.sizing.fixed_fraction.as_ref().expect("fixedFraction");
        assert_eq!(f.pct.to_string(), "100");
        assert!(s.sizing.atr.is_none() && s.sizing.kelly.is_none());
        assert!(problems(&s).is_empty());
    }

    #[test]
    fn one_method_takes_its_own_defaults_only() {
        let s = spec("sizing:\n  atr: {riskPct: 2}\n");
        assert!(s.sizing.fixed_fraction.is_none());
        let a = s.sizing.atr.as_ref().unwrap();
        assert_eq!(
            (a.risk_pct.to_string(), a.atr_period, a.atr_multiple),
            ("2".into(), 14, 2.0)
        );
        assert!(problems(&s).is_empty(), "{:?}", problems(&s));
        let k = spec("sizing:\n  kelly: {}\n").sizing.kelly.unwrap();
        assert_eq!((k.fraction, k.min_trades), (0.5, 30));
    }

    #[test]
    fn exactly_one_method() {
        let none = problems(&spec("sizing: {}\n"));
        assert!(
            none.iter()
                .any(|p| p.starts_with("spec.sizing: set exactly one") && p.contains("found 0")),
            "{none:?}"
        );
        let two = problems(&spec("sizing: {fixedFraction: {pct: 10}, kelly: {}}\n"));
        assert!(two.iter().any(|p| p.contains("found 2")), "{two:?}");
        let err = serde_yaml::from_str::<RiskPolicySpec>("sizing: {optimalF: {}}\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `optimalF`"),
            "{err}"
        );
    }

    #[test]
    fn impossible_parameters_name_their_field() {
        let p = problems(&spec("sizing: {fixedFraction: {pct: 0}}\n"));
        assert!(
            p.iter()
                .any(|p| p.starts_with("spec.sizing.fixedFraction.pct:")),
            "{p:?}"
        );
        let p = problems(&spec(
            "sizing: {atr: {riskPct: 0, atrPeriod: 0, atrMultiple: 0}}\n",
        ));
        for field in ["riskPct", "atrPeriod", "atrMultiple"] {
            assert!(
                p.iter()
                    .any(|p| p.starts_with(&format!("spec.sizing.atr.{field}:"))),
                "{field}: {p:?}"
            );
        }
        let p = problems(&spec(
            "sizing: {kelly: {fraction: 1.5, capPct: 10, minTrades: 0, fallbackPct: 12}}\n",
        ));
        for field in ["fraction", "minTrades", "fallbackPct"] {
            assert!(
                p.iter()
                    .any(|p| p.starts_with(&format!("spec.sizing.kelly.{field}:"))),
                "{field}: {p:?}"
            );
        }
        assert!(p.iter().any(|p| p.contains("above capPct (10 %)")), "{p:?}");
    }
}
