//! The operator as a process: the real `botfleet-operator` binary (started
//! by `common::operator_process` with the operator's ServiceAccount and
//! ClusterRole) supervising the real engine (`common::real_engine`), and
//! what happens to an operator pod: SIGKILL in the middle of a transition,
//! a leader frozen (SIGSTOP) past its Lease while another takes over.
//!
//! "In the middle of a transition" is made deterministic, not hoped for:
//! the operator's role is swapped for one that may not write ConfigMaps, so
//! a reconcile commits the transition in the bot's status and stops at the
//! config write; the test SIGKILLs it there. Durations are printed, never
//! asserted.

mod common;

use std::time::{Duration, Instant};

use botfleet_crds::condition_types as ct;
use botfleet_crds::labels::RESUME_ANNOTATION;
use botfleet_crds::{Manifests, Phase, TradingBot, TradingBotStatus};
use common::operator_process::OperatorProcesses;
use common::real_engine::*;
use common::scenario::*;
use common::*;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use rust_decimal::Decimal;
use serde_json::json;

/// The phase of the config the ConfigMap renders now.
async fn rendered_phase(rw: &RealWorld, bot: &str) -> Phase {
    let yaml = rw.kubelet.rendered_config(bot).await.unwrap();
    Manifests::from_yaml(&yaml).unwrap().trading_bots[0]
        .spec
        .phase
}

async fn rendered_halted(rw: &RealWorld, bot: &str) -> bool {
    let yaml = rw.kubelet.rendered_config(bot).await.unwrap();
    Manifests::from_yaml(&yaml).unwrap().trading_bots[0]
        .spec
        .halted
}

fn status(b: &TradingBot) -> TradingBotStatus {
    b.status.clone().unwrap_or_default()
}

/// The world of one scenario: the real engine, the exchange credentials,
/// the fast SMA strategy, policy `policy` and the operator's identity.
async fn world(prefix: &str, policy: serde_json::Value) -> (RealWorld, OperatorProcesses) {
    let rw = RealWorld::new(prefix).await.unwrap();
    rw.credentials("keys", API_KEY, API_SECRET).await.unwrap();
    rw.sma("fast-sma", 2, 5).await.unwrap();
    rw.policy("policy", policy).await.unwrap();
    let ops = OperatorProcesses::new(&rw).await.unwrap();
    (rw, ops)
}

/// SIGKILL after a promotion is committed and before its config is
/// written: Paper → Sandbox is in the status, the ConfigMap still renders
/// Paper. A new operator process writes the config once: the engine
/// restarts on the venue, the phase history holds the one transition the
/// killed operator committed (neither repeated nor rewritten), and the
/// engine's books equal the exchange simulator's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_between_a_promotions_status_write_and_its_config_write_promotes_once() {
    let (rw, ops) = world(
        "proc-promote",
        json!({
            "limits": {"paper": wide_limits(), "sandbox": wide_limits()},
            "gates": {"paperToSandbox": low_gate()},
        }),
    )
    .await;
    let started = Instant::now();
    let first = ops.start("operator-1", false, "500ms");
    // Paper: seven waves, then a slide that closes the position (the gate
    // waits for a flat book). Sandbox: four more waves, from `switch` on.
    let mut bars = waves(168);
    let last = bars.last().unwrap().close;
    extend(&mut bars, &trend(8, last, -1));
    let switch = bars.last().unwrap().time + HOUR;
    let base = bars.last().unwrap().close;
    extend(&mut bars, &wave(96, base, 3.0, 24.0, 0));
    let end = bars.last().unwrap().time;
    let venue_bars: Vec<Bar> = bars.iter().filter(|b| b.time >= switch).copied().collect();
    let usdt = Decimal::from(10_000);
    let (sim, prices) = simulator(API_KEY, API_SECRET, usdt, venue_bars).await;
    rw.kubelet.set_venue(&sim.url);
    let data = data_dir();
    let feed = csv(&data, "paper-then-sandbox.csv", &bars);
    rw.bot("climber", "fast-sma", "policy", json!({}), move |s| {
        let to = (s.phase == Some(Phase::Paper)).then_some(switch);
        replay(&feed, to)
    })
    .await
    .unwrap();
    rw.kubelet
        .wait_replayed("climber", switch - HOUR)
        .await
        .unwrap();
    rw.wait_bot("climber", "the gate is met", |b| {
        condition_is(b, ct::GATE_SATISFIED, "True")
    })
    .await
    .unwrap();

    // The operator commits the promotion and cannot write the config.
    ops.hold_config_writes().await.unwrap();
    rw.patch_spec("climber", json!({"phase": "Sandbox"}))
        .await
        .unwrap();
    let committed = rw
        .wait_bot("climber", "the promotion committed", |b| {
            phase(b) == Some(Phase::Sandbox)
        })
        .await
        .unwrap();
    eventually("the config write refused", WAIT, || async {
        Ok(first
            .metric(r#"botfleet_operator_reconcile_errors_total{kind="kube"}"#)
            .await?
            > 0.0)
    })
    .await
    .unwrap();
    assert_eq!(rendered_phase(&rw, "climber").await, Phase::Paper);
    first.kill();
    let history = status(&committed).phase_history;
    assert_eq!(
        history
            .iter()
            .map(|t| (t.from, t.to))
            .filter(|(_, to)| *to == Phase::Sandbox)
            .collect::<Vec<_>>(),
        [(Some(Phase::Paper), Phase::Sandbox)]
    );
    assert_eq!(
        rw.kubelet.current("climber").unwrap().phase,
        Some(Phase::Paper)
    );

    ops.release_config_writes().await.unwrap();
    let second = ops.start("operator-2", false, "500ms");
    let run = rw
        .kubelet
        .wait_run("climber", "an engine in Sandbox", |r| {
            r.phase == Some(Phase::Sandbox)
        })
        .await
        .unwrap();
    assert!(run.args.iter().any(|a| a == &sim.url), "{:?}", run.args);
    let sandbox = rw.kubelet.wait_replayed("climber", end).await.unwrap();
    assert_eq!(sandbox.phase, Phase::Sandbox);
    assert!(!sim.orders().is_empty(), "no order reached the venue");
    second.let_reconcile(10.0).await.unwrap();
    let bot = rw.get("climber").await.unwrap();
    assert_eq!(
        status(&bot).phase_history,
        history,
        "the new operator repeats or rewrites no transition"
    );
    assert_eq!(phase(&bot), Some(Phase::Sandbox));
    assert!(condition_is(&bot, ct::HALTED, "False"));
    // Announced once: by the killed operator, right after its commit (not
    // after the config write it never made), and not again by the new one.
    assert_eq!(rw.events("climber", "Promoted").await.unwrap().len(), 1);
    let runs = rw.kubelet.runs("climber");
    assert_eq!(
        runs.iter().map(|r| r.phase).collect::<Vec<_>>(),
        [Some(Phase::Paper), Some(Phase::Sandbox)],
        "one Paper engine, then one Sandbox engine"
    );

    second.stop().await;
    let last = rw.kubelet.status("climber").await.unwrap();
    rw.kubelet.park("climber").await.unwrap();
    prices.abort();
    assert_eq!(
        rw.kubelet.restarts("climber"),
        0,
        "{}",
        rw.kubelet.journal()
    );
    assert_books_equal(&store_url(&run), &sim, usdt, CAPITAL, &last).await;
    took("proc-a (SIGKILL mid-promotion)", started);
}

/// SIGKILL while a demotion waits for a flat book: Sandbox → Paper is asked
/// while the engine holds BTC on the venue; the operator latches a halt
/// with flatten (the engine is told) and cannot render it; it is killed
/// there. The engine flattens on its own; the new operator process moves
/// the bot to Paper on the flat book: one halt id, the demotion once in the
/// history, no BTC left at the venue, no crash loop, the books equal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_while_a_demotion_waits_for_a_flat_book_strands_no_position() {
    let (rw, ops) = world(
        "proc-demote",
        json!({
            "limits": {"paper": wide_limits(), "sandbox": wide_limits()},
            "gates": {"paperToSandbox": low_gate()},
        }),
    )
    .await;
    let started = Instant::now();
    let first = ops.start("operator-1", false, "500ms");
    // Paper ends flat (a slide); Sandbox ends long (a climb).
    let mut bars = waves(96);
    let last = bars.last().unwrap().close;
    extend(&mut bars, &trend(8, last, -1));
    let switch = bars.last().unwrap().time + HOUR;
    let base = bars.last().unwrap().close;
    extend(&mut bars, &wave(48, base, 3.0, 24.0, 0));
    let last = bars.last().unwrap().close;
    extend(&mut bars, &trend(8, last, 1));
    let end = bars.last().unwrap().time;
    // The venue's price stays at the lowest Sandbox candle: no stop fires
    // and the run ends long.
    let bottom = bars
        .iter()
        .filter(|b| b.time >= switch)
        .map(|b| b.low)
        .min()
        .unwrap();
    let usdt = Decimal::from(10_000);
    let sim = simulator_at(API_KEY, API_SECRET, usdt, bottom).await;
    rw.kubelet.set_venue(&sim.url);
    let data = data_dir();
    let feed = csv(&data, "demote.csv", &bars);
    rw.bot("demoted", "fast-sma", "policy", json!({}), move |s| {
        replay(
            &feed,
            (s.phase == Some(Phase::Paper) && s.run == 0).then_some(switch),
        )
    })
    .await
    .unwrap();
    rw.kubelet
        .wait_replayed("demoted", switch - HOUR)
        .await
        .unwrap();
    rw.wait_bot("demoted", "the gate is met", |b| {
        condition_is(b, ct::GATE_SATISFIED, "True")
    })
    .await
    .unwrap();
    rw.patch_spec("demoted", json!({"phase": "Sandbox"}))
        .await
        .unwrap();
    rw.kubelet
        .wait_run("demoted", "an engine in Sandbox", |r| {
            r.phase == Some(Phase::Sandbox)
        })
        .await
        .unwrap();
    let held = rw.kubelet.wait_replayed("demoted", end).await.unwrap();
    assert!(
        !held.open_positions.is_empty(),
        "the sandbox run should end long"
    );

    ops.hold_config_writes().await.unwrap();
    rw.patch_spec("demoted", json!({"phase": "Paper"}))
        .await
        .unwrap();
    let latched = rw
        .wait_bot("demoted", "the flatten-before-move halt committed", |b| {
            status(b).halt.is_some()
        })
        .await
        .unwrap();
    // Announced right after the status write, before the (held) config
    // write: killed there, not between the status write and its Event (an
    // Event is best effort; the status history is the record).
    rw.wait_events("demoted", "Halted").await.unwrap();
    first.kill();
    let latch = status(&latched).halt.unwrap();
    let at_kill = rw.get("demoted").await.unwrap();
    eprintln!(
        "proc-d: killed with the bot in {:?}, the config rendering {:?}",
        phase(&at_kill),
        rendered_phase(&rw, "demoted").await
    );
    assert!(
        !rendered_halted(&rw, "demoted").await,
        "the config write went through"
    );

    ops.release_config_writes().await.unwrap();
    let second = ops.start("operator-2", false, "500ms");
    let paper = rw
        .kubelet
        .wait_run("demoted", "an engine in Paper", |r| {
            r.phase == Some(Phase::Paper) && r.exit.is_none()
        })
        .await
        .unwrap();
    let engine = rw
        .kubelet
        .wait_engine("demoted", "trading on paper", |s| s.phase == Phase::Paper)
        .await
        .unwrap();
    assert!(
        engine.open_positions.is_empty(),
        "{:?}",
        engine.open_positions
    );
    let btc = sim.balance("BTC");
    assert_eq!(
        btc.free + btc.locked,
        Decimal::ZERO,
        "a position stranded at the venue"
    );
    second.let_reconcile(10.0).await.unwrap();
    let bot = rw.get("demoted").await.unwrap();
    assert_eq!(phase(&bot), Some(Phase::Paper));
    assert_eq!(status(&bot).halt.as_ref(), Some(&latch), "one halt, one id");
    let moves: Vec<_> = status(&bot)
        .phase_history
        .iter()
        .map(|t| (t.from, t.to))
        .collect();
    assert_eq!(
        moves,
        [
            (None, Phase::Paper),
            (Some(Phase::Paper), Phase::Sandbox),
            (Some(Phase::Sandbox), Phase::Paper)
        ]
    );
    assert_eq!(rw.events("demoted", "Halted").await.unwrap().len(), 1);
    assert_eq!(rw.events("demoted", "Demoted").await.unwrap().len(), 1);
    assert_eq!(
        rw.kubelet.restarts("demoted"),
        0,
        "crash loop:\n{}",
        rw.kubelet.journal()
    );

    second.stop().await;
    let last = rw.kubelet.status("demoted").await.unwrap();
    rw.kubelet.park("demoted").await.unwrap();
    assert_books_equal(&store_url(&paper), &sim, usdt, CAPITAL, &last).await;
    took(
        "proc-d (SIGKILL while a demotion waits for a flat book)",
        started,
    );
}

/// SIGKILL between a capital change's status write and its config write:
/// `spec.capital` 1000 → 2000 on a flat Paper bot is committed as
/// `status.capital.allocated` while the config still says 1000. The new
/// operator process renders 2000 once: the engine books one transfer of
/// +1000 (its allocation history is exactly that), also after a further
/// restart, and nothing halts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_between_a_capital_change_and_its_config_write_transfers_once() {
    let mut paper = wide_limits();
    paper["maxTotalLossPct"] = json!(20);
    paper["dailyLossLimitPct"] = json!(20);
    let (rw, ops) = world("proc-capital", json!({"limits": {"paper": paper}})).await;
    let started = Instant::now();
    let first = ops.start("operator-1", false, "500ms");
    // Waves that end flat, then a quiet stretch the restarted engine trades.
    let mut bars = waves(96);
    let last = bars.last().unwrap().close;
    extend(&mut bars, &trend(8, last, -1));
    let switch = bars.last().unwrap().time + HOUR;
    let quiet = bars.last().unwrap().close;
    extend(&mut bars, &[quiet; 12]);
    let end = bars.last().unwrap().time;
    let data = data_dir();
    let feed = csv(&data, "capital.csv", &bars);
    rw.bot("funded", "fast-sma", "policy", json!({}), move |s| {
        replay(&feed, (s.run == 0).then_some(switch))
    })
    .await
    .unwrap();
    let before = rw
        .kubelet
        .wait_replayed("funded", switch - HOUR)
        .await
        .unwrap();
    assert!(
        before.open_positions.is_empty(),
        "{:?}",
        before.open_positions
    );
    rw.wait_bot("funded", "ready", |b| condition_is(b, ct::READY, "True"))
        .await
        .unwrap();

    ops.hold_config_writes().await.unwrap();
    rw.patch_spec("funded", json!({"capital": 2000}))
        .await
        .unwrap();
    let two_thousand = botfleet_crds::Amount::from(2000u32);
    rw.wait_bot("funded", "the new capital committed", |b| {
        status(b).capital.map(|c| c.allocated) == Some(two_thousand)
    })
    .await
    .unwrap();
    first.kill();
    let yaml = rw.kubelet.rendered_config("funded").await.unwrap();
    assert_eq!(
        Manifests::from_yaml(&yaml).unwrap().trading_bots[0]
            .spec
            .capital,
        botfleet_crds::Amount::from(1000u32),
        "the config write went through"
    );

    ops.release_config_writes().await.unwrap();
    let second = ops.start("operator-2", false, "500ms");
    rw.kubelet
        .wait_run("funded", "an engine with the new capital", |r| {
            r.config.contains("capital: 2000")
        })
        .await
        .unwrap();
    let after = rw.kubelet.wait_replayed("funded", end).await.unwrap();
    assert!(after.halt.is_none(), "{:?}", after.halt);
    let moves = |s: &botfleet_crds::engine_api::EngineStatus| {
        s.allocations.iter().map(|a| a.amount).collect::<Vec<_>>()
    };
    assert_eq!(moves(&after), [Decimal::from(1000)]);
    assert_eq!(
        after.window.equity,
        before.window.equity + Decimal::from(1000),
        "equity after one 1000 transfer in"
    );
    // A plain restart books nothing more.
    rw.kubelet.replace_pod("funded").await.unwrap();
    let again = rw.kubelet.status("funded").await.unwrap();
    assert_eq!(moves(&again), [Decimal::from(1000)]);
    second.let_reconcile(10.0).await.unwrap();
    let bot = rw.get("funded").await.unwrap();
    assert!(condition_is(&bot, ct::HALTED, "False"));
    assert_eq!(rw.kubelet.restarts("funded"), 0, "{}", rw.kubelet.journal());
    second.stop().await;
    took("proc-e (SIGKILL mid capital change)", started);
}

/// The seam of a resume: the operator resumes (status written, engine
/// told) and is SIGKILLed before the config without the latch is written;
/// the engine restarts meanwhile from the config that still says halted.
/// The restarted engine halts under the operator's halt id (the one the
/// resume annotation names), so the new operator resumes it again instead
/// of latching a new halt the annotation does not match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_a_resume_and_its_config_write_does_not_halt_the_bot_again() {
    let (rw, ops) = world("proc-resume", json!({"limits": {"paper": wide_limits()}})).await;
    let started = Instant::now();
    let first = ops.start("operator-1", false, "500ms");
    let data = data_dir();
    let bars = waves(120);
    let end = bars.last().unwrap().time;
    let feed = csv(&data, "waves.csv", &bars);
    rw.bot("resumer", "fast-sma", "policy", json!({}), move |_| {
        replay(&feed, None)
    })
    .await
    .unwrap();
    rw.kubelet.wait_replayed("resumer", end).await.unwrap();
    rw.wait_bot("resumer", "ready", |b| condition_is(b, ct::READY, "True"))
        .await
        .unwrap();

    rw.patch_spec("resumer", json!({"halted": true}))
        .await
        .unwrap();
    let halted = rw
        .wait_bot("resumer", "halt confirmed", |b| {
            condition_is(b, ct::HALT_CONFIRMED, "True")
        })
        .await
        .unwrap();
    let id = status(&halted).halt.unwrap().id;
    eventually("the latch rendered", WAIT, || async {
        Ok(rendered_halted(&rw, "resumer").await)
    })
    .await
    .unwrap();

    // The resume is committed and reaches the engine; the config write does not.
    ops.hold_config_writes().await.unwrap();
    rw.patch_spec("resumer", json!({"halted": false}))
        .await
        .unwrap();
    rw.annotate("resumer", RESUME_ANNOTATION, &id)
        .await
        .unwrap();
    let resumed = rw
        .wait_bot("resumer", "resumed", |b| {
            condition_is(b, ct::HALTED, "False") && status(b).halt.is_none()
        })
        .await
        .unwrap();
    rw.kubelet
        .wait_engine("resumer", "the engine resumed", |s| s.halt.is_none())
        .await
        .unwrap();
    assert!(
        rendered_halted(&rw, "resumer").await,
        "the config write went through"
    );
    first.kill();

    // The engine restarts (its pod is replaced) from the stale config.
    let restarted = rw.kubelet.replace_pod("resumer").await.unwrap();
    assert!(
        Manifests::from_yaml(&restarted.config)
            .unwrap()
            .trading_bots[0]
            .spec
            .halted
    );
    ops.release_config_writes().await.unwrap();
    let second = ops.start("operator-2", false, "500ms");
    second.let_reconcile(15.0).await.unwrap();
    let bot = rw.get("resumer").await.unwrap();
    assert_eq!(
        status(&bot).halt,
        None,
        "the new operator halted the bot again"
    );
    assert_eq!(rw.events("resumer", "Halted").await.unwrap().len(), 1);
    assert_eq!(status(&bot).phase_history, status(&resumed).phase_history);
    rw.kubelet
        .wait_engine("resumer", "the engine resumed again", |s| s.halt.is_none())
        .await
        .unwrap();
    eventually("the config without the latch", WAIT, || async {
        Ok(!rendered_halted(&rw, "resumer").await)
    })
    .await
    .unwrap();
    second.let_reconcile(5.0).await.unwrap();
    let bot = rw.get("resumer").await.unwrap();
    assert!(condition_is(&bot, ct::HALTED, "False"), "{:?}", bot.status);
    assert_eq!(status(&bot).halt, None);
    assert_eq!(
        rw.kubelet.restarts("resumer"),
        0,
        "{}",
        rw.kubelet.journal()
    );
    second.stop().await;
    took(
        "proc-c (restart between a resume and its config write)",
        started,
    );
}

/// Two operator processes with leader election. The leader is frozen
/// (SIGSTOP) while one of its reconciles holds a read of the bot (its
/// engine poll is held by freezing the engine for a moment), past its
/// 3-second Lease; the standby takes the Lease and halts the bot. Thawed,
/// the old leader steps down and overwrites nothing: its in-flight status
/// write, if it gets that far — decided on the read from before the halt,
/// with no latch — is refused by the apiserver; the latch, the phase
/// history and the one Halted event stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thawed_frozen_leader_overwrites_nothing_and_steps_down() {
    // A gate counting days (one-second days): every reconcile has a new
    // status to write, so the in-flight one does too.
    let (rw, ops) = world(
        "proc-frozen",
        json!({
            "limits": {"paper": wide_limits()},
            "gates": {"paperToSandbox": {"minDays": 1000}},
        }),
    )
    .await;
    let started = Instant::now();
    // Engine calls wait long: the held poll must outlast the freeze.
    let a = ops.start("operator-a", true, "60s");
    eventually("a leads", WAIT, || async { a.leading().await })
        .await
        .unwrap();
    let b = ops.start("operator-b", true, "60s");
    let data = data_dir();
    let bars = waves(120);
    let end = bars.last().unwrap().time;
    let feed = csv(&data, "waves.csv", &bars);
    rw.bot("shared", "fast-sma", "policy", json!({}), move |_| {
        replay(&feed, None)
    })
    .await
    .unwrap();
    rw.kubelet.wait_replayed("shared", end).await.unwrap();
    rw.wait_bot("shared", "ready", |b| condition_is(b, ct::READY, "True"))
        .await
        .unwrap();
    b.let_reconcile(0.0).await.unwrap();
    assert!(!b.leading().await.unwrap());
    assert_eq!(
        b.reconciles().await.unwrap(),
        0.0,
        "the standby never reconciles"
    );

    // Hold one of a's reconciles at its engine poll, then freeze a.
    let engine = rw.kubelet.current("shared").unwrap();
    let engine_pid = engine.pid as libc::pid_t;
    // SAFETY: kill(2) on the engine process the kubelet stand-in runs.
    unsafe { libc::kill(engine_pid, libc::SIGSTOP) };
    // Reconciles that polled before the freeze finish within milliseconds;
    // the next one (200 ms polls) waits on the frozen engine.
    tokio::time::sleep(Duration::from_millis(600)).await;
    eventually("a reconcile of a waits on the engine", WAIT, || async {
        Ok(a.reconciles_in_flight().await? >= 1.0)
    })
    .await
    .unwrap();
    a.freeze();
    let frozen_at = Instant::now();
    // SAFETY: as above.
    unsafe { libc::kill(engine_pid, libc::SIGCONT) };

    eventually("b takes the Lease", WAIT, || async { b.leading().await })
        .await
        .unwrap();
    let takeover = frozen_at.elapsed();
    rw.patch_spec("shared", json!({"halted": true}))
        .await
        .unwrap();
    let halted = rw
        .wait_bot("shared", "b halts, the engine confirms", |x| {
            condition_is(x, ct::HALT_CONFIRMED, "True")
        })
        .await
        .unwrap();
    let latch = status(&halted).halt.unwrap();
    let history = status(&halted).phase_history;

    a.thaw();
    eventually("a steps down", WAIT, || async { Ok(!a.leading().await?) })
        .await
        .unwrap();
    // Whether a's held reconcile gets to write before a notices the lost
    // Lease is a race (under load it often stops first); when it writes, the
    // apiserver refuses it (counted as a conflict), and either way nothing
    // of b's halt is overwritten (asserted below). Without the fence the
    // stale write clears the latch.
    let refused = a
        .metric(r#"botfleet_operator_reconcile_errors_total{kind="conflict"}"#)
        .await
        .unwrap_or(0.0);
    eprintln!("proc-b: stale status writes refused: {refused}");
    let lease = Api::<Lease>::namespaced(rw.admin.clone(), &rw.ns)
        .get("botfleet-operator")
        .await
        .unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("operator-b")
    );
    assert!(b.leading().await.unwrap());
    b.let_reconcile(10.0).await.unwrap();

    let bot = rw.get("shared").await.unwrap();
    assert_eq!(
        status(&bot).halt.as_ref(),
        Some(&latch),
        "the latch was overwritten"
    );
    assert_eq!(status(&bot).phase_history, history);
    assert!(condition_is(&bot, ct::HALTED, "True"));
    assert!(condition_is(&bot, ct::HALT_CONFIRMED, "True"));
    assert_eq!(rw.events("shared", "Halted").await.unwrap().len(), 1);
    assert_eq!(rw.events("shared", "Created").await.unwrap().len(), 1);
    let engine = rw.kubelet.status("shared").await.unwrap();
    assert_eq!(engine.halt.map(|h| h.id), Some(latch.id.clone()));
    assert!(rendered_halted(&rw, "shared").await);
    eprintln!("proc-b: the standby led {takeover:.1?} after the leader froze");
    b.stop().await;
    a.stop().await;
    took("proc-b (frozen leader)", started);
}
