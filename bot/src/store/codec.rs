//! How domain values map to columns, identically on both backends.
//!
//! Decimals go through [`Dec`]: TEXT (`Decimal`'s exact string) in SQLite,
//! NUMERIC in PostgreSQL. Enums are short TEXT words checked by the schema.
//! Rows are read as tuples (`sqlx::FromRow` is implemented for tuples on every
//! backend) and turned into domain values here, once.

use super::error::{Result, StoreError};
use super::types::{OrderRecord, PositionRecord};
use crate::domain::{
    Fill, Liquidity, OrderId, OrderKind, OrderStatus, Price, Quantity, Side, Symbol,
};
use rust_decimal::Decimal;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef, Postgres};
use sqlx::sqlite::{Sqlite, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Database, Decode, Encode, Type};

/// An exact decimal column value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dec(pub Decimal);

impl Type<Sqlite> for Dec {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Dec {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.0.to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Dec {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        let exact = Decimal::from_str_exact(text)
            .map_err(|e| format!("{text:?} is not an exact decimal: {e}"))?;
        Ok(Dec(exact))
    }
}

impl Type<Postgres> for Dec {
    fn type_info() -> PgTypeInfo {
        <Decimal as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        <Decimal as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Dec {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <Decimal as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Dec {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Dec(<Decimal as Decode<Postgres>>::decode(value)?))
    }
}

pub(crate) fn side_str(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

pub(crate) fn status_str(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::New => "new",
        OrderStatus::PartiallyFilled => "partiallyFilled",
        OrderStatus::Filled => "filled",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Rejected => "rejected",
        OrderStatus::Expired => "expired",
    }
}

pub(crate) fn liquidity_str(liquidity: Liquidity) -> &'static str {
    match liquidity {
        Liquidity::Maker => "maker",
        Liquidity::Taker => "taker",
    }
}

/// `OrderKind` as (kind column, limit_price column).
pub(crate) fn kind_cols(kind: OrderKind) -> (&'static str, Option<Dec>) {
    match kind {
        OrderKind::Market => ("market", None),
        OrderKind::Limit { price } => ("limit", Some(Dec(price.0))),
    }
}

fn corrupt(
    table: &'static str,
    column: &'static str,
    value: impl ToString,
    expected: &'static str,
) -> StoreError {
    StoreError::Corrupt {
        table,
        column,
        value: value.to_string(),
        expected,
    }
}

fn parse_side(table: &'static str, s: &str) -> Result<Side> {
    match s {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(corrupt(table, "side", s, "BUY or SELL")),
    }
}

fn parse_status(s: &str) -> Result<OrderStatus> {
    Ok(match s {
        "new" => OrderStatus::New,
        "partiallyFilled" => OrderStatus::PartiallyFilled,
        "filled" => OrderStatus::Filled,
        "canceled" => OrderStatus::Canceled,
        "rejected" => OrderStatus::Rejected,
        "expired" => OrderStatus::Expired,
        _ => return Err(corrupt("orders", "status", s, "an order status")),
    })
}

pub(crate) fn order_id_col(id: OrderId) -> Result<i64> {
    i64::try_from(id.0).map_err(|_| StoreError::OrderIdTooLarge(id))
}

fn order_id_from(table: &'static str, column: &'static str, v: i64) -> Result<OrderId> {
    u64::try_from(v)
        .map(OrderId)
        .map_err(|_| corrupt(table, column, v, "a non-negative order id"))
}

/// Columns of `orders` in the order [`OrderRow`] reads them (a macro so that
/// `concat!` can build `&'static str` queries, which sqlx 0.9 requires).
macro_rules! order_cols {
    () => {
        "id, client_order_id, symbol, side, kind, limit_price, quantity, filled_quantity, status, \
         reason, status_reason, created_at, updated_at"
    };
}
pub(crate) use order_cols;

pub(crate) type OrderRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<Dec>,
    Dec,
    Dec,
    String,
    String,
    Option<String>,
    i64,
    i64,
);

pub(crate) fn order_from_row(row: OrderRow) -> Result<OrderRecord> {
    let (
        id,
        client_order_id,
        symbol,
        side,
        kind,
        limit_price,
        quantity,
        filled,
        status,
        reason,
        status_reason,
        created_at,
        updated_at,
    ) = row;
    let kind = match (kind.as_str(), limit_price) {
        ("market", None) => OrderKind::Market,
        ("limit", Some(price)) => OrderKind::Limit {
            price: Price(price.0),
        },
        (other, _) => {
            return Err(corrupt(
                "orders",
                "kind",
                other,
                "market (no price) or limit (with price)",
            ));
        }
    };
    Ok(OrderRecord {
        id: order_id_from("orders", "id", id)?,
        client_order_id,
        symbol: Symbol(symbol.into()),
        side: parse_side("orders", &side)?,
        kind,
        quantity: Quantity(quantity.0),
        filled_quantity: Quantity(filled.0),
        status: parse_status(&status)?,
        reason,
        status_reason,
        created_at,
        updated_at,
    })
}

/// Columns of `fills` in the order [`FillRow`] reads them.
macro_rules! fill_cols {
    () => {
        "trade_id, order_id, symbol, side, price, quantity, fee, liquidity, executed_at"
    };
}
pub(crate) use fill_cols;

pub(crate) type FillRow = (String, i64, String, String, Dec, Dec, Dec, String, i64);

pub(crate) fn fill_from_row(row: FillRow) -> Result<Fill> {
    let (trade_id, order_id, symbol, side, price, quantity, fee, liquidity, time) = row;
    let liquidity = match liquidity.as_str() {
        "maker" => Liquidity::Maker,
        "taker" => Liquidity::Taker,
        other => return Err(corrupt("fills", "liquidity", other, "maker or taker")),
    };
    Ok(Fill {
        trade_id,
        order_id: order_id_from("fills", "order_id", order_id)?,
        symbol: Symbol(symbol.into()),
        side: parse_side("fills", &side)?,
        price: Price(price.0),
        quantity: Quantity(quantity.0),
        fee: crate::domain::Money(fee.0),
        liquidity,
        time,
    })
}

pub(crate) type PositionRow = (String, Dec, Dec, Dec, i64);

pub(crate) fn position_from_row(
    (symbol, quantity, average_price, realized_pnl, updated_at): PositionRow,
) -> PositionRecord {
    PositionRecord {
        symbol: Symbol(symbol.into()),
        quantity: Quantity(quantity.0),
        average_price: Price(average_price.0),
        realized_pnl: crate::domain::Money(realized_pnl.0),
        updated_at,
    }
}

/// Parses a JSON column written by the store.
pub(crate) fn json_col(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|_| corrupt(table, column, text, "JSON"))
}
