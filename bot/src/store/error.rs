//! Store errors: each names what was being done and, where a caller can act,
//! what to do about it.

use crate::domain::{OrderId, OrderStatus, Quantity};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {what}: {source}")]
    Database {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },

    #[error("store: migrating the {backend} schema: {source}")]
    Migrate {
        backend: super::Backend,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    #[error("store: opening {target}: {source}")]
    Open {
        /// The SQLite path, or the PostgreSQL URL with its password replaced by `***`.
        target: String,
        #[source]
        source: sqlx::Error,
    },

    #[error(
        "store: directory {0} does not exist: mount the data volume there or point the \
         SQLite path at an existing directory"
    )]
    MissingDirectory(PathBuf),

    #[error("store: {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "store: {what} is in use by another engine (waited {waited_ms} ms): one engine per \
         store; stop the other process, or give this bot its own store"
    )]
    Locked { what: String, waited_ms: u128 },

    #[error("store: order {0} is not recorded: record_order it before its fills or status")]
    UnknownOrder(OrderId),

    #[error(
        "store: order id {0} is already recorded with different {1}: order ids are never reused"
    )]
    OrderConflict(OrderId, &'static str),

    #[error("store: order id {0} does not fit a signed 64-bit column")]
    OrderIdTooLarge(OrderId),

    #[error("store: order {id}: {field} must be positive, got {value}")]
    NotPositive {
        id: OrderId,
        field: &'static str,
        value: String,
    },

    #[error(
        "store: fill {trade_id} for order {order}: {field} is {got} but the order has {expected}"
    )]
    FillMismatch {
        trade_id: String,
        order: OrderId,
        field: &'static str,
        got: String,
        expected: String,
    },

    #[error(
        "store: fill {trade_id} would fill order {order} to {would_be}, more than its \
         quantity {quantity}: nothing was recorded"
    )]
    Overfill {
        trade_id: String,
        order: OrderId,
        would_be: Quantity,
        quantity: Quantity,
    },

    #[error(
        "store: trade {trade_id} on {symbol} is already recorded with different {field}: \
         the venue sent two different fills under one trade id"
    )]
    FillConflict {
        trade_id: String,
        symbol: String,
        field: &'static str,
    },

    #[error("store: order {id} cannot go from {from:?} to {to:?}: {why}")]
    InvalidTransition {
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        why: &'static str,
    },

    #[error("store: {table}.{column} holds {value:?}, which is not {expected}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        value: String,
        expected: &'static str,
    },

    #[error("store: engine_state key {key:?}: {source}")]
    StateValue {
        key: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("store: injected failure after the fill insert (test only)")]
    InjectedFailure,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// `map_err` helper: wraps a sqlx error with what the store was doing.
pub(crate) fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { what, source }
}
