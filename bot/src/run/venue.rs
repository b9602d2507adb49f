//! The real venue of a Sandbox, LimitedReal or Scaling bot: its flags and
//! credentials, and the order lifecycle that survives a crash at any point.
//!
//! The rule that makes a crash harmless: **an order is stored before it is
//! sent**, and fills are stored idempotently (one row per venue trade id).
//! So whenever the process dies, every order the venue may hold is in the
//! store, and on start [`VenueLink::reconcile`] asks the venue about each:
//! missed fills are recorded, orders the venue never received are closed,
//! orders of this bot the store does not know (orphans) are canceled and
//! adopted. Only then does the engine trade.
//!
//! Between crashes, [`VenueLink::send`] carries out what the engine queued
//! (submits and cancels) and [`VenueLink::poll`] asks about orders still
//! open; the trader stores the engine's events after each.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use botfleet_crds::Phase;
use tokio_util::sync::CancellationToken;

use super::venue_client::VenueClient;
use crate::binance::spot::{SpotClient, SpotCredentials, SpotEndpoint, SpotOptions};
use crate::coinbase::trade::{
    CoinbaseClient, CoinbaseCredentials, CoinbaseEndpoint, CoinbaseOptions,
};
use crate::config::EngineConfig;
use crate::domain::{Fill, OrderId, OrderStatus, Price, Symbol};
use crate::engine::{Engine, VenueCommand};
use crate::execution::{OrderState, Venue, VenueBalances, VenueError, reconcile};
use botfleet_crds::Venue as VenueKind;

/// Env var holding the exchange API key (local use; the operator mounts
/// the phase's credentials Secret as files instead).
pub const API_KEY_ENV: &str = "BOTFLEET_EXCHANGE_API_KEY";
/// Env var holding the exchange API secret.
pub const API_SECRET_ENV: &str = "BOTFLEET_EXCHANGE_API_SECRET";

/// Venue flags of `run` (used in Sandbox, LimitedReal and Scaling only).
/// The venue itself is the TradingBot's `spec.exchange.venue`.
#[derive(clap::Args, Clone, Debug)]
pub struct VenueArgs {
    /// REST base URL for orders. Default: Binance's Spot Test Network or
    /// Coinbase's sandbox in Sandbox, the live API in LimitedReal/Scaling. A
    /// live host of the venue is refused in Sandbox; a local simulator is
    /// allowed there.
    #[arg(long, value_name = "URL")]
    pub venue_url: Option<String>,
    /// File holding the API key (a mounted Secret); else
    /// $BOTFLEET_EXCHANGE_API_KEY. On Coinbase: the API key name
    /// (`organizations/<org>/apiKeys/<key>`).
    #[arg(long, value_name = "PATH", requires = "api_secret_file")]
    pub api_key_file: Option<PathBuf>,
    /// File holding the API secret; else $BOTFLEET_EXCHANGE_API_SECRET. On
    /// Coinbase: the EC private key, PEM.
    #[arg(long, value_name = "PATH", requires = "api_key_file")]
    pub api_secret_file: Option<PathBuf>,
    /// Per-request timeout of venue calls, ms.
    #[arg(long, default_value_t = 10_000)]
    pub venue_timeout_ms: u64,
    /// `recvWindow` of signed requests, ms: a request older than this is
    /// refused by the venue, which bounds how late a lost submit can arrive.
    /// On Coinbase the same bound is each request's JWT lifetime (rounded
    /// up to whole seconds; Coinbase's documented lifetime is 120 s, which
    /// is the most this flag may ask there).
    #[arg(long, default_value_t = 5_000)]
    pub recv_window_ms: u64,
    /// Seconds between checks of the ledger against the venue's trade
    /// history and balances (reported as `ledgerCheck` in `/status`; the
    /// operator's gate counts a check for 30 minutes).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=1800))]
    pub ledger_check_secs: u64,
}

impl VenueArgs {
    /// The venue client for `cfg`'s phase, or `None` in Paper. Credentials
    /// come from the files or the environment; an error names where it
    /// looked, never what it found.
    pub fn client(&self, cfg: &EngineConfig) -> anyhow::Result<Option<VenueClient>> {
        if cfg.phase == Phase::Paper {
            if self.venue_url.is_some() || self.api_key_file.is_some() {
                bail!(
                    "--venue-url and --api-key-file are for Sandbox, LimitedReal and Scaling; \
                     TradingBot `{}` is in phase Paper, which fills on paper",
                    cfg.bot
                );
            }
            return Ok(None);
        }
        if !(1..=60_000).contains(&self.recv_window_ms) {
            bail!(
                "--recv-window-ms {} is out of range: Binance accepts 1 to 60000",
                self.recv_window_ms
            );
        }
        let timeout = Duration::from_millis(self.venue_timeout_ms.max(1));
        match cfg.bot_spec.exchange.venue {
            VenueKind::Binance => Ok(Some(VenueClient::Binance(self.binance(cfg, timeout)?))),
            VenueKind::Coinbase => Ok(Some(VenueClient::Coinbase(self.coinbase(cfg, timeout)?))),
        }
    }

    fn credentials_hint(&self, cfg: &EngineConfig, url: &reqwest::Url, what: &str) -> String {
        let field = if cfg.phase == Phase::Sandbox {
            "sandboxCredentialsSecretRef"
        } else {
            "liveCredentialsSecretRef"
        };
        format!(
            "phase {} trades on {url}: give the {what} with --api-key-file and \
             --api-secret-file, or {API_KEY_ENV} and {API_SECRET_ENV} (the operator mounts \
             them from spec.exchange.{field})",
            cfg.phase.as_str(),
        )
    }

    fn binance(&self, cfg: &EngineConfig, timeout: Duration) -> anyhow::Result<SpotClient> {
        let endpoint = match &self.venue_url {
            Some(url) => SpotEndpoint::with_url(cfg.phase, url),
            None => SpotEndpoint::for_phase(cfg.phase),
        }
        .context("--venue-url")?;
        let creds = match (&self.api_key_file, &self.api_secret_file) {
            (Some(key), Some(secret)) => SpotCredentials::from_files(key, secret),
            _ => SpotCredentials::from_env(API_KEY_ENV, API_SECRET_ENV),
        }
        .with_context(|| {
            self.credentials_hint(cfg, endpoint.url(), "Binance API key and secret")
        })?;
        let opts = SpotOptions {
            timeout,
            recv_window_ms: self.recv_window_ms,
            ..SpotOptions::default()
        };
        Ok(SpotClient::new(endpoint, creds, &cfg.bot, opts)?)
    }

    fn coinbase(&self, cfg: &EngineConfig, timeout: Duration) -> anyhow::Result<CoinbaseClient> {
        let endpoint = match &self.venue_url {
            Some(url) => CoinbaseEndpoint::with_url(cfg.phase, url),
            None => CoinbaseEndpoint::for_phase(cfg.phase),
        }
        .context("--venue-url")?;
        if endpoint.is_static_sandbox() {
            tracing::warn!(
                url = %endpoint.url(),
                "Coinbase's Advanced Trade sandbox answers every request with static, \
                 pre-defined responses: no order placed there is ever matched, so this \
                 Sandbox run exercises the request format only (see docs/coinbase.md)"
            );
        }
        let creds = match (&self.api_key_file, &self.api_secret_file) {
            (Some(name), Some(key)) => CoinbaseCredentials::from_files(name, key),
            _ => CoinbaseCredentials::from_env(API_KEY_ENV, API_SECRET_ENV),
        }
        .with_context(|| {
            self.credentials_hint(
                cfg,
                endpoint.url(),
                "Coinbase API key name (apiKey) and EC private key (apiSecret)",
            )
        })?;
        // At least 2 s: `nbf` is whole seconds, so 1 s could expire in flight.
        let jwt_lifetime_secs = self.recv_window_ms.div_ceil(1000).clamp(2, 120) as i64;
        let opts = CoinbaseOptions {
            timeout,
            jwt_lifetime_secs,
            ..CoinbaseOptions::default()
        };
        Ok(CoinbaseClient::new(endpoint, creds, &cfg.bot, opts)?)
    }
}

/// What reconciliation on start found, for the log and the audit record.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartReport {
    pub open_orders_checked: usize,
    pub missed_fills: usize,
    pub never_sent: usize,
    pub orphans_canceled: usize,
}

/// What the venue link counted, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VenueStats {
    /// Calls that failed after the client's own retries.
    pub errors: u64,
    /// Fills restart reconciliation recorded.
    pub fills_recovered: u64,
    /// Submits whose outcome is not confirmed yet.
    pub unknown_orders: usize,
    pub used_weight_1m: Option<u32>,
}

/// The engine's connection to its venue.
pub struct VenueLink {
    client: VenueClient,
    /// How long after its signature a request can still reach the venue: an
    /// order not found sooner may still be on its way.
    recv_window: Duration,
    /// When each order was last sent from this process; orders from before
    /// a restart count from `started`.
    sent: BTreeMap<OrderId, Instant>,
    started: Instant,
    /// Cancels the venue has not confirmed yet; retried by [`Self::poll`].
    cancels: BTreeSet<OrderId>,
    /// Submits whose outcome the venue has not confirmed.
    unknown: BTreeSet<OrderId>,
    errors: u64,
    fills_recovered: u64,
}

impl VenueLink {
    pub fn new(client: VenueClient, recv_window_ms: u64) -> Self {
        Self {
            recv_window: client.request_validity(Duration::from_millis(recv_window_ms)),
            client,
            sent: BTreeMap::new(),
            started: Instant::now(),
            cancels: BTreeSet::new(),
            unknown: BTreeSet::new(),
            errors: 0,
            fills_recovered: 0,
        }
    }

    pub fn stats(&self) -> VenueStats {
        VenueStats {
            errors: self.errors,
            fills_recovered: self.fills_recovered,
            unknown_orders: self.unknown.len(),
            used_weight_1m: self.client.used_weight_1m(),
        }
    }

    pub fn name(&self) -> &str {
        self.client.name()
    }

    pub fn client_order_ids(&self) -> &crate::binance::spot::ClientOrderIds {
        self.client.client_order_ids()
    }

    pub fn base_url(&self) -> String {
        self.client.base_url()
    }

    /// Connects and reconciles before the engine trades, retrying (with
    /// backoff) while the venue is unavailable. `None`: stopped meanwhile.
    pub async fn start(
        &mut self,
        engine: &mut Engine,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<StartReport>> {
        let mut wait = Duration::from_secs(1);
        loop {
            let attempt = async {
                self.prepare(engine).await?;
                self.reconcile(engine).await
            }
            .await;
            match attempt {
                Ok(report) => return Ok(Some(report)),
                Err(e)
                    if e.downcast_ref::<VenueError>()
                        .is_some_and(VenueError::is_retryable) =>
                {
                    tracing::warn!(error = %format!("{e:#}"), retry_in = ?wait, "the venue is unavailable; not trading until reconciled");
                }
                Err(e) => return Err(e.context("reconciling with the venue before trading")),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                _ = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_secs(30));
        }
    }

    /// The lot step of each symbol, so the engine sizes orders the venue
    /// accepts, and the venue's clock offset.
    pub async fn prepare(&mut self, engine: &mut Engine) -> Result<(), VenueError> {
        self.client.sync_time().await?;
        for symbol in engine.config().symbols.clone() {
            let rules = self.client.rules_for(&symbol).await?;
            engine.set_venue_lot_step(&symbol, rules.step_size);
        }
        Ok(())
    }

    /// The venue's records for the ledger check: this bot's trades of each
    /// of `symbols` at or after `since` (Unix ms), and the balances.
    pub async fn records(
        &mut self,
        symbols: &[Symbol],
        since: i64,
    ) -> Result<(Vec<Fill>, VenueBalances), VenueError> {
        let mut trades = Vec::new();
        for symbol in symbols {
            trades.extend(self.client.trade_history(symbol, since).await?);
        }
        let balances = self.client.balances().await?;
        Ok((trades, balances))
    }

    /// The last close: the venue's minimum notional of a market order is
    /// checked against it before sending.
    pub fn reference_price(&mut self, symbol: &Symbol, price: Price) {
        self.client.set_reference_price(symbol, price);
    }

    /// Restart reconciliation (see the module docs). The engine's events
    /// say what changed; the caller stores them before trading.
    pub async fn reconcile(&mut self, engine: &mut Engine) -> anyhow::Result<StartReport> {
        let stored: Vec<(Symbol, OrderId)> = engine
            .venue_open_orders()
            .iter()
            .map(|o| (o.symbol.clone(), o.id))
            .collect();
        // The engine skips fills its ledger has; the venue's trade ids are
        // only unique per symbol, so that check is the engine's.
        let found = reconcile(&mut self.client, &stored, |_| false).await?;
        let mut report = StartReport {
            open_orders_checked: stored.len(),
            orphans_canceled: found.orphans_canceled.len(),
            ..StartReport::default()
        };
        let fills = found.missed_fills;
        let new_fills = fills
            .iter()
            .filter(|f| !engine.ledger().is_applied(&f.symbol, &f.trade_id))
            .count();
        for state in found.updated.into_iter().chain(found.orphans_canceled) {
            apply(engine, state, &fills)?;
        }
        for (symbol, id) in found.vanished {
            if self.settled_lookup(&symbol, id, engine, Wait::Yes).await? {
                report.never_sent += 1;
            }
        }
        report.missed_fills = new_fills;
        self.fills_recovered += new_fills as u64;
        Ok(report)
    }

    /// Carries out what the engine queued. A submit whose fate stays unknown
    /// (the venue did not answer) leaves the order open: [`Self::poll`]
    /// looks it up until the venue has it or cannot have it.
    pub async fn send(&mut self, engine: &mut Engine, command: VenueCommand) -> anyhow::Result<()> {
        match command {
            VenueCommand::Submit(order) => {
                self.sent.insert(order.id, Instant::now());
                match self.client.submit(&order).await {
                    Ok(state) => self.update(engine, state).await?,
                    Err(e @ (VenueError::Rejected(_) | VenueError::Exchange { .. })) => {
                        self.sent.remove(&order.id);
                        tracing::warn!(id = order.id.0, symbol = %order.symbol, error = %e, "the venue refused the order");
                        engine.on_venue_refused(order.id, OrderStatus::Rejected, &e.to_string());
                    }
                    Err(e) => {
                        self.errors += 1;
                        self.unknown.insert(order.id);
                        tracing::warn!(id = order.id.0, error = %e, "submit outcome unknown; the order is looked up until the venue answers");
                    }
                }
            }
            VenueCommand::Cancel { symbol, id } => {
                self.cancels.insert(id);
                self.cancel(engine, &symbol, id).await?;
            }
        }
        Ok(())
    }

    /// Asks about every order the engine holds open (fills, ends, lost
    /// submits) and retries unconfirmed cancels. Errors are logged: the next
    /// poll asks again.
    pub async fn poll(&mut self, engine: &mut Engine) -> anyhow::Result<()> {
        let open: Vec<OrderState> = engine.venue_open_orders().to_vec();
        // A cancel is done once the engine holds its order closed.
        self.cancels.retain(|id| open.iter().any(|o| o.id == *id));
        for known in open {
            if self.cancels.contains(&known.id) {
                self.cancel(engine, &known.symbol, known.id).await?;
                continue;
            }
            match self.client.order(&known.symbol, known.id).await {
                Ok(Some(state)) => {
                    if state.status != known.status
                        || state.filled_quantity != known.filled_quantity
                    {
                        self.update(engine, state).await?;
                    }
                }
                Ok(None) => {
                    self.settled_lookup(&known.symbol, known.id, engine, Wait::No)
                        .await?;
                }
                Err(e) => {
                    self.errors += 1;
                    tracing::warn!(id = known.id.0, error = %e, "looking an open order up failed; asking again later");
                }
            }
        }
        Ok(())
    }

    async fn cancel(
        &mut self,
        engine: &mut Engine,
        symbol: &Symbol,
        id: OrderId,
    ) -> anyhow::Result<()> {
        // The order may have closed between the engine queueing the cancel
        // and now (an exit that filled when a halt in the same candle
        // cancelled it): the engine holds it closed, so there is nothing to
        // cancel, and the venue's report must not be applied a second time
        // (the engine would take it for an order it never placed).
        if !engine.venue_open_orders().iter().any(|o| o.id == id) {
            return Ok(());
        }
        match self.client.cancel(symbol, id).await {
            Ok(state) => self.update(engine, state).await?,
            // Not open (a fill won the race) or not there (yet): ask. The
            // cancel stays pending until the engine holds the order closed.
            Err(VenueError::NotOpen { .. } | VenueError::UnknownOrder { .. }) => {
                match self.client.order(symbol, id).await {
                    Ok(Some(state)) => self.update(engine, state).await?,
                    Ok(None) => {
                        self.settled_lookup(symbol, id, engine, Wait::No).await?;
                    }
                    Err(e) => {
                        self.errors += 1;
                        tracing::warn!(id = id.0, error = %e, "looking a canceled order up failed; asking again later");
                    }
                }
            }
            Err(e) => {
                self.errors += 1;
                tracing::warn!(id = id.0, error = %e, "cancel failed; retrying at the next poll");
            }
        }
        Ok(())
    }

    /// The venue's state of an order, with its fills when anything filled.
    /// If the fills cannot be read now, nothing is applied: the order keeps
    /// its old state in the engine, so the next poll sees the change again.
    /// Only the engine refusing the report is an error (a fatal one).
    async fn update(&mut self, engine: &mut Engine, state: OrderState) -> anyhow::Result<()> {
        let fills = if state.filled_quantity.is_zero() {
            Vec::new()
        } else {
            match self.client.order_fills(&state).await {
                Ok(fills) => fills,
                Err(e) => {
                    self.errors += 1;
                    tracing::warn!(id = state.id.0, error = %e, "reading an order's fills failed; asking again at the next poll");
                    return Ok(());
                }
            }
        };
        self.unknown.remove(&state.id);
        if !state.is_open() {
            self.sent.remove(&state.id);
        }
        apply(engine, state, &fills)
    }

    /// An order the venue does not know. Until the venue's `recvWindow`
    /// has passed since it was sent (or since this process started, for an
    /// order from before a crash) it may still arrive; after that it never
    /// will, and it is closed as never sent. Returns whether it was closed
    /// (with [`Wait::No`], an unsettled order is left for a later poll).
    async fn settled_lookup(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
        engine: &mut Engine,
        wait: Wait,
    ) -> anyhow::Result<bool> {
        let since = self.sent.get(&id).copied().unwrap_or(self.started);
        // Clock skew and the network are covered by a second window.
        let settle = since + self.recv_window * 2;
        let now = Instant::now();
        if now < settle {
            if wait == Wait::No {
                return Ok(false);
            }
            tokio::time::sleep(settle - now).await;
        }
        let found = match self.client.order(symbol, id).await {
            Ok(found) => found,
            Err(e) => {
                self.errors += 1;
                tracing::warn!(id = id.0, error = %e, "looking an unconfirmed order up failed; asking again later");
                return Ok(false);
            }
        };
        match found {
            Some(state) => {
                self.update(engine, state).await?;
                Ok(false)
            }
            None => {
                self.sent.remove(&id);
                self.unknown.remove(&id);
                engine.on_venue_refused(
                    id,
                    OrderStatus::Canceled,
                    "never reached the venue (the engine stopped or lost the connection \
                     before the order arrived); nothing was traded",
                );
                Ok(true)
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    Yes,
    No,
}

/// An engine error here is fatal: the ledger refused what the venue reports.
fn apply(engine: &mut Engine, state: OrderState, fills: &[Fill]) -> anyhow::Result<()> {
    let id = state.id;
    engine
        .on_venue_order(state, fills)
        .with_context(|| format!("applying the venue's report on order {id}"))
}
