//! Orders and fills: the part of the store a lost or doubled write would cost money.

use super::codec::{
    FillRow, OrderRow, fill_cols, fill_from_row, order_cols, order_from_row, order_id_col,
};
use super::error::{Result, StoreError, db};
use super::tx::{Fault, SELECT_ORDER, TxOps};
use super::{OrderRecord, Recorded, Store, dispatch};
use crate::domain::{Fill, OrderId, OrderKind, OrderRequest, OrderStatus, Quantity};

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
        dispatch!(self, |pool, backend| {
            let mut tx = pool.begin().await.map_err(db("beginning an order"))?;
            let recorded = tx.insert_order(order, client_order_id).await?;
            tx.commit().await.map_err(db("committing an order"))?;
            Ok(recorded)
        })
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
        dispatch!(self, |pool, backend| {
            let mut tx = pool
                .begin()
                .await
                .map_err(db("beginning an order update"))?;
            tx.set_order_status(id, status, status_reason, at).await?;
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
        dispatch!(self, |pool, backend| {
            let mut tx = pool.begin().await.map_err(db("beginning a fill"))?;
            // On an error `tx` is dropped, which rolls everything back.
            let recorded = tx.insert_fill(fill, fault).await?;
            tx.commit().await.map_err(db("committing a fill"))?;
            Ok(recorded)
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
