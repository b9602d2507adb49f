//! The engine's small state (a JSON value per key) and `restore`, everything
//! the engine needs after a restart read in one snapshot.

use super::codec::{
    Dec, FillRow, OrderRow, PositionRow, fill_from_row, order_from_row, position_from_row,
};
use super::error::{Result, StoreError, db};
use super::journal::{
    SELECT_LAST_EQUITY, SELECT_LAST_PHASE_EVENT, SELECT_POSITIONS, equity_from_row,
};
use super::orders::{SELECT_FILLS_SINCE, SELECT_OPEN_ORDERS};
use super::tx::{TxOps, UPSERT_STATE};
use super::{Backend, EngineState, PhaseEvent, Restored, Store, dispatch};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;

const NEXT_ORDER_ID: &str = "next_order_id";
const HALT: &str = "halt";
const PAUSE: &str = "pause";
const PHASE: &str = "phase";
const PHASE_STARTED_AT: &str = "phase_started_at";
const LAST_CANDLE_TIME: &str = "last_candle_time";

const SELECT_STATE: &str = "SELECT key, value FROM engine_state";
const SELECT_MAX_ORDER_ID: &str = "SELECT MAX(id) FROM orders";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    /// The engine state; defaults for what was never saved. `next_order_id` is
    /// at least one above the highest recorded order id.
    pub async fn load_state(&self) -> Result<EngineState> {
        let (rows, max_id): (Vec<(String, String)>, Option<i64>) =
            dispatch!(self, |pool, backend| {
                let mut tx = pool.begin().await.map_err(db("beginning a state read"))?;
                let rows = sqlx::query_as(SELECT_STATE)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("reading engine state"))?;
                let max_id: (Option<i64>,) = sqlx::query_as(SELECT_MAX_ORDER_ID)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db("reading the highest order id"))?;
                (rows, max_id.0)
            });
        state_from_rows(rows, max_id)
    }

    /// Saves every field of `state` in one transaction; a `None` field removes
    /// its key. Other keys (see [`Store::put_value`]) are left alone.
    pub async fn save_state(&self, state: &EngineState) -> Result<()> {
        let entries = state_entries(state)?;
        let at = now_ms();
        dispatch!(self, |pool, backend| {
            let mut tx = pool.begin().await.map_err(db("beginning a state save"))?;
            for (key, value) in &entries {
                tx.put_state(key, value.as_deref(), at).await?;
            }
            tx.commit().await.map_err(db("committing engine state"))?;
        });
        Ok(())
    }

    /// Stores any serializable value under `key` (for facts `EngineState` does
    /// not name yet). Do not reuse the keys `EngineState` uses.
    pub async fn put_value<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string(value).map_err(|source| StoreError::StateValue {
            key: key.into(),
            source,
        })?;
        let at = now_ms();
        dispatch!(self, |pool, backend| {
            sqlx::query(UPSERT_STATE)
                .bind(key)
                .bind(text)
                .bind(at)
                .execute(pool)
                .await
                .map_err(db("saving a state value"))?;
        });
        Ok(())
    }

    /// The value stored under `key`, if any.
    pub async fn get_value<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let row: Option<(String,)> = dispatch!(self, |pool, backend| {
            sqlx::query_as("SELECT value FROM engine_state WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
                .map_err(db("reading a state value"))?
        });
        row.map(|(text,)| {
            serde_json::from_str(&text).map_err(|source| StoreError::StateValue {
                key: key.into(),
                source,
            })
        })
        .transpose()
    }

    /// Everything the engine needs after a restart, read in one transaction
    /// (a consistent snapshot on both backends).
    pub async fn restore(&self) -> Result<Restored> {
        type EquityRow = (i64, Dec, Dec);
        type PhaseRow = (Option<String>, String, i64, String);
        let (state_rows, max_id, fills, open, positions, equity, phase) =
            dispatch!(self, |pool, backend| {
                let mut tx = pool.begin().await.map_err(db("beginning restore"))?;
                if backend == Backend::Postgres {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .execute(&mut *tx)
                        .await
                        .map_err(db("starting a snapshot"))?;
                }
                let state_rows: Vec<(String, String)> = sqlx::query_as(SELECT_STATE)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("reading engine state"))?;
                let max_id: (Option<i64>,) = sqlx::query_as(SELECT_MAX_ORDER_ID)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db("reading the highest order id"))?;
                let fills: Vec<FillRow> = sqlx::query_as(SELECT_FILLS_SINCE)
                    .bind(i64::MIN)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("reading fills"))?;
                let open: Vec<OrderRow> = sqlx::query_as(SELECT_OPEN_ORDERS)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("reading open orders"))?;
                let positions: Vec<PositionRow> = sqlx::query_as(SELECT_POSITIONS)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("reading positions"))?;
                let equity: Option<EquityRow> = sqlx::query_as(SELECT_LAST_EQUITY)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("reading the last equity point"))?;
                let phase: Option<PhaseRow> = sqlx::query_as(SELECT_LAST_PHASE_EVENT)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("reading the last phase event"))?;
                tx.commit().await.map_err(db("ending restore"))?;
                (state_rows, max_id.0, fills, open, positions, equity, phase)
            });
        Ok(Restored {
            state: state_from_rows(state_rows, max_id)?,
            fills: fills
                .into_iter()
                .map(fill_from_row)
                .collect::<Result<_>>()?,
            open_orders: open
                .into_iter()
                .map(order_from_row)
                .collect::<Result<_>>()?,
            positions: positions.into_iter().map(position_from_row).collect(),
            last_equity: equity.map(equity_from_row),
            last_phase_event: phase.map(|(from, to, at, reason)| PhaseEvent {
                from,
                to,
                at,
                reason,
            }),
        })
    }
}

fn state_from_rows(rows: Vec<(String, String)>, max_order_id: Option<i64>) -> Result<EngineState> {
    let values: BTreeMap<String, String> = rows.into_iter().collect();
    fn field<T: DeserializeOwned>(
        values: &BTreeMap<String, String>,
        key: &str,
    ) -> Result<Option<T>> {
        values
            .get(key)
            .map(|text| {
                serde_json::from_str(text).map_err(|source| StoreError::StateValue {
                    key: key.into(),
                    source,
                })
            })
            .transpose()
    }
    let stored_next: u64 = field(&values, NEXT_ORDER_ID)?.unwrap_or(1);
    let after_recorded = max_order_id.map_or(1, |id| id.unsigned_abs() + 1);
    Ok(EngineState {
        next_order_id: stored_next.max(after_recorded).max(1),
        halt: field(&values, HALT)?,
        pause: field(&values, PAUSE)?,
        phase: field(&values, PHASE)?,
        phase_started_at: field(&values, PHASE_STARTED_AT)?,
        last_candle_time: field(&values, LAST_CANDLE_TIME)?,
    })
}

/// Every key of `state` as JSON text; `None` removes the key.
pub(super) fn state_entries(state: &EngineState) -> Result<Vec<(&'static str, Option<String>)>> {
    let entries: [(&str, Option<Value>); 6] = [
        (NEXT_ORDER_ID, Some(Value::from(state.next_order_id))),
        (HALT, to_json(HALT, state.halt.as_ref())?),
        (PAUSE, to_json(PAUSE, state.pause.as_ref())?),
        (PHASE, state.phase.clone().map(Value::from)),
        (PHASE_STARTED_AT, state.phase_started_at.map(Value::from)),
        (LAST_CANDLE_TIME, state.last_candle_time.map(Value::from)),
    ];
    Ok(entries
        .into_iter()
        .map(|(k, v)| (k, v.map(|v| v.to_string())))
        .collect())
}

fn to_json<T: Serialize>(key: &str, value: Option<&T>) -> Result<Option<Value>> {
    value
        .map(|v| {
            serde_json::to_value(v).map_err(|source| StoreError::StateValue {
                key: key.into(),
                source,
            })
        })
        .transpose()
}
