//! The periodic ledger check of a venue bot (Sandbox and up): every
//! `--ledger-check-secs` (and once right after the start reconciliation),
//! the engine first brings its ledger up to date with the venue (a poll),
//! then compares the fills it stored in the current phase with the venue's
//! trade history of its orders, and its positions with the venue's
//! balances (`crate::execution::compare_ledger`). The result is `ledgerCheck`
//! in `/status`; the operator's `ledgerMatchesVenue` gate reads it.
//!
//! A venue that does not answer leaves the last check in place: it ages,
//! and the gate stops counting it after 30 minutes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use botfleet_crds::engine_api::LedgerCheck;

use super::status::rfc3339;
use super::trader::Trader;
use crate::domain::{OrderId, Quantity, Symbol};
use crate::execution::{LedgerInputs, compare_ledger};

/// When the next check is due.
#[derive(Clone, Debug)]
pub struct LedgerSchedule {
    pub every: Duration,
    pub due: Instant,
    /// The last check, for `/status`.
    pub last: Option<LedgerCheck>,
}

impl LedgerSchedule {
    /// The first check is due at once.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            due: Instant::now(),
            last: None,
        }
    }
}

impl Trader {
    /// Runs the check when it is due (venue bots only).
    pub async fn check_ledger_if_due(&mut self) -> anyhow::Result<()> {
        if self.venue.is_none() || Instant::now() < self.ledger.due {
            return Ok(());
        }
        self.ledger.due = Instant::now() + self.ledger.every;
        self.check_ledger().await
    }

    /// One check now. Store errors are fatal as everywhere; venue errors
    /// are logged and leave the last check in place.
    pub async fn check_ledger(&mut self) -> anyhow::Result<()> {
        // The ledger must hold what the venue already reported.
        self.poll_venue().await?;
        let since = self.engine.performance().window().start_time();
        let symbols: Vec<Symbol> = self.engine.config().symbols.clone();
        let Some(venue) = self.venue.as_mut() else {
            return Ok(());
        };
        let at = chrono::Utc::now().timestamp_millis();
        let (trades, balances) = match venue.records(&symbols, since).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "reading the venue's records for the ledger check failed; checking again later");
                return Ok(());
            }
        };
        let ledger = self.store.fills_since(since).await?;
        let open: BTreeSet<OrderId> = self
            .engine
            .venue_open_orders()
            .iter()
            .map(|o| o.id)
            .collect();
        let positions: Vec<(Symbol, Quantity)> = self
            .engine
            .ledger()
            .positions()
            .map(|p| (p.symbol().clone(), p.quantity()))
            .collect();
        let check = compare_ledger(&LedgerInputs {
            at: rfc3339(at),
            ledger: &ledger,
            venue: &trades,
            open_orders: &open,
            balances: Some(&balances),
            positions: &positions,
        });
        if check.matches() {
            tracing::info!(
                trades = check.matched_trades,
                "ledger matches the venue's records"
            );
        } else {
            tracing::warn!(differences = check.differences(), summary = %check.summary(), "the ledger differs from the venue's records");
        }
        self.ledger.last = Some(check);
        self.publish();
        Ok(())
    }
}
