//! Domain types shared by every part of the engine: exact money, prices and
//! quantities, symbols, candles, orders and fills.
//!
//! Money is exact: `Price`, `Quantity` and `Money` wrap `rust_decimal::Decimal`
//! and never convert through `f64`. Indicators work on `f64` (they are
//! statistics, not balances) and take `Price::to_f64()` explicitly.

mod candle;
pub(crate) mod decimal_text;
mod float_view;
mod money;
mod order;

pub use candle::{Candle, Timeframe};
pub use float_view::{cmp_approx, cmp_exact, float_view};
pub use money::{Money, Price, Quantity};
pub use order::{Fill, Liquidity, OrderId, OrderKind, OrderRequest, OrderStatus, Side, Symbol};
