//! Positions, the equity curve, the audit log (table `decisions`) and phase events.

use super::codec::{Dec, PositionRow, json_col, position_from_row};
use super::error::{Result, db};
use super::tx::TxOps;
use super::{EquitySnapshot, PhaseEvent, PositionRecord, Store, dispatch};
use crate::domain::{Money, Symbol};
use crate::engine::AuditRecord;

pub(super) const SELECT_POSITIONS: &str = "SELECT symbol, quantity, average_price, realized_pnl, updated_at FROM positions ORDER BY symbol";
pub(super) const SELECT_LAST_EQUITY: &str =
    "SELECT at, equity, cash FROM equity_snapshots ORDER BY at DESC LIMIT 1";
pub(super) const SELECT_LAST_PHASE_EVENT: &str =
    "SELECT from_phase, to_phase, at, reason FROM phase_events ORDER BY id DESC LIMIT 1";

impl Store {
    /// Replaces the positions snapshot with `positions` (flat symbols can be
    /// left out), in one transaction.
    pub async fn save_positions(&self, positions: &[PositionRecord]) -> Result<()> {
        dispatch!(self, |pool, backend| {
            let mut tx = pool
                .begin()
                .await
                .map_err(db("beginning a positions snapshot"))?;
            tx.replace_positions(positions).await?;
            tx.commit().await.map_err(db("committing positions"))?;
        });
        Ok(())
    }

    /// The positions snapshot, by symbol.
    pub async fn positions(&self) -> Result<Vec<PositionRecord>> {
        let rows: Vec<PositionRow> = dispatch!(self, |pool, backend| {
            sqlx::query_as(SELECT_POSITIONS)
                .fetch_all(pool)
                .await
                .map_err(db("reading positions"))?
        });
        Ok(rows.into_iter().map(position_from_row).collect())
    }

    /// Adds a point to the equity curve; a point at the same time replaces it.
    pub async fn record_equity(&self, snapshot: &EquitySnapshot) -> Result<()> {
        dispatch!(self, |pool, backend| {
            let mut conn = pool.acquire().await.map_err(db("recording equity"))?;
            conn.upsert_equity(snapshot).await?;
        });
        Ok(())
    }

    /// The equity curve from `from` (Unix ms) on, oldest first.
    pub async fn equity_since(&self, from: i64) -> Result<Vec<EquitySnapshot>> {
        let rows: Vec<(i64, Dec, Dec)> = dispatch!(self, |pool, backend| {
            sqlx::query_as(
                "SELECT at, equity, cash FROM equity_snapshots WHERE at >= $1 ORDER BY at",
            )
            .bind(from)
            .fetch_all(pool)
            .await
            .map_err(db("reading the equity curve"))?
        });
        Ok(rows.into_iter().map(equity_from_row).collect())
    }

    /// The latest point of the equity curve.
    pub async fn last_equity(&self) -> Result<Option<EquitySnapshot>> {
        let row: Option<(i64, Dec, Dec)> = dispatch!(self, |pool, backend| {
            sqlx::query_as(SELECT_LAST_EQUITY)
                .fetch_optional(pool)
                .await
                .map_err(db("reading the last equity point"))?
        });
        Ok(row.map(equity_from_row))
    }

    /// Appends one record to the audit log.
    pub async fn record_audit(&self, record: &AuditRecord) -> Result<()> {
        self.record_audits(std::slice::from_ref(record)).await
    }

    /// Appends audit records in one transaction (one fsync for a whole tick).
    pub async fn record_audits(&self, records: &[AuditRecord]) -> Result<()> {
        dispatch!(self, |pool, backend| {
            let mut tx = pool.begin().await.map_err(db("beginning decisions"))?;
            for r in records {
                tx.insert_audit(r).await?;
            }
            tx.commit().await.map_err(db("committing decisions"))?;
        });
        Ok(())
    }

    /// Audit log entries from `from` (Unix ms) on, oldest first, at most `limit`.
    pub async fn audit_since(&self, from: i64, limit: u32) -> Result<Vec<AuditRecord>> {
        let rows: Vec<(i64, String, String, String, String)> = dispatch!(self, |pool, backend| {
            sqlx::query_as(
                "SELECT at, symbol, signal, verdict, reason FROM decisions WHERE at >= $1 ORDER BY id LIMIT $2",
            )
            .bind(from)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(db("reading decisions"))?
        });
        rows.into_iter()
            .map(|(at, symbol, signal, verdict, reason)| {
                Ok(AuditRecord {
                    at,
                    symbol: Symbol(symbol.into()),
                    signal,
                    verdict,
                    reason: json_col("decisions", "reason", &reason)?,
                })
            })
            .collect()
    }

    /// Records a change of the effective phase.
    pub async fn record_phase_event(&self, event: &PhaseEvent) -> Result<()> {
        dispatch!(self, |pool, backend| {
            let mut conn = pool
                .acquire()
                .await
                .map_err(db("recording a phase event"))?;
            conn.insert_phase_event(event).await?;
        });
        Ok(())
    }

    /// Every phase event, oldest first.
    pub async fn phase_events(&self) -> Result<Vec<PhaseEvent>> {
        let rows: Vec<(Option<String>, String, i64, String)> = dispatch!(self, |pool, backend| {
            sqlx::query_as("SELECT from_phase, to_phase, at, reason FROM phase_events ORDER BY id")
                .fetch_all(pool)
                .await
                .map_err(db("reading phase events"))?
        });
        Ok(rows
            .into_iter()
            .map(|(from, to, at, reason)| PhaseEvent {
                from,
                to,
                at,
                reason,
            })
            .collect())
    }
}

pub(super) fn equity_from_row((at, equity, cash): (i64, Dec, Dec)) -> EquitySnapshot {
    EquitySnapshot {
        at,
        equity: Money(equity.0),
        cash: Money(cash.0),
    }
}
