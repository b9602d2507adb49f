//! [`Store::commit_step`]: everything one engine step produced — candles,
//! orders, order status changes, fills, audit records, phase events, equity,
//! positions and the engine's state — in **one** transaction.
//!
//! This is what makes a crash harmless: either the whole step is stored (and
//! the engine restores to the state after it), or none of it is (and the
//! engine restores to the state before it and processes the same candles
//! again, producing the same orders and fills under the same ids).

use super::codec::Dec;
use super::error::{Result, db};
use super::tx::{Fault, TxOps};
use super::{EngineState, EquitySnapshot, PhaseEvent, PositionRecord, Recorded, Store, dispatch};
use crate::domain::{Candle, Fill, OrderId, OrderRequest, OrderStatus, Price, Quantity, Symbol};
use crate::engine::AuditRecord;

/// One write of a step, applied in the order given (an order is recorded
/// before its fills, a fill before the status that closes its order).
#[derive(Clone, Debug, PartialEq)]
pub enum StepWrite {
    /// A candle the engine consumed (`warmup`: fed to the strategies only).
    Candle {
        symbol: Symbol,
        candle: Candle,
        warmup: bool,
    },
    /// A new order, as [`Store::record_order`].
    Order {
        request: OrderRequest,
        client_order_id: String,
    },
    /// An order ended without (more) fills, as [`Store::update_order_status`].
    OrderStatus {
        id: OrderId,
        status: OrderStatus,
        reason: Option<String>,
        at: i64,
    },
    /// A fill, as [`Store::record_fill`].
    Fill(Fill),
    /// An audit record, as [`Store::record_audit`].
    Audit(AuditRecord),
    PhaseEvent(PhaseEvent),
}

/// Everything one step stores.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    pub writes: Vec<StepWrite>,
    /// Equity points (one per candle; a point at a stored time replaces it).
    pub equity: Vec<EquitySnapshot>,
    /// Replaces the positions snapshot when set.
    pub positions: Option<Vec<PositionRecord>>,
    /// Replaces the engine state when set (as [`Store::save_state`]).
    pub state: Option<EngineState>,
    /// Extra engine_state keys (as [`Store::put_value`]), as JSON.
    pub values: Vec<(String, serde_json::Value)>,
}

impl Step {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
            && self.equity.is_empty()
            && self.positions.is_none()
            && self.state.is_none()
            && self.values.is_empty()
    }
}

/// What a committed step changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    pub orders: usize,
    pub fills: usize,
    /// Orders and fills that were already stored (a replayed step): no-ops.
    pub duplicates: usize,
}

/// A candle as stored, with the symbol it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCandle {
    pub symbol: Symbol,
    pub candle: Candle,
    pub warmup: bool,
}

type CandleRow = (String, i64, Dec, Dec, Dec, Dec, Dec, bool);

impl Store {
    /// Stores a whole step in one transaction: all of it, or (on any error)
    /// none of it. Orders and fills keep the guarantees of
    /// [`Store::record_order`] and [`Store::record_fill`] (a replayed one is a
    /// no-op counted in [`StepReport::duplicates`]).
    pub async fn commit_step(&self, step: &Step) -> Result<StepReport> {
        let state_entries = match &step.state {
            Some(state) => super::state::state_entries(state)?,
            None => Vec::new(),
        };
        let values: Vec<(String, String)> = step
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        let now = chrono::Utc::now().timestamp_millis();
        dispatch!(self, |pool, backend| {
            let mut tx = pool.begin().await.map_err(db("beginning a step"))?;
            let mut report = StepReport::default();
            for write in &step.writes {
                match write {
                    StepWrite::Candle {
                        symbol,
                        candle,
                        warmup,
                    } => tx.insert_candle(symbol, candle, *warmup).await?,
                    StepWrite::Order {
                        request,
                        client_order_id,
                    } => match tx.insert_order(request, client_order_id).await? {
                        Recorded::Inserted => report.orders += 1,
                        Recorded::Duplicate => report.duplicates += 1,
                    },
                    StepWrite::OrderStatus {
                        id,
                        status,
                        reason,
                        at,
                    } => {
                        tx.set_order_status(*id, *status, reason.as_deref(), *at)
                            .await?
                    }
                    StepWrite::Fill(fill) => match tx.insert_fill(fill, Fault::None).await? {
                        Recorded::Inserted => report.fills += 1,
                        Recorded::Duplicate => report.duplicates += 1,
                    },
                    StepWrite::Audit(d) => tx.insert_audit(d).await?,
                    StepWrite::PhaseEvent(e) => tx.insert_phase_event(e).await?,
                }
            }
            for point in &step.equity {
                tx.upsert_equity(point).await?;
            }
            if let Some(positions) = &step.positions {
                tx.replace_positions(positions).await?;
            }
            for (key, value) in &state_entries {
                tx.put_state(key, value.as_deref(), now).await?;
            }
            for (key, value) in &values {
                tx.put_state(key, Some(value), now).await?;
            }
            tx.commit().await.map_err(db("committing a step"))?;
            Ok(report)
        })
    }

    /// Every stored candle, oldest first (ties by symbol).
    pub async fn candles(&self) -> Result<Vec<StoredCandle>> {
        let mut all = Vec::new();
        self.for_each_candle(|c| all.push(c)).await?;
        Ok(all)
    }

    /// Streams every stored candle, oldest first (ties by symbol), into `f`
    /// without holding them all in memory (a restart re-warms its strategies
    /// on a year of one-minute candles this way).
    pub async fn for_each_candle(&self, mut f: impl FnMut(StoredCandle)) -> Result<()> {
        use futures::TryStreamExt;
        dispatch!(self, |pool, backend| {
            let mut rows = sqlx::query_as::<_, CandleRow>(SELECT_CANDLES).fetch(pool);
            while let Some(row) = rows.try_next().await.map_err(db("reading candles"))? {
                f(candle_from_row(row));
            }
        });
        Ok(())
    }

    /// Open time of the newest stored candle of each symbol.
    pub async fn last_candle_times(&self) -> Result<Vec<(Symbol, i64)>> {
        let rows: Vec<(String, i64)> = dispatch!(self, |pool, backend| {
            sqlx::query_as(
                "SELECT symbol, MAX(open_time) FROM candles GROUP BY symbol ORDER BY symbol",
            )
            .fetch_all(pool)
            .await
            .map_err(db("reading the last candle times"))?
        });
        Ok(rows
            .into_iter()
            .map(|(s, t)| (Symbol(s.into()), t))
            .collect())
    }
}

const SELECT_CANDLES: &str = "SELECT symbol, open_time, open, high, low, close, volume, warmup \
     FROM candles ORDER BY open_time, symbol";

fn candle_from_row((symbol, open_time, o, h, l, c, v, warmup): CandleRow) -> StoredCandle {
    StoredCandle {
        symbol: Symbol(symbol.into()),
        candle: Candle {
            open_time,
            open: Price(o.0),
            high: Price(h.0),
            low: Price(l.0),
            close: Price(c.0),
            volume: Quantity(v.0),
        },
        warmup,
    }
}
