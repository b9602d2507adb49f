//! Paper broker settings.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

/// How the paper broker charges and fills. Rates are decimals so fees stay
/// exact; in YAML/JSON write them as numbers or strings (`10`, `"7.5"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PaperConfig {
    /// Fee of taker fills (market orders, limit orders marketable when
    /// placed), basis points of the notional. Binance spot: 10.
    pub taker_fee_bps: Decimal,
    /// Fee of maker fills (limit orders resting on the book). Binance spot: 10.
    pub maker_fee_bps: Decimal,
    /// Market orders fill this many bps worse than the candle open: buys
    /// above, sells below.
    pub slippage_bps: Decimal,
    /// At most this % of a candle's volume fills per symbol per candle,
    /// shared by the orders in submission order. `null` disables the cap
    /// (fills ignore volume, for data without volume).
    pub max_volume_participation_pct: Option<Decimal>,
}

impl Default for PaperConfig {
    fn default() -> Self {
        Self {
            taker_fee_bps: dec!(10),
            maker_fee_bps: dec!(10),
            slippage_bps: dec!(5),
            max_volume_participation_pct: Some(dec!(10)),
        }
    }
}

/// A paper setting out of range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("paper config `{field}` = {value} is out of range: {expected}")]
pub struct PaperConfigError {
    pub field: &'static str,
    pub value: Decimal,
    pub expected: &'static str,
}

impl PaperConfig {
    /// Checks every field; the error names the field and the accepted range.
    pub fn validate(&self) -> Result<(), PaperConfigError> {
        let bps = |field, value: Decimal| {
            if value < Decimal::ZERO || value >= dec!(1000) {
                Err(PaperConfigError {
                    field,
                    value,
                    expected: "0 ≤ bps < 1000 (10 %)",
                })
            } else {
                Ok(())
            }
        };
        bps("takerFeeBps", self.taker_fee_bps)?;
        bps("makerFeeBps", self.maker_fee_bps)?;
        bps("slippageBps", self.slippage_bps)?;
        if let Some(pct) = self.max_volume_participation_pct
            && (pct <= Decimal::ZERO || pct > dec!(100))
        {
            return Err(PaperConfigError {
                field: "maxVolumeParticipationPct",
                value: pct,
                expected: "0 < % ≤ 100, or null for no cap",
            });
        }
        Ok(())
    }
}

/// A paper broker's config with the rates it charges worked out once:
/// each is a decimal division (bps / 10,000), and a fill, a reservation and
/// every open buy's reserved cash would otherwise divide again. Persisted
/// as the [`PaperConfig`] alone, so a saved broker reads back the same.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "PaperConfig", into = "PaperConfig")]
pub(super) struct PaperTerms {
    pub config: PaperConfig,
    /// Fee rates (fractions of the notional).
    pub taker_rate: Decimal,
    pub maker_rate: Decimal,
    /// What [`super::market_price`] moves the open by, as a fraction.
    pub slippage_rate: Decimal,
}

impl From<PaperConfig> for PaperTerms {
    fn from(config: PaperConfig) -> Self {
        let rate = |bps: Decimal| bps / dec!(10000);
        let (taker_rate, maker_rate) = (rate(config.taker_fee_bps), rate(config.maker_fee_bps));
        Self {
            slippage_rate: rate(config.slippage_bps),
            taker_rate,
            maker_rate,
            config,
        }
    }
}

impl From<PaperTerms> for PaperConfig {
    fn from(terms: PaperTerms) -> Self {
        terms.config
    }
}
