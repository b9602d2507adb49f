//! Orders and fills: the part of the store a lost or doubled write would cost money.

use super::codec::{
    Dec, FillRow, OrderRow, fill_cols, fill_from_row, kind_cols, liquidity_str, order_cols,
    order_from_row, order_id_col, side_str, status_str,
};
use super::error::{Result, StoreError, db};
use super::{OrderRecord, Recorded, Store, dispatch};
use crate::domain::{Fill, OrderId, OrderKind, OrderRequest, OrderStatus, Quantity, Symbol};

const INSERT_ORDER: &str = "INSERT INTO orders (id, client_order_id, symbol, side, kind, limit_price, quantity, \
     filled_quantity, status, reason, status_reason, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'new', $9, NULL, $10, $10) ON CONFLICT DO NOTHING";
const SELECT_ORDER: &str = concat!("SELECT ", order_cols!(), " FROM orders WHERE id = $1");
/// First statement of every order-changing transaction: it write-locks the row
/// (PostgreSQL) or the database (SQLite) before anything is read, so two writers
/// never both read the old filled quantity.
const LOCK_ORDER: &str = "UPDATE orders SET updated_at = updated_at WHERE id = $1";
const INSERT_FILL: &str = "INSERT INTO fills (trade_id, symbol, order_id, side, price, quantity, fee, liquidity, \
     executed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (symbol, trade_id) DO NOTHING";
pub(super) const SELECT_OPEN_ORDERS: &str = concat!(
    "SELECT ",
    order_cols!(),
    " FROM orders WHERE status IN ('new', 'partiallyFilled') ORDER BY id"
);
pub(super) const SELECT_FILLS_SINCE: &str = concat!(
    "SELECT ",
    fill_cols!(),
    " FROM fills WHERE executed_at >= $1 ORDER BY seq"
);
const SELECT_FILL: &str = concat!(
    "SELECT ",
    fill_cols!(),
    " FROM fills WHERE symbol = $1 AND trade_id = $2"
);

/// Where a test can make `record_fill` fail halfway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    /// Fail after the fill row is inserted, before the order is updated.
    AfterFillInsert,
}

impl Store {
    /// Records a new order (status `New`, nothing filled) under the engine's id
    /// and the client order id the venue will know it by. Recording the same
    /// order again is a no-op ([`Recorded::Duplicate`]); reusing its id or client
    /// order id for a different order is an error.
    pub async fn record_order(
        &self,
        order: &OrderRequest,
        client_order_id: &str,
    ) -> Result<Recorded> {
        if order.quantity <= Quantity::ZERO {
            let value = order.quantity.to_string();
            return Err(StoreError::NotPositive {
                id: order.id,
                field: "quantity",
                value,
            });
        }
        if let OrderKind::Limit { price } = order.kind
            && (price.is_sign_negative() || price.is_zero())
        {
            let value = price.to_string();
            return Err(StoreError::NotPositive {
                id: order.id,
                field: "limit price",
                value,
            });
        }
        let id = order_id_col(order.id)?;
        let (kind, limit_price) = kind_cols(order.kind);
        let inserted = dispatch!(self, |pool, backend| {
            sqlx::query(INSERT_ORDER)
                .bind(id)
                .bind(client_order_id)
                .bind(order.symbol.as_str())
                .bind(side_str(order.side))
                .bind(kind)
                .bind(limit_price)
                .bind(Dec(order.quantity.0))
                .bind(Dec(Quantity::ZERO.0))
                .bind(order.reason.as_str())
                .bind(order.created_at)
                .execute(pool)
                .await
                .map_err(db("recording an order"))?
                .rows_affected()
                == 1
        });
        if inserted {
            return Ok(Recorded::Inserted);
        }
        let Some(existing) = self.order(order.id).await? else {
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

    /// Ends an open order without (more) fills: `Canceled`, `Rejected` or
    /// `Expired`, with why. Setting the status it already has is a no-op.
    /// `PartiallyFilled` and `Filled` are refused: they follow from fills, so
    /// only [`Store::record_fill`] sets them.
    pub async fn update_order_status(
        &self,
        id: OrderId,
        status: OrderStatus,
        status_reason: Option<&str>,
        at: i64,
    ) -> Result<()> {
        let key = order_id_col(id)?;
        dispatch!(self, |pool, backend| {
            let mut tx = pool
                .begin()
                .await
                .map_err(db("beginning an order update"))?;
            let locked = sqlx::query(LOCK_ORDER)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db("locking an order"))?;
            if locked.rows_affected() == 0 {
                return Err(StoreError::UnknownOrder(id));
            }
            let row: OrderRow = sqlx::query_as(SELECT_ORDER)
                .bind(key)
                .fetch_one(&mut *tx)
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
            .execute(&mut *tx)
            .await
            .map_err(db("updating an order's status"))?;
            tx.commit()
                .await
                .map_err(db("committing an order update"))?;
            Ok(())
        })
    }

    /// Records a fill and, in the same transaction, its order's filled quantity
    /// and status (`PartiallyFilled`, or `Filled` once complete; a late fill on
    /// a canceled order keeps `Canceled` unless it completes the order). A fill
    /// whose `(symbol, trade_id)` is already stored changes nothing and returns
    /// [`Recorded::Duplicate`]. On any error nothing is written.
    pub async fn record_fill(&self, fill: &Fill) -> Result<Recorded> {
        self.record_fill_inner(fill, Fault::None).await
    }

    pub(crate) async fn record_fill_inner(&self, fill: &Fill, fault: Fault) -> Result<Recorded> {
        for (field, ok, value) in [
            (
                "fill quantity",
                fill.quantity > Quantity::ZERO,
                fill.quantity.to_string(),
            ),
            (
                "fill price",
                fill.price.0 > rust_decimal::Decimal::ZERO,
                fill.price.to_string(),
            ),
        ] {
            if !ok {
                return Err(StoreError::NotPositive {
                    id: fill.order_id,
                    field,
                    value,
                });
            }
        }
        let key = order_id_col(fill.order_id)?;
        dispatch!(self, |pool, backend| {
            let mut tx = pool.begin().await.map_err(db("beginning a fill"))?;
            let locked = sqlx::query(LOCK_ORDER)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db("locking a fill's order"))?;
            if locked.rows_affected() == 0 {
                return Err(StoreError::UnknownOrder(fill.order_id));
            }
            let row: OrderRow = sqlx::query_as(SELECT_ORDER)
                .bind(key)
                .fetch_one(&mut *tx)
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
                .execute(&mut *tx)
                .await
                .map_err(db("recording a fill"))?
                .rows_affected();
            if inserted == 0 {
                let row: FillRow = sqlx::query_as(SELECT_FILL)
                    .bind(fill.symbol.as_str())
                    .bind(fill.trade_id.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db("reading a recorded fill"))?;
                // Dropping `tx` rolls back the lock statement: nothing changed.
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
            sqlx::query("UPDATE orders SET filled_quantity = $2, status = $3, updated_at = $4 WHERE id = $1")
                .bind(key)
                .bind(Dec(filled.0))
                .bind(status_str(status))
                .bind(fill.time.max(order.updated_at))
                .execute(&mut *tx)
                .await
                .map_err(db("updating a filled order"))?;
            tx.commit().await.map_err(db("committing a fill"))?;
            Ok(Recorded::Inserted)
        })
    }

    /// One order, if recorded.
    pub async fn order(&self, id: OrderId) -> Result<Option<OrderRecord>> {
        let key = order_id_col(id)?;
        let row: Option<OrderRow> = dispatch!(self, |pool, backend| {
            sqlx::query_as(SELECT_ORDER)
                .bind(key)
                .fetch_optional(pool)
                .await
                .map_err(db("reading an order"))?
        });
        row.map(order_from_row).transpose()
    }

    /// Orders still `New` or `PartiallyFilled`, oldest first.
    pub async fn open_orders(&self) -> Result<Vec<OrderRecord>> {
        let rows: Vec<OrderRow> = dispatch!(self, |pool, backend| {
            sqlx::query_as(SELECT_OPEN_ORDERS)
                .fetch_all(pool)
                .await
                .map_err(db("reading open orders"))?
        });
        rows.into_iter().map(order_from_row).collect()
    }

    /// The open order the venue knows by `client_order_id`, if any is recorded.
    pub async fn order_by_client_id(&self, client_order_id: &str) -> Result<Option<OrderRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            order_cols!(),
            " FROM orders WHERE client_order_id = $1"
        );
        let row: Option<OrderRow> = dispatch!(self, |pool, backend| {
            sqlx::query_as(SQL)
                .bind(client_order_id)
                .fetch_optional(pool)
                .await
                .map_err(db("reading an order by client order id"))?
        });
        row.map(order_from_row).transpose()
    }

    /// Every fill, in the order it was recorded.
    pub async fn fills(&self) -> Result<Vec<Fill>> {
        self.fills_since(i64::MIN).await
    }

    /// Fills executed at or after `from` (Unix ms), in the order they were recorded.
    pub async fn fills_since(&self, from: i64) -> Result<Vec<Fill>> {
        let rows: Vec<FillRow> = dispatch!(self, |pool, backend| {
            sqlx::query_as(SELECT_FILLS_SINCE)
                .bind(from)
                .fetch_all(pool)
                .await
                .map_err(db("reading fills"))?
        });
        rows.into_iter().map(fill_from_row).collect()
    }

    /// The fills of one order, in the order they were recorded.
    pub async fn fills_for_order(&self, id: OrderId) -> Result<Vec<Fill>> {
        const SQL: &str = concat!(
            "SELECT ",
            fill_cols!(),
            " FROM fills WHERE order_id = $1 ORDER BY seq"
        );
        let key = order_id_col(id)?;
        let rows: Vec<FillRow> = dispatch!(self, |pool, backend| {
            sqlx::query_as(SQL)
                .bind(key)
                .fetch_all(pool)
                .await
                .map_err(db("reading an order's fills"))?
        });
        rows.into_iter().map(fill_from_row).collect()
    }
}

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
