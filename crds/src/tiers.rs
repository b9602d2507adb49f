//! `RiskPolicy.spec.tiers`: per-symbol overrides by risk tier (seed 000).
//! Volatile assets get smaller positions and wider stops.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::amount::Percent;
use crate::validation::ValidationErrors;

/// One risk tier: the base assets it covers and its overrides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RiskTier {
    /// Tier number (1 = least risky), unique in the policy.
    #[schemars(range(min = 1))]
    pub tier: u32,
    /// Base assets in this tier, upper-case (`BTC`, not `BTCUSDT`). Empty means every asset not listed in another tier.
    #[serde(default)]
    pub symbols: Vec<String>,
    /// Largest position in one symbol of this tier, as % of capital; the phase's maxPositionPct still applies if smaller.
    pub max_position_pct: Percent,
    /// Stop-loss for symbols of this tier, replacing the phase's stopLossPct (above 0, below 100).
    pub stop_loss_pct: Percent,
}

/// The seed-000 tiers: tier 1 BTC/ETH/BNB/XRP/SOL (25 % position, 3 %
/// stop-loss); tier 2 a list of large caps (15 % / 5 %); tier 3 everything
/// else (10 % / 7 %).
pub fn default_tiers() -> Vec<RiskTier> {
    let list = |s: &[&str]| s.iter().map(|a| a.to_string()).collect();
    vec![
        RiskTier {
            tier: 1,
            symbols: list(&["BTC", "ETH", "BNB", "XRP", "SOL"]),
            max_position_pct: Percent::whole(25),
            stop_loss_pct: Percent::whole(3),
        },
        RiskTier {
            tier: 2,
            symbols: list(&[
                "ADA", "DOGE", "AVAX", "DOT", "LINK", "LTC", "TRX", "TON", "BCH", "ATOM",
            ]),
            max_position_pct: Percent::whole(15),
            stop_loss_pct: Percent::whole(5),
        },
        RiskTier {
            tier: 3,
            symbols: Vec::new(),
            max_position_pct: Percent::whole(10),
            stop_loss_pct: Percent::whole(7),
        },
    ]
}

/// Quote currencies recognised when splitting an exchange symbol, longest
/// first so `BTCFDUSD` is not read as `BTCFD` + `USD`.
pub(crate) const QUOTES: [&str; 12] = [
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "USD", "EUR", "TRY", "BTC", "ETH", "BNB",
];

/// The base asset of an exchange symbol: `BTCUSDT` → `BTC`, `ETH/BTC` →
/// `ETH`, `sol-usdc` → `SOL`, `BTC` → `BTC`.
pub fn base_asset(symbol: &str) -> String {
    let upper = symbol.trim().to_ascii_uppercase();
    if let Some((base, _)) = upper.split_once(['/', '-', '_']) {
        return base.to_string();
    }
    QUOTES
        .iter()
        .find_map(|q| upper.strip_suffix(q).filter(|base| !base.is_empty()))
        .unwrap_or(&upper)
        .to_string()
}

/// Finds the tier of `symbol`: the tier listing its base asset, else the
/// catch-all tier (empty `symbols`), else `None`.
pub fn tier_for<'a>(tiers: &'a [RiskTier], symbol: &str) -> Option<&'a RiskTier> {
    let base = base_asset(symbol);
    tiers
        .iter()
        .find(|t| t.symbols.iter().any(|s| s.eq_ignore_ascii_case(&base)))
        .or_else(|| tiers.iter().find(|t| t.symbols.is_empty()))
}

pub(crate) fn check_tiers(tiers: &[RiskTier], path: &str, errs: &mut ValidationErrors) {
    let mut numbers = BTreeMap::new();
    let mut owners: BTreeMap<&str, u32> = BTreeMap::new();
    let mut catch_all = None;
    for (i, t) in tiers.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if let Some(first) = numbers.insert(t.tier, i) {
            errs.add(
                format!("{at}.tier"),
                format!(
                    "tier {} is already defined at {path}[{first}]; merge them",
                    t.tier
                ),
            );
        }
        errs.check(t.tier >= 1, format!("{at}.tier"), || {
            "tiers are numbered from 1".into()
        });
        if t.symbols.is_empty()
            && let Some(first) = catch_all.replace(i)
        {
            errs.add(
                format!("{at}.symbols"),
                format!("only one tier may leave symbols empty (catch-all); {path}[{first}] already does"),
            );
        }
        for (j, s) in t.symbols.iter().enumerate() {
            let valid = !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            errs.check(valid, format!("{at}.symbols[{j}]"), || {
                format!(
                    "`{s}` must be an upper-case base asset such as BTC (letters and digits only)"
                )
            });
            if let Some(other) = owners.insert(s.as_str(), t.tier)
                && other != t.tier
            {
                errs.add(
                    format!("{at}.symbols[{j}]"),
                    format!("`{s}` is already in tier {other}; list it in one tier only"),
                );
            }
        }
        errs.check(
            t.max_position_pct.value() > Decimal::ZERO,
            format!("{at}.maxPositionPct"),
            || "must be above 0; leave the asset out of the policy's bots instead".into(),
        );
        let sl = t.stop_loss_pct.value();
        errs.check(
            sl > Decimal::ZERO && sl < Decimal::ONE_HUNDRED,
            format!("{at}.stopLossPct"),
            || format!("a stop-loss must be above 0 and below 100 %, got {sl}"),
        );
    }
}
