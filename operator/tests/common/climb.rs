//! The pieces of a climb on the live market, shared by the real-engine
//! tiers of each venue: the world of one scenario (the real engine, the
//! operator, the venue's credentials, the fast SMA strategy and a policy),
//! wide limits and low gates, bounded waits on the live climb's clock, and
//! a bot climbing to a phase with each real-money step approved once its
//! gate is measured.

use std::time::{Duration, Instant};

use botfleet_crds::{Phase, TradingBot};
use botfleet_tests::venue_kind::{COINBASE_KEY, VenueKind};
use rust_decimal::Decimal;
use serde_json::json;

use super::Operator;
use super::live_market::{LiveMarket, live_feed_on, wave_price};
use super::real_engine::{RealWorld, assert_books_equal_on, store_url};

/// The bot's capital (the default of `RealWorld::bot`).
pub const CAPITAL: i64 = 1000;
/// The quote currency (USDT, USD) on the venue account of the climbing bots.
pub const VENUE_QUOTE: i64 = 10_000;

/// The world of one scenario on `kind`: the real engine, the operator,
/// Secrets `keys`/`keys-live` with the simulator's credentials of that
/// venue, the fast SMA strategy and policy `policy`.
pub async fn world(
    kind: VenueKind,
    prefix: &str,
    policy: serde_json::Value,
) -> (RealWorld, Operator) {
    let rw = RealWorld::new(prefix).await.unwrap();
    let op = rw.start_operator(rw.config());
    let (key, secret) = kind.credentials(COINBASE_KEY);
    rw.credentials("keys", &key, &secret).await.unwrap();
    rw.sma("fast-sma", 2, 5).await.unwrap();
    rw.policy("policy", policy).await.unwrap();
    (rw, op)
}

/// A climb through four phases on a loaded machine.
pub const CLIMB: Duration = Duration::from_secs(300);

/// Limits opened wide: the scenarios test the seam, not the risk rules.
pub fn wide_limits() -> serde_json::Value {
    json!({
        "maxPositionPct": 20,
        "stopLossPct": 5,
        "maxTradesPerDay": 100000,
        "dailyLossLimitPct": 90,
        "maxDrawdownPct": 90,
        "maxTotalLossPct": 90,
        "maxLosingDaysInRow": 100000,
        "symbolCooldownMinutes": 0,
        "flashCrash": {"movePct": 90},
    })
}

/// A gate any bot that traded a little meets (one-second days: 0 days).
pub fn low_gate() -> serde_json::Value {
    json!({
        "minDays": 0,
        "minTrades": 2,
        "minWinRatePct": 0,
        "minSharpe": -1000,
        "maxDrawdownPct": 100,
        "minReturnPct": -99,
        "maxErrorRatePct": 100,
    })
}

pub fn every_phase(limits: serde_json::Value) -> serde_json::Value {
    json!({
        "paper": limits.clone(), "sandbox": limits.clone(),
        "limitedReal": limits.clone(), "scaling": limits,
    })
}

pub fn phase(b: &TradingBot) -> Option<Phase> {
    b.status.as_ref().and_then(|s| s.phase)
}

pub fn took(name: &str, started: Instant) {
    eprintln!(
        "SCENARIO {name}: {:.1?} (after the control plane and the engine binary were ready)",
        started.elapsed()
    );
}

/// Waits (up to `timeout`) until `check` holds for bot `name`.
pub async fn wait_long(
    rw: &RealWorld,
    name: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&TradingBot) -> bool,
) -> TradingBot {
    let deadline = Instant::now() + timeout;
    loop {
        let last = rw.get(name).await;
        if let Ok(bot) = &last
            && check(bot)
        {
            return last.unwrap();
        }
        if Instant::now() > deadline {
            panic!(
                "{what}: not true after {timeout:?}; last status: {:#?}\n{}",
                last.map(|b| b.status),
                rw.kubelet.journal()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (on the live climb's clock) until `name`'s gate to `to` is measured,
/// then approves it as the risk manager would.
pub async fn approve_when_measured(rw: &RealWorld, name: &str, to: Phase) {
    wait_long(rw, name, &format!("a measured gate to {to}"), CLIMB, |b| {
        b.status
            .as_ref()
            .and_then(|s| s.gate.as_ref())
            .is_some_and(|g| g.target_phase == to && g.trading_hash.is_some())
    })
    .await;
    rw.approve(name, to).await.unwrap();
}

/// The spec's `exchange` of a bot on `kind` (Secrets `keys`, `keys-live`).
pub fn exchange(kind: VenueKind) -> serde_json::Value {
    json!({
        "venue": kind.crd_name(),
        "symbols": [kind.symbol()],
        "sandboxCredentialsSecretRef": {"name": "keys"},
        "liveCredentialsSecretRef": {"name": "keys-live"},
    })
}

/// A live market on `kind` (30 000 ± 3 % on a 16-candle wave: SMA(2, 5)
/// trades every half wave and is flat for a few candles of each) the
/// engines trade on, and bot `name` climbing to `to` on its own; real money
/// needs a person, so each real-money step up to `to` is approved once its
/// gate is measured.
pub async fn climbing_bot(rw: &RealWorld, kind: VenueKind, name: &str, to: Phase) -> LiveMarket {
    let market = LiveMarket::start_on(
        kind,
        Decimal::from(VENUE_QUOTE),
        40,
        Duration::from_millis(150),
        wave_price(Decimal::from(30_000), 3.0, 16.0),
    )
    .await;
    rw.kubelet.set_venue(&market.sim.url);
    let feed_args = live_feed_on(kind, &market.sim);
    rw.bot(
        name,
        "fast-sma",
        "policy",
        json!({"phase": to.to_string(), "promotion": "Automatic", "exchange": exchange(kind)}),
        move |_| feed_args.clone(),
    )
    .await
    .unwrap();
    for step in [Phase::LimitedReal, Phase::Scaling] {
        if step <= to {
            approve_when_measured(rw, name, step).await;
        }
    }
    market
}

/// Waits (on the climb's clock) until bot `name` is in `to`, and checks it
/// got there one gate at a time: Paper, then each phase after it up to `to`.
pub async fn wait_climbed(rw: &RealWorld, name: &str, to: Phase) -> TradingBot {
    let bot = wait_long(rw, name, &format!("{to} reached"), CLIMB, |b| {
        phase(b) == Some(to)
    })
    .await;
    let moves: Vec<(Option<Phase>, Phase)> = bot
        .status
        .as_ref()
        .unwrap()
        .phase_history
        .iter()
        .map(|t| (t.from, t.to))
        .collect();
    let ladder = [
        Phase::Paper,
        Phase::Sandbox,
        Phase::LimitedReal,
        Phase::Scaling,
    ];
    let mut want = vec![(None, Phase::Paper)];
    want.extend(
        ladder
            .windows(2)
            .take_while(|w| w[0] < to)
            .map(|w| (Some(w[0]), w[1])),
    );
    assert_eq!(moves, want, "one gate at a time");
    bot
}

/// An engine of bot `name` ran in each phase from Paper up to `to`, every
/// one reading `market`'s data, and from Sandbox up trading on its venue.
pub fn assert_every_phase_ran_on(rw: &RealWorld, name: &str, market: &LiveMarket, to: Phase) {
    let ws_url = market.kind.market_ws_url(&market.sim);
    let runs = rw.kubelet.runs(name);
    for p in [
        Phase::Paper,
        Phase::Sandbox,
        Phase::LimitedReal,
        Phase::Scaling,
    ] {
        if p > to {
            break;
        }
        let run = runs
            .iter()
            .find(|r| r.phase == Some(p))
            .unwrap_or_else(|| panic!("no engine ran in {p}"));
        assert!(
            run.args.iter().any(|a| a == &ws_url),
            "{p} reads the simulator's market data: {:?}",
            run.args
        );
        assert_eq!(
            run.args.iter().any(|a| a == "--venue-url"),
            p != Phase::Paper,
            "{p} trades on the venue from Sandbox up: {:?}",
            run.args
        );
    }
}

/// The end of a climb: stops the operator and the market, parks bot
/// `name`'s engine, and checks its books (the current run's store) equal
/// the venue's, which held [`VENUE_QUOTE`] at the start.
pub async fn stop_and_assert_books_equal(
    rw: &RealWorld,
    op: Operator,
    market: &LiveMarket,
    name: &str,
) {
    op.stop().await;
    market.stop();
    let run = rw.kubelet.current(name).unwrap();
    let last = rw.kubelet.status(name).await.unwrap();
    rw.kubelet.park(name).await.unwrap();
    assert_books_equal_on(
        market.kind,
        &store_url(&run),
        &market.sim,
        Decimal::from(VENUE_QUOTE),
        CAPITAL,
        &last,
    )
    .await;
}
