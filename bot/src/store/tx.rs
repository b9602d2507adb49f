//! Writes that run inside a caller's transaction, written once for both
//! backends. `record_order`, `record_fill` and `update_order_status` wrap one
//! of them in a transaction of its own; [`super::Store::commit_step`] runs a
//! whole engine step's worth of them in one.
//!
//! The trait is implemented by a macro for `SqliteConnection` and
//! `PgConnection` (a transaction derefs to its connection), so every body is
//! compiled once per backend with concrete types, like `dispatch!`.

use super::codec::{
    Dec, FillRow, OrderRow, fill_from_row, kind_cols, liquidity_str, order_cols, order_from_row,
    order_id_col, side_str, status_str,
};
use super::error::{Result, StoreError, db};
use super::{EquitySnapshot, OrderRecord, PhaseEvent, PositionRecord, Recorded};
use crate::domain::{Candle, Fill, OrderId, OrderRequest, OrderStatus, Symbol};
use crate::engine::AuditRecord;

const INSERT_ORDER: &str = "INSERT INTO orders (id, client_order_id, symbol, side, kind, limit_price, quantity, \
     filled_quantity, status, reason, status_reason, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'new', $9, NULL, $10, $10) ON CONFLICT DO NOTHING";
pub(super) const SELECT_ORDER: &str =
    concat!("SELECT ", order_cols!(), " FROM orders WHERE id = $1");
/// First statement of every order-changing transaction: it write-locks the row
/// (PostgreSQL) or the database (SQLite) before anything is read, so two writers
/// never both read the old filled quantity.
const LOCK_ORDER: &str = "UPDATE orders SET updated_at = updated_at WHERE id = $1";
const INSERT_FILL: &str = "INSERT INTO fills (trade_id, symbol, order_id, side, price, quantity, fee, liquidity, \
     executed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (symbol, trade_id) DO NOTHING";
const SELECT_FILL: &str = concat!(
    "SELECT ",
    super::codec::fill_cols!(),
    " FROM fills WHERE symbol = $1 AND trade_id = $2"
);
const INSERT_DECISION: &str =
    "INSERT INTO decisions (at, symbol, signal, verdict, reason) VALUES ($1, $2, $3, $4, $5)";
const INSERT_CANDLE: &str = "INSERT INTO candles (symbol, open_time, open, high, low, close, volume, warmup) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (symbol, open_time) DO NOTHING";
const UPSERT_EQUITY: &str = "INSERT INTO equity_snapshots (at, equity, cash) VALUES ($1, $2, $3) \
     ON CONFLICT (at) DO UPDATE SET equity = excluded.equity, cash = excluded.cash";
const INSERT_POSITION: &str = "INSERT INTO positions (symbol, quantity, average_price, realized_pnl, updated_at) \
     VALUES ($1, $2, $3, $4, $5)";
const INSERT_PHASE_EVENT: &str =
    "INSERT INTO phase_events (from_phase, to_phase, at, reason) VALUES ($1, $2, $3, $4)";
pub(super) const UPSERT_STATE: &str = "INSERT INTO engine_state (key, value, updated_at) VALUES ($1, $2, $3) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

/// Where a test can make `record_fill` fail halfway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    /// Fail after the fill row is inserted, before the order is updated.
    AfterFillInsert,
}

/// One statement group each; see the module docs.
pub(crate) trait TxOps {
    /// Records a new order (`New`, nothing filled); the same order again is a
    /// no-op, a different order under its id or client order id an error.
    async fn insert_order(
        &mut self,
        order: &OrderRequest,
        client_order_id: &str,
    ) -> Result<Recorded>;
    /// Ends an open order (`Canceled`, `Rejected`, `Expired`).
    async fn set_order_status(
        &mut self,
        id: OrderId,
        status: OrderStatus,
        status_reason: Option<&str>,
        at: i64,
    ) -> Result<()>;
    /// Records a fill and its order's new filled quantity and status.
    async fn insert_fill(&mut self, fill: &Fill, fault: Fault) -> Result<Recorded>;
    /// Appends an audit record (table `decisions`).
    async fn insert_audit(&mut self, record: &AuditRecord) -> Result<()>;
    /// Records a consumed candle; one already stored is left as it is.
    async fn insert_candle(&mut self, symbol: &Symbol, candle: &Candle, warmup: bool)
    -> Result<()>;
    async fn upsert_equity(&mut self, snapshot: &EquitySnapshot) -> Result<()>;
    async fn replace_positions(&mut self, positions: &[PositionRecord]) -> Result<()>;
    async fn insert_phase_event(&mut self, event: &PhaseEvent) -> Result<()>;
    /// Sets (`Some` JSON text) or removes (`None`) one engine_state key.
    async fn put_state(&mut self, key: &str, value: Option<&str>, at: i64) -> Result<()>;
}

macro_rules! impl_tx_ops {
    ($conn:ty) => {
        impl TxOps for $conn {
            async fn insert_order(
                &mut self,
                order: &OrderRequest,
                client_order_id: &str,
            ) -> Result<Recorded> {
                let id = order_id_col(order.id)?;
                let (kind, limit_price) = kind_cols(order.kind);
                let inserted = sqlx::query(INSERT_ORDER)
                    .bind(id)
                    .bind(client_order_id)
                    .bind(order.symbol.as_str())
                    .bind(side_str(order.side))
                    .bind(kind)
                    .bind(limit_price)
                    .bind(Dec(order.quantity.0))
                    .bind(Dec(crate::domain::Quantity::ZERO.0))
                    .bind(order.reason.as_str())
                    .bind(order.created_at)
                    .execute(&mut *self)
                    .await
                    .map_err(db("recording an order"))?
                    .rows_affected()
                    == 1;
                if inserted {
                    return Ok(Recorded::Inserted);
                }
                let row: Option<OrderRow> = sqlx::query_as(SELECT_ORDER)
                    .bind(id)
                    .fetch_optional(&mut *self)
                    .await
                    .map_err(db("reading an order"))?;
                let Some(existing) = row.map(order_from_row).transpose()? else {
                    return Err(StoreError::OrderConflict(
                        order.id,
                        "client order id (another order has it)",
                    ));
                };
                let differs = [
                    (
                        existing.client_order_id != client_order_id,
                        "client order id",
                    ),
                    (existing.symbol != order.symbol, "symbol"),
                    (existing.side != order.side, "side"),
                    (existing.kind != order.kind, "kind or limit price"),
                    (existing.quantity != order.quantity, "quantity"),
                ];
                match differs.iter().find(|(differs, _)| *differs) {
                    Some((_, field)) => Err(StoreError::OrderConflict(order.id, field)),
                    None => Ok(Recorded::Duplicate),
                }
            }

            async fn set_order_status(
                &mut self,
                id: OrderId,
                status: OrderStatus,
                status_reason: Option<&str>,
                at: i64,
            ) -> Result<()> {
                let key = order_id_col(id)?;
                let locked = sqlx::query(LOCK_ORDER)
                    .bind(key)
                    .execute(&mut *self)
                    .await
                    .map_err(db("locking an order"))?;
                if locked.rows_affected() == 0 {
                    return Err(StoreError::UnknownOrder(id));
                }
                let row: OrderRow = sqlx::query_as(SELECT_ORDER)
                    .bind(key)
                    .fetch_one(&mut *self)
                    .await
                    .map_err(db("reading an order"))?;
                let order = order_from_row(row)?;
                if order.status == status {
                    return Ok(());
                }
                let refuse = |why| {
                    Err(StoreError::InvalidTransition {
                        id,
                        from: order.status,
                        to: status,
                        why,
                    })
                };
                if matches!(status, OrderStatus::PartiallyFilled | OrderStatus::Filled) {
                    return refuse("filled states follow from fills: record_fill them instead");
                }
                if !order.status.is_open() {
                    return refuse("the order is already final");
                }
                if status == OrderStatus::New {
                    return refuse("an order never goes back to new");
                }
                sqlx::query(
                    "UPDATE orders SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1",
                )
                .bind(key)
                .bind(status_str(status))
                .bind(status_reason)
                .bind(at)
                .execute(&mut *self)
                .await
                .map_err(db("updating an order's status"))?;
                Ok(())
            }

            async fn insert_fill(&mut self, fill: &Fill, fault: Fault) -> Result<Recorded> {
                let key = order_id_col(fill.order_id)?;
                let locked = sqlx::query(LOCK_ORDER)
                    .bind(key)
                    .execute(&mut *self)
                    .await
                    .map_err(db("locking a fill's order"))?;
                if locked.rows_affected() == 0 {
                    return Err(StoreError::UnknownOrder(fill.order_id));
                }
                let row: OrderRow = sqlx::query_as(SELECT_ORDER)
                    .bind(key)
                    .fetch_one(&mut *self)
                    .await
                    .map_err(db("reading a fill's order"))?;
                let order = order_from_row(row)?;
                check_matches(fill, &order)?;
                let inserted = sqlx::query(INSERT_FILL)
                    .bind(fill.trade_id.as_str())
                    .bind(fill.symbol.as_str())
                    .bind(key)
                    .bind(side_str(fill.side))
                    .bind(Dec(fill.price.0))
                    .bind(Dec(fill.quantity.0))
                    .bind(Dec(fill.fee.0))
                    .bind(liquidity_str(fill.liquidity))
                    .bind(fill.time)
                    .execute(&mut *self)
                    .await
                    .map_err(db("recording a fill"))?
                    .rows_affected();
                if inserted == 0 {
                    let row: FillRow = sqlx::query_as(SELECT_FILL)
                        .bind(fill.symbol.as_str())
                        .bind(fill.trade_id.as_str())
                        .fetch_one(&mut *self)
                        .await
                        .map_err(db("reading a recorded fill"))?;
                    // The lock statement changed nothing: the duplicate is a no-op.
                    return same_fill(fill, &fill_from_row(row)?).map(|()| Recorded::Duplicate);
                }
                if fault == Fault::AfterFillInsert {
                    return Err(StoreError::InjectedFailure);
                }
                let filled = order.filled_quantity + fill.quantity;
                if filled > order.quantity {
                    return Err(StoreError::Overfill {
                        trade_id: fill.trade_id.clone(),
                        order: order.id,
                        would_be: filled,
                        quantity: order.quantity,
                    });
                }
                let status = if filled == order.quantity {
                    OrderStatus::Filled
                } else if order.status.is_open() {
                    OrderStatus::PartiallyFilled
                } else {
                    order.status
                };
                sqlx::query(
                    "UPDATE orders SET filled_quantity = $2, status = $3, updated_at = $4 WHERE id = $1",
                )
                .bind(key)
                .bind(Dec(filled.0))
                .bind(status_str(status))
                .bind(fill.time.max(order.updated_at))
                .execute(&mut *self)
                .await
                .map_err(db("updating a filled order"))?;
                Ok(Recorded::Inserted)
            }

            async fn insert_audit(&mut self, d: &AuditRecord) -> Result<()> {
                sqlx::query(INSERT_DECISION)
                    .bind(d.at)
                    .bind(d.symbol.as_str())
                    .bind(d.signal.as_str())
                    .bind(d.verdict.as_str())
                    .bind(d.reason.to_string())
                    .execute(&mut *self)
                    .await
                    .map_err(db("recording a decision"))?;
                Ok(())
            }

            async fn insert_candle(
                &mut self,
                symbol: &Symbol,
                c: &Candle,
                warmup: bool,
            ) -> Result<()> {
                sqlx::query(INSERT_CANDLE)
                    .bind(symbol.as_str())
                    .bind(c.open_time)
                    .bind(Dec(c.open.0))
                    .bind(Dec(c.high.0))
                    .bind(Dec(c.low.0))
                    .bind(Dec(c.close.0))
                    .bind(Dec(c.volume.0))
                    .bind(warmup)
                    .execute(&mut *self)
                    .await
                    .map_err(db("recording a candle"))?;
                Ok(())
            }

            async fn upsert_equity(&mut self, s: &EquitySnapshot) -> Result<()> {
                sqlx::query(UPSERT_EQUITY)
                    .bind(s.at)
                    .bind(Dec(s.equity.0))
                    .bind(Dec(s.cash.0))
                    .execute(&mut *self)
                    .await
                    .map_err(db("recording equity"))?;
                Ok(())
            }

            async fn replace_positions(&mut self, positions: &[PositionRecord]) -> Result<()> {
                sqlx::query("DELETE FROM positions")
                    .execute(&mut *self)
                    .await
                    .map_err(db("clearing positions"))?;
                for p in positions {
                    sqlx::query(INSERT_POSITION)
                        .bind(p.symbol.as_str())
                        .bind(Dec(p.quantity.0))
                        .bind(Dec(p.average_price.0))
                        .bind(Dec(p.realized_pnl.0))
                        .bind(p.updated_at)
                        .execute(&mut *self)
                        .await
                        .map_err(db("recording a position"))?;
                }
                Ok(())
            }

            async fn insert_phase_event(&mut self, e: &PhaseEvent) -> Result<()> {
                sqlx::query(INSERT_PHASE_EVENT)
                    .bind(e.from.as_deref())
                    .bind(e.to.as_str())
                    .bind(e.at)
                    .bind(e.reason.as_str())
                    .execute(&mut *self)
                    .await
                    .map_err(db("recording a phase event"))?;
                Ok(())
            }

            async fn put_state(&mut self, key: &str, value: Option<&str>, at: i64) -> Result<()> {
                match value {
                    Some(value) => sqlx::query(UPSERT_STATE)
                        .bind(key)
                        .bind(value)
                        .bind(at)
                        .execute(&mut *self)
                        .await
                        .map_err(db("saving engine state"))?,
                    None => sqlx::query("DELETE FROM engine_state WHERE key = $1")
                        .bind(key)
                        .execute(&mut *self)
                        .await
                        .map_err(db("clearing engine state"))?,
                };
                Ok(())
            }
        }
    };
}

impl_tx_ops!(sqlx::SqliteConnection);
impl_tx_ops!(sqlx::PgConnection);

/// A fill must belong to its order: same symbol and side.
fn check_matches(fill: &Fill, order: &OrderRecord) -> Result<()> {
    let mismatch = |field, got: String, expected: String| StoreError::FillMismatch {
        trade_id: fill.trade_id.clone(),
        order: order.id,
        field,
        got,
        expected,
    };
    if fill.symbol != order.symbol {
        return Err(mismatch(
            "symbol",
            fill.symbol.to_string(),
            order.symbol.to_string(),
        ));
    }
    if fill.side != order.side {
        return Err(mismatch(
            "side",
            format!("{:?}", fill.side),
            format!("{:?}", order.side),
        ));
    }
    Ok(())
}

/// A replayed fill must be the one stored under its trade id.
fn same_fill(new: &Fill, stored: &Fill) -> Result<()> {
    let field = if new.order_id != stored.order_id {
        "order id"
    } else if new.side != stored.side {
        "side"
    } else if new.price != stored.price {
        "price"
    } else if new.quantity != stored.quantity {
        "quantity"
    } else if new.fee != stored.fee {
        "fee"
    } else {
        return Ok(());
    };
    Err(StoreError::FillConflict {
        trade_id: new.trade_id.clone(),
        symbol: Symbol::to_string(&new.symbol),
        field,
    })
}
