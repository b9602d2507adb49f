//! `botfleet-bot run`: the live mode. One process trades one bot: candles
//! from a feed (live Binance klines, a replayed CSV, or synthetic data) go
//! through the same [`Engine`](crate::engine::Engine) a backtest uses; every step is stored in one
//! transaction; `/status`, `/metrics`, `/healthz`, `/readyz` and the
//! signed control endpoints are served over HTTP.
//!
//! - [`args`]: flags and the store location;
//! - [`control_auth`]: signed control requests (the operator's public keys);
//! - [`feed`]: candle sources;
//! - [`state`]: restore from the store and the phase window;
//! - [`persist`]: engine events → one store step;
//! - [`trader`]: the trading loop;
//! - [`control`]: halt / resume / cancel-all;
//! - [`dead_man`]: no operator poll for `deadManMinutes` → no new entries;
//! - [`flatten`]: a halt with flatten retries its exits until the book is flat;
//! - [`ledger_check`]: Sandbox and up compare the ledger with the venue's
//!   trade history and balances on a schedule;
//! - [`http`], [`status`], [`metrics`]: what the operator and Prometheus read.
//!
//! - [`venue`]: Sandbox, LimitedReal and Scaling trade on Binance spot (the
//!   Spot Test Network in Sandbox): orders are stored before they are sent,
//!   and on start the engine reconciles with the venue before it trades;
//! - [`crash_point`]: where the kill -9 tests stop the process.
//!
//! Paper fills on the paper broker. How to run it: `docs/engine.md`.

pub mod args;
pub mod control;
pub mod control_auth;
pub mod crash_point;
pub mod dead_man;
pub mod feed;
pub mod flatten;
pub mod http;
pub mod ledger_check;
pub mod metrics;
pub mod persist;
pub mod state;
pub mod status;
pub mod trader;
pub mod venue;
pub mod venue_client;

pub use args::RunArgs;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::{Context, bail};
use botfleet_crds::Phase;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::EngineConfig;
use crate::engine;
use crate::execution::PaperConfig;
use crate::store::{Store, StoreConfig, redact};
use args::FeedKind;
use control_auth::Auth;
use feed::Feed;
use http::Shared;
use state::Persisted;
use trader::Trader;
use venue::VenueLink;
use venue_client::VenueClient;

/// Entry point of `run`.
pub fn main(args: RunArgs) -> anyhow::Result<()> {
    init_logging(args.log_json);
    let mut cfg = EngineConfig::load(&args.config, args.bot.as_deref())?;
    // Model members ask their endpoints; keys come from the environment
    // the operator sets from each apiKeySecretRef.
    cfg.llm = crate::strategy::llm::LlmBackend::live();
    args.check_feed()?;
    check_feed_for_phase(&args, &cfg)?;
    let venue = args.venue.client(&cfg)?;
    let auth = args.auth(cfg.uid.as_deref())?;
    let store = args.store();
    let paper = args.paper()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(args, cfg, auth, store, paper, venue))
}

fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Real money trades on real market data only: LimitedReal and Scaling
/// refuse a replayed or synthetic feed (Sandbox may use one, for tests).
pub fn check_feed_for_phase(args: &RunArgs, cfg: &EngineConfig) -> anyhow::Result<()> {
    if matches!(cfg.phase, Phase::LimitedReal | Phase::Scaling) && args.feed != FeedKind::Binance {
        bail!(
            "TradingBot `{}` is in phase {} and sends real orders: it trades on the live feed \
             only (--feed binance), not --feed {}",
            cfg.bot,
            cfg.phase.as_str(),
            args.feed_name()
        );
    }
    Ok(())
}

async fn run(
    args: RunArgs,
    cfg: EngineConfig,
    auth: Auth,
    store_config: StoreConfig,
    paper: PaperConfig,
    venue: Option<VenueClient>,
) -> anyhow::Result<()> {
    let started_at = chrono::Utc::now().timestamp_millis();
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone())?;

    // HTTP first: /healthz answers while the store is opened and restored.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on --listen {}", args.listen))?;
    let local = listener.local_addr()?;
    let (requests_tx, requests) = mpsc::channel(16);
    if matches!(auth, Auth::Disabled) {
        tracing::warn!(
            "--insecure-no-auth: the control endpoints accept anyone who reaches the port"
        );
    }
    let shared = Arc::new(Shared {
        status: RwLock::new(None),
        ready: AtomicBool::new(false),
        not_ready_reason: RwLock::new("restoring from the store".into()),
        metrics: metrics::Metrics::new(&cfg.bot)?,
        control: requests_tx,
        auth,
        polls: dead_man::PollClock::new(),
    });
    let observed = shared.clone();
    cfg.llm
        .set_observer(move |x, used| observed.metrics.llm.observe(x, used));
    let http_stop = CancellationToken::new();
    let server = axum::serve(listener, http::router(shared.clone()))
        .with_graceful_shutdown(http_stop.clone().cancelled_owned());
    let http_task = tokio::spawn(async move { server.await });
    tracing::info!(addr = %local, "serving /status, /metrics, /healthz, /readyz and /v1/* on http://{local}");
    tracing::info!(bot = %cfg.bot, phase = cfg.phase.as_str(), config_hash = %cfg.config_hash, "engine starting");

    let result = trade(
        &args,
        cfg,
        paper,
        store_config,
        shared,
        requests,
        shutdown,
        started_at,
        venue,
    )
    .await;
    http_stop.cancel();
    let _ = http_task.await;
    match &result {
        Ok(()) => tracing::info!("engine stopped cleanly"),
        Err(e) => tracing::error!(error = %format!("{e:#}"), "engine stopped"),
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn trade(
    args: &RunArgs,
    cfg: EngineConfig,
    paper: PaperConfig,
    store_config: StoreConfig,
    shared: Arc<Shared>,
    requests: mpsc::Receiver<control::Request>,
    shutdown: CancellationToken,
    started_at: i64,
    venue: Option<VenueClient>,
) -> anyhow::Result<()> {
    let mut venue = venue.map(|client| VenueLink::new(client, args.venue.recv_window_ms));
    let client_ids = venue.as_ref().map(|v| v.client_order_ids().clone());
    let target = match &store_config {
        StoreConfig::Sqlite { path } => format!("SQLite {}", path.display()),
        StoreConfig::Postgres { url } => format!("PostgreSQL {}", redact(url)),
    };
    tracing::info!(store = %target, "opening the store");
    let store = tokio::select! {
        s = Store::open(&store_config) => s?,
        _ = shutdown.cancelled() => return Ok(()),
    };
    let persisted = Persisted::load(&store).await?;
    let warmup = engine::warmup_candles(&cfg)?;
    let resume = persisted.resume_from(&cfg, (warmup * 3).max(100));
    let fresh = persisted.is_fresh();
    let feed = Feed::spawn(args, &cfg, &resume, shutdown.child_token())?;
    tracing::info!(feed = %feed.label, fresh, "market data");
    let live = feed.live;
    let tf = cfg.timeframe.millis();
    let started = state::start(
        &store,
        cfg,
        paper.clone(),
        persisted,
        feed.start_time,
        client_ids,
        |engine| {
            let next = engine.last_time() + tf;
            if live {
                chrono::Utc::now().timestamp_millis().max(next)
            } else {
                next
            }
        },
    )
    .await?;
    let mut engine = started.engine;
    let mut setup = started.setup;
    let clock = if started.restored {
        engine.last_time() + tf
    } else {
        feed.start_time
    };
    if started.restored {
        tracing::info!(
            equity = %engine.equity(),
            open_orders = engine.open_order_count(),
            trades = engine.ledger().closed_trades().len(),
            halted = engine.risk().halted().is_some(),
            "restored from the store"
        );
    }
    if engine.config().bot_spec.halted && engine.risk().halted().is_none() {
        let now = if live {
            chrono::Utc::now().timestamp_millis().max(clock)
        } else {
            clock
        };
        // Under the operator's id when the config names one: an engine
        // restarted from a config rendered before a resume reached it then
        // reports the halt that was resumed (the operator resumes it again)
        // rather than a new one (which would halt the bot anew).
        let halt_id = engine.config().halt_id.clone();
        let halt = engine.halt_with_id(
            now,
            "spec.halted is true in the config (manual kill switch)",
            false,
            halt_id.as_deref(),
        )?;
        setup.events(engine.drain_events(), now);
        setup.control(
            now,
            "halt",
            serde_json::json!({"haltId": halt.id, "reason": halt.reason}),
        );
        tracing::warn!(halt = %halt.id, "spec.halted is true: halted before trading");
    }
    if venue.is_none() && engine.routes_to_venue() {
        // Demoted to Paper: the venue book must be flat to leave it.
        engine.route_to_paper(paper)?;
        tracing::info!("the store traded on a venue; trading on paper from now on");
    }
    if let Some(link) = venue.as_mut() {
        let now = if live {
            chrono::Utc::now().timestamp_millis().max(clock)
        } else {
            clock
        };
        // Clock-derived first id: a bot given a new store never reuses a
        // client order id the venue has seen.
        let first_id = (chrono::Utc::now().timestamp_millis().max(0) as u64) * 1000;
        engine.route_to_venue(&link.base_url(), first_id)?;
        shared.set_ready(false, "reconciling with the venue");
        let Some(report) = link.start(&mut engine, &shutdown).await? else {
            return Ok(());
        };
        tracing::info!(venue = link.name(), url = %link.base_url(), checked = report.open_orders_checked,
            missed_fills = report.missed_fills, never_sent = report.never_sent,
            orphans_canceled = report.orphans_canceled, "reconciled with the venue");
        setup.events(engine.drain_events(), now);
        setup.control(now, "venue-reconciled", serde_json::to_value(&report)?);
        if engine.risk().halted().is_some() && engine.open_order_count() > 0 {
            // A halt's cancels may not have reached the venue before a crash.
            // (A pending flatten's exits are sent again once these settle:
            // see `flatten`.)
            engine.cancel_all();
        }
        if flatten::pending(&engine) {
            tracing::warn!(
                halt = ?engine.risk().halted().map(|h| h.id.clone()),
                "flatten pending from before the restart: the exits are sent again until the book is flat"
            );
        }
    }
    let last_seen = resume.last.clone();
    let mut trader = Trader {
        engine,
        store,
        shared: shared.clone(),
        feed: feed.status.clone(),
        live,
        last_seen,
        clock,
        started_at,
        shutdown: shutdown.clone(),
        store_failing: false,
        last_delivery: Instant::now(),
        ready: false,
        venue,
        flatten_retry: flatten::Backoff::new(),
        ledger: ledger_check::LedgerSchedule::new(std::time::Duration::from_secs(
            args.venue.ledger_check_secs,
        )),
    };
    trader.engine.forget_closed_orders();
    let step = setup.finish(
        &trader.engine,
        trader.now(),
        resume.last.iter().flatten().max().copied(),
    )?;
    trader.commit(step).await?;
    trader.drive_venue().await?;
    shared.set_ready(false, "waiting for the first candle from the feed");
    trader.publish();

    let (rx, feed_task) = feed.into_parts();
    let outcome = trader.run(rx, requests).await;
    shutdown.cancel();
    feed_task.join().await;
    match outcome {
        Ok(store) => {
            store.close().await;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn spawn_signal_handler(shutdown: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = name,
            "stopping: finishing the current step, then closing the store"
        );
        shutdown.cancel();
    });
    Ok(())
}
