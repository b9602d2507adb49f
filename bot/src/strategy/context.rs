//! What the engine tells a strategy about the bot before each candle: its
//! position and its limits. Indicator kinds ignore it; a model is shown it.

use rust_decimal::Decimal;
use serde::Serialize;

/// The bot's state for one symbol, as a strategy may see it. Numbers only.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionContext {
    pub symbol: String,
    /// Base-asset quantity held (0 when flat).
    pub position_quantity: Decimal,
    /// Average entry price of the position, when one is held.
    pub avg_entry_price: Option<Decimal>,
    pub cash: Decimal,
    pub equity: Decimal,
    /// Largest position as a percent of equity the risk policy allows.
    pub max_position_pct: Decimal,
    /// Largest position in quote currency, when the policy caps it.
    pub max_position: Option<Decimal>,
    pub stop_loss_pct: Decimal,
    /// Trading is halted: any buy will be refused.
    pub halted: bool,
}
