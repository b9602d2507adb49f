//! Persistence: orders, fills, positions, equity, the audit log, phase
//! events and the engine's small state, in SQLite (default: one file on the
//! data volume) or PostgreSQL (when a URL is configured).
//!
//! Guarantees the engine relies on:
//! - **A recorded fill is never lost or counted twice.** A fill and its order's
//!   new filled quantity and status are written in one transaction; a fill whose
//!   `(symbol, trade_id)` is already stored is a no-op reported as
//!   [`Recorded::Duplicate`]. SQLite runs with `journal_mode=WAL` and
//!   `synchronous=FULL`: every commit is fsynced before `record_fill` returns, so
//!   an acknowledged fill survives a killed process *and* a power cut (`NORMAL`
//!   only survives the former; fills are rare enough that one fsync each is free).
//! - **Exact money.** Prices, quantities and money are TEXT decimal strings in
//!   SQLite (checked to stay TEXT) and NUMERIC in PostgreSQL; never floats.
//! - **One engine per store.** Opening takes an exclusive lock held until the
//!   store is closed or the process dies: an OS file lock on `<db>.lock` for
//!   SQLite, a session advisory lock (per database and schema) for PostgreSQL. A
//!   second engine gets [`StoreError::Locked`] instead of interleaving orders.
//! - **Restart.** [`Store::restore`] returns every fill in recorded order, the
//!   open orders with their client order ids, positions, the last equity point
//!   and the [`EngineState`] (next order id, halt latch, pause, phase start,
//!   last candle).
//!
//! - **One step, one transaction.** [`Store::commit_step`] stores everything an
//!   engine step produced (candles, orders, fills, status changes, audit
//!   records, equity, positions, engine state) atomically, so after a crash the
//!   store holds the state before or after a step, never half of one.
//!
//! Both backends share the SQL text (`$1` placeholders work in both) and the
//! Rust code: `dispatch!` compiles each method body once per pool type.
//! Migrations live in `bot/migrations/{sqlite,postgres}` and run on open.

mod codec;
mod error;
mod journal;
mod open;
mod orders;
mod state;
mod step;
#[doc(hidden)]
pub mod testing;
mod tx;
mod types;

#[cfg(test)]
mod tests;

pub use error::{Result, StoreError};
pub use open::redact;
pub use step::{Step, StepReport, StepWrite, StoredCandle};
pub use types::{
    Backend, EngineState, EquitySnapshot, HaltLatch, OrderRecord, Pause, PhaseEvent,
    PositionRecord, Recorded, Restored, StoreConfig,
};

use sqlx::{PgPool, SqlitePool};
use std::time::Duration;

/// Runs one body against whichever pool is open. The body is compiled once per
/// backend, so SQL and bind code are written once while every type stays
/// concrete (no `Any` driver, which cannot carry NUMERIC).
macro_rules! dispatch {
    ($store:expr, |$pool:ident, $backend:ident| $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $backend = $crate::store::Backend::Sqlite;
                $body
            }
            $crate::store::Db::Postgres($pool) => {
                #[allow(unused_variables)]
                let $backend = $crate::store::Backend::Postgres;
                $body
            }
        }
    };
}
pub(crate) use dispatch;

pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// How an opened store behaves.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// How long to wait for another engine to let go of the store before
    /// failing with [`StoreError::Locked`]. A crashed engine's lock is freed by
    /// the OS (SQLite) or when the server notices the dead connection
    /// (PostgreSQL), which is why the default is a few seconds, not zero.
    pub lock_wait: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            lock_wait: Duration::from_secs(10),
        }
    }
}

/// The engine's database. Share it behind an `Arc`; every method takes `&self`.
pub struct Store {
    pub(crate) db: Db,
    /// Held for the store's lifetime: the single-writer lock.
    guard: open::Guard,
}

impl Store {
    /// Opens (creating and migrating if needed) the store `config` names.
    pub async fn open(config: &StoreConfig) -> Result<Store> {
        Self::open_with(config, &OpenOptions::default()).await
    }

    pub async fn open_with(config: &StoreConfig, options: &OpenOptions) -> Result<Store> {
        let (db, guard) = match config {
            StoreConfig::Sqlite { path } => open::sqlite(path, options).await?,
            StoreConfig::Postgres { url } => open::postgres(url, options).await?,
        };
        Ok(Store { db, guard })
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection, then releases the single-writer lock.
    pub async fn close(self) {
        match &self.db {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
        self.guard.release().await;
    }
}
